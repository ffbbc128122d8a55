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
	// Members are the peers of the group (shared: do not modify).
	Members []PeerID
	Changes []ExportChange
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
	clear(out.FIB)
	out.FIB = out.FIB[:0]
	out.Groups = out.Groups[:0]
	for _, g := range r.groups {
		if g != nil {
			for _, gc := range g.changes {
				clear(gc.Changes)
				gc.Changes = gc.Changes[:0]
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
		for _, pfx := range t.dirty {
			if d := t.dests[pfx]; d != nil && d.dirty {
				d.dirty = false
				r.process(t, pfx, d)
				r.maybeDelete(t, pfx, d)
			}
		}
		clear(t.dirty)
		t.dirty = t.dirty[:0]
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

// updateFIB reports the prefix's new multipath set if it changed.
func (r *RIB) updateFIB(t *table, pfx netip.Prefix, d *dest, best int) {
	if best < 0 {
		if d.fibBest == nil && len(d.fibNH) == 0 {
			return
		}
		d.fibBest, d.fibNH, d.fibLocal = nil, nil, false
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
	nh := bp.attrs.Attrs.NextHop
	same := len(d.fibNH) > 0 && d.fibNH[0] == nh
	if !nh.IsValid() {
		same = len(d.fibNH) == 0
	}
	if max > 1 && len(s.mp) > 1 {
		mp := s.mp
		// Best first, then by the tie-break order.
		slices.SortFunc(mp, func(a, b int) int { return -tieCompare(&s.feats[a], &s.feats[b]) })
		var nhs [16]netip.Addr
		list := append(nhs[:0], nh)
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
		if slices.Equal(list, d.fibNH) && d.fibBest == bp.attrs && d.fibLocal == bf.local {
			return
		}
		d.fibNH = slices.Clone(list)
	} else {
		if same && len(d.fibNH) <= 1 && d.fibBest == bp.attrs && d.fibLocal == bf.local {
			return
		}
		if nh.IsValid() {
			d.fibNH = []netip.Addr{nh}
		} else {
			d.fibNH = nil
		}
	}
	d.fibBest, d.fibLocal = bp.attrs, bf.local
	r.out.FIB = append(r.out.FIB, FIBChange{Family: t.fam, Prefix: pfx, NextHops: d.fibNH, Best: bp.attrs, Local: bf.local})
}
