package rib

import (
	"net/netip"
	"slices"

	"github.com/kbgp/kbgp/internal/bgp/wire"
)

// FIBChange is a change of the forwarding state of one prefix: its new
// multipath next-hop set, or its withdrawal.
type FIBChange struct {
	Family wire.Family
	Prefix netip.Prefix
	// NextHops are the distinct next hops of the multipath set, best path
	// first. Empty when the prefix has no usable route any more.
	NextHops []netip.Addr
	// Best is the best path's attribute set (nil when withdrawn), e.g. for
	// a LOCAL_PREF-derived kernel metric as Calico computes.
	Best *AttrSet
	// Local is true when the best route is locally originated: the FIB
	// should not program it as a learned route.
	Local bool
}

// Withdrawn reports whether the prefix lost its last usable route.
func (c *FIBChange) Withdrawn() bool { return c.Best == nil }

// Action is what one member of an update group must do for an
// ExportChange.
type Action uint8

// Actions.
const (
	ActionNone     Action = iota
	ActionAnnounce        // send the path (a new route or an implicit replacement)
	ActionWithdraw        // withdraw the path
)

// ExportChange is a change of one path in an update group's Adj-RIB-Out.
type ExportChange struct {
	Prefix netip.Prefix
	// PathID is the ADD-PATH path identifier (0 without ADD-PATH send).
	PathID uint32
	// Attrs are the attributes to announce; nil means withdraw.
	Attrs *AttrSet
	// Source is the peer the announced path was learned from.
	Source PeerID
	// HadOld and OldSource describe the path previously advertised under
	// this (Prefix, PathID), if any.
	HadOld    bool
	OldSource PeerID
}

// For applies split horizon for one member of the group: a path is never
// sent back to the peer it was learned from. A member that is the source
// of the new path and had been sent the old one gets a withdrawal.
func (c *ExportChange) For(p PeerID) Action {
	if c.Attrs != nil && c.Source != p {
		return ActionAnnounce
	}
	if c.HadOld && c.OldSource != p {
		return ActionWithdraw
	}
	return ActionNone
}

// GroupChanges are the Adj-RIB-Out changes of one update group in one
// family.
type GroupChanges struct {
	Group   GroupID
	Family  wire.Family
	AddPath bool
	// AS4 is the group's 4-octet AS setting (for AttrSet.Encoded).
	AS4 bool
	// Members are the peers of the group at Drain time (shared and never
	// modified: do not modify it either).
	Members []PeerID
	Changes []ExportChange
}

// Pack reorders the changes for UPDATE packing: withdrawals first, then
// announcements grouped by attribute set (in order of first appearance), so
// each run of equal Attrs can go into one UPDATE (per member, after For).
func (g *GroupChanges) Pack() {
	first := make(map[*AttrSet]int, 8)
	for i, c := range g.Changes {
		if _, ok := first[c.Attrs]; !ok {
			first[c.Attrs] = i
		}
	}
	slices.SortStableFunc(g.Changes, func(a, b ExportChange) int {
		if (a.Attrs == nil) != (b.Attrs == nil) {
			if a.Attrs == nil {
				return -1
			}
			return 1
		}
		return first[a.Attrs] - first[b.Attrs]
	})
}

// Changes is the output of Drain. Its slices are reused by the next Drain.
type Changes struct {
	FIB    []FIBChange
	Groups []*GroupChanges
}

// Empty reports whether nothing changed.
func (c *Changes) Empty() bool { return len(c.FIB) == 0 && len(c.Groups) == 0 }

// scratch is reusable working memory of Drain and the export computation.
type scratch struct {
	feats  []feat
	cand   []int
	mp     []int
	ranked []int
	out    []outEntry
	old    []outEntry
	one    [1]int
	nhs    []netip.Addr
	imp    wire.Attrs
	exp    wire.Attrs
	segs   []wire.ASPathSegment
	asns   []uint32
	cl     []netip.Addr
	unk    []wire.RawAttr
}

// Drain runs the decision process and the export computation for every
// prefix changed since the last Drain and returns the changes. The result
// (including its slices) is valid until the next call.
func (r *RIB) Drain() *Changes {
	out := &r.out
	out.FIB = reuse(out.FIB)
	out.Groups = out.Groups[:0]
	for _, g := range r.groups {
		if g != nil {
			for _, gc := range g.changes {
				gc.Changes = reuse(gc.Changes)
			}
		}
	}
	// Deterministic order of families.
	fams := make([]wire.Family, 0, len(r.tables))
	for f := range r.tables {
		fams = append(fams, f)
	}
	slices.SortFunc(fams, func(a, b wire.Family) int {
		return int(a.AFI)<<8 | int(a.SAFI) - (int(b.AFI)<<8 | int(b.SAFI))
	})
	for _, f := range fams {
		t := r.tables[f]
		for _, e := range t.dirty {
			// An entry is never deleted while dirty, so e.d is current.
			if d := e.d; d.dirty {
				d.dirty = false
				r.process(t, e.pfx, d)
				r.maybeDelete(t, e.pfx, d)
			}
		}
		t.dirty = reuse(t.dirty)
	}
	// The memo holds no references of its own: sets it names may be freed
	// once the Drain is over.
	if len(r.memo) > bigBuffer {
		r.memo = nil
	} else {
		clear(r.memo)
	}
	for _, g := range r.groups {
		if g == nil {
			continue
		}
		for _, f := range g.fams {
			if gc := g.changes[f.Family]; gc != nil && len(gc.Changes) > 0 {
				gc.Members = g.members
				out.Groups = append(out.Groups, gc)
			}
		}
	}
	return out
}

