package interop

import (
	"context"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/kbgp/kbgp/internal/bgp/fsm"
	"github.com/kbgp/kbgp/internal/bgp/speaker"
	"github.com/kbgp/kbgp/internal/bgp/wire"
	"github.com/kbgp/kbgp/internal/netns/nstest"
	"github.com/kbgp/kbgp/internal/rib"
)

// birdIBGPSource is a BIRD (peer i) that announces prefix in family f
// with next hop self to neighbor (AS 65001) from AS as, and imports
// nothing.
func birdIBGPSource(f family, i int, neighbor netip.Addr, as uint32, prefix string) string {
	return fmt.Sprintf(`router id %[1]s;
log stderr all;
protocol device { }
protocol static s1 { %[6]s; route %[5]s blackhole; }
protocol bgp up {
  local %[7]s as %[4]d;
  neighbor %[2]s as 65001;
  password "%[3]s";
  connect delay time 1; connect retry time 1; error wait time 1, 2;
  hold time 9;
  %[6]s { import none; export where proto = "s1"; next hop self; };
}
`, peer4(i), neighbor, password, as, prefix, f.bird, f.peer(i))
}

// TestInteropFRR_AddPath: ADD-PATH (RFC 7911) both ways with FRR, over
// IPv4 and IPv6 sessions.
func TestInteropFRR_AddPath(t *testing.T) {
	nstest.RequireBinaries(t, "bird", "birdc", "vtysh", "/usr/lib/frr/bgpd", "/usr/lib/frr/zebra")
	t.Parallel()
	forEachFamily(t, func(t *testing.T, f family) {
		// FRR (route reflector in the centre namespace) has two paths for
		// f.net(50, 0) (10.50.0.0/24, fd50::/48) from two BIRD clients and
		// sends both to its kbgp client with "addpath-tx-all-paths". kbgp keeps both, under distinct path
		// IDs (RFC 7911 §2: the path identifier with the prefix "identif[ies]
		// a path"), and both next hops form its iBGP multipath set.
		t.Run("FRR sends", func(t *testing.T) {
			t.Parallel()
			l := newLab(t, f.tag("far"), 3)
			rr := f.kbgp
			sp := startSpeaker(t, l.peers[0], 65001, peer4(1), speaker.Config{RIB: rib.Options{IBGPMaxPaths: 2}})
			c := f.peerConfig(rr, 65001)
			c.Session.AddPath = []fsm.AddPathConfig{{Family: f.wire, Mode: wire.AddPathReceive}}
			if err := sp.AddPeer(context.Background(), c); err != nil {
				t.Fatal(err)
			}
			sub, err := sp.Subscribe(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			defer sub.Close()
			for i := 2; i <= 3; i++ {
				l.startBIRD(l.peers[i-1], fmt.Sprintf("bird%d", i), birdIBGPSource(f, i, rr, 65001, f.net(50, 0)))
			}
			dir := l.startFRR(l.k, "frr", fmt.Sprintf(`frr defaults traditional
hostname frr-rr
log stdout debugging
router bgp 65001
 bgp router-id %[6]s
 no bgp default ipv4-unicast
 neighbor clients peer-group
 neighbor clients remote-as 65001
 neighbor clients password %[2]s
 neighbor clients timers connect 1
 neighbor clients timers 3 9
 neighbor %[3]s peer-group clients
 neighbor %[4]s peer-group clients
 neighbor %[5]s peer-group clients
 address-family %[7]s
  neighbor clients activate
  neighbor clients route-reflector-client
  neighbor %[3]s addpath-tx-all-paths
 exit-address-family
`, rr, password, f.peer(1), f.peer(2), f.peer(3), kbgp4, f.frr))
			st := waitEstablished(t, sp, rr, 40*time.Second)
			if !slices.Contains(st.Negotiated.AddPathRecv, f.wire) {
				t.Errorf("ADD-PATH receive not negotiated with FRR: %+v", st.Negotiated)
			}
			want := []netip.Addr{f.peer(2), f.peer(3)}
			var routes []speaker.Route
			eventually(t, 40*time.Second, "kbgp holds both of FRR's paths", func() (bool, string) {
				routes, err = sp.Routes(context.Background(), netipPrefix(f.net(50, 0)))
				if err != nil {
					return false, err.Error()
				}
				var nhs []netip.Addr
				for _, r := range routes {
					nhs = append(nhs, r.Attrs.NextHop)
				}
				slices.SortFunc(nhs, netip.Addr.Compare)
				return slices.Equal(nhs, want), fmt.Sprintf("next hops %v\n%s", nhs, vtysh(dir, "show bgp "+f.frrShow+" "+f.net(50, 0)))
			})
			if routes[0].PathID == routes[1].PathID || routes[0].Peer != rr || routes[1].Peer != rr {
				t.Errorf("paths: %+v", routes)
			}
			// The subscriber (the FIB) sees both next hops (ECMP).
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			var last []netip.Addr
			for {
				bs, err := sub.Next(ctx)
				if err != nil {
					t.Fatalf("subscriber never saw both next hops for %s (last %v): %v", f.net(50, 0), last, err)
				}
				for _, b := range bs {
					if b.Prefix == netipPrefix(f.net(50, 0)) {
						last = slices.Clone(b.NextHops)
					}
				}
				slices.SortFunc(last, netip.Addr.Compare)
				if slices.Equal(last, want) {
					break
				}
			}
		})

		// kbgp has two eBGP paths for f.net(60, 0) (BIRDs in AS 65002) and
		// sends both to its iBGP peer FRR with ADD-PATH; FRR lists both, each
		// with its own received path ID.
		t.Run("kbgp sends", func(t *testing.T) {
			t.Parallel()
			l := newLab(t, f.tag("fas"), 3)
			l.startKBGP(65001, speaker.Config{})
			for i := 1; i <= 2; i++ {
				l.addPeer(f.peerConfig(f.peer(i), 65002))
				l.startBIRD(l.peers[i-1], fmt.Sprintf("bird%d", i), birdIBGPSource(f, i, f.kbgp, 65002, f.net(60, 0)))
			}
			c := f.peerConfig(f.peer(3), 65001)
			c.Session.AddPath = []fsm.AddPathConfig{{Family: f.wire, Mode: wire.AddPathBoth}}
			l.addPeer(c)
			dir := l.startFRR(l.peers[2], "frr", fmt.Sprintf(`frr defaults traditional
hostname frr3
log stdout debugging
router bgp 65001
 bgp router-id %[1]s
 no bgp default ipv4-unicast
 neighbor %[2]s remote-as 65001
 neighbor %[2]s password %[3]s
 neighbor %[2]s timers connect 1
 neighbor %[2]s timers 3 9
 address-family %[4]s
  neighbor %[2]s activate
 exit-address-family
`, peer4(3), f.kbgp, password, f.frr))
			for i := 1; i <= 3; i++ {
				l.waitEstablished(f.peer(i), 40*time.Second)
			}
			st, _ := l.sp.PeerStatus(f.peer(3))
			if !slices.Contains(st.Negotiated.AddPathSend, f.wire) {
				t.Errorf("ADD-PATH send not negotiated with FRR: %+v", st.Negotiated)
			}
			rxID := regexp.MustCompile(`"addpathRxId":(\d+)`)
			eventually(t, 40*time.Second, "FRR lists both of kbgp's paths with distinct path IDs", func() (bool, string) {
				out := vtysh(dir, "show bgp "+f.frrShow+" "+f.net(60, 0)+" json")
				ids := rxID.FindAllStringSubmatch(out, -1)
				ok := len(ids) == 2 && ids[0][1] != ids[1][1] &&
					containsAll(out, `"ip":"`+f.peer(1).String()+`"`, `"ip":"`+f.peer(2).String()+`"`, `"string":"65002"`)
				return ok, out
			})
		})
	})
}
