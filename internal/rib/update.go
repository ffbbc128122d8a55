package rib

import (
	"fmt"
	"net/netip"
	"slices"

	"github.com/kbgp/kbgp/internal/bgp/wire"
)

// Path state flags.
const (
	flagStale     uint8 = 1 << iota // GR stale (RFC 4724 §4.2)
	flagLLGRStale                   // LLGR stale (RFC 9494 §4.3)
)

// path is one route to a prefix: an entry of some peer's Adj-RIB-In. It
// holds no pointers (16 bytes). Its attribute set is interned without the
// next hop, which the path holds itself (see addrTable).
type path struct {
	attrs setID   // without NextHop
	nh    addrID  // the next hop
	src   pathSrc // the peer, and the path ID it was received with
	// lid is our ADD-PATH path ID for this path, stable for its life, in
	// the low 29 bits (IDs count up from 1 among a prefix's paths), the
	// pathExported mark in bit 29, and the state flags in the top 2 bits.
	lid uint32
}

const (
	flagShift = 30
	// pathExported marks the path that was the best path, unchanged, when
	// its prefix's Adj-RIB-Outs were last computed (see process). Any
	// change of the path (setFlags included) clears it.
	pathExported = 1 << 29
	lidMask      = pathExported - 1
)

// pathSrc is where a path came from: a peer and the path ID the peer sent
// it with (RFC 7911 ADD-PATH receive; 0 without). For path ID 0, almost
// every path, it is the PeerID itself; otherwise it has srcPairBit set and
// the rest is the index of a refcounted (peer, path ID) pair in RIB.srcs.
// So a path is 16 bytes, not 20.
type pathSrc uint32

const srcPairBit pathSrc = 1 << 31

// srcPair is a (peer, received path ID) pair that paths refer to.
type srcPair struct {
	peer PeerID
	id   uint32
	refs int32
}

type srcKey struct {
	peer PeerID
	id   uint32
}

// peerOf returns the peer p was learned from.
func (r *RIB) peerOf(p *path) PeerID {
	if p.src&srcPairBit == 0 {
		return PeerID(p.src)
	}
	return r.srcs[p.src&^srcPairBit].peer
}

// recvID returns the path ID p was received with (0 without ADD-PATH).
func (r *RIB) recvID(p *path) uint32 {
	if p.src&srcPairBit == 0 {
		return 0
	}
	return r.srcs[p.src&^srcPairBit].id
}

// findSrc returns the pathSrc of (peer, id) if some path has it.
func (r *RIB) findSrc(peer PeerID, id uint32) (pathSrc, bool) {
	if id == 0 {
		return pathSrc(peer), true
	}
	s, ok := r.srcIdx[srcKey{peer, id}]
	return s, ok
}

// refSrc returns the pathSrc of (peer, id) with one more reference.
func (r *RIB) refSrc(peer PeerID, id uint32) pathSrc {
	if id == 0 {
		return pathSrc(peer)
	}
	if s, ok := r.srcIdx[srcKey{peer, id}]; ok {
		r.srcs[s&^srcPairBit].refs++
		return s
	}
	var i int
	if n := len(r.srcFree); n > 0 {
		i = int(r.srcFree[n-1])
		r.srcFree = r.srcFree[:n-1]
		r.srcs[i] = srcPair{peer: peer, id: id, refs: 1}
	} else {
		i = len(r.srcs)
		r.srcs = append(r.srcs, srcPair{peer: peer, id: id, refs: 1})
	}
	if r.srcIdx == nil {
		r.srcIdx = map[srcKey]pathSrc{}
	}
	s := pathSrc(i) | srcPairBit
	r.srcIdx[srcKey{peer, id}] = s
	return s
}

