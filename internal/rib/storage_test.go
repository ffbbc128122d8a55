package rib

import (
	"fmt"
	"net/netip"
	"testing"
	"unsafe"

	"github.com/kbgp/kbgp/internal/bgp/wire"
)

// storageLoad announces n prefixes from every tester of an rrSetup RIB in
// UPDATEs of 10 NLRI, with sets attribute sets per tester: AS paths of 1 to
// 12 ASNs (beyond the inline storage of an AttrSet), some with two
// segments, some with communities.
func storageLoad(t *testing.T, r *RIB, ids []PeerID, n, sets int, pfx func(int) netip.Prefix) {
	t.Helper()
	for k := 0; k < n; k += 10 {
		var nl []wire.NLRI
		for j := k; j < min(n, k+10); j++ {
			nl = append(nl, wire.NLRI{Prefix: pfx(j)})
		}
		for i := 0; i < rrTesters; i++ {
			s := (k / 10) % sets
			var asns []uint32
			for j := 0; j <= s%12; j++ {
				asns = append(asns, uint32(100+s+j))
			}
			opts := []attr{nh(rrClientAddr(i).String()), lp(100), seq(asns...)}
			if s%5 == 0 {
				opts = append(opts, set(7, 8))
			}
			if s%3 == 0 {
				opts = append(opts, comm(wire.Community(s)))
			}
			if _, _, err := r.Update(ids[i], wire.IPv4Unicast, nl, mkAttrs(opts...)); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// TestStorageReleased loads a table from four reflector clients, withdraws
// it, and checks that the interner, the next-hop sets and the prefix slab
// are empty again, then that the emptied RIB loads the same table into the
// same state (handles and slab slots are reusable).
func TestStorageReleased(t *testing.T) {
	const n, sets = 3000, 50
	pfxOf := func(k int) netip.Prefix {
		return netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(k >> 8), byte(k), 0}), 24)
	}
	r, ids := rrSetup(t)
	var first Stats
	for round := 0; round < 2; round++ {
		t.Run(fmt.Sprint("round", round), func(t *testing.T) {
			storageLoad(t, r, ids, n, sets, pfxOf)
			r.Drain()
			checkRefs(t, r)
			s := r.Stats()
			if s.Prefixes != n || s.Paths != n*rrTesters {
				t.Fatalf("loaded: %+v, want %d prefixes and %d paths", s, n, n*rrTesters)
			}
			// Path sets (without next hop): one per attribute set, shared
			// by the testers and complete for the best tester, which
			// announced first; export sets (ORIGINATOR_ID and CLUSTER_LIST
			// added): one per set.
			if want := 2 * sets; s.AttrSets != want {
				t.Errorf("%d attribute sets, want %d", s.AttrSets, want)
			}
			if round == 0 {
				first = s
			} else if s != first {
				t.Errorf("reloaded: %+v, first load %+v", s, first)
			}
			// Withdraw half of one tester's routes (free-list churn), then
			// everything.
			var half []wire.NLRI
			for k := 0; k < n; k += 2 {
				half = append(half, wire.NLRI{Prefix: pfxOf(k)})
			}
			if err := r.Withdraw(ids[0], wire.IPv4Unicast, half); err != nil {
				t.Fatal(err)
			}
			r.Drain()
			checkRefs(t, r)
			for _, id := range ids[:rrTesters] {
				if _, err := r.WithdrawAll(id, wire.IPv4Unicast); err != nil {
					t.Fatal(err)
				}
			}
			ch := r.Drain()
			if len(ch.FIB) != n {
				t.Errorf("%d FIB withdrawals, want %d", len(ch.FIB), n)
			}
			checkRefs(t, r)
			if s := r.Stats(); s.Prefixes != 0 || s.Paths != 0 || s.AttrSets != 0 {
				t.Fatalf("after withdrawing everything: %+v", s)
			}
			in := &r.intern
			if in.index.n != 0 || in.index.slots != nil || in.live != 0 || len(in.sets) != 1 || len(in.free) != 0 {
				t.Errorf("interner not empty: %d indexed, %d live, %d handles, %d free", in.index.n, in.live, len(in.sets), len(in.free))
			}
			if len(r.nh.m) != 0 {
				t.Errorf("%d next-hop sets left", len(r.nh.m))
			}
			if len(r.addrs.m) != 0 {
				t.Errorf("%d next-hop addresses left", len(r.addrs.m))
			}
			tb := r.tables[wire.IPv4Unicast]
			if tb.len() != 0 || tb.paths != 0 || tb.chunks != nil || tb.free != nil {
				t.Errorf("table not empty: %d entries, %d paths, %d chunks, %d free slots", tb.len(), tb.paths, len(tb.chunks), len(tb.free))
			}
		})
	}
}

// TestInternHashCollision gives every set one hash and checks that lookups
// find each set and that releases in any order (middle, head, tail) keep
// the index consistent.
func TestInternHashCollision(t *testing.T) {
	var in interner
	in.init()
	in.testHash = func([]byte) uint64 { return 42 }
	var ids []setID
	for i := 0; i < 6; i++ {
		s := in.get(mkAttrs(nh("10.0.0.1"), seq(uint32(i+1))))
		ids = append(ids, s.id)
	}
	if in.index.n != 6 || in.live != 6 {
		t.Fatalf("%d indexed, %d live sets, want 6 and 6", in.index.n, in.live)
	}
	for _, id := range ids {
		c := cloneAttrs(&in.at(id).Attrs)
		if got := in.get(&c); got.id != id {
			t.Fatalf("set %d: lookup through the chain found %d", id, got.id)
		}
		in.put(id)
	}
	for _, k := range []int{2, 5, 0, 3, 1, 4} {
		in.put(ids[k])
		if in.index.n != in.live {
			t.Fatalf("after releasing set %d: %d indexed, %d live", ids[k], in.index.n, in.live)
		}
		// Every remaining set is still found; the released one is not.
		for _, id := range ids {
			var s *AttrSet
			if int(id) < len(in.sets) {
				s = in.at(id)
			}
			found := in.index.probe(42, func(x setID) bool { return x == id }) == id
			if found != (s != nil) {
				t.Fatalf("after releasing set %d: set %d found %v, live %v", ids[k], id, found, s != nil)
			}
		}
	}
	if in.index.n != 0 || in.live != 0 {
		t.Fatalf("%d indexed, %d live sets left", in.index.n, in.live)
	}
}

