package rib

import (
	"net/netip"
	"slices"

	"github.com/kbgp/kbgp/internal/bgp/wire"
)

// feat are the properties of one path the decision process compares,
// computed once per decision.
type feat struct {
	eligible  bool
	llgr      bool // LLGR-stale: least preferred (RFC 9494 §4.3)
	local     bool // locally originated: most preferred
	ebgp      bool
	localPref uint32
	pathLen   int
	origin    wire.Origin
	med       uint32
	nbrAS     uint32
	cost      uint32
	routerID  netip.Addr // ORIGINATOR_ID if present, else the peer's BGP Identifier
	clusters  int
	addr      netip.Addr // peer address
	pathID    uint32
	peer      PeerID
}

// asPathLen is the AS_PATH length for the decision process. RFC 4271
// §9.1.2.2 a: "an AS_SET counts as 1, no matter how many ASes are in the
// set"; RFC 5065 §5.3: confederation segments are not counted.
func asPathLen(segs []wire.ASPathSegment) int {
	n := 0
	for _, s := range segs {
		switch s.Type {
		case wire.ASSequence:
			n += len(s.ASNs)
		case wire.ASSet:
			n++
		}
	}
	return n
}

// neighborAS is RFC 4271 §9.1.2.2 c's neighborAS(n): the first AS of the
// AS_PATH when it starts with an AS_SEQUENCE, else the local AS.
func neighborAS(segs []wire.ASPathSegment, localAS uint32) uint32 {
	for _, s := range segs {
		switch s.Type {
		case wire.ASConfedSequence, wire.ASConfedSet:
			continue
		case wire.ASSequence:
			if len(s.ASNs) > 0 {
				return s.ASNs[0]
			}
			continue
		}
		break
	}
	return localAS
}

// features fills the decision properties of d's paths.
func (r *RIB) features(fs []feat, ps []path) []feat {
	fs = slices.Grow(fs[:0], len(ps))[:len(ps)]
	for i := range ps {
		p := &ps[i]
		a := &r.intern.at(p.attrs).Attrs
		peer := r.peerOf(p)
		f := &fs[i] // filled in place: a feat is 96 bytes
		*f = feat{
			local:     peer == LocalPeer,
			llgr:      isLLGRStale(p, a),
			localPref: r.localPref,
			pathLen:   asPathLen(a.ASPath),
			origin:    a.Origin,
			pathID:    r.recvID(p),
			peer:      peer,
			eligible:  true,
		}
		if a.Has(wire.AttrLocalPref) {
			f.localPref = a.LocalPref
		}
		if a.Has(wire.AttrMED) {
			f.med = a.MED // RFC 4271 §9.1.2.2 c: absent MED is the lowest value, 0
		}
		if f.local {
			f.routerID = r.opts.RouterID
			continue
		}
		src := r.peers[peer]
		f.ebgp = !src.ibgp()
		f.nbrAS = neighborAS(a.ASPath, src.cfg.LocalAS)
		f.addr = src.cfg.Addr
		f.routerID = src.routerID
		if a.Has(wire.AttrOriginatorID) {
			// RFC 4456 §9: "a route reflector ... SHOULD treat the
			// ORIGINATOR_ID as the BGP Identifier of the BGP speaker
			// that has advertised the route".
			f.routerID = a.OriginatorID
		}
		f.clusters = len(a.ClusterList)
		switch {
		case !r.addrs.at(p.nh).IsValid():
			f.eligible = false
		case r.opts.IGPCost != nil:
			f.cost, f.eligible = r.opts.IGPCost(r.addrs.at(p.nh))
		}
	}
	return fs
}

// isLLGRStale reports whether a path is long-lived stale: ours (moved by
// MarkLLGRStale) or received with the LLGR_STALE community from a helper
// that keeps it (RFC 9494 §4.3: such routes are less preferred than any
// other, whoever made them stale).
func isLLGRStale(p *path, a *wire.Attrs) bool {
	return p.flags()&flagLLGRStale != 0 || hasCommunity(a, wire.CommunityLLGRStale)
}

