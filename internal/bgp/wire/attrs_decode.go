package wire

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net/netip"
)

// errState collects UPDATE errors, keeping the most severe first.
type errState struct {
	worst  *Error
	others []*Error
}

func (s *errState) add(e *Error) {
	if s.worst == nil {
		s.worst = e
		return
	}
	if e.Action > s.worst.Action {
		s.others = append(s.others, s.worst)
		s.worst = e
		return
	}
	s.others = append(s.others, e)
}

func (s *errState) action() Action {
	if s.worst == nil {
		return 0
	}
	return s.worst.Action
}

func (s *errState) err() error {
	if s.worst == nil {
		return nil
	}
	s.worst.Others = s.others
	return s.worst
}

// attrErr builds an UPDATE error about attribute t. data is the whole
// attribute (type, length and value) as RFC 4271 §6.3 asks for the
// NOTIFICATION data.
func attrErr(act Action, sub uint8, t AttrType, data []byte, format string, args ...any) *Error {
	// Data is copied: the NOTIFICATION may be sent after the receive
	// buffer it came from has been reused.
	return &Error{Code: NotifUpdate, Subcode: sub, Data: bytes.Clone(data), Action: act, Attr: t, Reason: fmt.Sprintf(format, args...)}
}

// wantFlags is the Optional and Transitive bits each known attribute must
// carry (RFC 4271 §5, RFC 4456 §8, RFC 4760 §3-4, RFC 4360 §2, RFC 6793 §3,
// RFC 8092 §3).
func wantFlags(t AttrType) (flags uint8, known bool) {
	switch t {
	case AttrOrigin, AttrASPath, AttrNextHop, AttrLocalPref, AttrAtomicAggregate:
		return FlagTransitive, true
	case AttrMED, AttrOriginatorID, AttrClusterList, AttrMPReach, AttrMPUnreach:
		return FlagOptional, true
	case AttrAggregator, AttrCommunities, AttrExtCommunities, AttrAS4Path, AttrAS4Aggregator, AttrLargeCommunities:
		return FlagOptional | FlagTransitive, true
	}
	return 0, false
}

// malformedAction is the RFC 7606 approach for a malformed known
// attribute t where its specification overrides the treat-as-withdraw
// default of §3(c): ATOMIC_AGGREGATE (§7.6), AGGREGATOR (§7.7) and
// AS4_AGGREGATOR (RFC 6793 §6) are "attribute discard". AS4_PATH stays
// treat-as-withdraw for flag errors, as FRR does (shared/testdata/vectors/
// frr-rfc7606 as4path-flag-nontrans).
func malformedAction(t AttrType) Action {
	switch t {
	case AttrAtomicAggregate, AttrAggregator, AttrAS4Aggregator:
		return ActionAttrDiscard
	}
	return ActionTreatAsWithdraw
}

// isMartian4 reports whether a is not a valid IPv4 host address for
// NEXT_HOP (RFC 4271 §6.3: "If the NEXT_HOP attribute field is
// syntactically incorrect ... or ... not a valid IP host address").
func isMartian4(a netip.Addr) bool {
	b := a.As4()
	return b[0] == 0 || b[0] == 127 || b[0] >= 224
}

