package speaker

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/kbgp/kbgp/internal/bgp/wire"
	"github.com/kbgp/kbgp/internal/rib"
)

// TestUpdatePeers applies a batch: two policy-only changes (in place, no
// flap, exports recomputed), one change that needs a new OPEN (only that
// session resets) and an unknown peer (ErrPeerNotFound for that entry).
func TestUpdatePeers(t *testing.T) {
	checkLeaks(t)
	hub := newNode(t, "127.0.0.1", 65000, "10.0.0.1")
	spokes := []*node{
		newNode(t, "127.0.0.2", 65002, "10.0.0.2"),
		newNode(t, "127.0.0.3", 65003, "10.0.0.3"),
		newNode(t, "127.0.0.4", 65004, "10.0.0.4"),
	}
	accept := rib.PolicyFunc(func(rib.PolicyInput, *wire.Attrs) bool { return true })
	cfgs := map[netip.Addr]PeerConfig{}
	for _, s := range spokes {
		connect(t, hub, s, func(hc, _ *PeerConfig) {
			hc.Export = rib.Policy{Name: s.addr.String() + "/export", Func: accept}
			cfgs[s.addr] = *hc
		})
	}
	ctx := context.Background()
	var attrs wire.Attrs
	attrs.Origin = wire.OriginIGP
	attrs.Set(wire.AttrOrigin)
	for _, p := range []string{"10.1.0.0/24", "10.2.0.0/24"} {
		if err := hub.Originate(ctx, netip.MustParsePrefix(p), attrs); err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range spokes {
		waitEstablished(t, hub, s.addr)
		waitRoute(t, s, "10.2.0.0/24", present)
	}

	no10_2 := rib.PolicyFunc(func(in rib.PolicyInput, _ *wire.Attrs) bool {
		return in.Prefix != netip.MustParsePrefix("10.2.0.0/24")
	})
	var batch []PeerConfig
	for _, s := range spokes[:2] {
		c := cfgs[s.addr]
		c.Export.Func = no10_2
		batch = append(batch, c)
	}
	reset := cfgs[spokes[2].addr]
	reset.Session.HoldTime = 12 * time.Second
	batch = append(batch, reset)
	ghost := cfgs[spokes[2].addr]
	ghost.Session.PeerAddr = netip.MustParseAddr("127.0.0.9")
	batch = append(batch, ghost)

	errs := hub.UpdatePeers(ctx, batch)
	for i, err := range errs[:3] {
		if err != nil {
			t.Errorf("entry %d: %v", i, err)
		}
	}
	if !errors.Is(errs[3], ErrPeerNotFound) {
		t.Errorf("unknown peer: %v, want ErrPeerNotFound", errs[3])
	}
	for _, s := range spokes[:2] {
		waitRoute(t, s, "10.2.0.0/24", withdrawn)
		waitRoute(t, s, "10.1.0.0/24", present)
		if st := waitEstablished(t, s, hub.addr); st.Established != 1 || st.Flaps != 0 {
			t.Errorf("spoke %v: policy change flapped the session: established %d flaps %d", s.addr, st.Established, st.Flaps)
		}
	}
	if st := waitEstablished(t, spokes[2], hub.addr); st.Established != 2 {
		t.Errorf("spoke 3 established %d times, want 2 (hold time change resets)", st.Established)
	}
	waitRoute(t, spokes[2], "10.2.0.0/24", present)
}

// BenchmarkPolicyChange changes the export policy of n peers on a speaker
// holding 10,000 routes, one UpdatePeer per peer against one UpdatePeers
// for all: the agent applies an IPPool change (every peer's policy) this
// way. The per-peer loop re-evaluates the whole RIB n times.
func BenchmarkPolicyChange(b *testing.B) {
	accept := rib.PolicyFunc(func(rib.PolicyInput, *wire.Attrs) bool { return true })
	for _, n := range []int{10, 100} {
		for _, mode := range []string{"loop", "batch"} {
			b.Run(fmt.Sprintf("peers=%d/%s", n, mode), func(b *testing.B) {
				ctx := context.Background()
				s, err := New(ctx, Config{LocalAS: 65000, RouterID: netip.MustParseAddr("10.0.0.1")})
				if err != nil {
					b.Fatal(err)
				}
				defer s.Close()
				cfgs := passivePeers(n)
				for i := range cfgs {
					cfgs[i].Export = rib.Policy{Name: cfgs[i].Name + "/export", Func: accept}
					if err := s.AddPeer(ctx, cfgs[i]); err != nil {
						b.Fatal(err)
					}
				}
				var attrs wire.Attrs
				attrs.Set(wire.AttrOrigin)
				pfx := make([]netip.Prefix, 10000)
				for i := range pfx {
					pfx[i] = netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i >> 8), byte(i), 0}), 24)
				}
				if err := s.OriginateAll(ctx, pfx, attrs); err != nil {
					b.Fatal(err)
				}
				for b.Loop() {
					for i := range cfgs {
						fn := rib.PolicyFunc(func(rib.PolicyInput, *wire.Attrs) bool { return true })
						cfgs[i].Export.Func = fn
					}
					if mode == "batch" {
						for _, err := range s.UpdatePeers(ctx, cfgs) {
							if err != nil {
								b.Fatal(err)
							}
						}
						continue
					}
					for _, c := range cfgs {
						if err := s.UpdatePeer(ctx, c); err != nil {
							b.Fatal(err)
						}
					}
				}
			})
		}
	}
}

