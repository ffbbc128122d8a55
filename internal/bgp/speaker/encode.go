package speaker

import (
	"errors"
	"iter"
	"math"
	"slices"
	"sync"

	"github.com/kbgp/kbgp/internal/bgp/wire"
	"github.com/kbgp/kbgp/internal/rib"
)

// noPeer is a PeerID no peer has: the split-horizon view of a member that
// is the source of none of the changes.
const noPeer rib.PeerID = math.MaxUint32

// maxNLRIPerMessage bounds the routes packed into one UPDATE before the
// size check; encodeNLRI halves it until the message fits.
const maxNLRIPerMessage = 800

// encodeChanges encodes the changes as member sees them (split horizon,
// ExportChange.For): withdrawals first, then announcements grouped by
// attribute set, each UPDATE as large as the message size allows.
func encodeChanges(f wire.Family, changes []rib.ExportChange, member rib.PeerID, o *wire.Options) ([][]byte, error) {
	return encodeSeq(f, slices.Values(changes), member, o)
}

// encodeSeq is encodeChanges for changes that seq yields. It walks seq
// twice, so seq must yield the same changes each time (in any order): a
// whole Adj-RIB-Out is encoded from the RIB's table without collecting it
// into a slice first (64 bytes a route).
func encodeSeq(f wire.Family, seq iter.Seq[rib.ExportChange], member rib.PeerID, o *wire.Options) ([][]byte, error) {
	// The NLRI lists are only scratch: buildUpdate copies them into the
	// messages. They come from a pool, one buffer for all groups, so a
	// full table's export does not allocate a slice per attribute set per
	// member (this was the speaker's largest source of garbage).
	sc := encPool.Get().(*encScratch)
	defer sc.release()
	// Pass 1: the group of every announced change, in order of first
	// appearance, and how many NLRI each group and the withdrawals get.
	nWithdrawn := 0
	for c := range seq {
		switch c.For(member) {
		case rib.ActionAnnounce:
			g, ok := sc.idx[c.Attrs]
			if !ok {
				g = len(sc.groups)
				sc.idx[c.Attrs] = g
				sc.groups = append(sc.groups, encGroup{attrs: c.Attrs})
			}
			sc.groups[g].cnt++
		case rib.ActionWithdraw:
			nWithdrawn++
		}
	}
	// Pass 2: fill one buffer, withdrawals first, then each group's run.
	off := nWithdrawn
	for i := range sc.groups {
		sc.groups[i].off, off = off, off+sc.groups[i].cnt
	}
	if cap(sc.nlri) < off {
		// Doubling: a reflector's tables grow a client at a time, and
		// append's 1.25× steps for large slices allocated five times the
		// final size on the way (most of what it allocates while a
		// hundred clients come up, where no GC has run yet).
		sc.nlri = make([]wire.NLRI, off, max(off, 2*cap(sc.nlri)))
	}
	sc.nlri = sc.nlri[:off]
	w := 0
	for c := range seq {
		n := wire.NLRI{Prefix: c.Prefix, PathID: c.PathID}
		switch c.For(member) {
		case rib.ActionAnnounce:
			gi, ok := sc.idx[c.Attrs]
			if !ok || sc.groups[gi].n == sc.groups[gi].cnt {
				return nil, errSeqChanged
			}
			g := &sc.groups[gi]
			sc.nlri[g.off+g.n] = n
			g.n++
		case rib.ActionWithdraw:
			if w == nWithdrawn {
				return nil, errSeqChanged
			}
			sc.nlri[w] = n
			w++
		}
	}
	// Fewer changes the second time would leave older scratch in the runs.
	if w != nWithdrawn {
		return nil, errSeqChanged
	}
	for i := range sc.groups {
		if sc.groups[i].n != sc.groups[i].cnt {
			return nil, errSeqChanged
		}
	}
	var msgs [][]byte
	var err error
	if nWithdrawn > 0 {
		msgs, err = encodeNLRI(msgs, f, nil, sc.nlri[:nWithdrawn], o)
		if err != nil {
			return nil, err
		}
	}
	for _, g := range sc.groups {
		msgs, err = encodeNLRI(msgs, f, &g.attrs.Attrs, sc.nlri[g.off:g.off+g.n], o)
		if err != nil {
			return nil, err
		}
	}
	return msgs, nil
}

// errSeqChanged reports a sequence that yielded other changes the second
// time (a bug: nothing is sent from it).
var errSeqChanged = errors.New("speaker: the changes to encode differed between passes")