// putSrc drops a reference to s.
func (r *RIB) putSrc(s pathSrc) {
	if s&srcPairBit == 0 {
		return
	}
	i := s &^ srcPairBit
	p := &r.srcs[i]
	if p.refs--; p.refs > 0 {
		return
	}
	delete(r.srcIdx, srcKey{p.peer, p.id})
	*p = srcPair{}
	r.srcFree = append(r.srcFree, uint32(i))
	if len(r.srcIdx) == 0 {
		r.srcs, r.srcFree, r.srcIdx = nil, nil, nil
	}
}

func (p *path) localID() uint32 { return p.lid & lidMask }
func (p *path) flags() uint8    { return uint8(p.lid >> flagShift) }
func (p *path) exported() bool  { return p.lid&pathExported != 0 }
func (p *path) setFlags(f uint8) {
	p.lid = p.lid&lidMask | uint32(f)<<flagShift
}
func (p *path) setExported(on bool) {
	if on {
		p.lid |= pathExported
	} else {
		p.lid &^= pathExported
	}
}

// outEntry is one path of one update group's Adj-RIB-Out. It holds no
// pointers (16 bytes).
type outEntry struct {
	attrs setID
	src   PeerID
	id    uint32 // ADD-PATH path ID sent (0 without ADD-PATH)
	group GroupID
}

// dest is the Loc-RIB entry of one prefix, stored in its table's slab. Its
// only pointers are the two slices, whose contents are pointer-free.
type dest struct {
	paths []path
	out   []outEntry
	// bits holds the entry's own handle (low 29 bits) and the dirty,
	// fibLocal and reexport flags.
	bits uint32
}

// fibState is the forwarding state of one prefix as last reported, kept in
// a slab beside the entries (only when the RIB keeps forwarding state: a
// reflector without it saves these 12 bytes a prefix).
type fibState struct {
	nh   nhID  // next hops last reported to the FIB (refcounted)
	best setID // best path's complete attributes last reported (refcounted)
	src  setID // the best path's own set (refcounted, compared)
}

const (
	destDirty    = 1 << 31
	destFIBLocal = 1 << 30
	// destReexport: the Adj-RIB-Outs must be recomputed even if the best
	// path is the one already exported (groups, policies or peers changed).
	destReexport = 1 << 29
	destIDMask   = destReexport - 1
	// maxDests bounds the entries of a table (half a billion prefixes).
	maxDests = destIDMask + 1
)

func (d *dest) id() destID     { return destID(d.bits & destIDMask) }
func (d *dest) dirty() bool    { return d.bits&destDirty != 0 }
func (d *dest) fibLocal() bool { return d.bits&destFIBLocal != 0 }
func (d *dest) setFlag(f uint32, on bool) {
	if on {
		d.bits |= f
	} else {
		d.bits &^= f
	}
}

// markDirty queues the prefix for the next Drain and has its Adj-RIB-Outs
// recomputed there in any case (for changes of groups, policies, peers).
func (r *RIB) markDirty(t *table, pfx netip.Prefix, d *dest) {
	d.setFlag(destReexport, true)
	r.markChanged(t, pfx, d)
}

// markChanged queues the prefix for the next Drain after a change of its
// paths: if its best path stays the one already exported, its Adj-RIB-Outs
// are left as they are.
func (r *RIB) markChanged(t *table, pfx netip.Prefix, d *dest) {
	if !d.dirty() {
		d.setFlag(destDirty, true)
		if k, ok := v4Key(pfx); ok {
			t.dirty4 = append(t.dirty4, dirty4Entry{k, d.id()})
		} else {
			t.dirty = append(t.dirty, dirtyEntry{pfx, d.id()})
		}
	}
}

// maybeDelete frees the entry of a prefix with nothing left in it.
func (r *RIB) maybeDelete(t *table, pfx netip.Prefix, d *dest) {
	if len(d.paths) == 0 && len(d.out) == 0 && !d.dirty() && (t.fibs == nil || t.fibAt(d.id()).best == 0) {
		t.del(pfx)
	}
}

// Reason says why an imported route was not accepted.
type Reason uint8

