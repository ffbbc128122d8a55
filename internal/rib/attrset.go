package rib

import (
	"bytes"
	"encoding/binary"
	"hash/maphash"
	"net/netip"
	"slices"

	"github.com/kbgp/kbgp/internal/bgp/wire"
)

// AttrSet is an interned, immutable set of path attributes. Routes with
// equal attributes normally share one *AttrSet, so pointer equality is a
// cheap attribute equality test (the export changes of a Drain are
// interned by their complete attributes). Rarely, a path's own set and a
// complete set (see the package doc, Storage) hold equal attributes, so
// pointers that differ do not prove that attributes differ. Never modify
// Attrs or its slices.
type AttrSet struct {
	Attrs wire.Attrs
	refs  int32
	id    setID  // the set's handle in its interner
	tag   uint32 // the top bits of its hash, to find it in the index
	// anyNH marks a path set, interned without its next hop (see
	// interner.getPath): Attrs.NextHop is that of one of its paths.
	anyNH bool
	// shown is set when the set has been handed out of the RIB; before,
	// a path set's next hop may still be changed (see RIB.completeSet).
	shown bool
	enc   *[2][]byte // cached encodings: [0] 2-octet AS, [1] 4-octet AS; allocated on first use
	// Inline backing of a one-segment AS_PATH of up to inlineASNs AS
	// numbers (most paths): the set is then one allocation. With them the
	// struct fills the 416-byte size class.
	seg [1]wire.ASPathSegment
	asn [inlineASNs]uint32
}

// inlineASNs is the number of AS numbers an AttrSet stores inline.
const inlineASNs = 8

// Encoded returns the attribute bytes of the set as encoded by enc for a
// session with (as4) or without 4-octet AS numbers, encoding at most once
// per set: every member of every update group reuses the bytes. enc is
// typically a closure over wire.AppendAttrs. The returned slice must not be
// modified.
func (s *AttrSet) Encoded(as4 bool, enc func(b []byte, a *wire.Attrs) ([]byte, error)) ([]byte, error) {
	i := 0
	if as4 {
		i = 1
	}
	if s.enc != nil && s.enc[i] != nil {
		return s.enc[i], nil
	}
	b, err := enc(nil, &s.Attrs)
	if err != nil {
		return nil, err
	}
	if s.enc == nil {
		s.enc = new([2][]byte)
	}
	s.enc[i] = b
	return b, nil
}

// setID is the handle of an interned attribute set: an index into
// interner.sets. 0 is no set. Paths, Adj-RIB-Out records and FIB state hold
// setIDs rather than pointers, so the memory holding them has no pointers
// for the garbage collector to scan.
type setID uint32

// interner is a refcounted table of attribute sets. A set is found by the
// hash of its canonical serialisation (appendKey) in a setIndex; the
// serialisation itself is not stored (a match is confirmed by comparing
// attributes), and neither the index nor the handles hold pointers.
// Lookups do not allocate. Freed handles are reused; the
// *AttrSet of a freed set is never reused (it may still be referenced by a
// consumer of earlier Drain results).
type interner struct {
	seed  maphash.Seed
	index setIndex
	sets  []*AttrSet // index setID; [0] is always nil
	free  []setID
	live  int
	buf   []byte
	// testHash replaces the hash in tests (to force collisions).
	testHash func([]byte) uint64
}

func (in *interner) hash(key []byte) uint64 {
	if in.testHash != nil {
		return in.testHash(key)
	}
	return maphash.Bytes(in.seed, key)
}

func (in *interner) init() {
	in.seed = maphash.MakeSeed()
	in.sets = []*AttrSet{nil}
}

// at returns the set with handle id.
func (in *interner) at(id setID) *AttrSet { return in.sets[id] }

// get returns the interned set equal to a, with one more reference. a is
// deep-copied on a miss, so the caller may reuse it and its slices.
func (in *interner) get(a *wire.Attrs) *AttrSet { return in.getFrom(a, nil) }

// getFrom is get for attributes derived from the interned set from (an
// export copy): slices of a that are from's own are shared, not copied
// (interned sets are immutable, so sharing is safe).
func (in *interner) getFrom(a *wire.Attrs, from *AttrSet) *AttrSet {
	return in.intern(a, from, false)
}

