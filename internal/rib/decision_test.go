package rib

import (
	"net/netip"
	"testing"

	"github.com/kbgp/kbgp/internal/bgp/wire"
)

// decisionPeers are the peers of the decision tests. Local AS 64512.
var decisionPeers = []peerSpec{
	{name: "e1", addr: "192.0.2.1", rid: "1.1.1.1", as: 65001},
	{name: "e2", addr: "192.0.2.2", rid: "2.2.2.2", as: 65002},
	{name: "e3", addr: "192.0.2.3", rid: "3.3.3.3", as: 65001},
	{name: "i1", addr: "10.0.0.1", rid: "10.0.0.1", as: localAS},
	{name: "i2", addr: "10.0.0.2", rid: "10.0.0.2", as: localAS},
	{name: "i3", addr: "10.0.0.3", rid: "0.0.0.9", as: localAS},
	{name: "i4", addr: "10.0.0.4", rid: "10.0.0.2", as: localAS}, // same router ID as i2
}

type rt struct {
	peer  string
	attrs *wire.Attrs
}

func TestDecisionSteps(t *testing.T) {
	const p = "203.0.113.0/24"
	costs := map[netip.Addr]uint32{ip("10.1.0.1"): 10, ip("10.1.0.2"): 20}
	igp := func(a netip.Addr) (uint32, bool) {
		if a == ip("10.9.9.9") {
			return 0, false
		}
		return costs[a], true
	}
	tests := []struct {
		name   string
		opts   Options
		routes []rt
		local  *wire.Attrs // originated locally when set
		want   string
	}{
		{"highest LOCAL_PREF", Options{}, []rt{
			{"i1", mkAttrs(nh("10.0.0.1"), lp(100))},
			{"i2", mkAttrs(nh("10.0.0.2"), lp(200))},
		}, nil, "i2"},
		{"eBGP gets default LOCAL_PREF 100 and beats iBGP 90", Options{}, []rt{
			{"e1", mkAttrs(nh("192.0.2.1"), seq(65001))},
			{"i1", mkAttrs(nh("10.0.0.1"), lp(90))},
		}, nil, "e1"},
		{"iBGP LOCAL_PREF 110 beats eBGP default", Options{}, []rt{
			{"e1", mkAttrs(nh("192.0.2.1"), seq(65001))},
			{"i1", mkAttrs(nh("10.0.0.1"), lp(110), seq(65001, 65003))},
		}, nil, "i1"},
		{"LOCAL_PREF received over eBGP is ignored", Options{}, []rt{
			{"e1", mkAttrs(nh("192.0.2.1"), seq(65001), lp(1000))},
			{"i1", mkAttrs(nh("10.0.0.1"), lp(150), seq(65003, 65004))},
		}, nil, "i1"},
		{"configured default LOCAL_PREF", Options{DefaultLocalPref: 300}, []rt{
			{"e1", mkAttrs(nh("192.0.2.1"), seq(65001))},
			{"i1", mkAttrs(nh("10.0.0.1"), lp(200))},
		}, nil, "e1"},
		{"shortest AS_PATH", Options{}, []rt{
			{"e1", mkAttrs(nh("192.0.2.1"), seq(65001, 65010, 65011))},
			{"e2", mkAttrs(nh("192.0.2.2"), seq(65002, 65010))},
		}, nil, "e2"},
		{"AS_SET counts as one", Options{}, []rt{
			{"e1", mkAttrs(nh("192.0.2.1"), seq(65001, 65010), set(1, 2, 3, 4))}, // length 3
			{"e2", mkAttrs(nh("192.0.2.2"), seq(65002, 65010, 65011, 65012))},    // length 4
		}, nil, "e1"},
		{"confederation segments count zero", Options{}, []rt{
			{"i1", mkAttrs(nh("10.0.0.1"), confed(1, 2, 3), seq(65010))},
			{"i2", mkAttrs(nh("10.0.0.2"), seq(65010, 65011))},
		}, nil, "i1"},
		{"lowest ORIGIN", Options{}, []rt{
			{"e1", mkAttrs(nh("192.0.2.1"), seq(65001), origin(wire.OriginIncomplete))},
			{"e2", mkAttrs(nh("192.0.2.2"), seq(65002), origin(wire.OriginEGP))},
		}, nil, "e2"},
		{"IGP beats EGP", Options{}, []rt{
			{"e2", mkAttrs(nh("192.0.2.2"), seq(65002), origin(wire.OriginEGP))},
			{"e3", mkAttrs(nh("192.0.2.3"), seq(65001), origin(wire.OriginIGP))},
		}, nil, "e3"},
		{"lowest MED from the same neighbour AS", Options{}, []rt{
			{"e1", mkAttrs(nh("192.0.2.1"), seq(65001), med(50))},
			{"e3", mkAttrs(nh("192.0.2.3"), seq(65001), med(10))},
		}, nil, "e3"},
		{"MED not compared across neighbour ASes", Options{}, []rt{
			{"e1", mkAttrs(nh("192.0.2.1"), seq(65001), med(50))},
			{"e2", mkAttrs(nh("192.0.2.2"), seq(65002), med(10))},
		}, nil, "e1"}, // falls to router ID: 1.1.1.1 < 2.2.2.2
		{"always-compare-MED", Options{AlwaysCompareMED: true}, []rt{
			{"e1", mkAttrs(nh("192.0.2.1"), seq(65001), med(50))},
			{"e2", mkAttrs(nh("192.0.2.2"), seq(65002), med(10))},
		}, nil, "e2"},
		{"missing MED is lowest", Options{}, []rt{
			{"e1", mkAttrs(nh("192.0.2.1"), seq(65001), med(5))},
			{"e3", mkAttrs(nh("192.0.2.3"), seq(65001))},
		}, nil, "e3"},
		{"MED of iBGP routes compared by neighbour AS in AS_PATH", Options{}, []rt{
			{"i1", mkAttrs(nh("10.0.0.1"), seq(65001), med(30))},
			{"i2", mkAttrs(nh("10.0.0.2"), seq(65001), med(20))},
		}, nil, "i2"},
		{"eBGP over iBGP", Options{}, []rt{
			{"i3", mkAttrs(nh("10.0.0.3"), lp(100), seq(65009))},
			{"e2", mkAttrs(nh("192.0.2.2"), seq(65002))},
		}, nil, "e2"},
		{"lowest IGP cost", Options{IGPCost: igp}, []rt{
			{"i1", mkAttrs(nh("10.1.0.2"))},
			{"i2", mkAttrs(nh("10.1.0.1"))},
		}, nil, "i2"},
		{"unreachable next hop is ineligible", Options{IGPCost: igp}, []rt{
			{"i1", mkAttrs(nh("10.9.9.9"), lp(500))},
			{"i2", mkAttrs(nh("10.1.0.2"), lp(100))},
		}, nil, "i2"},
		{"only unreachable paths: no best", Options{IGPCost: igp}, []rt{
			{"i1", mkAttrs(nh("10.9.9.9"))},
		}, nil, ""},
		{"lowest router ID", Options{}, []rt{
			{"i1", mkAttrs(nh("10.0.0.1"))},
			{"i3", mkAttrs(nh("10.0.0.3"))},
		}, nil, "i3"},
		{"ORIGINATOR_ID replaces router ID", Options{}, []rt{
			{"i1", mkAttrs(nh("10.0.0.1"), originator("10.0.0.200"), clusters("10.0.0.50"))},
			{"i2", mkAttrs(nh("10.0.0.2"), originator("10.0.0.100"), clusters("10.0.0.50"))},
		}, nil, "i2"},
		{"shortest CLUSTER_LIST", Options{}, []rt{
			{"i1", mkAttrs(nh("10.0.0.1"), originator("10.0.0.100"), clusters("10.0.0.50", "10.0.0.51"))},
			{"i2", mkAttrs(nh("10.0.0.2"), originator("10.0.0.100"), clusters("10.0.0.52"))},
		}, nil, "i2"},
		{"lowest peer address", Options{}, []rt{
			{"i4", mkAttrs(nh("10.0.0.4"))},
			{"i2", mkAttrs(nh("10.0.0.2"))},
		}, nil, "i2"},
		{"local origination beats higher LOCAL_PREF", Options{}, []rt{
			{"i1", mkAttrs(nh("10.0.0.1"), lp(1000))},
		}, mkAttrs(), "local"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// Every insertion order must give the same answer.
			for _, order := range permutations(len(tc.routes)) {
				f := newFixture(t, tc.opts, decisionPeers...)
				if tc.local != nil {
					if err := f.r.Originate(v4, pfx(p), 0, tc.local); err != nil {
						t.Fatal(err)
					}
				}
				for _, i := range order {
					f.update(tc.routes[i].peer, tc.routes[i].attrs, p)
				}
				ch := f.r.Drain()
				if got := f.best(p); got != tc.want {
					t.Fatalf("order %v: best = %q, want %q", order, got, tc.want)
				}
				var fc *FIBChange
				for i := range ch.FIB {
					if ch.FIB[i].Prefix == pfx(p) {
						fc = &ch.FIB[i]
					}
				}
				if tc.want == "" {
					if fc != nil {
						t.Fatalf("FIB change %+v for a prefix without usable route", fc)
					}
					return
				}
				if fc == nil || fc.Best != f.r.Routes(v4, pfx(p))[0].Attrs || fc.Local != (tc.want == "local") {
					t.Fatalf("FIB change %+v does not report the best path", fc)
				}
			}
		})
	}
}

