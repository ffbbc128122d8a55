package rib

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"

	"github.com/kbgp/kbgp/internal/bgp/wire"
)

// refPath is a route as the reference decision process sees it.
type refPath struct {
	local, llgr, reachable, ebgp bool
	cost                         uint32
	lp                           uint32
	segs                         []wire.ASPathSegment
	origin                       wire.Origin
	med                          uint32
	peerLocalAS                  uint32
	rid, addr, nh                netip.Addr
	clusterLen                   int
	pathID                       uint32
	peer                         PeerID
}

// keep narrows c to the elements for which better(x) is the best value,
// where lower scores are better. It is the literal "remove from
// consideration" step of RFC 4271 §9.1.2.2.
func keep(c []int, score func(i int) int64) []int {
	if len(c) == 0 {
		return c
	}
	min := score(c[0])
	for _, i := range c {
		min = minInt(min, score(i))
	}
	var out []int
	for _, i := range c {
		if score(i) == min {
			out = append(out, i)
		}
	}
	return out
}

func minInt(a, b int64) int64 {
	if a < b {
		return a
	}
	return b
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

func refPathLen(segs []wire.ASPathSegment) int64 {
	var n int64
	for _, s := range segs {
		if s.Type == wire.ASSet {
			n++
		} else if s.Type == wire.ASSequence {
			n += int64(len(s.ASNs))
		}
	}
	return n
}

func refNeighborAS(p refPath) uint32 {
	if len(p.segs) > 0 && p.segs[0].Type == wire.ASSequence && len(p.segs[0].ASNs) > 0 {
		return p.segs[0].ASNs[0]
	}
	return p.peerLocalAS
}

func addrScore(a netip.Addr) int64 {
	if !a.IsValid() {
		return -1
	}
	b := a.As4()
	return int64(b[0])<<24 | int64(b[1])<<16 | int64(b[2])<<8 | int64(b[3])
}

// refDecide is the slow, obviously correct decision process: each step
// filters the candidate set. It returns the best path (-1 for none) and the
// multipath candidates (the set before the router-ID step), in tie-break
// order.
func refDecide(ps []refPath, alwaysMED bool) (int, []int) {
	var c []int
	for i, p := range ps {
		if p.reachable {
			c = append(c, i)
		}
	}
	if len(c) == 0 {
		return -1, nil
	}
	c = keep(c, func(i int) int64 { return b2i(ps[i].llgr) })
	c = keep(c, func(i int) int64 { return -b2i(ps[i].local) })
	c = keep(c, func(i int) int64 { return -int64(ps[i].lp) })
	c = keep(c, func(i int) int64 { return refPathLen(ps[i].segs) })
	c = keep(c, func(i int) int64 { return int64(ps[i].origin) })
	var afterMED []int
	for _, i := range c {
		beaten := false
		for _, j := range c {
			sameAS := refNeighborAS(ps[i]) == refNeighborAS(ps[j])
			if (alwaysMED || sameAS) && ps[j].med < ps[i].med {
				beaten = true
			}
		}
		if !beaten {
			afterMED = append(afterMED, i)
		}
	}
	c = afterMED
	c = keep(c, func(i int) int64 { return -b2i(ps[i].ebgp) })
	c = keep(c, func(i int) int64 { return int64(ps[i].cost) })
	mp := slices.Clone(c)
	order := func(x, y int) int {
		for _, s := range []func(i int) int64{
			func(i int) int64 { return addrScore(ps[i].rid) },
			func(i int) int64 { return int64(ps[i].clusterLen) },
			func(i int) int64 { return addrScore(ps[i].addr) },
			func(i int) int64 { return int64(ps[i].pathID) },
			func(i int) int64 { return int64(ps[i].peer) },
		} {
			if a, b := s(x), s(y); a != b {
				if a < b {
					return -1
				}
				return 1
			}
		}
		return 0
	}
	slices.SortFunc(mp, order)
	return mp[0], mp
}

// TestDecisionDifferential compares the RIB's best path and multipath set
// with refDecide on thousands of random path sets.
func TestDecisionDifferential(t *testing.T) {
	for seed := uint64(1); seed <= 8; seed++ {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) { differential(t, seed, 1500) })
	}
}

