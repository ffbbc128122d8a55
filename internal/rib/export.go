package rib

import (
	"net/netip"
	"slices"

	"github.com/kbgp/kbgp/internal/bgp/wire"
)

// exportGroup recomputes group g's Adj-RIB-Out for one prefix from the
// selected paths sel (indices into d.paths, best first) and records the
// differences.
func (r *RIB) exportGroup(t *table, pfx netip.Prefix, d *dest, g *group, addPath bool, sel []int) {
	s := &r.scratch
	s.out = s.out[:0]
	for _, i := range sel {
		p := &d.paths[i]
		set := r.exportAttrs(t.fam, pfx, g, p)
		if set == 0 {
			continue
		}
		id := uint32(0)
		if addPath {
			id = p.localID()
		}
		s.out = append(s.out, outEntry{attrs: set, src: r.peerOf(p), id: id, group: g.id})
	}
	var gc *GroupChanges
	change := func(c ExportChange) {
		r.outGen++
		if gc == nil {
			gc = g.changes[t.fam]
			if gc == nil {
				gc = &GroupChanges{Group: g.id, Family: t.fam, AddPath: addPath, AS4: g.as4}
				g.changes[t.fam] = gc
			}
		}
		gc.Changes = append(gc.Changes, c)
	}
	// Move the group's previous entries aside, then diff by path ID.
	s.old = s.old[:0]
	n := 0
	for _, o := range d.out {
		if o.group == g.id {
			s.old = append(s.old, o)
			continue
		}
		d.out[n] = o
		n++
	}
	clear(d.out[n:])
	d.out = d.out[:n]
	for _, e := range s.out {
		if i := slices.IndexFunc(s.old, func(o outEntry) bool { return o.id == e.id }); i < 0 {
			change(ExportChange{Prefix: pfx, PathID: e.id, Attrs: r.intern.at(e.attrs), Source: e.src})
		} else if o := s.old[i]; o.attrs != e.attrs || o.src != e.src {
			change(ExportChange{Prefix: pfx, PathID: e.id, Attrs: r.intern.at(e.attrs), Source: e.src, HadOld: true, OldSource: o.src})
		}
		d.out = append(d.out, e)
	}
	for _, o := range s.old {
		if !slices.ContainsFunc(s.out, func(e outEntry) bool { return e.id == o.id }) {
			change(ExportChange{Prefix: pfx, PathID: o.id, HadOld: true, OldSource: o.src})
		}
		r.intern.put(o.attrs)
	}
}

func hasCommunity(a *wire.Attrs, c wire.Community) bool {
	return a.Has(wire.AttrCommunities) && slices.Contains(a.Communities, c)
}

// exportAttrs applies the export rules and attribute changes of update
// group g to path p and returns the interned result (with a reference), or
// 0 when the path must not be sent to the group.
func (r *RIB) exportAttrs(fam wire.Family, pfx netip.Prefix, g *group, p *path) setID {
	// Without an export policy, or with a read-only one applied afterwards,
	// the computed attributes depend only on the path's attribute set,
	// next hop, flags and source and on the group, not on the prefix:
	// memoise them for the rest of this Drain (many prefixes share a set).
	pol := &g.rep.cfg.Export
	memo := pol.Func == nil || pol.ReadOnly
	var out setID
	hit := false
	var mk memoKey
	if memo {
		mk = memoKey{in: p.attrs, nh: p.nh, src: r.peerOf(p), group: g.id, flags: p.flags(), afi: fam.AFI}
		// The prefixes of one UPDATE arrive together and share a set, so
		// the group's last result usually answers without the map.
		if g.last.gen == r.memoGen && g.last.key == mk {
			out, hit = g.last.out, true
		} else {
			out, hit = r.memo[mk]
		}
		if hit && out != 0 {
			r.intern.ref(out)
		}
	}
	if !hit {
		out = r.exportAttrsSlow(fam, pfx, g, p)
		if memo {
			if r.memo == nil {
				r.memo = map[memoKey]setID{}
			}
			r.memo[mk] = out
			if out != 0 {
				r.intern.ref(out) // the memo's own reference
			}
		}
	}
	if memo {
		g.last = memoLast{gen: r.memoGen, key: mk, out: out}
	}
	if out != 0 && pol.Func != nil && pol.ReadOnly {
		src := r.peers[r.peerOf(p)]
		if !pol.Func(PolicyInput{Family: fam, Prefix: pfx, Peer: &g.rep.cfg, Source: &src.cfg}, &r.intern.at(out).Attrs) {
			r.intern.put(out)
			return 0
		}
	}
	return out
}

