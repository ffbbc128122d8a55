package wire

import (
	"encoding/binary"
	"fmt"
)

// Reset clears a for reuse, keeping the backing arrays of its slices.
func (a *Attrs) Reset() {
	*a = Attrs{
		ASPath:           a.ASPath[:0],
		AS4Path:          a.AS4Path[:0],
		Communities:      a.Communities[:0],
		ClusterList:      a.ClusterList[:0],
		ExtCommunities:   a.ExtCommunities[:0],
		LargeCommunities: a.LargeCommunities[:0],
		Unknown:          a.Unknown[:0],
	}
}

// reset clears u for a new Decode, keeping storage for reuse.
func (u *Update) reset() {
	u.Withdrawn = u.Withdrawn[:0]
	u.NLRI = u.NLRI[:0]
	u.Attrs.Reset()
	if u.MPReach != nil {
		u.spareReach = u.MPReach
		u.MPReach = nil
	}
	if u.MPUnreach != nil {
		u.spareUnreach = u.MPUnreach
		u.MPUnreach = nil
	}
}

// nlriLists calls fn with each of u's NLRI lists, the spare MP lists kept
// for reuse included.
func (u *Update) nlriLists(fn func(*[]NLRI)) {
	fn(&u.Withdrawn)
	fn(&u.NLRI)
	for _, r := range [...]*MPReach{u.MPReach, u.spareReach} {
		if r != nil {
			fn(&r.NLRI)
		}
	}
	for _, r := range [...]*MPUnreach{u.MPUnreach, u.spareUnreach} {
		if r != nil {
			fn(&r.NLRI)
		}
	}
}

// NLRICap is how many NLRI u's lists can hold, the spare MP lists kept
// for reuse included: what a reused Update keeps allocated for prefixes.
func (u *Update) NLRICap() int {
	n := 0
	u.nlriLists(func(l *[]NLRI) { n += cap(*l) })
	return n
}

// TrimNLRI drops the NLRI lists (spare MP lists included) that can hold
// more than max prefixes, so that a reused Update does not keep what one
// large UPDATE grew. Call it between uses: the lists are emptied.
func (u *Update) TrimNLRI(max int) {
	u.nlriLists(func(l *[]NLRI) {
		if cap(*l) > max {
			*l = nil
		} else {
			*l = (*l)[:0]
		}
	})
}

