package rib

import (
	"math/rand/v2"
	"testing"
)

// TestSetIndex adds and deletes sets in random order, with hashes drawn
// from a few values (long runs of equal tags) and from values whose home is
// the last slot (runs that wrap around), and checks after every step that
// each live set is found, no deleted one is, and every run is unbroken
// (each slot's home to the slot itself is occupied: Algorithm R's
// invariant, without which lookups stop early).
func TestSetIndex(t *testing.T) {
	hashes := []uint64{42, 42 << 32, ^uint64(0), ^uint64(0) - 1<<32, 1 << 63, 7}
	for seed := uint64(1); seed <= 20; seed++ {
		rng := rand.New(rand.NewPCG(seed, seed))
		var x setIndex
		live := map[setID]uint64{}
		next := setID(1)
		check := func(step int) {
			t.Helper()
			if x.n != len(live) {
				t.Fatalf("seed %d step %d: n %d, %d live", seed, step, x.n, len(live))
			}
			for id, h := range live {
				if got := x.probe(h, func(c setID) bool { return c == id }); got != id {
					t.Fatalf("seed %d step %d: set %d (hash %#x) not found", seed, step, id, h)
				}
			}
			for j, s := range x.slots {
				if s == 0 {
					continue
				}
				if _, ok := live[setID(s)]; !ok {
					t.Fatalf("seed %d step %d: slot %d holds deleted set %d", seed, step, j, setID(s))
				}
				for i := x.home(s); i != j; i = (i + 1) & x.mask() {
					if x.slots[i] == 0 {
						t.Fatalf("seed %d step %d: empty slot %d between set %d's home %d and its slot %d", seed, step, i, setID(s), x.home(s), j)
					}
				}
			}
		}
		for step := 0; step < 600; step++ {
			if len(live) > 0 && rng.IntN(5) < 2 {
				for id, h := range live { // a random live set
					x.del(h, id)
					delete(live, id)
					break
				}
			} else {
				var h uint64
				if rng.IntN(2) == 0 {
					h = hashes[rng.IntN(len(hashes))]
				} else {
					h = rng.Uint64()
				}
				x.add(h, next)
				live[next] = h
				next++
			}
			check(step)
		}
		for id, h := range live {
			x.del(h, id)
			delete(live, id)
			check(-1)
		}
		if x.slots != nil {
			t.Fatalf("seed %d: %d slots kept when empty", seed, len(x.slots))
		}
	}
}
