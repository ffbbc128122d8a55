package wire

import "encoding/binary"

// beginAttr appends an attribute header with a one-octet length
// placeholder; endAttr patches it, switching to the extended length when the
// value exceeds 255 octets (RFC 4271 §4.3: "The Extended Length bit ... MAY
// be used only if the length of the attribute value is greater than 255").
func beginAttr(b []byte, flags uint8, t AttrType) ([]byte, int) {
	return append(b, flags&^FlagExtLen, byte(t), 0), len(b)
}

func endAttr(b []byte, off int) []byte {
	n := len(b) - off - 3
	if n <= 255 {
		b[off+2] = byte(n)
		return b
	}
	b = append(b, 0)
	copy(b[off+4:], b[off+3:len(b)-1])
	b[off] |= FlagExtLen
	binary.BigEndian.PutUint16(b[off+2:], uint16(n))
	return b
}

// attrOrder is the canonical order of the attributes kbgp writes.
var attrOrder = [...]AttrType{
	AttrOrigin, AttrASPath, AttrNextHop, AttrMED, AttrLocalPref, AttrAtomicAggregate,
	AttrAggregator, AttrCommunities, AttrOriginatorID, AttrClusterList, AttrMPReach,
	AttrMPUnreach, AttrExtCommunities, AttrAS4Path, AttrAS4Aggregator, AttrLargeCommunities,
}

// appendAttrs writes reach and unreach first, then a's attributes in
// ascending type order with unknown attributes in their place. RFC 7606
// §5.1: "The MP_REACH_NLRI or MP_UNREACH_NLRI attribute (if present) SHALL
// be encoded as the very first path attribute in an UPDATE message."
func appendAttrs(b []byte, a *Attrs, o *Options, reach *MPReach, unreach *MPUnreach) []byte {
	if reach != nil {
		b = appendMPReach(b, reach, o)
	}
	if unreach != nil {
		b = appendMPUnreach(b, unreach, o)
	}
	as4 := o != nil && o.AS4
	prev := -1 // attribute type 0 is reserved but may be passed on
	for _, t := range attrOrder {
		if len(a.Unknown) > 0 {
			b = appendUnknown(b, a, prev, int(t))
		}
		prev = int(t)
		if t == AttrMPReach || t == AttrMPUnreach {
			continue
		}
		if t == AttrAS4Path || t == AttrAS4Aggregator {
			if !as4 {
				b = appendAS4(b, a, t)
			}
			continue
		}
		if !a.Has(t) {
			continue
		}
		b = appendKnown(b, a, t, as4)
	}
	if len(a.Unknown) > 0 {
		b = appendUnknown(b, a, prev, 256)
	}
	return b
}

// appendUnknown writes the unknown attributes with lo < type < hi in
// ascending type order. RFC 4271 §9 / §5: an
// unrecognized optional transitive attribute is passed on "with the
// Partial bit ... set to 1"; the unused low four flag bits are written as
// zero (RFC 4271 §4.3).
func appendUnknown(b []byte, a *Attrs, lo, hi int) []byte {
	for t := lo + 1; t < hi; t++ {
		for _, r := range a.Unknown {
			if int(r.Type) != t {
				continue
			}
			fl := r.Flags & (FlagOptional | FlagTransitive | FlagPartial)
			if fl&(FlagOptional|FlagTransitive) == FlagOptional|FlagTransitive {
				fl |= FlagPartial
			}
			var off int
			b, off = beginAttr(b, fl, r.Type)
			b = append(b, r.Value...)
			b = endAttr(b, off)
		}
	}
	return b
}

func appendKnown(b []byte, a *Attrs, t AttrType, as4 bool) []byte {
	flags, _ := wantFlags(t)
	switch t {
	case AttrCommunities:
		if len(a.Communities) == 0 {
			return b
		}
	case AttrClusterList:
		if len(a.ClusterList) == 0 {
			return b
		}
	case AttrExtCommunities:
		if len(a.ExtCommunities) == 0 {
			return b
		}
	case AttrLargeCommunities:
		if len(a.LargeCommunities) == 0 {
			return b
		}
	case AttrNextHop, AttrOriginatorID:
		if t == AttrNextHop && !a.NextHop.Is4() || t == AttrOriginatorID && !a.OriginatorID.Is4() {
			return b // NEXT_HOP/ORIGINATOR_ID are IPv4 only
		}
	}
	b, off := beginAttr(b, flags, t)
	switch t {
	case AttrOrigin:
		b = append(b, byte(a.Origin))
	case AttrASPath:
		n := 2
		if as4 {
			n = 4
		}
		b = appendASPath(b, a.ASPath, n, true)
	case AttrNextHop:
		x := a.NextHop.As4()
		b = append(b, x[:]...)
	case AttrMED:
		b = binary.BigEndian.AppendUint32(b, a.MED)
	case AttrLocalPref:
		b = binary.BigEndian.AppendUint32(b, a.LocalPref)
	case AttrAtomicAggregate:
	case AttrAggregator:
		b = appendAggregator(b, a.Aggregator, as4)
	case AttrCommunities:
		for _, c := range a.Communities {
			b = binary.BigEndian.AppendUint32(b, uint32(c))
		}
	case AttrOriginatorID:
		x := a.OriginatorID.As4()
		b = append(b, x[:]...)
	case AttrClusterList:
		for _, c := range a.ClusterList {
			x := c.As4()
			b = append(b, x[:]...)
		}
	case AttrExtCommunities:
		for _, c := range a.ExtCommunities {
			b = append(b, c[:]...)
		}
	case AttrLargeCommunities:
		for _, c := range a.LargeCommunities {
			b = binary.BigEndian.AppendUint32(b, c.GlobalAdmin)
			b = binary.BigEndian.AppendUint32(b, c.LocalData1)
			b = binary.BigEndian.AppendUint32(b, c.LocalData2)
		}
	}
	return endAttr(b, off)
}

func appendAggregator(b []byte, ag Aggregator, as4 bool) []byte {
	if as4 {
		b = binary.BigEndian.AppendUint32(b, ag.AS)
	} else {
		as := ag.AS
		if as > 0xffff {
			as = ASTrans // RFC 6793 §4.2.2
		}
		b = append(b, byte(as>>8), byte(as))
	}
	var x [4]byte
	if ag.Addr.Is4() {
		x = ag.Addr.As4()
	}
	return append(b, x[:]...)
}

// appendAS4 writes AS4_PATH or AS4_AGGREGATOR for a 2-octet session when the
// path or aggregator holds an AS number above 65535. RFC 6793 §4.2.2:
// "whenever the AS path information contains an AS number that is
// non-mappable to a two-octet AS number ..., the NEW BGP speaker MUST send
// the AS4_PATH attribute" and likewise AS4_AGGREGATOR for a non-mappable
// aggregator AS.
func appendAS4(b []byte, a *Attrs, t AttrType) []byte {
	switch t {
	case AttrAS4Path:
		if !a.Has(AttrASPath) || !needsAS4(a.ASPath) {
			return b
		}
		b, off := beginAttr(b, FlagOptional|FlagTransitive, AttrAS4Path)
		b = appendASPath(b, a.ASPath, 4, false)
		return endAttr(b, off)
	case AttrAS4Aggregator:
		if !a.Has(AttrAggregator) || a.Aggregator.AS <= 0xffff {
			return b
		}
		b, off := beginAttr(b, FlagOptional|FlagTransitive, AttrAS4Aggregator)
		b = appendAggregator(b, a.Aggregator, true)
		return endAttr(b, off)
	}
	return b
}