// TestPathSetSharing checks that paths differing only in their next hop
// share one attribute set, and that the complete sets reported for best
// paths (FIBChange.Best, Routes) carry each path's own next hop.
func TestPathSetSharing(t *testing.T) {
	r, ids := rrSetup(t)
	p, q := pfx("10.1.0.0/24"), pfx("10.2.0.0/24")
	announce := func(i int, pf netip.Prefix) {
		t.Helper()
		if _, _, err := r.Update(ids[i], v4, []wire.NLRI{{Prefix: pf}}, mkAttrs(nh(rrClientAddr(i).String()), lp(100), seq(65001, 65002))); err != nil {
			t.Fatal(err)
		}
	}
	fibBest := func(ch *Changes, pf netip.Prefix, via netip.Addr) *AttrSet {
		t.Helper()
		for _, c := range ch.FIB {
			if c.Prefix == pf {
				if c.Best == nil || c.Best.Attrs.NextHop != via || len(c.NextHops) != 1 || c.NextHops[0] != via {
					t.Fatalf("%v: FIB change %+v, want best via %v", pf, c, via)
				}
				return c.Best
			}
		}
		t.Fatalf("no FIB change for %v in %+v", pf, ch.FIB)
		return nil
	}
	// Client 1 announces first, client 0 (the lowest router ID) becomes
	// best: the shared set, not handed out yet, takes client 0's next hop
	// and is the complete best set itself.
	announce(1, p)
	announce(0, p)
	best := fibBest(r.Drain(), p, rrClientAddr(0))
	rs := r.Routes(v4, p)
	if len(rs) != 2 || rs[0].Peer != ids[0] || rs[0].Attrs != best || rs[1].Attrs.Attrs.NextHop != rrClientAddr(1) {
		t.Fatalf("routes %+v", rs)
	}
	d := r.tables[v4].get(p)
	if d.paths[0].attrs != d.paths[1].attrs || d.paths[0].nh == d.paths[1].nh || r.intern.at(d.paths[0].attrs) != best {
		t.Errorf("paths %+v: want one set (the best one), two next hops", d.paths)
	}
	// The shared set and one export set.
	if s := r.Stats(); s.AttrSets != 2 {
		t.Errorf("%d attribute sets, want 2", s.AttrSets)
	}
	checkRefs(t, r)
	// Client 1 alone announces another prefix with the same attributes:
	// its best path needs a complete set of its own now.
	announce(1, q)
	best1 := fibBest(r.Drain(), q, rrClientAddr(1))
	if best1 == best || best.Attrs.NextHop != rrClientAddr(0) {
		t.Errorf("complete set for client 1 %p, the shared set %p with next hop %v", best1, best, best.Attrs.NextHop)
	}
	if rs := r.Routes(v4, q); len(rs) != 1 || rs[0].Attrs != best1 {
		t.Errorf("routes of %v: %+v, want the FIB's best set", q, rs)
	}
	// Shared set, its complete copy with client 1's next hop, two export
	// sets.
	if s := r.Stats(); s.AttrSets != 4 {
		t.Errorf("%d attribute sets, want 4", s.AttrSets)
	}
	checkRefs(t, r)
	// Client 1 withdraws p: the FIB does not change.
	r.Withdraw(ids[1], v4, []wire.NLRI{{Prefix: p}})
	if ch := r.Drain(); len(ch.FIB) != 0 {
		t.Errorf("FIB changed when a non-best path went: %+v", ch.FIB)
	}
	checkRefs(t, r)
	r.Withdraw(ids[1], v4, []wire.NLRI{{Prefix: q}})
	r.Withdraw(ids[0], v4, []wire.NLRI{{Prefix: p}})
	r.Drain()
	checkRefs(t, r)
	if s := r.Stats(); s.AttrSets != 0 || s.Prefixes != 0 || len(r.addrs.m) != 0 {
		t.Errorf("after withdrawing everything: %+v, %d next hops", s, len(r.addrs.m))
	}
}

// TestLayoutSizes pins the sizes the package doc's Storage section and the
// measured bytes per path rely on.
func TestLayoutSizes(t *testing.T) {
	for _, tc := range []struct {
		name      string
		got, want uintptr
	}{
		{"path", unsafe.Sizeof(path{}), 16},
		{"outEntry", unsafe.Sizeof(outEntry{}), 16},
		{"dest", unsafe.Sizeof(dest{}), 56},
		{"fibState", unsafe.Sizeof(fibState{}), 12},
		{"dest chunk", unsafe.Sizeof([destChunk]dest{}), 7 << 13},         // whole 8 KiB pages
		{"fibState chunk", unsafe.Sizeof([destChunk]fibState{}), 3 << 12}, // 12 KiB
		{"AttrSet", unsafe.Sizeof(AttrSet{}), 416},                        // a size class: no waste
	} {
		if tc.got != tc.want {
			t.Errorf("%s is %d bytes, want %d", tc.name, tc.got, tc.want)
		}
	}
}