// Import rejection reasons.
const (
	Accepted      Reason = iota
	ASLoop               // our AS in AS_PATH more than AllowOwnAS times (RFC 4271 §9.1.2)
	OriginatorID         // ORIGINATOR_ID is our router ID (RFC 4456 §8)
	ClusterLoop          // CLUSTER_LIST contains our cluster ID (RFC 4456 §8)
	PolicyReject         // the import policy rejected it
	InvalidPrefix        // the prefix does not belong to the family
)

// String names the reason.
func (x Reason) String() string {
	if x > InvalidPrefix {
		return fmt.Sprintf("Reason(%d)", uint8(x))
	}
	return [...]string{"accepted", "AS loop", "ORIGINATOR_ID is our router ID", "CLUSTER_LIST contains our cluster ID", "rejected by import policy", "prefix not in family"}[x]
}

// Update records routes received from a peer: one attribute set for all of
// nlri, in family fam. Routes the import checks or the policy reject are
// treated as withdrawn (an UPDATE replaces the peer's previous route, RFC
// 4271 §9.1.2: "... the previously advertised route ... is implicitly
// withdrawn"). It returns how many routes were rejected and the reason of
// the first rejection. attrs is not retained.
func (r *RIB) Update(id PeerID, fam wire.Family, nlri []wire.NLRI, attrs *wire.Attrs) (rejected int, first Reason, err error) {
	p, err := r.peerByID(id)
	if err != nil {
		return 0, 0, err
	}
	if attrs == nil {
		return 0, 0, fmt.Errorf("rib: update from peer %s: nil attributes", p.name())
	}
	addPath := false
	if fs := p.sess.family(fam); fs != nil {
		addPath = fs.AddPathReceive
	}
	t := r.table(fam)
	reason := r.importCheck(p, attrs)
	a := attrs
	if reason == Accepted && !p.ibgp() && (a.Has(wire.AttrLocalPref) || a.Has(wire.AttrOriginatorID) || a.Has(wire.AttrClusterList)) {
		// RFC 4271 §5.1.5: LOCAL_PREF "received from an external peer ...
		// MUST be ignored"; ORIGINATOR_ID and CLUSTER_LIST are iBGP-only
		// (RFC 4456 §8) and ignored from eBGP too.
		r.scratch.imp = *a
		a = &r.scratch.imp
		a.Clear(wire.AttrLocalPref)
		a.LocalPref = 0
		a.Clear(wire.AttrOriginatorID)
		a.OriginatorID = netip.Addr{}
		a.Clear(wire.AttrClusterList)
		a.ClusterList = nil
	}
	var shared setID // interned once when there is no import policy
	var sharedNH addrID
	for _, n := range nlri {
		n.Prefix = n.Prefix.Masked() // wire masks; be safe with other callers
		pid := uint32(0)
		if addPath {
			pid = n.PathID
		}
		why := reason
		if why == Accepted && !prefixInFamily(n.Prefix, fam) {
			why = InvalidPrefix
		}
		var set setID
		var nh addrID
		if why == Accepted {
			if f := p.cfg.Import.Func; f != nil && p.cfg.Import.ReadOnly {
				// A read-only policy sees the shared attributes: no copy,
				// and one interned set for the whole UPDATE as without a
				// policy.
				if !f(PolicyInput{Family: fam, Prefix: n.Prefix, Peer: &p.cfg}, a) {
					why = PolicyReject
				} else if shared == 0 {
					shared, sharedNH = r.internPath(a)
					set, nh = shared, sharedNH
				} else {
					r.intern.ref(shared)
					r.addrs.ref(sharedNH)
					set, nh = shared, sharedNH
				}
			} else if p.cfg.Import.Func != nil {
				c := cloneAttrs(a)
				if p.cfg.Import.Func(PolicyInput{Family: fam, Prefix: n.Prefix, Peer: &p.cfg}, &c) {
					set, nh = r.internPath(&c)
				} else {
					why = PolicyReject
				}
			} else {
				if shared == 0 {
					shared, sharedNH = r.internPath(a)
				} else {
					r.intern.ref(shared)
					r.addrs.ref(sharedNH)
				}
				set, nh = shared, sharedNH
			}
		}
		if why != Accepted {
			if rejected == 0 {
				first = why
			}
			rejected++
			r.removePath(t, n.Prefix, id, pid)
			continue
		}
		r.setPath(t, n.Prefix, id, pid, set, nh)
	}
	return rejected, first, nil
}

