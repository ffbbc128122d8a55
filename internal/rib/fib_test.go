package rib

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/kbgp/kbgp/internal/bgp/wire"
)

// fibEntry is a FIBChange in comparable form.
type fibEntry struct {
	NextHops []netip.Addr
	Attrs    *AttrSet
	Local    bool
}

// TestFIBMatchesDrained checks that RIB.FIB, after each Drain, is exactly
// the sum of every FIBChange reported so far (what a subscriber mirroring
// the changes holds), through announcements, replacements, multipath and
// withdrawals.
func TestFIBMatchesDrained(t *testing.T) {
	for _, tc := range []struct {
		name     string
		opts     Options
		seed     uint64
		withdraw bool
	}{
		{"single path", Options{}, 1, false},
		{"multipath", Options{IBGPMaxPaths: 4}, 2, false},
		{"with withdrawals", Options{}, 3, true},
		{"multipath with withdrawals", Options{IBGPMaxPaths: 4}, 4, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, tc.opts,
				peerSpec{name: "a", addr: "10.0.0.1", as: localAS, client: true},
				peerSpec{name: "b", addr: "10.0.0.2", as: localAS, client: true},
				peerSpec{name: "c", addr: "10.0.0.3", as: 65003},
			)
			rng := rand.New(rand.NewPCG(tc.seed, 0))
			mirror := map[netip.Prefix]fibEntry{}
			for round := range 20 {
				for range 30 {
					p := fmt.Sprintf("10.%d.%d.0/24", rng.IntN(4), rng.IntN(8))
					peer := []string{"a", "b", "c"}[rng.IntN(3)]
					if tc.withdraw && rng.IntN(3) == 0 {
						f.withdraw(peer, p)
						continue
					}
					f.update(peer, mkAttrs(nh(fmt.Sprintf("192.0.2.%d", 1+rng.IntN(3))), lp(uint32(100+rng.IntN(2)))), p)
				}
				for _, c := range f.r.Drain().FIB {
					if c.Withdrawn() {
						delete(mirror, c.Prefix)
						continue
					}
					mirror[c.Prefix] = fibEntry{slices.Clone(c.NextHops), c.Best, c.Local}
				}
				got := map[netip.Prefix]fibEntry{}
				f.r.FIB(func(c FIBChange) bool {
					if c.Family != wire.IPv4Unicast {
						t.Errorf("family %v, want IPv4 unicast", c.Family)
					}
					got[c.Prefix] = fibEntry{slices.Clone(c.NextHops), c.Best, c.Local}
					return true
				})
				if d := cmp.Diff(mirror, got, cmp.Comparer(func(a, b *AttrSet) bool { return a == b }), cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); d != "" {
					t.Fatalf("round %d: FIB differs from the drained changes (-drained +FIB):\n%s", round, d)
				}
				if len(got) == 0 {
					t.Fatalf("round %d: empty FIB", round)
				}
			}
			n := 0
			f.r.FIB(func(FIBChange) bool { n++; return false })
			if n != 1 {
				t.Errorf("FIB called fn %d times after it returned false, want 1", n)
			}
		})
	}
}

// TestNoFIB checks that a RIB without forwarding state reports no FIB
// changes and no FIB, and exports exactly what a RIB with it exports.
func TestNoFIB(t *testing.T) {
	specs := []peerSpec{
		{name: "a", addr: "10.0.0.1", as: localAS, client: true},
		{name: "b", addr: "10.0.0.2", as: localAS, client: true},
		{name: "c", addr: "10.0.0.3", as: 65003},
	}
	with := newFixture(t, Options{IBGPMaxPaths: 4}, specs...)
	without := newFixture(t, Options{IBGPMaxPaths: 4, NoFIB: true}, specs...)
	rng := rand.New(rand.NewPCG(7, 0))
	type out struct {
		Attrs     *wire.Attrs
		Withdrawn bool
	}
	for round := range 20 {
		var prefixes []string
		for range 30 {
			p := fmt.Sprintf("10.%d.%d.0/24", rng.IntN(4), rng.IntN(8))
			prefixes = append(prefixes, p)
			peer := []string{"a", "b", "c"}[rng.IntN(3)]
			if rng.IntN(3) == 0 {
				with.withdraw(peer, p)
				without.withdraw(peer, p)
				continue
			}
			a := mkAttrs(nh(fmt.Sprintf("192.0.2.%d", 1+rng.IntN(3))), lp(uint32(100+rng.IntN(2))))
			with.update(peer, a, p)
			without.update(peer, a, p)
		}
		chWith, chWithout := with.r.Drain(), without.r.Drain()
		if n := len(chWithout.FIB); n != 0 {
			t.Fatalf("round %d: NoFIB RIB reported %d FIB changes", round, n)
		}
		for _, peer := range []string{"a", "b", "c"} {
			for _, p := range prefixes {
				a1, w1 := sent(with, chWith, peer, p)
				a2, w2 := sent(without, chWithout, peer, p)
				if d := cmp.Diff(out{a1, w1}, out{a2, w2}, cmpAttrs); d != "" {
					t.Fatalf("round %d: %s gets a different %s without FIB (-with +without):\n%s", round, peer, p, d)
				}
				if b1, b2 := with.best(p), without.best(p); b1 != b2 {
					t.Fatalf("round %d: best path of %s from %q with FIB, %q without", round, p, b1, b2)
				}
			}
		}
	}
	without.r.FIB(func(c FIBChange) bool {
		t.Fatalf("NoFIB RIB has forwarding state for %v", c.Prefix)
		return false
	})
}