// bigBuffer is the capacity above which Drain's buffers are dropped rather
// than reused, so a full-table load does not pin its output buffers.
const bigBuffer = 1 << 12

// reuse empties s for reuse, or drops it when it is big.
func reuse[T any](s []T) []T {
	if cap(s) > bigBuffer {
		return nil
	}
	clear(s)
	return s[:0]
}

// process recomputes one prefix: best path, multipath set, Adj-RIB-Outs.
func (r *RIB) process(t *table, pfx netip.Prefix, d *dest) {
	s := &r.scratch
	s.feats = r.features(s.feats, d.paths)
	s.cand = s.cand[:0]
	for i := range d.paths {
		s.cand = append(s.cand, i)
	}
	best, mp := r.selectBest(s.feats, s.cand, s.mp)
	s.mp = mp
	r.updateFIB(t, pfx, d, best)

	// ADD-PATH groups need the paths in preference order.
	maxSend := 0
	for _, g := range r.groups {
		if g == nil {
			continue
		}
		for _, f := range g.fams {
			if f.Family == t.fam && f.SendPaths > maxSend {
				maxSend = f.SendPaths
			}
		}
	}
	s.ranked = s.ranked[:0]
	if maxSend > 0 && best >= 0 {
		s.ranked = append(s.ranked, best)
		for len(s.ranked) < maxSend {
			s.cand = s.cand[:0]
			for i := range d.paths {
				if !slices.Contains(s.ranked, i) {
					s.cand = append(s.cand, i)
				}
			}
			b, mp := r.selectBest(s.feats, s.cand, s.mp)
			s.mp = mp
			if b < 0 {
				break
			}
			s.ranked = append(s.ranked, b)
		}
	}
	for _, g := range r.groups {
		if g == nil {
			continue
		}
		for _, f := range g.fams {
			if f.Family != t.fam {
				continue
			}
			var sel []int
			switch {
			case f.SendPaths > 0:
				sel = s.ranked[:min(len(s.ranked), f.SendPaths)]
			case best >= 0:
				s.one[0] = best
				sel = s.one[:]
			}
			r.exportGroup(t, pfx, d, g, f.SendPaths > 0, sel)
		}
	}
}

// nhSet is an interned, immutable multipath next-hop set: prefixes with
// the same next hops share one, so the FIB state costs 8 bytes per prefix.
type nhSet struct {
	addrs []netip.Addr
	key   string
	refs  int32
}

// nhInterner is the refcounted map of next-hop sets.
type nhInterner struct {
	m   map[string]*nhSet
	buf []byte
}

func (in *nhInterner) get(addrs []netip.Addr) *nhSet {
	in.buf = in.buf[:0]
	for _, a := range addrs {
		in.buf = appendAddrKey(in.buf, a)
	}
	if s, ok := in.m[string(in.buf)]; ok {
		s.refs++
		return s
	}
	if in.m == nil {
		in.m = map[string]*nhSet{}
	}
	s := &nhSet{addrs: slices.Clone(addrs), key: string(in.buf), refs: 1}
	in.m[s.key] = s
	return s
}

func (in *nhInterner) put(s *nhSet) {
	if s == nil {
		return
	}
	s.refs--
	if s.refs <= 0 {
		delete(in.m, s.key)
	}
}

// updateFIB reports the prefix's new multipath set if it changed.
func (r *RIB) updateFIB(t *table, pfx netip.Prefix, d *dest, best int) {
	if best < 0 {
		if d.fibBest == nil {
			return
		}
		r.nh.put(d.fib)
		d.fibBest, d.fib, d.fibLocal = nil, nil, false
		r.out.FIB = append(r.out.FIB, FIBChange{Family: t.fam, Prefix: pfx})
		return
	}
	s := &r.scratch
	bp := &d.paths[best]
	bf := &s.feats[best]
	max := 1
	if !bf.local {
		if bf.ebgp {
			max = r.opts.EBGPMaxPaths
		} else {
			max = r.opts.IBGPMaxPaths
		}
	}
	list := s.nhs[:0]
	if nh := bp.attrs.Attrs.NextHop; nh.IsValid() {
		list = append(list, nh)
	}
	if max > 1 && len(s.mp) > 1 {
		mp := s.mp
		// Best first, then by the tie-break order.
		slices.SortFunc(mp, func(a, b int) int { return -tieCompare(&s.feats[a], &s.feats[b]) })
		for _, i := range mp {
			if len(list) >= max {
				break
			}
			f := &s.feats[i]
			if i == best || (!r.opts.MultipathRelax && f.nbrAS != bf.nbrAS) {
				continue
			}
			h := d.paths[i].attrs.Attrs.NextHop
			if h.IsValid() && !slices.Contains(list, h) {
				list = append(list, h)
			}
		}
	}
	s.nhs = list
	var set *nhSet
	if len(list) > 0 {
		set = r.nh.get(list)
	}
	if set == d.fib && d.fibBest == bp.attrs && d.fibLocal == bf.local {
		r.nh.put(set)
		return
	}
	r.nh.put(d.fib)
	d.fib, d.fibBest, d.fibLocal = set, bp.attrs, bf.local
	var addrs []netip.Addr
	if set != nil {
		addrs = set.addrs
	}
	r.out.FIB = append(r.out.FIB, FIBChange{Family: t.fam, Prefix: pfx, NextHops: addrs, Best: bp.attrs, Local: bf.local})
}
