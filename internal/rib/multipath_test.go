package rib

import (
	"net/netip"
	"slices"
	"testing"

	"github.com/kbgp/kbgp/internal/bgp/wire"
)

func TestMultipath(t *testing.T) {
	const p = "10.96.0.10/32"
	igp := func(a netip.Addr) (uint32, bool) {
		if a == ip("10.0.0.3") {
			return 50, true
		}
		return 10, true
	}
	tests := []struct {
		name   string
		opts   Options
		routes []rt
		want   []string // next hops, best first
	}{
		{"multipath off", Options{}, []rt{
			{"i1", mkAttrs(nh("10.0.0.1"))},
			{"i2", mkAttrs(nh("10.0.0.2"))},
		}, []string{"10.0.0.1"}},
		{"iBGP multipath", Options{IBGPMaxPaths: 4}, []rt{
			{"i2", mkAttrs(nh("10.0.0.2"))},
			{"i1", mkAttrs(nh("10.0.0.1"))},
			{"i3", mkAttrs(nh("10.0.0.3"))},
		}, []string{"10.0.0.3", "10.0.0.1", "10.0.0.2"}}, // i3 has the lowest router ID
		{"max paths bound", Options{IBGPMaxPaths: 2}, []rt{
			{"i2", mkAttrs(nh("10.0.0.2"))},
			{"i1", mkAttrs(nh("10.0.0.1"))},
			{"i3", mkAttrs(nh("10.0.0.3"))},
		}, []string{"10.0.0.3", "10.0.0.1"}},
		{"IGP cost splits the set", Options{IBGPMaxPaths: 4, IGPCost: igp}, []rt{
			{"i2", mkAttrs(nh("10.0.0.2"))},
			{"i1", mkAttrs(nh("10.0.0.1"))},
			{"i3", mkAttrs(nh("10.0.0.3"))},
		}, []string{"10.0.0.1", "10.0.0.2"}},
		{"LOCAL_PREF splits the set", Options{IBGPMaxPaths: 4}, []rt{
			{"i2", mkAttrs(nh("10.0.0.2"), lp(200))},
			{"i1", mkAttrs(nh("10.0.0.1"))},
		}, []string{"10.0.0.2"}},
		{"duplicate next hops collapse", Options{IBGPMaxPaths: 4}, []rt{
			{"i2", mkAttrs(nh("10.0.0.9"))},
			{"i1", mkAttrs(nh("10.0.0.9"))},
		}, []string{"10.0.0.9"}},
		{"iBGP multipath needs iBGP max paths", Options{EBGPMaxPaths: 4}, []rt{
			{"i2", mkAttrs(nh("10.0.0.2"))},
			{"i1", mkAttrs(nh("10.0.0.1"))},
		}, []string{"10.0.0.1"}},
		{"eBGP multipath same neighbour AS", Options{EBGPMaxPaths: 4}, []rt{
			{"e1", mkAttrs(nh("192.0.2.1"), seq(65001))},
			{"e3", mkAttrs(nh("192.0.2.3"), seq(65001))},
			{"e2", mkAttrs(nh("192.0.2.2"), seq(65002))},
		}, []string{"192.0.2.1", "192.0.2.3"}},
		{"eBGP multipath relaxed", Options{EBGPMaxPaths: 4, MultipathRelax: true}, []rt{
			{"e1", mkAttrs(nh("192.0.2.1"), seq(65001))},
			{"e3", mkAttrs(nh("192.0.2.3"), seq(65001))},
			{"e2", mkAttrs(nh("192.0.2.2"), seq(65002))},
		}, []string{"192.0.2.1", "192.0.2.2", "192.0.2.3"}},
		{"eBGP preferred: iBGP not in the set", Options{EBGPMaxPaths: 4, IBGPMaxPaths: 4}, []rt{
			{"e1", mkAttrs(nh("192.0.2.1"), seq(65001))},
			{"i1", mkAttrs(nh("10.0.0.1"), seq(65001))},
		}, []string{"192.0.2.1"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, tc.opts, decisionPeers...)
			for _, r := range tc.routes {
				f.update(r.peer, r.attrs, p)
			}
			ch := f.r.Drain()
			if len(ch.FIB) != 1 {
				t.Fatalf("FIB changes: %+v", ch.FIB)
			}
			var got []string
			for _, a := range ch.FIB[0].NextHops {
				got = append(got, a.String())
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("next hops %v, want %v", got, tc.want)
			}
		})
	}
}

func TestMultipathChangeEvents(t *testing.T) {
	const p = "10.96.0.11/32"
	f := newFixture(t, Options{IBGPMaxPaths: 8}, decisionPeers...)
	f.update("i1", mkAttrs(nh("10.0.0.1")), p)
	f.update("i2", mkAttrs(nh("10.0.0.2")), p)
	f.r.Drain()
	// A non-best path leaving the set changes the FIB, not the best path.
	f.withdraw("i2", p)
	ch := f.r.Drain()
	if len(ch.FIB) != 1 || !slices.Equal(ch.FIB[0].NextHops, []netip.Addr{ip("10.0.0.1")}) {
		t.Fatalf("FIB after removing a multipath member: %+v", ch.FIB)
	}
	// Nothing to export changed for the best path.
	for _, g := range ch.Groups {
		if len(g.Changes) != 0 {
			t.Errorf("group %d changes %+v for an unchanged best path", g.Group, g.Changes)
		}
	}
	f.update("i3", mkAttrs(nh("10.0.0.3")), p)
	ch = f.r.Drain()
	if len(ch.FIB) != 1 || !slices.Equal(ch.FIB[0].NextHops, []netip.Addr{ip("10.0.0.3"), ip("10.0.0.1")}) {
		t.Fatalf("FIB after adding a better path: %+v", ch.FIB)
	}
	_ = wire.IPv4Unicast
}

// TestReevaluateIGPChange: next-hop reachability and cost changes take
// effect at the next Reevaluate + Drain.
func TestReevaluateIGPChange(t *testing.T) {
	const p = "10.96.0.12/32"
	costs := map[netip.Addr]uint32{ip("10.0.0.1"): 10, ip("10.0.0.2"): 20}
	down := map[netip.Addr]bool{}
	igp := func(a netip.Addr) (uint32, bool) { return costs[a], !down[a] }
	f := newFixture(t, Options{IGPCost: igp}, decisionPeers...)
	f.update("i1", mkAttrs(nh("10.0.0.1")), p)
	f.update("i2", mkAttrs(nh("10.0.0.2")), p)
	f.r.Drain()
	if f.best(p) != "i1" {
		t.Fatalf("best %s, want i1 (lower cost)", f.best(p))
	}
	costs[ip("10.0.0.1")] = 30
	if ch := f.r.Drain(); !ch.Empty() {
		t.Fatalf("changes without Reevaluate: %+v", ch)
	}
	f.r.Reevaluate()
	ch := f.r.Drain()
	if f.best(p) != "i2" || len(ch.FIB) != 1 || ch.FIB[0].NextHops[0] != ip("10.0.0.2") {
		t.Fatalf("after cost change: best %s, FIB %+v", f.best(p), ch.FIB)
	}
	down[ip("10.0.0.2")] = true
	down[ip("10.0.0.1")] = true
	f.r.Reevaluate()
	ch = f.r.Drain()
	if len(ch.FIB) != 1 || !ch.FIB[0].Withdrawn() {
		t.Fatalf("all next hops unreachable: FIB %+v", ch.FIB)
	}
	if a, wd := sent(f, ch, "e1", p); a != nil || !wd {
		t.Errorf("eBGP peer: %+v withdrawn %v, want a withdrawal", a, wd)
	}
}
