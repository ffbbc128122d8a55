package speaker

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"testing"

	"github.com/kbgp/kbgp/internal/bgp/fsm"
	"github.com/kbgp/kbgp/internal/bgp/wire"
)

// rrClient is a raw route-reflector client of the node under test.
type rrClient struct {
	*rawConn
	addr netip.Addr
}

func (c *rrClient) announce(t *testing.T, prefix string) {
	t.Helper()
	u := &wire.Update{}
	u.Attrs.Origin = wire.OriginIGP
	u.Attrs.Set(wire.AttrOrigin)
	u.Attrs.Set(wire.AttrASPath) // empty: iBGP-originated
	u.Attrs.NextHop = netip.AddrFrom4([4]byte{192, 0, 2, c.addr.As4()[3]})
	u.Attrs.Set(wire.AttrNextHop)
	u.Attrs.LocalPref = 100
	u.Attrs.Set(wire.AttrLocalPref)
	u.NLRI = []wire.NLRI{{Prefix: netip.MustParsePrefix(prefix)}}
	b, err := wire.AppendUpdate(nil, u, &wire.Options{AS4: true})
	if err != nil {
		t.Fatal(err)
	}
	c.write(b)
}

// until reads UPDATEs until stop says so, and returns the prefixes
// announced on the way.
func (c *rrClient) until(t *testing.T, stop func(*wire.Update) bool) []string {
	t.Helper()
	var got []string
	for {
		typ, body := c.read()
		if typ != wire.MsgUpdate {
			continue
		}
		var u wire.Update
		if err := u.Decode(body, &wire.Options{AS4: true}); err != nil {
			t.Fatal(err)
		}
		for _, n := range u.NLRI {
			got = append(got, n.Prefix.String())
		}
		if stop(&u) {
			slices.Sort(got)
			return got
		}
	}
}

// TestInitialTablesOfClientsComingUpTogether: clients that come up one
// right after the other (sharing one encoded initial table while the
// group's Adj-RIB-Out stays the same) each get the whole table but their
// own routes, and what is announced later.
func TestInitialTablesOfClientsComingUpTogether(t *testing.T) {
	checkLeaks(t)
	s := newNode(t, "127.0.0.1", 65002, "10.0.0.1")
	ctx := context.Background()
	const n = 6
	clients := make([]*rrClient, n)
	for i := range clients {
		a := netip.AddrFrom4([4]byte{127, 3, 0, byte(i + 1)})
		if err := s.AddPeer(ctx, PeerConfig{RRClient: true, Session: fsm.Config{PeerAS: 65002, PeerAddr: a, Passive: true}}); err != nil {
			t.Fatal(err)
		}
		clients[i] = &rrClient{addr: a}
	}
	open := func(c *rrClient, i int) {
		c.rawConn = dialRaw(t, c.addr, s.Addrs()[0])
		o := &wire.Open{Version: 4, MyAS: 65002, HoldTime: 90, BGPID: netip.AddrFrom4([4]byte{10, 3, 0, byte(i + 1)})}
		o.Caps.HasFourOctetAS, o.Caps.FourOctetAS = true, 65002
		o.Caps.Multiprotocol = []wire.Family{wire.IPv4Unicast}
		c.open(o)
	}
	eor := func(u *wire.Update) bool { _, ok := wire.IsEndOfRIB(u); return ok }
	// Two clients come up and announce.
	for i := range 2 {
		open(clients[i], i)
		clients[i].expectEoR(wire.IPv4Unicast)
		clients[i].announce(t, fmt.Sprintf("10.%d.0.0/24", i))
	}
	waitRoute(t, s, "10.0.0.0/24", present)
	waitRoute(t, s, "10.1.0.0/24", present)
	// The others come up together: each gets both routes.
	for i := 2; i < n; i++ {
		open(clients[i], i)
	}
	for i := 2; i < n; i++ {
		if got := clients[i].until(t, eor); !slices.Equal(got, []string{"10.0.0.0/24", "10.1.0.0/24"}) {
			t.Errorf("client %d: initial table %v, want 10.0.0.0/24 and 10.1.0.0/24", i, got)
		}
	}
	// A late one announces: everyone else gets it, then a marker route
	// shows the announcer got nothing back before it.
	clients[n-1].announce(t, "10.9.0.0/24")
	has := func(p string) func(*wire.Update) bool {
		return func(u *wire.Update) bool {
			return slices.ContainsFunc(u.NLRI, func(x wire.NLRI) bool { return x.Prefix.String() == p })
		}
	}
	for i := range n - 1 {
		clients[i].until(t, has("10.9.0.0/24"))
	}
	clients[0].announce(t, "10.8.0.0/24")
	if got := clients[n-1].until(t, has("10.8.0.0/24")); !slices.Equal(got, []string{"10.8.0.0/24"}) {
		t.Errorf("announcer got %v, want only the marker 10.8.0.0/24 (never its own route back)", got)
	}
}
