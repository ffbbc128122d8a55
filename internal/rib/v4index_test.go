package rib

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestV4Index drives the index and a Go map with the same random
// operations on key sets shaped like real tables (an Internet table, a
// cluster's dense /32s in one /16, every length of one address) and compares them after each step, through growth, tombstones,
// shrinking, emptying, and deletion during iteration.
func TestV4Index(t *testing.T) {
	type gen func(r *rand.Rand) uint64
	key := func(a uint32, bits int) uint64 {
		if bits < 32 {
			a &^= 1<<(32-bits) - 1
		}
		return uint64(a)<<8 | uint64(bits)
	}
	for _, tc := range []struct {
		name string
		gen  gen
	}{
		{"internet", func(r *rand.Rand) uint64 { return key(r.Uint32(), 8+r.IntN(17)) }},
		{"dense /32s in one /16", func(r *rand.Rand) uint64 { return key(0x0a600000|uint32(r.IntN(1<<14)), 32) }},
		{"one address, every length", func(r *rand.Rand) uint64 { return key(0x0a000000, r.IntN(33)) }},
		{"any prefix", func(r *rand.Rand) uint64 { return key(r.Uint32(), r.IntN(33)) }},
		{"few /16s", func(r *rand.Rand) uint64 { return key(uint32(r.IntN(4))<<16|uint32(r.IntN(1<<16)), 16+r.IntN(17)) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(1, 2))
			x := v4Index{}
			want := map[uint64]destID{}
			check := func(step string) {
				t.Helper()
				if x.len() != len(want) {
					t.Fatalf("%s: len %d, want %d", step, x.len(), len(want))
				}
				for k, id := range want {
					if got, ok := x.get(k); !ok || got != id {
						t.Fatalf("%s: get(%#x) = %d, %v; want %d", step, k, got, ok, id)
					}
				}
				seen := map[uint64]destID{}
				x.all(func(k uint64, id destID) bool {
					if _, dup := seen[k]; dup {
						t.Fatalf("%s: all yields %#x twice", step, k)
					}
					seen[k] = id
					return true
				})
				if fmt.Sprint(seen) != fmt.Sprint(want) {
					t.Fatalf("%s: all yields %d keys, want %d", step, len(seen), len(want))
				}
			}
			next := destID(0)
			for round := range 6 {
				// Grow: add keys (absent ones only, as table.add does).
				for range 3000 {
					k := tc.gen(r)
					if _, ok := want[k]; ok {
						if _, ok := x.get(k); !ok {
							t.Fatalf("round %d: present key %#x not found", round, k)
						}
						continue
					}
					if _, ok := x.get(k); ok {
						t.Fatalf("round %d: absent key %#x found", round, k)
					}
					x.set(k, next)
					want[k] = next
					next = (next + 7919) % maxDests
				}
				check(fmt.Sprintf("round %d after adds", round))
				// Delete a random part, some of it while iterating.
				for k := range want {
					if r.IntN(3) == 0 {
						x.del(k)
						delete(want, k)
					}
				}
				x.del(tc.gen(r)&^0xff | 33) // an absent key (no /33s)
				check(fmt.Sprintf("round %d after deletes", round))
				x.all(func(k uint64, id destID) bool {
					if r.IntN(2) == 0 {
						x.del(k)
						delete(want, k)
					}
					return true
				})
				check(fmt.Sprintf("round %d after deletes while iterating", round))
			}
			// Empty it: nothing is left behind.
			x.all(func(k uint64, _ destID) bool { x.del(k); delete(want, k); return true })
			check("emptied")
			if x.slots != nil {
				t.Errorf("emptied index keeps %d slots", len(x.slots))
			}
		})
	}
}

// BenchmarkV4Index looks up a real-table-sized key set in the index and in
// a Go map, in address order and in random order (as UPDATEs packed by
// attribute set arrive).
func BenchmarkV4Index(b *testing.B) {
	r := rand.New(rand.NewPCG(3, 4))
	keys := make([]uint64, 0, 600_000)
	seen := map[uint64]bool{}
	for len(keys) < cap(keys) {
		// /24s mostly, spread over the space as in a full table.
		k := uint64(r.Uint32()&^0xff)<<8 | 24
		if !seen[k] {
			seen[k] = true
			keys = append(keys, k)
		}
	}
	random := slices.Clone(keys)
	slices.Sort(keys)
	for _, order := range []struct {
		name string
		keys []uint64
	}{{"sorted", keys}, {"random", random}} {
		b.Run("v4Index/"+order.name, func(b *testing.B) {
			x := v4Index{}
			for i, k := range keys {
				x.set(k, destID(i))
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, ok := x.get(order.keys[i%len(keys)]); !ok {
					b.Fatal("missing")
				}
			}
		})
		b.Run("map/"+order.name, func(b *testing.B) {
			m := make(map[uint64]destID)
			for i, k := range keys {
				m[k] = destID(i)
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, ok := m[order.keys[i%len(keys)]]; !ok {
					b.Fatal("missing")
				}
			}
		})
	}
}

// TestV4PrefixNumber checks the prefix number round trip at the edges.
func TestV4PrefixNumber(t *testing.T) {
	for _, p := range []string{"0.0.0.0/0", "128.0.0.0/1", "10.0.0.0/8", "192.0.2.0/24", "255.255.255.255/32", "0.0.0.0/32", "10.96.0.1/32"} {
		k, _ := v4Key(pfx(p))
		pn := v4PrefixNumber(k)
		if pn == 0 || pn>>33 != 0 {
			t.Errorf("%s: prefix number %#x is not 33 bits and non-zero", p, pn)
		}
		if back := v4KeyOf(pn); back != k {
			t.Errorf("%s: key %#x → %#x → %#x", p, k, pn, back)
		}
	}
}
