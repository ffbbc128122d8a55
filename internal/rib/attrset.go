package rib

import (
	"encoding/binary"
	"net/netip"
	"slices"

	"github.com/kbgp/kbgp/internal/bgp/wire"
)

// AttrSet is an interned, immutable set of path attributes. Two routes with
// equal attributes share one *AttrSet, so pointer equality is attribute
// equality. Never modify Attrs or its slices.
type AttrSet struct {
	Attrs wire.Attrs
	key   string
	refs  int32
	enc   *[2][]byte // cached encodings: [0] 2-octet AS, [1] 4-octet AS; allocated on first use
}

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

// interner is a refcounted map of attribute sets keyed by their canonical
// serialisation (appendKey). Lookups with a scratch key do not allocate.
type interner struct {
	m   map[string]*AttrSet
	buf []byte
}

func (in *interner) init() { in.m = map[string]*AttrSet{} }

// get returns the interned set equal to a, with one more reference. a is
// deep-copied on a miss, so the caller may reuse it and its slices.
func (in *interner) get(a *wire.Attrs) *AttrSet {
	in.buf = appendKey(in.buf[:0], a)
	if s, ok := in.m[string(in.buf)]; ok {
		s.refs++
		return s
	}
	s := &AttrSet{Attrs: cloneAttrs(a), key: string(in.buf), refs: 1}
	in.m[s.key] = s
	return s
}

// ref adds a reference to s.
func (in *interner) ref(s *AttrSet) { s.refs++ }

// put drops a reference to s, freeing it with the last one.
func (in *interner) put(s *AttrSet) {
	if s == nil {
		return
	}
	s.refs--
	if s.refs <= 0 {
		delete(in.m, s.key)
	}
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

// appendKey appends a canonical, injective serialisation of a: equal
// attribute sets give equal keys and different ones different keys. It is
// not the wire encoding (it needs no session options and never fails).
func appendKey(b []byte, a *wire.Attrs) []byte {
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
	b = appendAddrKey(b, a.NextHop)
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