// Decode decodes an UPDATE body (RFC 4271 §4.3) with the error handling of
// RFC 7606. u's slices and MP structs are reused, so decoding into the
// same Update again does not allocate once it has grown; values in u alias
// body and are overwritten by the next Decode (copy what you keep with
// Clone).
//
// On error the returned *Error carries the most severe action; less severe
// ones are in its Others. With ActionTreatAsWithdraw all NLRI (Withdrawn,
// NLRI, MPReach.NLRI, MPUnreach.NLRI) are decoded so the caller can
// withdraw them; with ActionAttrDiscard the UPDATE is complete without the
// discarded attributes. With ActionSessionReset u may be partial.
//
// On a 2-octet AS session (o.AS4 false) AS4_PATH and AS4_AGGREGATOR are
// merged into ASPath and Aggregator per RFC 6793 §4.2.3 and then cleared
// (AS4Path empty, Has(AttrAS4Path) false).
func (u *Update) Decode(body []byte, o *Options) error {
	u.reset()
	if len(body) < 4 {
		return errf(NotifUpdate, UpdateMalformedAttrList, nil, "UPDATE body is %d bytes, need 4", len(body))
	}
	// RFC 4271 §6.3: "Error checking of an UPDATE message begins by
	// examining the path attributes. If the Withdrawn Routes Length or
	// Total Attribute Length is too large (i.e., if Withdrawn Routes Length
	// + Total Attribute Length + 23 exceeds the message Length), then the
	// Error Subcode MUST be set to Malformed Attribute List."
	wl := int(binary.BigEndian.Uint16(body))
	if wl > len(body)-4 {
		return errf(NotifUpdate, UpdateMalformedAttrList, nil, "withdrawn routes length %d overruns the %d-byte UPDATE body", wl, len(body))
	}
	wd := body[2 : 2+wl]
	al := int(binary.BigEndian.Uint16(body[2+wl:]))
	rest := body[4+wl:]
	if al > len(rest) {
		return errf(NotifUpdate, UpdateMalformedAttrList, nil, "total path attribute length %d overruns the %d bytes left", al, len(rest))
	}
	attrs, nlri := rest[:al], rest[al:]
	v4ap := o.addPath(IPv4Unicast)
	var err error
	// RFC 7606 §5.3: NLRI (and withdrawn routes) that cannot be parsed —
	// a prefix length over the family's maximum or running past the field
	// — mean the message is malformed beyond treat-as-withdraw: "session
	// reset" (RFC 4271 §6.3: "If the NLRI field is syntactically
	// incorrect, then the Error Subcode MUST be set to Invalid Network
	// Field").
	if u.Withdrawn, err = decodeNLRI(u.Withdrawn, wd, AFIIPv4, v4ap); err != nil {
		return errf(NotifUpdate, UpdateInvalidNetwork, nil, "withdrawn routes: %v", err)
	}
	if u.NLRI, err = decodeNLRI(u.NLRI, nlri, AFIIPv4, v4ap); err != nil {
		return errf(NotifUpdate, UpdateInvalidNetwork, nil, "NLRI: %v", err)
	}
	var es errState
	framing := u.decodeAttrs(attrs, o, &es)
	a := &u.Attrs
	if es.action() < ActionSessionReset {
		hasReach := len(u.NLRI) > 0 || (u.MPReach != nil && (len(u.MPReach.NLRI) > 0 || len(u.MPReach.RawNLRI) > 0))
		// RFC 7606 §3(d): "If any of the well-known mandatory attributes
		// are not present in an UPDATE message, then 'treat-as-withdraw'
		// MUST be used." They are mandatory only with reachable NLRI
		// (RFC 7606 §3(j): an UPDATE with only MP_UNREACH need not carry
		// other attributes), and NEXT_HOP only for the NLRI field
		// (RFC 4760 §3).
		if hasReach && !framing {
			var missing AttrType
			switch {
			case !a.Has(AttrOrigin):
				missing = AttrOrigin
			case !a.Has(AttrASPath):
				missing = AttrASPath
			case len(u.NLRI) > 0 && !a.Has(AttrNextHop):
				missing = AttrNextHop
			}
			if missing != 0 && !es.hasAttr(missing) {
				es.add(attrErr(ActionTreatAsWithdraw, UpdateMissingWellKnown, missing, []byte{byte(missing)}, "missing well-known attribute %v", missing))
			}
		}
		// RFC 7606 §5.2 (and FRR #22563): treat-as-withdraw for an
		// attribute list whose lengths do not add up is safe only when the
		// routes can be found; with no reachable NLRI a hidden
		// MP_REACH_NLRI may have been lost, so reset the session.
		if framing && !hasReach && es.action() == ActionTreatAsWithdraw {
			w := es.worst
			es.add(&Error{Code: NotifUpdate, Subcode: UpdateMalformedAttrList, Data: nil, Action: ActionSessionReset, Attr: w.Attr,
				Reason: "attribute list is inconsistent and the UPDATE has no NLRI to withdraw"})
		}
	}
	if o == nil || !o.AS4 {
		u.mergeAS4()
	}
	return es.err()
}

func (s *errState) hasAttr(t AttrType) bool {
	if s.worst != nil && s.worst.Attr == t {
		return true
	}
	for _, e := range s.others {
		if e.Attr == t {
			return true
		}
	}
	return false
}

// decodeAttrs walks the path attributes. It reports whether the attribute
// framing itself was inconsistent (RFC 7606 §4).
func (u *Update) decodeAttrs(b []byte, o *Options, es *errState) (framing bool) {
	var seen [4]uint64
	for len(b) > 0 {
		// RFC 7606 §4: "fewer than three octets remain (or fewer than four
		// octets, if the Attribute Flags field has the Extended Length bit
		// set) when beginning to parse the attribute" and "the length of
		// the last encountered path attribute would cause the Total
		// Attribute Length to be exceeded ... In either of these cases, an
		// error condition exists and the 'treat-as-withdraw' approach MUST
		// be used ... and the Total Attribute Length MUST be relied upon to
		// enable the beginning of the NLRI field to be located."
		hl := 3
		if b[0]&FlagExtLen != 0 {
			hl = 4
		}
		if len(b) < hl {
			es.add(attrErr(ActionTreatAsWithdraw, UpdateMalformedAttrList, 0, nil, "%d trailing bytes cannot hold an attribute header", len(b)))
			return true
		}
		flags, t := b[0], AttrType(b[1])
		l := int(b[2])
		if hl == 4 {
			l = int(binary.BigEndian.Uint16(b[2:]))
		}
		if l > len(b)-hl {
			es.add(attrErr(ActionTreatAsWithdraw, UpdateAttrLength, t, b[:min(len(b), hl+16)], "length %d overruns the %d bytes left in the attribute list", l, len(b)-hl))
			// An MP attribute cut short hides NLRI: RFC 7606 §7.11.
			if t == AttrMPReach || t == AttrMPUnreach {
				es.add(attrErr(ActionSessionReset, UpdateAttrLength, t, nil, "length %d overruns the attribute list", l))
			}
			return true
		}
		raw := b[: hl+l : hl+l]
		val := b[hl : hl+l : hl+l]
		b = b[hl+l:]
		if seen[t>>6]&(1<<(t&63)) != 0 {
			// RFC 7606 §3(g): "If the MP_REACH_NLRI attribute or the
			// MP_UNREACH_NLRI attribute appears more than once in the UPDATE
			// message, then a NOTIFICATION message MUST be sent with the
			// Error Subcode 'Malformed Attribute List'. If any other
			// attribute ... appears more than once ..., then all the
			// occurrences of the attribute other than the first one SHALL
			// be discarded".
			if t == AttrMPReach || t == AttrMPUnreach {
				es.add(attrErr(ActionSessionReset, UpdateMalformedAttrList, t, nil, "%v appears more than once", t))
			}
			continue
		}
		seen[t>>6] |= 1 << (t & 63)
		u.decodeAttr(flags, t, val, raw, o, es)
	}
	return false
}