// getPath returns the path set of a, with one more reference: the set
// equal to a but for the next hop (which the path keeps itself). A new set
// keeps a's next hop, so when all paths sharing it have one next hop, as
// routes learned from a single peer, it is complete for them too (see
// RIB.completeSet).
func (in *interner) getPath(a *wire.Attrs) *AttrSet { return in.intern(a, nil, true) }

func (in *interner) intern(a *wire.Attrs, from *AttrSet, anyNH bool) *AttrSet {
	s, h := in.find(a, anyNH)
	if s != nil {
		s.refs++
		return s
	}
	s = &AttrSet{refs: 1, tag: uint32(h >> 32), anyNH: anyNH}
	s.fill(a, from)
	if n := len(in.free); n > 0 {
		s.id = in.free[n-1]
		in.free = in.free[:n-1]
		in.sets[s.id] = s
	} else {
		s.id = setID(len(in.sets))
		in.sets = append(in.sets, s)
	}
	in.index.add(h, s.id)
	in.live++
	return s
}

// find returns the interned set equal to a, or the path set when anyNH
// (nil if there is none, without adding a reference), and the hash of its
// key.
func (in *interner) find(a *wire.Attrs, anyNH bool) (*AttrSet, uint64) {
	in.buf = setKey(in.buf[:0], a, anyNH)
	h := in.hash(in.buf)
	id := in.index.probe(h, func(id setID) bool {
		s := in.sets[id]
		return s.anyNH == anyNH && keyEqual(a, &s.Attrs, !anyNH)
	})
	if id == 0 {
		return nil, h
	}
	return in.sets[id], h
}

// keyEqual reports whether a and b have equal keys (appendKey), without
// serialising them: what a hash match is confirmed with.
func keyEqual(a, b *wire.Attrs, withNH bool) bool {
	for _, t := range keyTypes {
		if a.Has(t) != b.Has(t) {
			return false
		}
	}
	if withNH && !addrKeyEqual(a.NextHop, b.NextHop) {
		return false
	}
	switch {
	case a.Has(wire.AttrOrigin) && a.Origin != b.Origin,
		a.Has(wire.AttrMED) && a.MED != b.MED,
		a.Has(wire.AttrLocalPref) && a.LocalPref != b.LocalPref,
		a.Has(wire.AttrASPath) && !segsEqual(a.ASPath, b.ASPath),
		a.Has(wire.AttrAS4Path) && !segsEqual(a.AS4Path, b.AS4Path),
		a.Has(wire.AttrAggregator) && !aggEqual(a.Aggregator, b.Aggregator),
		a.Has(wire.AttrAS4Aggregator) && !aggEqual(a.AS4Aggregator, b.AS4Aggregator),
		a.Has(wire.AttrCommunities) && !slices.Equal(a.Communities, b.Communities),
		a.Has(wire.AttrOriginatorID) && !addrKeyEqual(a.OriginatorID, b.OriginatorID),
		a.Has(wire.AttrClusterList) && !slices.EqualFunc(a.ClusterList, b.ClusterList, addrKeyEqual),
		a.Has(wire.AttrExtCommunities) && !slices.Equal(a.ExtCommunities, b.ExtCommunities),
		a.Has(wire.AttrLargeCommunities) && !slices.Equal(a.LargeCommunities, b.LargeCommunities),
		len(a.Unknown) != len(b.Unknown):
		return false
	}
	for i := range a.Unknown {
		x, y := &a.Unknown[i], &b.Unknown[i]
		if x.Flags != y.Flags || x.Type != y.Type || a.Has(x.Type) != b.Has(y.Type) || !bytes.Equal(x.Value, y.Value) {
			return false
		}
	}
	return true
}

func segsEqual(x, y []wire.ASPathSegment) bool {
	return slices.EqualFunc(x, y, func(s, t wire.ASPathSegment) bool {
		return s.Type == t.Type && slices.Equal(s.ASNs, t.ASNs)
	})
}

func aggEqual(x, y wire.Aggregator) bool {
	return x.AS == y.AS && addrKeyEqual(x.Addr, y.Addr)
}

// addrKeyEqual is equality of appendAddrKey's keys: zones are ignored.
func addrKeyEqual(x, y netip.Addr) bool {
	return x == y || x.WithZone("") == y.WithZone("")
}

// ref adds a reference to the set with handle id.
func (in *interner) ref(id setID) { in.sets[id].refs++ }