// TestDeterministicMED pins the classic MED non-transitivity case: with
// pairwise comparison the result depends on arrival order; the RFC's
// elimination procedure does not.
func TestDeterministicMED(t *testing.T) {
	const p = "198.51.100.0/24"
	routes := []rt{
		{"e3", mkAttrs(nh("192.0.2.3"), seq(65001), med(10))}, // AS 65001, rid 3.3.3.3
		{"e2", mkAttrs(nh("192.0.2.2"), seq(65002), med(5))},  // AS 65002, rid 2.2.2.2
		{"e1", mkAttrs(nh("192.0.2.1"), seq(65001), med(20))}, // AS 65001, rid 1.1.1.1
	}
	// e1 is removed by e3 (same AS, lower MED); between e3 and e2 the router
	// ID decides: e2.
	for _, order := range permutations(len(routes)) {
		f := newFixture(t, Options{}, decisionPeers...)
		for _, i := range order {
			f.update(routes[i].peer, routes[i].attrs, p)
		}
		f.r.Drain()
		if got := f.best(p); got != "e2" {
			t.Fatalf("order %v: best = %s, want e2", order, got)
		}
	}
}

func permutations(n int) [][]int {
	if n == 0 {
		return [][]int{{}}
	}
	var out [][]int
	for _, p := range permutations(n - 1) {
		for i := 0; i <= len(p); i++ {
			q := append(append(append([]int{}, p[:i]...), n-1), p[i:]...)
			out = append(out, q)
		}
	}
	return out
}

func TestASPathLen(t *testing.T) {
	tests := []struct {
		name string
		segs []wire.ASPathSegment
		want int
	}{
		{"empty", nil, 0},
		{"sequence", []wire.ASPathSegment{{Type: wire.ASSequence, ASNs: []uint32{1, 2, 3}}}, 3},
		{"set counts one", []wire.ASPathSegment{{Type: wire.ASSet, ASNs: []uint32{1, 2, 3}}}, 1},
		{"confed zero", []wire.ASPathSegment{{Type: wire.ASConfedSequence, ASNs: []uint32{1, 2}}, {Type: wire.ASConfedSet, ASNs: []uint32{3}}}, 0},
		{"mixed", []wire.ASPathSegment{{Type: wire.ASSequence, ASNs: []uint32{1, 2}}, {Type: wire.ASSet, ASNs: []uint32{3, 4}}}, 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := asPathLen(tc.segs); got != tc.want {
				t.Errorf("asPathLen = %d, want %d", got, tc.want)
			}
		})
	}
}