// mergeAS4 applies RFC 6793 §4.2.3 on a 2-octet session.
func (u *Update) mergeAS4() {
	a := &u.Attrs
	hasA4P := a.Has(AttrAS4Path)
	hasA4A := a.Has(AttrAS4Aggregator)
	if !hasA4P && !hasA4A {
		return
	}
	defer func() {
		a.AS4Path = a.AS4Path[:0]
		a.AS4Aggregator = Aggregator{}
		a.Clear(AttrAS4Path)
		a.Clear(AttrAS4Aggregator)
	}()
	// RFC 6793 §4.2.3: "If the AGGREGATOR attribute is present and its AS
	// number is not AS_TRANS, then: the AS4_AGGREGATOR attribute and the
	// AS4_PATH attribute SHALL be ignored".
	if a.Has(AttrAggregator) && a.Aggregator.AS != ASTrans {
		return
	}
	if a.Has(AttrAggregator) && hasA4A {
		a.Aggregator = a.AS4Aggregator
	}
	if hasA4P && a.Has(AttrASPath) {
		merged := mergeAS4Path(u.as4Scratch, a.ASPath, a.AS4Path)
		if merged != nil {
			u.as4Scratch, a.ASPath = a.ASPath, merged
		}
	}
}

// Clone returns a deep copy of a that shares no memory with a or with the
// buffer a was decoded from.
func (a *Attrs) Clone() Attrs {
	c := *a
	c.ASPath = cloneSegs(a.ASPath)
	c.AS4Path = cloneSegs(a.AS4Path)
	c.Communities = cloneSlice(a.Communities)
	c.ClusterList = cloneSlice(a.ClusterList)
	c.ExtCommunities = cloneSlice(a.ExtCommunities)
	c.LargeCommunities = cloneSlice(a.LargeCommunities)
	if a.Unknown != nil {
		c.Unknown = make([]RawAttr, len(a.Unknown))
		for i, r := range a.Unknown {
			r.Value = cloneSlice(r.Value)
			c.Unknown[i] = r
		}
	}
	return c
}

// Clone returns a deep copy of u that shares no memory with u or with the
// buffer u was decoded from.
func (u *Update) Clone() *Update {
	c := &Update{Withdrawn: cloneSlice(u.Withdrawn), Attrs: u.Attrs.Clone(), NLRI: cloneSlice(u.NLRI)}
	if m := u.MPReach; m != nil {
		c.MPReach = &MPReach{Family: m.Family, NextHop: m.NextHop, LinkLocal: m.LinkLocal,
			NLRI: cloneSlice(m.NLRI), RawNextHop: cloneSlice(m.RawNextHop), RawNLRI: cloneSlice(m.RawNLRI)}
	}
	if m := u.MPUnreach; m != nil {
		c.MPUnreach = &MPUnreach{Family: m.Family, NLRI: cloneSlice(m.NLRI), RawNLRI: cloneSlice(m.RawNLRI)}
	}
	return c
}

func cloneSlice[T any](s []T) []T {
	if s == nil {
		return nil
	}
	return append(make([]T, 0, len(s)), s...)
}

func cloneSegs(s []ASPathSegment) []ASPathSegment {
	if s == nil {
		return nil
	}
	c := make([]ASPathSegment, len(s))
	for i, g := range s {
		c[i] = ASPathSegment{Type: g.Type, ASNs: cloneSlice(g.ASNs)}
	}
	return c
}