// memoLast is a group's most recent memo lookup; it mirrors an entry of
// RIB.memo (which holds the reference) while gen is the RIB's memoGen.
type memoLast struct {
	gen uint64
	key memoKey
	out setID
}

// memoKey identifies an export computation without policy within a Drain.
// Neither it nor the memo's values hold pointers.
type memoKey struct {
	in    setID
	nh    addrID
	src   PeerID
	group GroupID
	flags uint8
	afi   wire.AFI
}

func (r *RIB) exportAttrsSlow(fam wire.Family, pfx netip.Prefix, g *group, p *path) setID {
	a := &r.intern.at(p.attrs).Attrs
	src := r.peers[r.peerOf(p)]
	// RFC 1997: NO_ADVERTISE "MUST NOT be advertised to other BGP peers";
	// NO_EXPORT "MUST NOT be advertised outside a BGP confederation
	// boundary"; NO_EXPORT_SUBCONFED "MUST NOT be advertised to external BGP
	// peers". kbgp has no confederations, so both mean: not to eBGP.
	if hasCommunity(a, wire.CommunityNoAdvertise) {
		return 0
	}
	if !g.ibgp && (hasCommunity(a, wire.CommunityNoExport) || hasCommunity(a, wire.CommunityNoExportSubconfed)) {
		return 0
	}
	// RFC 9494 §4.5: LLGR-stale routes are not advertised to a neighbor
	// that did not advertise the LLGR capability.
	if !g.llgr && isLLGRStale(p, a) {
		return 0
	}
	reflect := false
	if !src.local && src.ibgp() && g.ibgp {
		// RFC 4271 §9.2: routes from an internal peer are not sent to other
		// internal peers "unless the speaker acts as a BGP Route Reflector".
		// RFC 4456 §6: from a non-client, "Reflect to all the Clients";
		// from a client, "Reflect to all the Non-Client peers and also to
		// the Clients".
		if !src.cfg.RRClient && !g.rr {
			return 0
		}
		reflect = true
	}
	s := &r.scratch
	o := &s.exp
	*o = *a
	o.NextHop = r.addrs.at(p.nh)
	c := &g.rep.cfg
	self := g.rep.self4
	if fam.AFI == wire.AFIIPv6 {
		self = g.rep.self6
	}
	// RFC 6793: AS_PATH is held with 4-octet ASNs; the encoder builds
	// AS4_PATH/AS4_AGGREGATOR for 2-octet sessions itself.
	o.Clear(wire.AttrAS4Path)
	o.AS4Path = nil
	if g.ibgp {
		// RFC 4271 §5.1.5: LOCAL_PREF "SHALL be included in all UPDATE
		// messages that a given BGP speaker sends to other internal peers".
		if !o.Has(wire.AttrLocalPref) {
			o.LocalPref = r.localPref
			o.Set(wire.AttrLocalPref)
		}
		if reflect {
			// RFC 4456 §8: ORIGINATOR_ID is "created by an RR in reflecting
			// a route" and "SHOULD NOT" be created "if one already exists";
			// "When an RR reflects a route, it MUST prepend the local
			// CLUSTER_ID to the CLUSTER_LIST."
			if !o.Has(wire.AttrOriginatorID) {
				o.OriginatorID = src.routerID
				o.Set(wire.AttrOriginatorID)
			}
			s.cl = append(append(s.cl[:0], r.opts.ClusterID), a.ClusterList...)
			o.ClusterList = s.cl
			o.Set(wire.AttrClusterList)
		}
		// Next hop: unchanged on iBGP (and on reflection, RFC 4456 §10)
		// unless next-hop self; our address for our own routes.
		if c.NextHop == NextHopSelf || !o.NextHop.IsValid() {
			o.NextHop = self
		}
	} else {
		// RFC 4271 §5.1.5: LOCAL_PREF "MUST NOT" be sent to external peers;
		// RFC 4456 §8: ORIGINATOR_ID and CLUSTER_LIST are non-transitive,
		// AS-internal attributes.
		o.Clear(wire.AttrLocalPref)
		o.LocalPref = 0
		o.Clear(wire.AttrOriginatorID)
		o.OriginatorID = netip.Addr{}
		o.Clear(wire.AttrClusterList)
		o.ClusterList = nil
		// RFC 4271 §5.1.4: "The MULTI_EXIT_DISC attribute received from a
		// neighboring AS MUST NOT be propagated to other neighboring ASes."
		// Only our own routes keep a MED (export policy may set one).
		if !src.local {
			o.Clear(wire.AttrMED)
			o.MED = 0
		}
		o.ASPath = s.prepend(a.ASPath, c.LocalAS)
		o.Set(wire.AttrASPath)
		if c.NextHop != NextHopKeep || !o.NextHop.IsValid() {
			o.NextHop = self
		}
	}
	if !o.NextHop.IsValid() {
		return 0 // no next hop to advertise (no local address for the family)
	}
	// NEXT_HOP carries IPv4 next hops of IPv4 routes; every other next hop
	// travels in MP_REACH_NLRI (RFC 4760 §3, RFC 8950), which the speaker
	// builds from Attrs.NextHop.
	if fam.AFI == wire.AFIIPv4 && o.NextHop.Is4() {
		o.Set(wire.AttrNextHop)
	} else {
		o.Clear(wire.AttrNextHop)
	}
	if len(a.Unknown) > 0 {
		// RFC 4271 §5: "Unrecognized non-transitive optional attributes
		// MUST be quietly ignored and not passed along"; for transitive ones
		// "the Partial bit ... MUST be set to 1".
		s.unk = s.unk[:0]
		for _, u := range a.Unknown {
			if u.Flags&wire.FlagTransitive != 0 {
				u.Flags |= wire.FlagPartial
				s.unk = append(s.unk, u)
			} else {
				o.Clear(u.Type)
			}
		}
		o.Unknown = s.unk
	}
	if f := c.Export.Func; f != nil && !c.Export.ReadOnly {
		cp := cloneAttrs(o)
		if !f(PolicyInput{Family: fam, Prefix: pfx, Peer: c, Source: &src.cfg}, &cp) {
			return 0
		}
		return r.intern.get(&cp).id
	}
	// The copy shares what it did not change with the source set.
	return r.intern.getFrom(o, r.intern.at(p.attrs)).id
}

