package rib

import (
	"fmt"
	"net/netip"
	"slices"
	"testing"

	"github.com/kbgp/kbgp/internal/bgp/wire"
)

// FuzzRIBOps drives a RIB with an arbitrary sequence of operations and
// checks its invariants after every Drain: the attribute refcounts match
// the references, the FIB and Adj-RIB-Out states obtained by replaying the
// reported changes equal the RIB's own, and removing everything leaves an
// empty RIB.
func FuzzRIBOps(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 10, 11, 12, 13, 20, 21, 22, 23})
	f.Add([]byte{0, 0, 0, 0, 0, 0, 5, 0, 6, 0, 7, 0, 8, 0, 9, 0})
	f.Add([]byte{0x10, 0x21, 0x32, 0x43, 0x54, 0x65, 0x76, 0x87, 0x98, 0xa9})
	f.Fuzz(runOps)
}

func runOps(t *testing.T, ops []byte) {
	if len(ops) > 512 {
		ops = ops[:512]
	}
	fx := newFixture(t, Options{IBGPMaxPaths: 2, EBGPMaxPaths: 2},
		peerSpec{name: "c1", addr: "10.0.0.1", as: localAS, client: true, recvAP: true},
		peerSpec{name: "c2", addr: "10.0.0.2", as: localAS, client: true, sendN: AllPaths, llgr: true},
		peerSpec{name: "n1", addr: "10.0.0.3", as: localAS},
		peerSpec{name: "x1", addr: "192.0.2.1", as: 65001, allowOwn: 1},
		peerSpec{name: "x2", addr: "192.0.2.2", as: 65002, sendN: 2})
	r := fx.r
	names := []string{"c1", "c2", "n1", "x1", "x2"}
	fib := map[netip.Prefix][]netip.Addr{}
	adj := map[string]map[netip.Prefix]map[uint32]*AttrSet{} // peer → prefix → path ID → attrs
	for _, n := range names {
		adj[n] = map[netip.Prefix]map[uint32]*AttrSet{}
	}
	apply := func(ch *Changes) {
		for _, c := range ch.FIB {
			if c.Withdrawn() {
				delete(fib, c.Prefix)
			} else {
				fib[c.Prefix] = c.NextHops
			}
		}
		for _, g := range ch.Groups {
			for _, m := range g.Members {
				n := fx.name(m)
				for _, c := range g.Changes {
					switch c.For(m) {
					case ActionAnnounce:
						if adj[n][c.Prefix] == nil {
							adj[n][c.Prefix] = map[uint32]*AttrSet{}
						}
						adj[n][c.Prefix][c.PathID] = c.Attrs
					case ActionWithdraw:
						delete(adj[n][c.Prefix], c.PathID)
					}
				}
			}
		}
	}
	check := func() {
		t.Helper()
		checkRefs(t, r)
		for _, n := range names {
			id := fx.id(n)
			if _, ok := r.PeerGroup(id); !ok {
				continue
			}
			got := map[string]*AttrSet{}
			r.AdjRIBOut(id, v4, func(c ExportChange) bool {
				got[fmt.Sprint(c.Prefix, c.PathID)] = c.Attrs
				return true
			})
			want := map[string]*AttrSet{}
			for p, m := range adj[n] {
				for id, a := range m {
					want[fmt.Sprint(p, id)] = a
				}
			}
			if len(got) != len(want) {
				t.Fatalf("%s: Adj-RIB-Out has %d paths, replayed changes %d", n, len(got), len(want))
			}
			for k, a := range want {
				if got[k] != a {
					t.Fatalf("%s: %s: Adj-RIB-Out %v, replayed %v", n, k, got[k], a)
				}
			}
		}
		for p, d := range r.table(v4).all() {
			var have []netip.Addr
			if fs := r.table(v4).fibAt(d.id()); fs.nh != 0 {
				have = r.nh.at(fs.nh).addrs
			}
			if !slices.Equal(have, fib[p]) {
				t.Fatalf("%v: FIB state %v, replayed %v", p, have, fib[p])
			}
		}
	}
	for i := 0; i+1 < len(ops); i += 2 {
		op, arg := ops[i], ops[i+1]
		peer := names[int(op>>4)%len(names)]
		p := netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 0, arg & 7, 0}), 24)
		nl := []wire.NLRI{{Prefix: p, PathID: uint32(arg>>3) & 1}}
		switch op & 15 {
		case 0, 1, 2, 3:
			a := mkAttrs(nh(fmt.Sprintf("10.9.0.%d", 1+arg%3)), lp(uint32(op&3)*50))
			if peer[0] == 'x' {
				a = mkAttrs(nh("10.9.0.9"), seq(65001+uint32(op&1), uint32(arg>>4)))
			}
			if arg&0x40 != 0 {
				a.Communities = []wire.Community{wire.CommunityNoExport}
				a.Set(wire.AttrCommunities)
			}
			r.Update(fx.id(peer), v4, nl, a)
		case 4, 5:
			r.Withdraw(fx.id(peer), v4, nl)
		case 6:
			r.Originate(v4, p, uint32(arg>>3)&1, mkAttrs())
		case 7:
			r.Unoriginate(v4, p, uint32(arg>>3)&1)
		case 8:
			r.MarkStale(fx.id(peer), v4)
		case 9:
			r.SweepStale(fx.id(peer), v4)
		case 10:
			r.MarkLLGRStale(fx.id(peer), v4)
		case 11:
			id := fx.id(peer)
			r.Down(id)
			delete(adj, peer)
			adj[peer] = map[netip.Prefix]map[uint32]*AttrSet{}
		case 12:
			id := fx.id(peer)
			if _, ok := r.PeerGroup(id); !ok {
				r.Up(id, Session{RouterID: ip("10.0.0.77"), Families: []FamilySession{{Family: v4, SendPaths: int(arg & 3)}}})
				r.AdjRIBOut(id, v4, func(c ExportChange) bool {
					if adj[peer][c.Prefix] == nil {
						adj[peer][c.Prefix] = map[uint32]*AttrSet{}
					}
					adj[peer][c.Prefix][c.PathID] = c.Attrs
					return true
				})
			}
		case 13:
			r.WithdrawAll(fx.id(peer), v4)
		default:
			apply(r.Drain())
			check()
		}
	}
	apply(r.Drain())
	check()
	for _, n := range names {
		r.RemovePeer(fx.id(n))
	}
	for a := byte(0); a < 8; a++ {
		p := netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 0, a, 0}), 24)
		r.Unoriginate(v4, p, 0)
		r.Unoriginate(v4, p, 1)
	}
	r.Drain()
	if s := r.Stats(); s.Prefixes != 0 || s.Paths != 0 || s.AttrSets != 0 || s.Groups != 0 {
		t.Fatalf("RIB not empty after removing everything: %+v", s)
	}
}

