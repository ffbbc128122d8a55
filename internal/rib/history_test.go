package rib

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/kbgp/kbgp/internal/bgp/wire"
)

// TestAdjRIBOutHistoryIndependent checks that the Adj-RIB-Outs after any
// history of announcements, replacements and withdrawals (drained at random
// points) are those computed from the final routes alone. Process skips the
// export work when a prefix's best path is the one already exported; this
// catches a skip that leaves a stale Adj-RIB-Out.
func TestAdjRIBOutHistoryIndependent(t *testing.T) {
	specs := []peerSpec{
		{name: "c1", addr: "10.0.0.1", as: localAS, client: true},
		{name: "c2", addr: "10.0.0.2", as: localAS, client: true},
		{name: "n1", addr: "10.0.0.3", as: localAS},
		{name: "x1", addr: "192.0.2.1", as: 65001},
		{name: "x2", addr: "192.0.2.2", as: 65002},
	}
	names := []string{"c1", "c2", "n1", "x1", "x2"}
	for _, o := range []Options{{}, {NoFIB: true}, {IBGPMaxPaths: 2, EBGPMaxPaths: 2}} {
		for seed := range uint64(20) {
			t.Run(fmt.Sprintf("nofib=%v/multipath=%d/seed=%d", o.NoFIB, o.IBGPMaxPaths, seed), func(t *testing.T) {
				rng := rand.New(rand.NewPCG(seed, 1))
				live := newFixture(t, o, specs...)
				final := map[string]map[string]*wire.Attrs{} // peer → prefix → attrs
				for _, n := range names {
					final[n] = map[string]*wire.Attrs{}
				}
				for range 400 {
					peer := names[rng.IntN(len(names))]
					p := fmt.Sprintf("10.%d.%d.0/24", rng.IntN(2), rng.IntN(6))
					switch rng.IntN(10) {
					case 0, 1, 2:
						live.withdraw(peer, p)
						delete(final[peer], p)
					case 3:
						live.r.Drain()
					default:
						a := mkAttrs(nh(fmt.Sprintf("192.0.2.%d", 10+rng.IntN(3))), lp(uint32(100+rng.IntN(3))), med(uint32(rng.IntN(3))))
						live.update(peer, a, p)
						final[peer][p] = a
					}
				}
				live.r.Drain()
				fresh := newFixture(t, o, specs...)
				for peer, routes := range final {
					for p, a := range routes {
						fresh.update(peer, a, p)
					}
				}
				fresh.r.Drain()
				for _, n := range names {
					if d := cmp.Diff(adjOut(t, fresh, n), adjOut(t, live, n), cmpAttrs); d != "" {
						t.Errorf("Adj-RIB-Out of %s differs from one computed from the final routes (-fresh +after history):\n%s", n, d)
					}
				}
				checkRefs(t, live.r)
			})
		}
	}
}

// adjOut is a peer's Adj-RIB-Out by prefix (attributes and source).
func adjOut(t *testing.T, f *fixture, peer string) map[netip.Prefix]string {
	t.Helper()
	out := map[netip.Prefix]string{}
	if err := f.r.AdjRIBOut(f.id(peer), v4, func(c ExportChange) bool {
		out[c.Prefix] = fmt.Sprintf("from %s: %+v", f.name(c.Source), c.Attrs.Attrs)
		return true
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestGroupAdjRIBOut checks a group's Adj-RIB-Out before split horizon and
// that OutGeneration moves with every change of it and with new groups.
func TestGroupAdjRIBOut(t *testing.T) {
	f := newFixture(t, Options{},
		peerSpec{name: "c1", addr: "10.0.0.1", as: localAS, client: true},
		peerSpec{name: "c2", addr: "10.0.0.2", as: localAS, client: true})
	g, _ := f.r.PeerGroup(f.id("c1"))
	read := func() map[string]string {
		out := map[string]string{}
		f.r.GroupAdjRIBOut(g, v4, func(c ExportChange) bool {
			out[c.Prefix.String()] = f.name(c.Source)
			return true
		})
		return out
	}
	gen := f.r.OutGeneration()
	step := func(what string, changed bool) {
		t.Helper()
		f.r.Drain()
		if now := f.r.OutGeneration(); (now != gen) != changed {
			t.Errorf("%s: OutGeneration %d → %d, want changed=%v", what, gen, now, changed)
		}
		gen = f.r.OutGeneration()
	}
	f.update("c1", mkAttrs(nh("192.0.2.1")), "10.1.0.0/24")
	f.update("c2", mkAttrs(nh("192.0.2.2")), "10.2.0.0/24")
	step("announcements", true)
	if d := cmp.Diff(map[string]string{"10.1.0.0/24": "c1", "10.2.0.0/24": "c2"}, read()); d != "" {
		t.Errorf("group Adj-RIB-Out (-want +got):\n%s", d)
	}
	f.update("c2", mkAttrs(nh("192.0.2.2"), lp(50)), "10.1.0.0/24") // loses to c1's
	step("a losing path", false)
	f.withdraw("c1", "10.1.0.0/24")
	step("the best path withdrawn", true)
	if d := cmp.Diff(map[string]string{"10.1.0.0/24": "c2", "10.2.0.0/24": "c2"}, read()); d != "" {
		t.Errorf("group Adj-RIB-Out after the withdrawal (-want +got):\n%s", d)
	}
	f.add(peerSpec{name: "x1", addr: "192.0.2.9", as: 65009})
	if f.r.OutGeneration() == gen {
		t.Error("a new group left OutGeneration unchanged")
	}
}
