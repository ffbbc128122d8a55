package wire

import (
	"encoding/binary"
	"net/netip"
)

// routed reports whether kbgp decodes the NLRI of f (the unicast families).
func routed(f Family) bool { return f == IPv4Unicast || f == IPv6Unicast }

// decodeMPReach decodes MP_REACH_NLRI (RFC 4760 §3) into u.MPReach.
func (u *Update) decodeMPReach(val, raw []byte, o *Options, es *errState) {
	// RFC 7606 §7.11: "If the MP_REACH_NLRI attribute or the
	// MP_UNREACH_NLRI attribute ... cannot be parsed ... the 'session
	// reset' approach ... MUST be used" (there is no way to locate the NLRI
	// to withdraw). Next-hop length inconsistencies count as such.
	reset := func(sub uint8, format string, args ...any) {
		es.add(attrErr(ActionSessionReset, sub, AttrMPReach, raw, format, args...))
	}
	if len(val) < 5 {
		reset(UpdateMalformedAttrList, "length %d, need at least 5", len(val))
		return
	}
	f := Family{AFI(binary.BigEndian.Uint16(val)), SAFI(val[2])}
	nhl := int(val[3])
	if 4+nhl+1 > len(val) {
		reset(UpdateMalformedAttrList, "next hop length %d overruns the %d-byte attribute", nhl, len(val))
		return
	}
	nh := val[4 : 4+nhl : 4+nhl]
	// val[4+nhl] is the Reserved octet (formerly SNPA count): RFC 4760 §3
	// "MUST be set to 0 ... and SHOULD be ignored upon receipt".
	nlri := val[5+nhl:]
	m := u.spareReach
	if m == nil {
		m = &MPReach{}
	}
	u.spareReach = nil
	m.Family, m.NextHop, m.LinkLocal = f, netip.Addr{}, netip.Addr{}
	m.NLRI, m.RawNextHop, m.RawNLRI = m.NLRI[:0], nil, nil
	u.MPReach = m
	if !routed(f) {
		m.RawNextHop, m.RawNLRI = nh, nlri
		return
	}
	switch {
	case nhl == 4:
		// IPv4 next hop; for IPv6 NLRI this is not standard (RFC 2545 wants
		// an IPv6 or IPv4-mapped address) but ExaBGP sends it; the RIB
		// decides whether it can use it.
		m.NextHop = netip.AddrFrom4([4]byte(nh))
	case nhl == 16:
		// RFC 2545 §3 (IPv6), RFC 8950 §3 (IPv4 NLRI, IPv6 next hop).
		m.NextHop = netip.AddrFrom16([16]byte(nh))
	case nhl == 32:
		m.NextHop = netip.AddrFrom16([16]byte(nh[:16]))
		m.LinkLocal = netip.AddrFrom16([16]byte(nh[16:]))
	default:
		reset(UpdateMalformedAttrList, "next hop length %d is invalid for %v", nhl, f)
		return
	}
	var err error
	m.NLRI, err = decodeNLRI(m.NLRI, nlri, f.AFI, o.addPath(f))
	if err != nil {
		// RFC 4760 §7 / RFC 7606 §5.3: NLRI that cannot be parsed.
		reset(UpdateOptionalAttr, "%v NLRI: %v", f, err)
		return
	}
	// RFC 7606 §7.11 / RFC 4271 §6.3: a semantically invalid next hop is
	// treat-as-withdraw. An unspecified global address is accepted with a
	// link-local one (some speakers send only the link-local).
	if bad := badNextHop(m.NextHop, m.LinkLocal); bad {
		es.add(attrErr(ActionTreatAsWithdraw, UpdateInvalidNextHop, AttrMPReach, raw, "next hop %v is not a valid host address", m.NextHop))
	}
}

func badNextHop(nh, ll netip.Addr) bool {
	if nh.Is4() {
		return isMartian4(nh)
	}
	if nh.IsUnspecified() {
		return !ll.IsValid() || !ll.IsLinkLocalUnicast()
	}
	return nh.IsLoopback() || nh.IsMulticast()
}

// decodeMPUnreach decodes MP_UNREACH_NLRI (RFC 4760 §4) into u.MPUnreach.
func (u *Update) decodeMPUnreach(val, raw []byte, o *Options, es *errState) {
	if len(val) < 3 {
		es.add(attrErr(ActionSessionReset, UpdateMalformedAttrList, AttrMPUnreach, raw, "length %d, need at least 3", len(val)))
		return
	}
	f := Family{AFI(binary.BigEndian.Uint16(val)), SAFI(val[2])}
	m := u.spareUnreach
	if m == nil {
		m = &MPUnreach{}
	}
	u.spareUnreach = nil
	m.Family, m.NLRI, m.RawNLRI = f, m.NLRI[:0], nil
	u.MPUnreach = m
	if !routed(f) {
		m.RawNLRI = val[3:]
		return
	}
	var err error
	m.NLRI, err = decodeNLRI(m.NLRI, val[3:], f.AFI, o.addPath(f))
	if err != nil {
		// RFC 7606 §7.11 / §5.3: withdrawn routes that cannot be parsed
		// leave nothing to withdraw safely: session reset.
		es.add(attrErr(ActionSessionReset, UpdateOptionalAttr, AttrMPUnreach, raw, "%v withdrawn NLRI: %v", f, err))
	}
}

// appendMPReach appends the MP_REACH_NLRI attribute for m.
func appendMPReach(b []byte, m *MPReach, o *Options) []byte {
	b, off := beginAttr(b, FlagOptional, AttrMPReach)
	b = append(b, byte(m.Family.AFI>>8), byte(m.Family.AFI), byte(m.Family.SAFI))
	if !routed(m.Family) {
		b = append(b, byte(len(m.RawNextHop)))
		b = append(b, m.RawNextHop...)
		b = append(b, 0)
		b = append(b, m.RawNLRI...)
		return endAttr(b, off)
	}
	switch {
	case m.NextHop.Is4():
		a := m.NextHop.As4()
		b = append(b, 4, a[0], a[1], a[2], a[3])
	case m.LinkLocal.IsValid():
		a, l := m.NextHop.As16(), m.LinkLocal.As16()
		b = append(b, 32)
		b = append(b, a[:]...)
		b = append(b, l[:]...)
	case m.NextHop.IsValid():
		a := m.NextHop.As16()
		b = append(b, 16)
		b = append(b, a[:]...)
	default:
		b = append(b, 0)
	}
	b = append(b, 0) // Reserved
	b = AppendNLRI(b, m.NLRI, o.addPath(m.Family))
	return endAttr(b, off)
}

// appendMPUnreach appends the MP_UNREACH_NLRI attribute for m.
func appendMPUnreach(b []byte, m *MPUnreach, o *Options) []byte {
	b, off := beginAttr(b, FlagOptional, AttrMPUnreach)
	b = append(b, byte(m.Family.AFI>>8), byte(m.Family.AFI), byte(m.Family.SAFI))
	if !routed(m.Family) {
		b = append(b, m.RawNLRI...)
	} else {
		b = AppendNLRI(b, m.NLRI, o.addPath(m.Family))
	}
	return endAttr(b, off)
}