// checkRefs verifies every interned set's refcount equals the number of
// paths, Adj-RIB-Out entries and FIB states referring to it, that every
// set is found under its own key, and the same for next-hop sets.
func checkRefs(t *testing.T, r *RIB) {
	t.Helper()
	refs := map[setID]int32{}
	srcRefs := map[pathSrc]int32{}
	nrefs := map[nhID]int32{}
	arefs := map[addrID]int32{}
	for _, tb := range r.tables {
		n := 0
		for _, d := range tb.all() {
			n += len(d.paths)
		}
		if n != tb.paths {
			t.Fatalf("table %v counts %d paths, holds %d", tb.fam, tb.paths, n)
		}
		perPeer := map[PeerID]int{}
		for _, d := range tb.all() {
			for _, p := range d.paths {
				perPeer[r.peerOf(&p)]++
				if p.src&srcPairBit != 0 {
					srcRefs[p.src]++
				}
			}
		}
		for id, p := range r.peers {
			if p != nil && r.PeerPaths(PeerID(id), tb.fam) != perPeer[PeerID(id)] {
				t.Fatalf("peer %d: PeerPaths(%v) = %d, holds %d", id, tb.fam, r.PeerPaths(PeerID(id), tb.fam), perPeer[PeerID(id)])
			}
		}
		for pfx, d := range tb.all() {
			if tb.get(pfx) != d || tb.at(d.id()) != d {
				t.Fatalf("%v: entry handle %d does not lead back to the entry", pfx, d.id())
			}
			for _, p := range d.paths {
				refs[p.attrs]++
				arefs[p.nh]++
			}
			for _, o := range d.out {
				refs[o.attrs]++
			}
			if tb.fibs == nil {
				continue
			}
			if fs := tb.fibAt(d.id()); fs.best != 0 {
				refs[fs.best]++
				refs[fs.src]++
				if fs.nh != 0 {
					nrefs[fs.nh]++
				}
			}
		}
	}
	for k, s := range r.srcIdx {
		p := r.srcs[s&^srcPairBit]
		if p.peer != k.peer || p.id != k.id || p.refs != srcRefs[s] {
			t.Fatalf("path source %+v: pair %+v, referenced %d times", k, p, srcRefs[s])
		}
		delete(srcRefs, s)
	}
	for s := range srcRefs {
		t.Fatalf("path source %#x referenced but not indexed", s)
	}
	live := 0
	for id, s := range r.intern.sets {
		if s == nil {
			continue
		}
		live++
		if s.id != setID(id) || refs[s.id] != s.refs {
			t.Fatalf("attr set %d (%p): refs %d, referenced %d times", id, s, s.refs, refs[s.id])
		}
		c := cloneAttrs(&s.Attrs)
		got := r.intern.get
		if s.anyNH {
			got = r.intern.getPath
		}
		if g := got(&c); g != s {
			t.Fatalf("attr set %d: an equal copy interns to set %d", id, g.id)
		}
		r.intern.put(s.id)
		delete(refs, s.id)
	}
	if live != r.intern.live {
		t.Fatalf("interner counts %d live sets, holds %d", r.intern.live, live)
	}
	for id := range refs {
		t.Fatalf("attr set %d referenced but not interned", id)
	}
	for k, id := range r.nh.m {
		s := r.nh.at(id)
		if s.key != k || nrefs[id] != s.refs {
			t.Fatalf("next-hop set %v: refs %d, referenced %d times", s.addrs, s.refs, nrefs[id])
		}
		delete(nrefs, id)
	}
	for id := range nrefs {
		t.Fatalf("next-hop set %d referenced but not interned", id)
	}
	delete(arefs, 0)
	for a, id := range r.addrs.m {
		if r.addrs.at(id) != a || arefs[id] != r.addrs.refs[id] {
			t.Fatalf("next hop %v (%d): refs %d, referenced %d times", a, id, r.addrs.refs[id], arefs[id])
		}
		delete(arefs, id)
	}
	for id := range arefs {
		t.Fatalf("next hop %d referenced but not in the table", id)
	}
}