// maxLen returns the message size limit under o.
func (o *Options) maxLen() int {
	if o != nil && o.ExtendedMessage {
		return MaxExtMessageLen
	}
	return MaxMessageLen
}

// AppendUpdate appends a complete UPDATE message: MP_REACH_NLRI and
// MP_UNREACH_NLRI first (RFC 7606 §5.1), then the other attributes in
// ascending type order. It fails (leaving b as it was) when the message
// would exceed the negotiated maximum size; split the NLRI across several
// UPDATEs then. Senders should also follow RFC 7606 §5.1's "An UPDATE
// message MUST NOT contain more than one of the following: non-empty
// Withdrawn Routes field, non-empty Network Layer Reachability Information
// field, MP_REACH_NLRI attribute, and MP_UNREACH_NLRI attribute"; the
// encoder does not enforce it so that received UPDATEs can be re-encoded.
func AppendUpdate(b []byte, u *Update, o *Options) ([]byte, error) {
	// RFC 4271 §5: NEXT_HOP is mandatory with NLRI in the NLRI field, and
	// it is an IPv4 address (RFC 4271 §5.1.3); an IPv6 next hop for IPv4
	// routes goes in MP_REACH_NLRI (RFC 8950).
	if len(u.NLRI) > 0 && (!u.Attrs.Has(AttrNextHop) || !u.Attrs.NextHop.Is4()) {
		return b, fmt.Errorf("wire: UPDATE with %d IPv4 NLRI needs an IPv4 NEXT_HOP, have %v (use MPReach for an IPv6 next hop)", len(u.NLRI), u.Attrs.NextHop)
	}
	b, off := beginMsg(b, MsgUpdate)
	v4ap := o.addPath(IPv4Unicast)
	wo := len(b)
	b = append(b, 0, 0)
	b = AppendNLRI(b, u.Withdrawn, v4ap)
	binary.BigEndian.PutUint16(b[wo:], uint16(len(b)-wo-2))
	ao := len(b)
	b = append(b, 0, 0)
	b = appendAttrs(b, &u.Attrs, o, u.MPReach, u.MPUnreach)
	if n := len(b) - ao - 2; n > 0xffff {
		return b[:off], fmt.Errorf("wire: path attributes are %d bytes, over 65535", n)
	}
	binary.BigEndian.PutUint16(b[ao:], uint16(len(b)-ao-2))
	b = AppendNLRI(b, u.NLRI, v4ap)
	return endMsg(b, off, o.maxLen())
}

// AppendAttrs appends the path attribute TLVs of a (no MP_REACH/MP_UNREACH)
// in ascending type order, as AppendUpdate writes them after the MP
// attributes.
func AppendAttrs(b []byte, a *Attrs, o *Options) ([]byte, error) {
	start := len(b)
	b = appendAttrs(b, a, o, nil, nil)
	if len(b)-start > 0xffff {
		return b[:start], fmt.Errorf("wire: path attributes are %d bytes, over 65535", len(b)-start)
	}
	return b, nil
}

// IsEndOfRIB reports whether u is an End-of-RIB marker and for which family
// (RFC 4724 §2: "An UPDATE message with no reachable Network Layer
// Reachability Information (NLRI) and empty withdrawn NLRI is specified as
// the End-of-RIB marker ... For the IPv4 unicast address family, the
// End-of-RIB marker is an UPDATE message with the minimum length ... For
// any other address family, it is an UPDATE message that contains only the
// MP_UNREACH_NLRI attribute ... with no withdrawn routes for that <AFI,
// SAFI>.").
func IsEndOfRIB(u *Update) (Family, bool) {
	if len(u.Withdrawn) > 0 || len(u.NLRI) > 0 || u.MPReach != nil || u.Attrs.anyPresent() {
		return Family{}, false
	}
	if u.MPUnreach == nil {
		return IPv4Unicast, true
	}
	if len(u.MPUnreach.NLRI) == 0 && len(u.MPUnreach.RawNLRI) == 0 {
		return u.MPUnreach.Family, true
	}
	return Family{}, false
}

// AppendEndOfRIB appends the End-of-RIB marker for f (RFC 4724 §2).
func AppendEndOfRIB(b []byte, f Family) []byte {
	if f == IPv4Unicast {
		return append(AppendHeader(b, MsgUpdate, 4), 0, 0, 0, 0)
	}
	b = AppendHeader(b, MsgUpdate, 10)
	return append(b, 0, 0, 0, 6, FlagOptional, byte(AttrMPUnreach), 3, byte(f.AFI>>8), byte(f.AFI), byte(f.SAFI))
}

func (a *Attrs) anyPresent() bool {
	return a.present != [4]uint64{}
}