// prepend returns segs with as prepended, in scratch memory (RFC 4271
// §5.1.2 b: the speaker "prepends its own AS number as the last element of
// the sequence (put it in the leftmost position ...)"; before an AS_SET, or
// a full segment, it starts a new AS_SEQUENCE).
func (s *scratch) prepend(segs []wire.ASPathSegment, as uint32) []wire.ASPathSegment {
	s.segs = s.segs[:0]
	s.asns = s.asns[:0]
	if len(segs) > 0 && segs[0].Type == wire.ASSequence && len(segs[0].ASNs) < 255 {
		s.asns = append(append(s.asns, as), segs[0].ASNs...)
		s.segs = append(s.segs, wire.ASPathSegment{Type: wire.ASSequence, ASNs: s.asns})
		return append(s.segs, segs[1:]...)
	}
	s.asns = append(s.asns, as)
	s.segs = append(s.segs, wire.ASPathSegment{Type: wire.ASSequence, ASNs: s.asns})
	return append(s.segs, segs...)
}

// AdjRIBOut calls fn for every path currently advertised to an established
// peer in a family (its update group's Adj-RIB-Out after split horizon),
// until fn returns false. The speaker uses it to send a peer that joined an
// existing group its initial table, and for route refresh (RFC 2918).
func (r *RIB) AdjRIBOut(id PeerID, fam wire.Family, fn func(ExportChange) bool) error {
	p, err := r.peerByID(id)
	if err != nil {
		return err
	}
	t := r.tables[fam]
	if p.group == nil || t == nil {
		return nil
	}
	for pfx, d := range t.all() {
		for _, o := range d.out {
			if o.group == p.group.id && o.src != id {
				if !fn(ExportChange{Prefix: pfx, PathID: o.id, Attrs: r.intern.at(o.attrs), Source: o.src}) {
					return nil
				}
			}
		}
	}
	return nil
}