// internPath interns a path's attributes: the path set (without the next
// hop) and the next hop, each with a reference.
func (r *RIB) internPath(a *wire.Attrs) (setID, addrID) {
	return r.intern.getPath(a).id, r.addrs.get(a.NextHop)
}

// completeSet returns p's complete attribute set, next hop included, with
// a reference, to hand out: its path set itself when that has p's next hop
// (the usual case for routes learned from one peer) or has not been handed
// out yet (its next hop is then only one of its paths', and becomes p's),
// else the set interned from the path set with p's next hop.
func (r *RIB) completeSet(p *path) *AttrSet {
	s := r.intern.at(p.attrs)
	nh := r.addrs.at(p.nh)
	if !s.shown {
		s.Attrs.NextHop = nh
	}
	if s.Attrs.NextHop == nh {
		s.refs++
		s.shown = true
		return s
	}
	return r.intern.getFrom(r.pathAttrs(p, &r.scratch.full), s)
}

// pathAttrs returns p's attributes with its next hop in *dst (shallow: the
// slices are the interned set's).
func (r *RIB) pathAttrs(p *path, dst *wire.Attrs) *wire.Attrs {
	*dst = r.intern.at(p.attrs).Attrs
	dst.NextHop = r.addrs.at(p.nh)
	return dst
}

func prefixInFamily(p netip.Prefix, f wire.Family) bool {
	if !p.IsValid() {
		return false
	}
	switch f.AFI {
	case wire.AFIIPv4:
		return p.Addr().Is4()
	case wire.AFIIPv6:
		return p.Addr().Is6()
	}
	return true
}

// importCheck applies the loop checks every received route must pass.
func (r *RIB) importCheck(p *peer, a *wire.Attrs) Reason {
	if a.Has(wire.AttrASPath) {
		n := 0
		for _, s := range a.ASPath {
			for _, as := range s.ASNs {
				if as == p.cfg.LocalAS {
					n++
				}
			}
		}
		// RFC 4271 §9.1.2: "If the AS_PATH attribute of a BGP route
		// contains an AS loop, the BGP route should be excluded from the
		// Phase 2 decision function."
		if n > p.cfg.AllowOwnAS {
			return ASLoop
		}
	}
	if p.ibgp() {
		// RFC 4456 §8: "A router that recognizes the ORIGINATOR_ID attribute
		// SHOULD ignore a route received with its BGP Identifier as the
		// ORIGINATOR_ID." and "If the local CLUSTER_ID is found in the
		// CLUSTER_LIST, the advertisement received SHOULD be ignored."
		if a.Has(wire.AttrOriginatorID) && a.OriginatorID == r.opts.RouterID {
			return OriginatorID
		}
		if a.Has(wire.AttrClusterList) && slices.Contains(a.ClusterList, r.opts.ClusterID) {
			return ClusterLoop
		}
	}
	return Accepted
}

// Withdraw removes routes a peer withdrew. Unknown routes are ignored.
func (r *RIB) Withdraw(id PeerID, fam wire.Family, nlri []wire.NLRI) error {
	p, err := r.peerByID(id)
	if err != nil {
		return err
	}
	addPath := false
	if fs := p.sess.family(fam); fs != nil {
		addPath = fs.AddPathReceive
	}
	t := r.tables[fam]
	if t == nil {
		return nil
	}
	for _, n := range nlri {
		pid := uint32(0)
		if addPath {
			pid = n.PathID
		}
		r.removePath(t, n.Prefix.Masked(), id, pid)
	}
	return nil
}