// put drops a reference to the set with handle id (0: none), freeing it
// with the last one.
func (in *interner) put(id setID) {
	if id == 0 {
		return
	}
	s := in.sets[id]
	if s.refs--; s.refs > 0 {
		return
	}
	in.index.del(uint64(s.tag)<<32, id)
	in.sets[id] = nil
	in.free = append(in.free, id)
	in.live--
	if in.live == 0 {
		// Everything was released: give the handle table back too.
		in.sets = []*AttrSet{nil}
		in.free = nil
	}
}

// fill sets s.Attrs to a deep copy of a that shares no memory with a,
// except slices that are from's (see getFrom). A one-segment AS_PATH of up
// to inlineASNs AS numbers is stored in s itself.
func (s *AttrSet) fill(a *wire.Attrs, from *AttrSet) {
	s.Attrs = *a
	c := &s.Attrs
	var f *wire.Attrs
	if from != nil {
		f = &from.Attrs
	}
	switch {
	case f != nil && sameSlice(a.ASPath, f.ASPath):
	case len(a.ASPath) == 1 && len(a.ASPath[0].ASNs) <= inlineASNs:
		s.seg[0] = wire.ASPathSegment{Type: a.ASPath[0].Type}
		if x := a.ASPath[0].ASNs; x != nil {
			n := copy(s.asn[:], x)
			s.seg[0].ASNs = s.asn[:n:n]
		}
		c.ASPath = s.seg[:1:1]
	case a.ASPath != nil:
		c.ASPath = cloneSegs(a.ASPath)
	}
	if a.AS4Path != nil && (f == nil || !sameSlice(a.AS4Path, f.AS4Path)) {
		c.AS4Path = cloneSegs(a.AS4Path)
	}
	if f == nil || !sameSlice(a.Communities, f.Communities) {
		c.Communities = slices.Clone(a.Communities)
	}
	if f == nil || !sameSlice(a.ClusterList, f.ClusterList) {
		c.ClusterList = slices.Clone(a.ClusterList)
	}
	if f == nil || !sameSlice(a.ExtCommunities, f.ExtCommunities) {
		c.ExtCommunities = slices.Clone(a.ExtCommunities)
	}
	if f == nil || !sameSlice(a.LargeCommunities, f.LargeCommunities) {
		c.LargeCommunities = slices.Clone(a.LargeCommunities)
	}
	if a.Unknown != nil && (f == nil || !sameSlice(a.Unknown, f.Unknown)) {
		c.Unknown = make([]wire.RawAttr, len(a.Unknown))
		for i, u := range a.Unknown {
			u.Value = slices.Clone(u.Value)
			c.Unknown[i] = u
		}
	}
}

// sameSlice reports whether x and y are the same non-empty memory.
func sameSlice[T any](x, y []T) bool {
	return len(x) > 0 && len(x) == len(y) && &x[0] == &y[0]
}

// cloneAttrs deep-copies a, so the copy shares no memory with it (decoded
// Unknown values alias the UPDATE buffer).
func cloneAttrs(a *wire.Attrs) wire.Attrs {
	c := *a
	if a.ASPath != nil {
		c.ASPath = cloneSegs(a.ASPath)
	}
	if a.AS4Path != nil {
		c.AS4Path = cloneSegs(a.AS4Path)
	}
	c.Communities = slices.Clone(a.Communities)
	c.ClusterList = slices.Clone(a.ClusterList)
	c.ExtCommunities = slices.Clone(a.ExtCommunities)
	c.LargeCommunities = slices.Clone(a.LargeCommunities)
	if a.Unknown != nil {
		c.Unknown = make([]wire.RawAttr, len(a.Unknown))
		for i, u := range a.Unknown {
			u.Value = slices.Clone(u.Value)
			c.Unknown[i] = u
		}
	}
	return c
}

func cloneSegs(s []wire.ASPathSegment) []wire.ASPathSegment {
	c := make([]wire.ASPathSegment, len(s))
	for i, seg := range s {
		c[i] = wire.ASPathSegment{Type: seg.Type, ASNs: slices.Clone(seg.ASNs)}
	}
	return c
}

// keyTypes are the attribute types whose presence is part of the key; every
// other attribute lives in Attrs.Unknown, which is keyed by content.
var keyTypes = [...]wire.AttrType{
	wire.AttrOrigin, wire.AttrASPath, wire.AttrNextHop, wire.AttrMED,
	wire.AttrLocalPref, wire.AttrAtomicAggregate, wire.AttrAggregator,
	wire.AttrCommunities, wire.AttrOriginatorID, wire.AttrClusterList,
	wire.AttrMPReach, wire.AttrMPUnreach, wire.AttrExtCommunities,
	wire.AttrAS4Path, wire.AttrAS4Aggregator, wire.AttrLargeCommunities,
}