// groupOf returns the update group of n's peer at addr (false if none).
func groupOf(t *testing.T, n *node, addr netip.Addr) (rib.GroupID, bool) {
	t.Helper()
	n.mu.Lock()
	p := n.peers[addr]
	n.mu.Unlock()
	var (
		g  rib.GroupID
		ok bool
	)
	if err := n.do(context.Background(), func() { g, ok = n.rib.PeerGroup(p.id) }); err != nil {
		t.Fatal(err)
	}
	return g, ok
}

// TestUpdatePeersRegroup: peers with equal export policy names share an
// update group; a batch that renames a whole group keeps it, one that
// changes some members moves them (to an existing group: its table is
// sent; to a new one: computed), and each moved peer ends with exactly its
// new group's routes, without a session reset.
func TestUpdatePeersRegroup(t *testing.T) {
	checkLeaks(t)
	hub := newNode(t, "127.0.0.1", 65000, "10.0.0.1")
	spokes := []*node{
		newNode(t, "127.0.0.2", 65000, "10.0.0.2"),
		newNode(t, "127.0.0.3", 65000, "10.0.0.3"),
		newNode(t, "127.0.0.4", 65000, "10.0.0.4"),
	}
	reject := func(ps ...string) rib.PolicyFunc {
		return func(in rib.PolicyInput, _ *wire.Attrs) bool {
			for _, p := range ps {
				if in.Prefix == netip.MustParsePrefix(p) {
					return false
				}
			}
			return true
		}
	}
	start := map[netip.Addr]rib.Policy{
		spokes[0].addr: {Name: "h1", Func: reject()},
		spokes[1].addr: {Name: "h1", Func: reject()},
		spokes[2].addr: {Name: "h2", Func: reject("10.2.0.0/24")},
	}
	cfgs := map[netip.Addr]PeerConfig{}
	for _, s := range spokes {
		connect(t, hub, s, func(hc, _ *PeerConfig) {
			hc.RRClient = true
			hc.Export = start[s.addr]
			cfgs[s.addr] = *hc
		})
	}
	ctx := context.Background()
	var attrs wire.Attrs
	attrs.Origin = wire.OriginIGP
	attrs.Set(wire.AttrOrigin)
	for _, p := range []string{"10.1.0.0/24", "10.2.0.0/24", "10.3.0.0/24"} {
		if err := hub.Originate(ctx, netip.MustParsePrefix(p), attrs); err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range spokes {
		waitEstablished(t, hub, s.addr)
		waitRoute(t, s, "10.1.0.0/24", present)
	}
	waitRoute(t, spokes[2], "10.2.0.0/24", withdrawn)
	g0, _ := groupOf(t, hub, spokes[0].addr)
	if g1, _ := groupOf(t, hub, spokes[1].addr); g1 != g0 {
		t.Fatalf("spokes 1 and 2 (policy h1) in groups %d and %d", g0, g1)
	}
	g2, _ := groupOf(t, hub, spokes[2].addr)
	update := func(what string, changes map[netip.Addr]rib.Policy) {
		t.Helper()
		var batch []PeerConfig
		for a, pol := range changes {
			c := cfgs[a]
			c.Export = pol
			cfgs[a] = c
			batch = append(batch, c)
		}
		for i, err := range hub.UpdatePeers(ctx, batch) {
			if err != nil {
				t.Fatalf("%s: entry %d: %v", what, i, err)
			}
		}
	}
	routes := func(what string, s *node, want map[string]bool) {
		t.Helper()
		for p, in := range want {
			if in {
				waitRoute(t, s, p, present)
			} else {
				waitRoute(t, s, p, withdrawn)
			}
		}
	}

	// The whole h1 group to h3: renamed in place.
	update("rename", map[netip.Addr]rib.Policy{
		spokes[0].addr: {Name: "h3", Func: reject("10.3.0.0/24"), ReadOnly: true},
		spokes[1].addr: {Name: "h3", Func: reject("10.3.0.0/24"), ReadOnly: true},
	})
	for _, s := range spokes[:2] {
		routes("rename", s, map[string]bool{"10.1.0.0/24": true, "10.2.0.0/24": true, "10.3.0.0/24": false})
		if g, _ := groupOf(t, hub, s.addr); g != g0 {
			t.Errorf("renamed group: spoke %v moved from group %d to %d", s.addr, g0, g)
		}
	}

	// Spoke 1 alone to h2, spoke 3's existing group.
	update("move to an existing group", map[netip.Addr]rib.Policy{spokes[0].addr: {Name: "h2", Func: reject("10.2.0.0/24")}})
	routes("move to an existing group", spokes[0], map[string]bool{"10.1.0.0/24": true, "10.2.0.0/24": false, "10.3.0.0/24": true})
	if g, _ := groupOf(t, hub, spokes[0].addr); g != g2 {
		t.Errorf("spoke 1 in group %d, want spoke 3's %d", g, g2)
	}

	// Spoke 2 alone to a policy nobody has: a new group.
	update("move to a new group", map[netip.Addr]rib.Policy{spokes[1].addr: {Name: "h4", Func: reject("10.1.0.0/24")}})
	routes("move to a new group", spokes[1], map[string]bool{"10.1.0.0/24": false, "10.2.0.0/24": true, "10.3.0.0/24": true})
	// (The new group may reuse h3's ID: spoke 2 was its last member.)
	if g, _ := groupOf(t, hub, spokes[1].addr); g == g2 {
		t.Errorf("spoke 2 in spoke 3's group %d, want a new one", g)
	}
	// Spoke 3 was not touched, and no session was reset.
	routes("untouched", spokes[2], map[string]bool{"10.1.0.0/24": true, "10.2.0.0/24": false, "10.3.0.0/24": true})
	for _, s := range spokes {
		if st := waitEstablished(t, s, hub.addr); st.Established != 1 || st.Flaps != 0 {
			t.Errorf("spoke %v: established %d flaps %d, want one session throughout", s.addr, st.Established, st.Flaps)
		}
	}
	for _, s := range spokes {
		st, err := hub.PeerStatus(s.addr)
		if err != nil {
			t.Fatal(err)
		}
		if st.Advertised[wire.IPv4Unicast] != 2 {
			t.Errorf("hub advertises %d routes to %v, want 2", st.Advertised[wire.IPv4Unicast], s.addr)
		}
	}
}