func differential(t *testing.T, seed uint64, prefixes int) {
	rng := rand.New(rand.NewPCG(seed, 0x6b626770))
	alwaysMED := seed%2 == 0
	maxPaths := 1 + int(seed%4)
	relax := seed%3 == 0
	nhs := []netip.Addr{ip("10.1.0.1"), ip("10.1.0.2"), ip("10.1.0.3"), ip("10.1.0.4"), ip("10.1.0.5")}
	costs := map[netip.Addr]uint32{}
	unreachable := map[netip.Addr]bool{}
	for _, a := range nhs {
		costs[a] = uint32(rng.IntN(3))
		unreachable[a] = rng.IntN(8) == 0
	}
	igp := func(a netip.Addr) (uint32, bool) { return costs[a], !unreachable[a] }
	o := Options{RouterID: ip("10.255.0.1"), AlwaysCompareMED: alwaysMED, IGPCost: igp,
		EBGPMaxPaths: maxPaths, IBGPMaxPaths: maxPaths, MultipathRelax: relax}
	f := newFixture(t, o)
	rids := []string{"1.1.1.1", "2.2.2.2", "3.3.3.3"}
	type pinfo struct {
		id   PeerID
		as   uint32
		rid  netip.Addr
		addr netip.Addr
	}
	var peers []pinfo
	for i := 0; i < 8; i++ {
		as := uint32(localAS)
		if i%2 == 1 {
			as = 65001 + uint32(rng.IntN(3))
		}
		addr := fmt.Sprintf("192.0.2.%d", 10+i)
		rid := rids[rng.IntN(len(rids))]
		id := f.add(peerSpec{name: addr, addr: addr, rid: rid, as: as, recvAP: i < 2})
		peers = append(peers, pinfo{id, as, ip(rid), ip(addr)})
	}
	inputs := map[netip.Prefix][]refPath{}
	for n := 0; n < prefixes; n++ {
		p := netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(n >> 8), byte(n), 0}), 24)
		var ps []refPath
		if rng.IntN(20) == 0 {
			a := mkAttrs(lp(uint32(rng.IntN(3) * 100)))
			if err := f.r.Originate(v4, p, 0, a); err != nil {
				t.Fatal(err)
			}
			ps = append(ps, refPath{local: true, reachable: true, lp: a.LocalPref, origin: a.Origin, rid: ip("10.255.0.1")})
		}
		for k := rng.IntN(6); k > 0; k-- {
			pi := peers[rng.IntN(len(peers))]
			pathID := uint32(0)
			if pi.id <= 2 { // the ADD-PATH receivers
				pathID = uint32(rng.IntN(3))
			}
			if slices.ContainsFunc(ps, func(r refPath) bool { return !r.local && r.peer == pi.id && r.pathID == pathID }) {
				continue
			}
			ebgp := pi.as != localAS
			var opts []attr
			nhop := nhs[rng.IntN(len(nhs))]
			opts = append(opts, nh(nhop.String()), origin(wire.Origin(rng.IntN(3))))
			var asns []uint32
			if ebgp {
				asns = append(asns, pi.as)
			}
			for j := rng.IntN(3); j > 0; j-- {
				asns = append(asns, 65001+uint32(rng.IntN(4)))
			}
			if len(asns) > 0 {
				opts = append(opts, seq(asns...))
			}
			if rng.IntN(4) == 0 {
				opts = append(opts, set(65010, 65011))
			}
			if rng.IntN(2) == 0 {
				opts = append(opts, med(uint32(rng.IntN(3)*5)))
			}
			if rng.IntN(2) == 0 {
				opts = append(opts, lp(uint32(50+rng.IntN(3)*50)))
			}
			rid := pi.rid
			clen := 0
			if !ebgp && rng.IntN(3) == 0 {
				o := rids[rng.IntN(len(rids))]
				opts = append(opts, originator(o))
				rid = ip(o)
				clen = rng.IntN(3)
				cl := []string{"10.7.0.1", "10.7.0.2"}[:clen]
				opts = append(opts, clusters(cl...))
			}
			a := mkAttrs(opts...)
			if _, _, err := f.r.Update(pi.id, v4, []wire.NLRI{{Prefix: p, PathID: pathID}}, a); err != nil {
				t.Fatal(err)
			}
			rp := refPath{
				ebgp: ebgp, reachable: !unreachable[nhop], cost: costs[nhop], lp: DefaultLocalPref,
				segs: a.ASPath, origin: a.Origin, peerLocalAS: localAS, rid: rid, addr: pi.addr,
				nh: nhop, clusterLen: clen, pathID: pathID, peer: pi.id,
			}
			if a.Has(wire.AttrMED) {
				rp.med = a.MED
			}
			if !ebgp && a.Has(wire.AttrLocalPref) {
				rp.lp = a.LocalPref
			}
			ps = append(ps, rp)
		}
		// Some paths are LLGR-stale.
		if d := f.r.table(v4).get(p); d != nil {
			for i := range d.paths {
				if f.r.peerOf(&d.paths[i]) != LocalPeer && rng.IntN(6) == 0 {
					d.paths[i].setFlags(d.paths[i].flags() | flagLLGRStale)
					for j := range ps {
						if !ps[j].local && ps[j].peer == f.r.peerOf(&d.paths[i]) && ps[j].pathID == f.r.recvID(&d.paths[i]) {
							ps[j].llgr = true
						}
					}
				}
			}
		}
		inputs[p] = ps
	}
	ch := f.r.Drain()
	fib := map[netip.Prefix]FIBChange{}
	for _, c := range ch.FIB {
		fib[c.Prefix] = c
	}
	for p, ps := range inputs {
		best, mp := refDecide(ps, alwaysMED)
		got := f.r.Routes(v4, p)
		if best < 0 {
			if len(got) > 0 && got[0].Best {
				t.Fatalf("%v: RIB best %+v, reference has none (inputs %+v)", p, got[0], ps)
			}
			if _, ok := fib[p]; ok {
				t.Fatalf("%v: FIB change without a usable route", p)
			}
			continue
		}
		want := ps[best]
		if !got[0].Best || got[0].Peer != want.peer || (!want.local && got[0].PathID != want.pathID) {
			t.Fatalf("%v: RIB best peer %d path %d, reference peer %d path %d (inputs %+v)", p, got[0].Peer, got[0].PathID, want.peer, want.pathID, ps)
		}
		// Multipath: distinct next hops, best first, same neighbour AS
		// unless relaxed, at most maxPaths.
		var wantNH []netip.Addr
		if want.local {
			// local routes: next hop of the local route (none here)
		} else {
			limit := 1
			if maxPaths > 1 {
				limit = maxPaths
			}
			for _, i := range mp {
				if len(wantNH) >= limit {
					break
				}
				if i != best && !relax && refNeighborAS(ps[i]) != refNeighborAS(want) {
					continue
				}
				if i != best && ps[i].ebgp != want.ebgp {
					continue
				}
				if !slices.Contains(wantNH, ps[i].nh) {
					wantNH = append(wantNH, ps[i].nh)
				}
			}
		}
		fc, ok := fib[p]
		if !ok {
			t.Fatalf("%v: no FIB change", p)
		}
		if !slices.Equal(fc.NextHops, wantNH) {
			t.Fatalf("%v: FIB next hops %v, reference %v (inputs %+v)", p, fc.NextHops, wantNH, ps)
		}
	}
}