// encScratch is encodeChanges' reusable working memory.
type encScratch struct {
	idx    map[*rib.AttrSet]int
	groups []encGroup
	nlri   []wire.NLRI
}

// encGroup is the run of NLRI announced with one attribute set.
type encGroup struct {
	attrs       *rib.AttrSet
	off, n, cnt int // where its run starts, NLRI placed, NLRI in all
}

// maxPooledNLRI and maxPooledGroups bound the scratch kept in the pool:
// a full table's worth would pin tens of MB, and clearing a map that once
// held a huge number of attribute sets costs its whole capacity. The pool
// keeps up to two scratches per P (victim cache included), so even 64K
// NLRI (1.5 MB each) were 1.7 MB of a 1,000-client reflector's 20 MB peak
// live heap; an encoding of more than 8K NLRI (a whole table) allocates
// its own and leaves it to the GC.
const (
	maxPooledNLRI   = 8 << 10
	maxPooledGroups = 4 << 10
)

var encPool = sync.Pool{New: func() any { return &encScratch{idx: map[*rib.AttrSet]int{}} }}

// release clears sc (so the pool pins no attribute sets) and returns it.
func (sc *encScratch) release() {
	if len(sc.idx) > maxPooledGroups {
		sc.idx = map[*rib.AttrSet]int{}
	} else {
		clear(sc.idx)
	}
	clear(sc.groups)
	sc.groups = sc.groups[:0]
	if cap(sc.groups) > maxPooledGroups {
		sc.groups = nil
	}
	if cap(sc.nlri) > maxPooledNLRI {
		sc.nlri = nil
	}
	encPool.Put(sc)
}

// encodeNLRI appends UPDATEs announcing nlri with attrs (or withdrawing
// them when attrs is nil), splitting as needed.
func encodeNLRI(msgs [][]byte, f wire.Family, attrs *wire.Attrs, nlri []wire.NLRI, o *wire.Options) ([][]byte, error) {
	for len(nlri) > 0 {
		n := min(len(nlri), maxNLRIPerMessage)
		for {
			m, err := buildUpdate(f, attrs, nlri[:n], o)
			if err == nil {
				msgs = append(msgs, m)
				break
			}
			if n == 1 {
				return msgs, err
			}
			n /= 2
		}
		nlri = nlri[n:]
	}
	return msgs, nil
}

func buildUpdate(f wire.Family, attrs *wire.Attrs, nlri []wire.NLRI, o *wire.Options) ([]byte, error) {
	var u wire.Update
	switch {
	case attrs == nil && f == wire.IPv4Unicast:
		u.Withdrawn = nlri
	case attrs == nil:
		u.MPUnreach = &wire.MPUnreach{Family: f, NLRI: nlri}
	case f == wire.IPv4Unicast && (!attrs.Has(wire.AttrNextHop) || attrs.NextHop.Is4()):
		u.Attrs = *attrs
		u.NLRI = nlri
	default:
		// RFC 4760 §3: routes of other families (and IPv4 routes with an
		// IPv6 next hop, RFC 8950) travel in MP_REACH_NLRI with their next
		// hop; NEXT_HOP is not sent.
		u.Attrs = *attrs
		u.Attrs.Clear(wire.AttrNextHop)
		u.Attrs.NextHop = attrs.NextHop
		if !attrs.NextHop.IsValid() {
			return nil, errors.New("route has no next hop")
		}
		u.MPReach = &wire.MPReach{Family: f, NextHop: attrs.NextHop, NLRI: nlri}
	}
	// Size the message up front: grown by append, every message was
	// reallocated several times (half the bytes a reflector allocated
	// while converging). An IPv6 NLRI with a path ID takes at most 21
	// bytes; attributes beyond the estimate still fit by growing.
	per := 9
	if f.AFI == wire.AFIIPv6 {
		per = 21
	}
	est := wire.HeaderLen + 4 + 96 + per*len(nlri)
	if attrs != nil {
		est += 4*len(attrs.Communities) + 8*len(attrs.ExtCommunities) + 12*len(attrs.LargeCommunities) + 4*len(attrs.ClusterList)
		for _, seg := range attrs.ASPath {
			est += 2 + 4*len(seg.ASNs)
		}
	}
	return wire.AppendUpdate(make([]byte, 0, min(est, wire.MaxMessageLen)), &u, o)
}
