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
	full   wire.Attrs
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
		// An entry is never deleted while dirty, so e.id is current.
		for _, e := range t.dirty4 {
			r.processDirty(t, v4Prefix(e.key), t.at(e.id))
		}
		for _, e := range t.dirty {
			r.processDirty(t, e.pfx, t.at(e.id))
		}
		t.dirty4 = reuse(t.dirty4)
		t.dirty = reuse(t.dirty)
	}
	// The memo holds one reference on each set it names (a read-only export
	// policy may reject a memoised set for one prefix and drop the caller's
	// reference at once); release them.
	for _, id := range r.memo {
		r.intern.put(id)
	}
	if len(r.memo) > bigBuffer {
		r.memo = nil
	} else {
		clear(r.memo)
	}
	r.memoGen++
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

func (r *RIB) processDirty(t *table, pfx netip.Prefix, d *dest) {
	if d.dirty() {
		d.setFlag(destDirty, false)
		r.process(t, pfx, d)
		r.maybeDelete(t, pfx, d)
	}
}

// bigBuffer is the capacity above which Drain's buffers are dropped rather
// than reused once a Drain used less than a quarter of them, so that a
// full-table load does not pin its output buffers afterwards, while the
// Drains of a sustained load reuse them rather than grow new ones each
// time (their garbage is part of the peak memory).
const bigBuffer = 1 << 14

// reuse empties s (holding the last Drain's items) for reuse, or drops it
// when it is big and was mostly unused.
func reuse[T any](s []T) []T {
	if cap(s) > bigBuffer && len(s) < cap(s)/4 {
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
	if !r.opts.NoFIB {
		r.updateFIB(t, pfx, d, best)
	}

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
	// Without ADD-PATH, the Adj-RIB-Outs depend only on the best path (and
	// the groups, whose changes set destReexport): if the best path is the
	// one they were computed from, unchanged since, they stand. So a route
	// that loses to the best one costs no export work.
	reexport := d.bits&destReexport != 0
	d.setFlag(destReexport, false)
	if maxSend == 0 && best >= 0 && !reexport && d.paths[best].exported() {
		return
	}
	for i := range d.paths {
		d.paths[i].setExported(maxSend == 0 && i == best)
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

// nhID is the handle of an interned next-hop set (0: none).
type nhID uint32

// nhSet is an interned, immutable multipath next-hop set: prefixes with
// the same next hops share one, so the FIB state costs 4 bytes per prefix.
type nhSet struct {
	addrs []netip.Addr
	key   string
	refs  int32
}

// nhInterner is the refcounted table of next-hop sets: few sets (one per
// distinct multipath next-hop list), many references.
type nhInterner struct {
	m    map[string]nhID
	sets []*nhSet // index nhID; [0] is always nil
	free []nhID
	buf  []byte
}

func (in *nhInterner) at(id nhID) *nhSet { return in.sets[id] }

func (in *nhInterner) get(addrs []netip.Addr) nhID {
	in.buf = in.buf[:0]
	for _, a := range addrs {
		in.buf = appendAddrKey(in.buf, a)
	}
	if id, ok := in.m[string(in.buf)]; ok {
		in.sets[id].refs++
		return id
	}
	if in.m == nil {
		in.m = map[string]nhID{}
		in.sets = []*nhSet{nil}
	}
	s := &nhSet{addrs: slices.Clone(addrs), key: string(in.buf), refs: 1}
	var id nhID
	if n := len(in.free); n > 0 {
		id = in.free[n-1]
		in.free = in.free[:n-1]
		in.sets[id] = s
	} else {
		id = nhID(len(in.sets))
		in.sets = append(in.sets, s)
	}
	in.m[s.key] = id
	return id
}

func (in *nhInterner) put(id nhID) {
	if id == 0 {
		return
	}
	s := in.sets[id]
	if s.refs--; s.refs <= 0 {
		delete(in.m, s.key)
		in.sets[id] = nil
		in.free = append(in.free, id)
	}
}

// updateFIB reports the prefix's new multipath set if it changed.
func (r *RIB) updateFIB(t *table, pfx netip.Prefix, d *dest, best int) {
	fs := t.fibAt(d.id())
	if best < 0 {
		if fs.best == 0 {
			return
		}
		r.nh.put(fs.nh)
		r.intern.put(fs.best)
		r.intern.put(fs.src)
		*fs = fibState{}
		d.setFlag(destFIBLocal, false)
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
	if nh := r.addrs.at(bp.nh); nh.IsValid() {
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
			h := r.addrs.at(d.paths[i].nh)
			if h.IsValid() && !slices.Contains(list, h) {
				list = append(list, h)
			}
		}
	}
	s.nhs = list
	var set nhID
	if len(list) > 0 {
		set = r.nh.get(list)
	}
	// The complete set reported last has the next hop it was reported with.
	if set == fs.nh && fs.src == bp.attrs && d.fibLocal() == bf.local && r.intern.at(fs.best).Attrs.NextHop == r.addrs.at(bp.nh) {
		r.nh.put(set)
		return
	}
	// The FIB state holds references to the complete set reported as Best
	// and to the best path's own set, so that handle is not reused while it
	// is compared with later best paths.
	bset := r.completeSet(bp)
	r.intern.ref(bp.attrs)
	r.intern.put(fs.best)
	r.intern.put(fs.src)
	r.nh.put(fs.nh)
	*fs = fibState{nh: set, best: bset.id, src: bp.attrs}
	d.setFlag(destFIBLocal, bf.local)
	var addrs []netip.Addr
	if set != 0 {
		addrs = r.nh.at(set).addrs
	}
	r.out.FIB = append(r.out.FIB, FIBChange{Family: t.fam, Prefix: pfx, NextHops: addrs, Best: bset, Local: bf.local})
}