// setKey appends the interning key of a set: a kind byte and a's
// serialisation, without the next hop for a path set (anyNH).
func setKey(b []byte, a *wire.Attrs, anyNH bool) []byte {
	if anyNH {
		return appendKey(append(b, 1), a, false)
	}
	return appendKey(append(b, 0), a, true)
}

// appendKey appends a canonical, injective serialisation of a (without
// the next hop unless withNH): equal attribute sets give equal keys and
// different ones different keys. It is not the wire encoding (it needs no
// session options and never fails).
func appendKey(b []byte, a *wire.Attrs, withNH bool) []byte {
	u32 := binary.BigEndian.AppendUint32
	var present uint64
	for i, t := range keyTypes {
		if a.Has(t) {
			present |= 1 << i
		}
	}
	b = binary.BigEndian.AppendUint64(b, present)
	if a.Has(wire.AttrOrigin) {
		b = append(b, byte(a.Origin))
	}
	if a.Has(wire.AttrASPath) {
		b = appendSegsKey(b, a.ASPath)
	}
	if a.Has(wire.AttrAS4Path) {
		b = appendSegsKey(b, a.AS4Path)
	}
	// The next hop is keyed whether or not NEXT_HOP is present: IPv6 (MP)
	// routes carry theirs in the field without the attribute.
	if withNH {
		b = appendAddrKey(b, a.NextHop)
	}
	if a.Has(wire.AttrMED) {
		b = u32(b, a.MED)
	}
	if a.Has(wire.AttrLocalPref) {
		b = u32(b, a.LocalPref)
	}
	if a.Has(wire.AttrAggregator) {
		b = u32(b, a.Aggregator.AS)
		b = appendAddrKey(b, a.Aggregator.Addr)
	}
	if a.Has(wire.AttrAS4Aggregator) {
		b = u32(b, a.AS4Aggregator.AS)
		b = appendAddrKey(b, a.AS4Aggregator.Addr)
	}
	if a.Has(wire.AttrCommunities) {
		b = u32(b, uint32(len(a.Communities)))
		for _, c := range a.Communities {
			b = u32(b, uint32(c))
		}
	}
	if a.Has(wire.AttrOriginatorID) {
		b = appendAddrKey(b, a.OriginatorID)
	}
	if a.Has(wire.AttrClusterList) {
		b = u32(b, uint32(len(a.ClusterList)))
		for _, c := range a.ClusterList {
			b = appendAddrKey(b, c)
		}
	}
	if a.Has(wire.AttrExtCommunities) {
		b = u32(b, uint32(len(a.ExtCommunities)))
		for _, c := range a.ExtCommunities {
			b = append(b, c[:]...)
		}
	}
	if a.Has(wire.AttrLargeCommunities) {
		b = u32(b, uint32(len(a.LargeCommunities)))
		for _, c := range a.LargeCommunities {
			b = u32(u32(u32(b, c.GlobalAdmin), c.LocalData1), c.LocalData2)
		}
	}
	b = u32(b, uint32(len(a.Unknown)))
	for _, u := range a.Unknown {
		b = append(b, u.Flags, byte(u.Type), b2u8(a.Has(u.Type)))
		b = u32(b, uint32(len(u.Value)))
		b = append(b, u.Value...)
	}
	return b
}

func appendSegsKey(b []byte, segs []wire.ASPathSegment) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(segs)))
	for _, s := range segs {
		b = append(b, s.Type)
		b = binary.BigEndian.AppendUint32(b, uint32(len(s.ASNs)))
		for _, as := range s.ASNs {
			b = binary.BigEndian.AppendUint32(b, as)
		}
	}
	return b
}

// appendAddrKey appends a length-prefixed address (0 for the zero Addr);
// zones are not part of BGP attributes and are ignored.
func appendAddrKey(b []byte, a netip.Addr) []byte {
	switch {
	case !a.IsValid():
		return append(b, 0)
	case a.Is4():
		v := a.As4()
		return append(append(b, 4), v[:]...)
	default:
		v := a.As16()
		return append(append(b, 16), v[:]...)
	}
}

func b2u8(b bool) byte {
	if b {
		return 1
	}
	return 0
}