// decodeAttr decodes one path attribute value into u. raw is the whole
// attribute TLV (for NOTIFICATION data).
func (u *Update) decodeAttr(flags uint8, t AttrType, val, raw []byte, o *Options, es *errState) {
	a := &u.Attrs
	want, known := wantFlags(t)
	if !known {
		// RFC 4271 §6.3: "If any of the well-known mandatory attributes
		// are not recognized, then the Error Subcode MUST be set to
		// Unrecognized Well-known Attribute. The Data field MUST contain
		// the unrecognized attribute (type, length, and value)." RFC 7606
		// does not relax this.
		if flags&FlagOptional == 0 {
			es.add(attrErr(ActionSessionReset, UpdateUnrecognizedWellKnown, t, raw, "unrecognized well-known attribute type %d", t))
			return
		}
		// RFC 4271 §9: "If an optional non-transitive attribute is
		// unrecognized, it is quietly ignored. If an optional transitive
		// attribute is unrecognized, the Partial bit ... is set to 1, and
		// the attribute is retained for propagation".
		if flags&FlagTransitive == 0 {
			return
		}
		// Kept in ascending type order, the order they are re-encoded in.
		a.Unknown = append(a.Unknown, RawAttr{Flags: flags &^ (FlagExtLen | 0x0f), Type: t, Value: val})
		for i := len(a.Unknown) - 1; i > 0 && a.Unknown[i-1].Type > t; i-- {
			a.Unknown[i-1], a.Unknown[i] = a.Unknown[i], a.Unknown[i-1]
		}
		a.Set(t)
		return
	}
	// RFC 7606 §3(c): "If the value of either the Optional or Transitive
	// bits in the Attribute Flags is in conflict with their specified
	// values, then the attribute MUST be treated as malformed and the
	// 'treat-as-withdraw' approach used, unless the specification for the
	// attribute mandates different handling for a malformed attribute."
	// MP_REACH/MP_UNREACH are still parsed below so the NLRI to withdraw
	// are known.
	if flags&(FlagOptional|FlagTransitive) != want {
		es.add(attrErr(malformedAction(t), UpdateAttrFlags, t, raw, "flags %#02x, want optional/transitive %#02x", flags, want))
		if t != AttrMPReach && t != AttrMPUnreach {
			return
		}
	}
	// RFC 4271 §4.3: "For well-known attributes ..., the Partial bit MUST
	// be set to 0"; a conflict is an Attribute Flags Error (§6.3), handled
	// as the attribute's malformation (RFC 7606 §3(c)).
	if want&FlagOptional == 0 && flags&FlagPartial != 0 {
		es.add(attrErr(malformedAction(t), UpdateAttrFlags, t, raw, "Partial bit set on a well-known attribute"))
		return
	}
	taw := func(sub uint8, format string, args ...any) {
		es.add(attrErr(ActionTreatAsWithdraw, sub, t, raw, format, args...))
	}
	discard := func(format string, args ...any) {
		es.add(attrErr(ActionAttrDiscard, UpdateOptionalAttr, t, raw, format, args...))
	}
	switch t {
	case AttrOrigin:
		// RFC 7606 §7.1: "The attribute is considered malformed if its
		// length is not 1 or if it has an undefined value ... treat-as-
		// withdraw".
		if len(val) != 1 {
			taw(UpdateAttrLength, "length %d, want 1", len(val))
			return
		}
		if val[0] > byte(OriginIncomplete) {
			taw(UpdateInvalidOrigin, "undefined value %d", val[0])
			return
		}
		a.Origin = Origin(val[0])
	case AttrASPath:
		asnLen := 2
		if o != nil && o.AS4 {
			asnLen = 4
		}
		segs, err := decodeASPath(a.ASPath, val, asnLen)
		a.ASPath = segs
		if err != nil {
			// RFC 7606 §7.2: a malformed AS_PATH → "treat-as-withdraw".
			a.ASPath = a.ASPath[:0]
			taw(UpdateMalformedASPath, "%v", err)
			return
		}
		// RFC 5065 §5.3: confederation segments must not reach a peer
		// outside the confederation; received from such an external peer
		// the AS_PATH is malformed (treat-as-withdraw, RFC 7606 §7.2).
		if o != nil && o.EBGP {
			for _, s := range segs {
				if s.Type == ASConfedSequence || s.Type == ASConfedSet {
					a.ASPath = a.ASPath[:0]
					taw(UpdateMalformedASPath, "confederation segment from an external peer")
					return
				}
			}
		}
	case AttrNextHop:
		// The NLRI field was decoded before the attributes. Without IPv4
		// NLRI there, RFC 4760 §3 says the receiver "SHOULD ignore this
		// attribute", so a malformed one is discarded instead of
		// withdrawing the MP_REACH_NLRI routes.
		bad := taw
		if len(u.NLRI) == 0 {
			bad = func(sub uint8, format string, args ...any) {
				es.add(attrErr(ActionAttrDiscard, sub, t, raw, format+" (ignored: no NLRI field)", args...))
			}
		}
		// RFC 7606 §7.3: "The attribute is considered malformed if its
		// length is not 4 ... treat-as-withdraw".
		if len(val) != 4 {
			bad(UpdateAttrLength, "length %d, want 4", len(val))
			return
		}
		nh := netip.AddrFrom4([4]byte(val))
		// RFC 4271 §6.3 semantic check; RFC 7606 §7.3 keeps
		// treat-as-withdraw for it.
		if isMartian4(nh) {
			bad(UpdateInvalidNextHop, "%v is not a valid host address", nh)
			return
		}
		a.NextHop = nh
	case AttrMED:
		// RFC 7606 §7.4: length other than 4 → treat-as-withdraw.
		if len(val) != 4 {
			taw(UpdateAttrLength, "length %d, want 4", len(val))
			return
		}
		a.MED = binary.BigEndian.Uint32(val)
	case AttrLocalPref:
		// RFC 7606 §7.5: "If the LOCAL_PREF attribute is received from an
		// external neighbor, it SHALL be discarded using the approach of
		// 'attribute discard'; ... [otherwise] if its length is not 4 ...
		// treat-as-withdraw".
		if o != nil && o.EBGP {
			discard("LOCAL_PREF from an external peer")
			return
		}
		if len(val) != 4 {
			taw(UpdateAttrLength, "length %d, want 4", len(val))
			return
		}
		a.LocalPref = binary.BigEndian.Uint32(val)
	case AttrAtomicAggregate:
		// RFC 7606 §7.6: length not 0 → "attribute discard".
		if len(val) != 0 {
			discard("length %d, want 0", len(val))
			return
		}
	case AttrAggregator:
		// RFC 7606 §7.7: "The error handling of [RFC4271] is revised to
		// specify that the attribute is considered malformed if its length
		// is not 6 (or 8 for 4-octet AS) ... 'attribute discard'".
		n := 6
		if o != nil && o.AS4 {
			n = 8
		}
		if len(val) != n {
			discard("length %d, want %d", len(val), n)
			return
		}
		ag, ok := decodeAggregator(val)
		// RFC 7607 §2: AS 0 in AGGREGATOR → "attribute discard".
		if !ok {
			discard("aggregator AS 0")
			return
		}
		a.Aggregator = ag
	case AttrCommunities:
		// RFC 7606 §7.8: length 0 or not a multiple of 4 →
		// treat-as-withdraw.
		if len(val) == 0 || len(val)%4 != 0 {
			taw(UpdateOptionalAttr, "length %d is not a positive multiple of 4", len(val))
			return
		}
		c := a.Communities[:0]
		for i := 0; i < len(val); i += 4 {
			c = append(c, Community(binary.BigEndian.Uint32(val[i:])))
		}
		a.Communities = c
	case AttrOriginatorID:
		// RFC 7606 §7.9: "If the ORIGINATOR_ID attribute is received from
		// an external neighbor, it SHALL be discarded using the approach of
		// 'attribute discard'" ... else length not 4 → treat-as-withdraw.
		if o != nil && o.EBGP {
			discard("ORIGINATOR_ID from an external peer")
			return
		}
		if len(val) != 4 {
			taw(UpdateAttrLength, "length %d, want 4", len(val))
			return
		}
		a.OriginatorID = netip.AddrFrom4([4]byte(val))
	case AttrClusterList:
		// RFC 7606 §7.10: discard from eBGP; otherwise length 0 or not a
		// multiple of 4 → treat-as-withdraw.
		if o != nil && o.EBGP {
			discard("CLUSTER_LIST from an external peer")
			return
		}
		if len(val) == 0 || len(val)%4 != 0 {
			taw(UpdateAttrLength, "length %d is not a positive multiple of 4", len(val))
			return
		}
		cl := a.ClusterList[:0]
		for i := 0; i < len(val); i += 4 {
			cl = append(cl, netip.AddrFrom4([4]byte(val[i:i+4])))
		}
		a.ClusterList = cl
	case AttrMPReach:
		u.decodeMPReach(val, raw, o, es)
		return // not an Attrs member
	case AttrMPUnreach:
		u.decodeMPUnreach(val, raw, o, es)
		return
	case AttrExtCommunities:
		// RFC 7606 §7.14: length 0 or not a multiple of 8 →
		// treat-as-withdraw.
		if len(val) == 0 || len(val)%8 != 0 {
			taw(UpdateOptionalAttr, "length %d is not a positive multiple of 8", len(val))
			return
		}
		x := a.ExtCommunities[:0]
		for i := 0; i < len(val); i += 8 {
			x = append(x, ExtCommunity(val[i:i+8]))
		}
		a.ExtCommunities = x
	case AttrLargeCommunities:
		// RFC 8092 §6: "A receiving BGP speaker SHALL consider ... a
		// length that is not a non-zero multiple of 12 ... malformed and
		// ... 'treat-as-withdraw'".
		if len(val) == 0 || len(val)%12 != 0 {
			taw(UpdateOptionalAttr, "length %d is not a positive multiple of 12", len(val))
			return
		}
		x := a.LargeCommunities[:0]
		for i := 0; i < len(val); i += 12 {
			x = append(x, LargeCommunity{binary.BigEndian.Uint32(val[i:]), binary.BigEndian.Uint32(val[i+4:]), binary.BigEndian.Uint32(val[i+8:])})
		}
		a.LargeCommunities = x
	case AttrAS4Path:
		// RFC 6793 §4.1: a NEW speaker that receives AS4_PATH from a NEW
		// speaker "SHALL discard" it; kept only on 2-octet sessions.
		if o != nil && o.AS4 {
			return
		}
		segs, err := decodeASPath(a.AS4Path, val, 4)
		a.AS4Path = segs
		if err == nil {
			for _, s := range segs {
				if s.Type == ASConfedSequence || s.Type == ASConfedSet {
					err = fmt.Errorf("confederation segment in AS4_PATH")
				}
			}
		}
		if err != nil {
			// RFC 6793 §6: a malformed AS4_PATH is handled by "attribute
			// discard".
			a.AS4Path = a.AS4Path[:0]
			discard("%v", err)
			return
		}
	case AttrAS4Aggregator:
		if o != nil && o.AS4 {
			return
		}
		// RFC 6793 §6: length other than 8 → "attribute discard".
		if len(val) != 8 {
			discard("length %d, want 8", len(val))
			return
		}
		ag, ok := decodeAggregator(val)
		if !ok {
			discard("aggregator AS 0")
			return
		}
		a.AS4Aggregator = ag
	}
	a.Set(t)
}

func decodeAggregator(v []byte) (Aggregator, bool) {
	var as uint32
	if len(v) == 8 {
		as = binary.BigEndian.Uint32(v)
	} else {
		as = uint32(binary.BigEndian.Uint16(v))
	}
	ip := v[len(v)-4:]
	return Aggregator{AS: as, Addr: netip.AddrFrom4([4]byte(ip))}, as != 0
}