// Originate installs a locally originated route (a Calico IPAM block, a
// service IP). pathID distinguishes several local routes to one prefix.
// Locally originated routes are preferred over every learned route, as
// BIRD (static protocol preference) and FRR (weight 32768) do. An empty
// attribute set gets ORIGIN IGP; AS_PATH is marked present and left as
// given (normally empty) (RFC 4271 §5.1.2:
// an originating speaker "SHALL include an empty AS_PATH" toward iBGP and
// the local AS is prepended toward eBGP on export).
func (r *RIB) Originate(fam wire.Family, prefix netip.Prefix, pathID uint32, attrs *wire.Attrs) error {
	if !prefixInFamily(prefix, fam) || prefix.Masked() != prefix {
		return fmt.Errorf("rib: originate: prefix %v is not a masked %d/%d prefix", prefix, fam.AFI, fam.SAFI)
	}
	var a wire.Attrs
	if attrs != nil {
		a = *attrs
	}
	if !a.Has(wire.AttrOrigin) {
		a.Origin = wire.OriginIGP
		a.Set(wire.AttrOrigin)
	}
	// RFC 4271 §5.1.2: the originating speaker "SHALL include an empty
	// AS_PATH attribute in all UPDATE messages sent to BGP speakers located
	// in its own autonomous system": the attribute is present, if empty.
	a.Set(wire.AttrASPath)
	set, nh := r.internPath(&a)
	r.setPath(r.table(fam), prefix, LocalPeer, pathID, set, nh)
	return nil
}

// Unoriginate removes a locally originated route.
func (r *RIB) Unoriginate(fam wire.Family, prefix netip.Prefix, pathID uint32) {
	if t := r.tables[fam]; t != nil {
		r.removePath(t, prefix, LocalPeer, pathID)
	}
}

// setPath stores a path, taking over the caller's reference to set.
func (r *RIB) setPath(t *table, pfx netip.Prefix, peer PeerID, id uint32, set setID, nh addrID) {
	d := t.get(pfx)
	if d == nil {
		d = t.add(pfx)
	}
	src, known := r.findSrc(peer, id)
	for i := range d.paths {
		p := &d.paths[i]
		if known && p.src == src {
			if p.attrs == set && p.nh == nh && p.flags() == 0 {
				r.intern.put(set) // unchanged re-announcement
				r.addrs.put(nh)
				return
			}
			r.intern.put(p.attrs)
			r.addrs.put(p.nh)
			p.attrs, p.nh = set, nh
			p.setFlags(0)
			r.markChanged(t, pfx, d)
			return
		}
	}
	if len(d.paths) == cap(d.paths) {
		var c int
		switch {
		case len(d.paths) == 0:
			// A new prefix gets room for the table's average number of
			// paths per prefix (up to 4): a full table learned from several
			// peers then takes one allocation per prefix, not one per path,
			// and a table of single-path prefixes still 16 bytes.
			c = min(4, max(1, (t.paths+t.len()-1)/t.len()))
		case len(d.paths) < 4:
			c = 2 * len(d.paths) // 32, 64 or 96 bytes: size classes, no waste
		default:
			c = len(d.paths) + 1 + len(d.paths)/4 // most prefixes have few paths
		}
		n := make([]path, len(d.paths), c)
		copy(n, d.paths)
		d.paths = n
	}
	d.paths = append(d.paths, path{attrs: set, nh: nh, src: r.refSrc(peer, id), lid: freeLocalID(d.paths)})
	t.paths++
	r.peers[peer].countPaths(t.fam, 1)
	r.markChanged(t, pfx, d)
}