// preCompare compares the steps that are plain orderings, before MED:
// LLGR-stale, local origination, LOCAL_PREF, AS_PATH length, ORIGIN.
// It returns >0 when a is preferred.
func preCompare(a, b *feat) int {
	switch {
	case a.llgr != b.llgr:
		return boolCmp(!a.llgr, !b.llgr)
	case a.local != b.local:
		return boolCmp(a.local, b.local)
	case a.localPref != b.localPref:
		return cmpHigher(a.localPref, b.localPref)
	case a.pathLen != b.pathLen:
		return cmpLower(a.pathLen, b.pathLen)
	case a.origin != b.origin:
		return cmpLower(a.origin, b.origin)
	}
	return 0
}

// tieCompare compares the steps after IGP cost, which only pick one path
// among equals (and so do not split multipath sets): router ID, CLUSTER_LIST
// length, peer address, then path ID and peer for a total order.
func tieCompare(a, b *feat) int {
	if c := b.routerID.Compare(a.routerID); c != 0 {
		return c // RFC 4271 §9.1.2.2 f: lowest BGP Identifier
	}
	if a.clusters != b.clusters {
		return cmpLower(a.clusters, b.clusters) // RFC 4456 §9: shortest CLUSTER_LIST
	}
	if c := b.addr.Compare(a.addr); c != 0 {
		return c // RFC 4271 §9.1.2.2 g: lowest peer address
	}
	if a.pathID != b.pathID {
		return cmpLower(a.pathID, b.pathID)
	}
	return cmpLower(a.peer, b.peer)
}

func boolCmp(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}

func cmpHigher[T ~uint32 | ~uint8 | ~int](a, b T) int {
	switch {
	case a > b:
		return 1
	case a < b:
		return -1
	}
	return 0
}

func cmpLower[T ~uint32 | ~uint8 | ~int](a, b T) int { return cmpHigher(b, a) }

// sameMED reports whether the candidates all have one MED, so that none
// loses on it (the usual case, which saves comparing every pair).
func sameMED(fs []feat, cand []int) bool {
	m := fs[cand[0]].med
	for _, i := range cand[1:] {
		if fs[i].med != m {
			return false
		}
	}
	return true
}

// selectBest runs the decision process over the candidate paths cand
// (indices into fs) and returns the best one and, in mp, the paths equal to
// it up to the router-ID tie-break (the multipath candidates, best first
// not guaranteed). cand is reordered. It returns -1 when no candidate is
// eligible.
func (r *RIB) selectBest(fs []feat, cand []int, mp []int) (best int, mpOut []int) {
	// RFC 4271 §9.1.2.1: ineligible routes (unresolvable next hop) are
	// excluded. Then keep the maximum by the plain orderings.
	n := 0
	for _, i := range cand {
		if !fs[i].eligible {
			continue
		}
		if n > 0 {
			c := preCompare(&fs[i], &fs[cand[0]])
			if c < 0 {
				continue
			}
			if c > 0 {
				n = 0
			}
		}
		cand[n] = i
		n++
	}
	cand = cand[:n]
	if n == 0 {
		return -1, mp[:0]
	}
	// RFC 4271 §9.1.2.2 c: "Remove from consideration routes with less-
	// preferred MULTI_EXIT_DISC attributes. MULTI_EXIT_DISC is only
	// comparable between routes learned from the same neighboring AS".
	if n > 1 && !sameMED(fs, cand) {
		k := 0
		for _, i := range cand {
			worse := false
			for _, j := range cand {
				if (r.opts.AlwaysCompareMED || fs[j].nbrAS == fs[i].nbrAS) && fs[j].med < fs[i].med {
					worse = true
					break
				}
			}
			if !worse {
				cand[k] = i
				k++
			}
		}
		cand = cand[:k]
	}
	// d: "If at least one of the candidate routes was received via EBGP,
	// remove from consideration all routes that were received via IBGP."
	// e: "Remove from consideration any routes with less-preferred
	// interior cost."
	anyEBGP := false
	minCost := ^uint32(0)
	for _, i := range cand {
		anyEBGP = anyEBGP || fs[i].ebgp
	}
	for _, i := range cand {
		if fs[i].ebgp == anyEBGP && fs[i].cost < minCost {
			minCost = fs[i].cost
		}
	}
	mp = mp[:0]
	best = -1
	for _, i := range cand {
		if fs[i].ebgp != anyEBGP || fs[i].cost != minCost {
			continue
		}
		mp = append(mp, i)
		if best < 0 || tieCompare(&fs[i], &fs[best]) > 0 {
			best = i
		}
	}
	return best, mp
}
