package interop

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/kbgp/kbgp/internal/bgp/speaker"
	"github.com/kbgp/kbgp/internal/bgp/wire"
	"github.com/kbgp/kbgp/internal/netns/nstest"
)

// TestInteropFRR_ReflectorWithKbgpClients: FRR is the route reflector
// (AS 65001, cluster ID = its router ID 192.168.100.1, in the lab's centre
// namespace) and two kbgp speakers in the peer namespaces are its clients.
// Each client receives the other's route with the ORIGINATOR_ID and
// CLUSTER_LIST FRR adds (RFC 4456 §8), and a client drops a reflected
// route carrying its own router ID as ORIGINATOR_ID; over IPv4 and IPv6
// sessions (ORIGINATOR_ID and CLUSTER_LIST are router IDs in both).
func TestInteropFRR_ReflectorWithKbgpClients(t *testing.T) {
	nstest.RequireBinaries(t, "vtysh", "/usr/lib/frr/bgpd", "/usr/lib/frr/zebra")
	t.Parallel()
	forEachFamily(t, func(t *testing.T, f family) {
		l := newLab(t, f.tag("fc"), 2)
		rr := f.kbgp // FRR's address; its router ID is kbgp4
		clients := make([]*speaker.Speaker, 2)
		for i := range clients {
			sp := startSpeaker(t, l.peers[i], 65001, peer4(i+1), speaker.Config{})
			c := f.peerConfig(rr, 65001)
			if err := sp.AddPeer(context.Background(), c); err != nil {
				t.Fatal(err)
			}
			clients[i] = sp
		}
		// Client 1 (router ID 192.168.100.2) originates 10.40.1.0/24 and a
		// route that claims client 2 (192.168.100.3) as its originator:
		// reflected to client 2 it is a loop client 2 must ignore.
		orig := func(sp *speaker.Speaker, prefix string, originator netip.Addr) {
			var a wire.Attrs
			if originator.IsValid() {
				a.OriginatorID = originator
				a.Set(wire.AttrOriginatorID)
			}
			if err := sp.Originate(context.Background(), netip.MustParsePrefix(prefix), a); err != nil {
				t.Fatal(err)
			}
		}
		orig(clients[0], f.net(40, 9), peer4(2))
		orig(clients[0], f.net(40, 1), netip.Addr{})
		orig(clients[1], f.net(40, 2), netip.Addr{})
		dir := l.startFRR(l.k, "frr", fmt.Sprintf(`frr defaults traditional
hostname frr-rr
log stdout debugging
router bgp 65001
 bgp router-id %[5]s
 no bgp default ipv4-unicast
 neighbor clients peer-group
 neighbor clients remote-as 65001
 neighbor clients password %[2]s
 neighbor clients timers connect 1
 neighbor clients timers 3 9
 neighbor %[3]s peer-group clients
 neighbor %[4]s peer-group clients
 address-family %[6]s
  neighbor clients activate
  neighbor clients route-reflector-client
 exit-address-family
`, rr, password, f.peer(1), f.peer(2), kbgp4, f.frr))
		for _, sp := range clients {
			waitEstablished(t, sp, rr, 40*time.Second)
		}
		// RFC 4456 §8: "ORIGINATOR_ID ... will be created by an RR in
		// reflecting a route"; "When an RR reflects a route, it MUST prepend
		// the local CLUSTER_ID to the CLUSTER_LIST."
		for i, tc := range []struct {
			at     *speaker.Speaker
			prefix string
			from   int
		}{
			{clients[1], f.net(40, 1), 1},
			{clients[0], f.net(40, 2), 2},
		} {
			b := speakerRoute(t, tc.at, tc.prefix, 30*time.Second, func(b speaker.BestPath) bool { return !b.Withdrawn() })
			a := b.Attrs
			if !a.Has(wire.AttrOriginatorID) || a.OriginatorID != peer4(tc.from) {
				t.Errorf("case %d: %s ORIGINATOR_ID %v (present %v), want %v", i, tc.prefix, a.OriginatorID, a.Has(wire.AttrOriginatorID), peer4(tc.from))
			}
			if !slices.Equal(a.ClusterList, []netip.Addr{kbgp4}) {
				t.Errorf("case %d: %s CLUSTER_LIST %v, want [%v]", i, tc.prefix, a.ClusterList, kbgp4)
			}
			if len(b.NextHops) != 1 || b.NextHops[0] != f.peer(tc.from) {
				t.Errorf("case %d: %s next hops %v, want the originating client %v (RFC 4456 §10: unchanged)", i, tc.prefix, b.NextHops, f.peer(tc.from))
			}
			if !a.Has(wire.AttrLocalPref) || a.LocalPref != 100 {
				t.Errorf("case %d: %s LOCAL_PREF %d (present %v), want 100", i, tc.prefix, a.LocalPref, a.Has(wire.AttrLocalPref))
			}
		}
		// FRR has the looped route and reflects it to client 2, which ignores
		// it: RFC 4456 §8 "A router that recognizes the ORIGINATOR_ID attribute
		// SHOULD ignore a route received with its BGP Identifier as the
		// ORIGINATOR_ID."
		eventually(t, 20*time.Second, "FRR reflects "+f.net(40, 9)+" to client 2", func() (bool, string) {
			out := vtysh(dir, "show bgp "+f.frrShow+" neighbors "+f.peer(2).String()+" advertised-routes json")
			return containsAll(out, f.net(40, 9)), out
		})
		eventually(t, 20*time.Second, "client 2 counts the looped route as rejected", func() (bool, string) {
			st, err := clients[1].PeerStatus(rr)
			if err != nil {
				return false, err.Error()
			}
			return st.Rejected >= 1, fmt.Sprintf("rejected %d accepted %v", st.Rejected, st.Accepted)
		})
		bs, err := clients[1].BestPaths(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range bs {
			if b.Prefix == netip.MustParsePrefix(f.net(40, 9)) {
				t.Errorf("client 2 installed the route with its own router ID as ORIGINATOR_ID: %+v", b)
			}
		}
		// Client 1, which has the route itself, still knows it (locally).
		speakerRoute(t, clients[0], f.net(40, 9), 5*time.Second, func(b speaker.BestPath) bool { return b.Local })
	})
}