// freeLocalID returns the smallest ADD-PATH path ID (from 1) no path of the
// prefix uses. IDs are never changed while a path lives (RFC 7911 §3: the
// path identifier identifies a path, so a stable ID makes a new
// advertisement an implicit replacement of the same path only).
func freeLocalID(ps []path) uint32 {
	for id := uint32(1); ; id++ {
		used := false
		for i := range ps {
			if ps[i].localID() == id {
				used = true
				break
			}
		}
		if !used {
			return id
		}
	}
}

func (r *RIB) removePath(t *table, pfx netip.Prefix, peer PeerID, id uint32) {
	d := t.get(pfx)
	if d == nil {
		return
	}
	src, known := r.findSrc(peer, id)
	if !known {
		return
	}
	for i := range d.paths {
		if d.paths[i].src == src {
			r.intern.put(d.paths[i].attrs)
			r.addrs.put(d.paths[i].nh)
			r.putSrc(src)
			d.paths = slices.Delete(d.paths, i, i+1)
			t.paths--
			r.peers[peer].countPaths(t.fam, -1)
			r.markChanged(t, pfx, d)
			return
		}
	}
}

// removePeerPaths removes the peer's paths for which drop is true.
func (r *RIB) removePeerPaths(t *table, p *peer, drop func(*path) bool) int {
	n := 0
	for pfx, d := range t.all() {
		k := 0
		for i := range d.paths {
			q := &d.paths[i]
			if r.peerOf(q) == p.id && drop(q) {
				r.intern.put(q.attrs)
				r.addrs.put(q.nh)
				r.putSrc(q.src)
				n++
				continue
			}
			d.paths[k] = *q
			k++
		}
		if k != len(d.paths) {
			t.paths -= len(d.paths) - k
			clear(d.paths[k:])
			d.paths = d.paths[:k]
			r.markChanged(t, pfx, d)
		}
	}
	if n > 0 {
		p.countPaths(t.fam, -n)
	}
	return n
}

// WithdrawAll removes every route of a peer in a family (a session ended
// without graceful restart).
func (r *RIB) WithdrawAll(id PeerID, fam wire.Family) (int, error) {
	p, err := r.peerByID(id)
	if err != nil {
		return 0, err
	}
	t := r.tables[fam]
	if t == nil {
		return 0, nil
	}
	return r.removePeerPaths(t, p, func(*path) bool { return true }), nil
}

// ApplyUpdate records a decoded UPDATE from a peer: withdrawn routes and
// MP_UNREACH_NLRI are withdrawn, NLRI and MP_REACH_NLRI (RFC 4760) are
// updated with the message's attributes, the MP_REACH_NLRI next hop taking
// the place of NEXT_HOP for its routes. Families kbgp does not route (raw
// NLRI) are ignored. An UPDATE the speaker must treat as withdraw (RFC
// 7606) should be passed to Withdraw instead. It returns the rejections as
// Update does.
func (r *RIB) ApplyUpdate(id PeerID, u *wire.Update) (rejected int, first Reason, err error) {
	if _, err := r.peerByID(id); err != nil {
		return 0, 0, err
	}
	if u == nil {
		return 0, 0, nil
	}
	note := func(n int, why Reason) {
		if n > 0 && rejected == 0 {
			first = why
		}
		rejected += n
	}
	if len(u.Withdrawn) > 0 {
		r.Withdraw(id, wire.IPv4Unicast, u.Withdrawn)
	}
	if m := u.MPUnreach; m != nil && len(m.NLRI) > 0 {
		r.Withdraw(id, m.Family, m.NLRI)
	}
	if len(u.NLRI) > 0 {
		n, why, _ := r.Update(id, wire.IPv4Unicast, u.NLRI, &u.Attrs)
		note(n, why)
	}
	if m := u.MPReach; m != nil && len(m.NLRI) > 0 {
		a := u.Attrs // shallow copy: only NextHop changes
		a.NextHop = m.NextHop
		a.Clear(wire.AttrNextHop)
		n, why, _ := r.Update(id, m.Family, m.NLRI, &a)
		note(n, why)
	}
	return rejected, first, nil
}
