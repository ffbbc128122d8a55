package rib

import (
	"net/netip"
	"slices"

	"github.com/kbgp/kbgp/internal/bgp/wire"
)

// MarkStale marks every route of a peer in a family stale, when its session
// ends with graceful restart negotiated (RFC 4724 §4.2: the receiving
// speaker "MUST retain the routes received from the Restarting Speaker for
// all the address families that were previously received in the Graceful
// Restart Capability and MUST mark them as stale routing information").
// Stale routes stay in use unchanged; a re-announcement clears the mark;
// SweepStale removes what was not refreshed. The same mark-and-sweep serves
// enhanced route refresh (RFC 7313). It returns the number of routes marked.
func (r *RIB) MarkStale(id PeerID, fam wire.Family) (int, error) {
	if _, err := r.peerByID(id); err != nil {
		return 0, err
	}
	t := r.tables[fam]
	if t == nil {
		return 0, nil
	}
	n := 0
	for _, d := range t.all() {
		for i := range d.paths {
			if r.peerOf(&d.paths[i]) == id {
				d.paths[i].setFlags(d.paths[i].flags() | flagStale)
				n++
			}
		}
	}
	return n, nil
}

// SweepStale removes a peer's routes in a family that are still stale (at
// End-of-RIB, or when the restart or stale timer expires, RFC 4724 §4.2).
// It returns the number of routes removed.
func (r *RIB) SweepStale(id PeerID, fam wire.Family) (int, error) {
	p, err := r.peerByID(id)
	if err != nil {
		return 0, err
	}
	t := r.tables[fam]
	if t == nil {
		return 0, nil
	}
	return r.removePeerPaths(t, p, func(q *path) bool { return q.flags()&(flagStale|flagLLGRStale) != 0 }), nil
}

// MarkLLGRStale moves a peer's stale routes in a family to the long-lived
// stale state when the graceful restart timer expires and LLGR was
// negotiated (RFC 9494 §4.2). Routes carrying NO_LLGR are removed instead
// ("... routes with the NO_LLGR community ... MUST be removed"); the others
// get the LLGR_STALE community attached, become least preferred in the
// decision process and are advertised only to LLGR-capable peers. It
// returns the numbers of routes moved and removed.
func (r *RIB) MarkLLGRStale(id PeerID, fam wire.Family) (moved, removed int, err error) {
	p, err := r.peerByID(id)
	if err != nil {
		return 0, 0, err
	}
	t := r.tables[fam]
	if t == nil {
		return 0, 0, nil
	}
	removed = r.removePeerPaths(t, p, func(q *path) bool {
		return q.flags()&flagStale != 0 && q.flags()&flagLLGRStale == 0 && hasCommunity(&r.intern.at(q.attrs).Attrs, wire.CommunityNoLLGR)
	})
	for pfx, d := range t.all() {
		for i := range d.paths {
			q := &d.paths[i]
			if r.peerOf(q) != id || q.flags()&flagStale == 0 || q.flags()&flagLLGRStale != 0 {
				continue
			}
			a := r.intern.at(q.attrs).Attrs // shallow: Communities is replaced, not modified
			if !hasCommunity(&a, wire.CommunityLLGRStale) {
				a.Communities = append(slices.Clip(a.Communities), wire.CommunityLLGRStale)
				a.Set(wire.AttrCommunities)
			}
			a.NextHop = r.addrs.at(q.nh)
			set := r.intern.getPath(&a)
			r.intern.put(q.attrs)
			q.attrs = set.id
			q.setFlags(q.flags() | flagLLGRStale)
			moved++
			r.markDirty(t, pfx, d)
		}
	}
	return moved, removed, nil
}

// Reevaluate marks every prefix of every family for the decision process,
// e.g. after the IGP costs or reachability of next hops changed. The work
// happens in the next Drain.
func (r *RIB) Reevaluate() {
	for _, t := range r.tables {
		for pfx, d := range t.all() {
			r.markDirty(t, pfx, d)
		}
	}
}

// routeAttrs returns the complete attributes of p (with its next hop): the
// interned set if there is one (the best path's is, for the FIB state),
// else a private copy.
func (r *RIB) routeAttrs(p *path) *AttrSet {
	if s := r.intern.at(p.attrs); s.Attrs.NextHop == r.addrs.at(p.nh) {
		s.shown = true
		return s
	}
	a := r.pathAttrs(p, &r.scratch.full)
	if s, _ := r.intern.find(a, false); s != nil {
		return s
	}
	s := &AttrSet{}
	s.fill(a, nil)
	return s
}

// Route describes one stored path, for inspection (CLI, tests).
type Route struct {
	Peer   PeerID
	PathID uint32 // as received
	// LocalPathID is the ADD-PATH path ID kbgp sends this path with.
	LocalPathID uint32
	// Attrs are the path's attributes, next hop included. For the best
	// path it is the set FIBChange.Best reported.
	Attrs     *AttrSet
	Stale     bool
	LLGRStale bool
	Best      bool
}

// Routes returns the paths of one prefix, best first, then in decision
// order as far as it is computed (eligible paths), then the rest.
func (r *RIB) Routes(fam wire.Family, prefix netip.Prefix) []Route {
	t := r.tables[fam]
	if t == nil {
		return nil
	}
	d := t.get(prefix)
	if d == nil || len(d.paths) == 0 {
		return nil
	}
	s := &r.scratch
	s.feats = r.features(s.feats, d.paths)
	var order []int
	for {
		s.cand = s.cand[:0]
		for i := range d.paths {
			if !slices.Contains(order, i) {
				s.cand = append(s.cand, i)
			}
		}
		b, mp := r.selectBest(s.feats, s.cand, s.mp)
		s.mp = mp
		if b < 0 {
			break
		}
		order = append(order, b)
	}
	for i := range d.paths {
		if !slices.Contains(order, i) {
			order = append(order, i)
		}
	}
	out := make([]Route, 0, len(order))
	for k, i := range order {
		p := &d.paths[i]
		out = append(out, Route{
			Peer: r.peerOf(p), PathID: r.recvID(p), LocalPathID: p.localID(), Attrs: r.routeAttrs(p),
			Stale: p.flags()&flagStale != 0, LLGRStale: p.flags()&flagLLGRStale != 0,
			Best: k == 0 && s.feats[i].eligible,
		})
	}
	return out
}
