package wire

import "encoding/binary"

// capRouteRefreshCisco is the pre-standard route refresh capability code
// some Cisco releases still send; it means the same as CapRouteRefresh.
const capRouteRefreshCisco CapCode = 128

// Reset clears c for reuse.
func (c *Capabilities) Reset() { *c = Capabilities{} }

func beginCap(b []byte, code CapCode) ([]byte, int) {
	return append(b, byte(code), 0), len(b)
}

// endCap back-patches the length of the capability started at off.
// Capability lengths are one octet (RFC 5492 §4); a longer value is cut at
// a tuple boundary by the callers' limits, so this only guards.
func endCap(b []byte, off int) []byte {
	n := len(b) - off - 2
	if n > 255 {
		n = 255
		b = b[:off+2+255]
	}
	b[off+1] = byte(n)
	return b
}

// AppendCapabilities appends the capability TLVs of c (RFC 5492 §4) in
// ascending code order, one Multiprotocol capability per family (RFC 4760
// §8) and one TLV for each list capability.
func AppendCapabilities(b []byte, c *Capabilities) []byte {
	var off int
	for _, f := range c.Multiprotocol {
		b = append(b, byte(CapMultiprotocol), 4, byte(f.AFI>>8), byte(f.AFI), 0, byte(f.SAFI))
	}
	if c.RouteRefresh {
		b = append(b, byte(CapRouteRefresh), 0)
	}
	if len(c.ExtendedNextHop) > 0 {
		b, off = beginCap(b, CapExtendedNextHop)
		for _, t := range c.ExtendedNextHop {
			// RFC 8950 §3: NLRI AFI (2), NLRI SAFI (2), Nexthop AFI (2).
			b = append(b, byte(t.Family.AFI>>8), byte(t.Family.AFI), 0, byte(t.Family.SAFI), byte(t.NextHopAFI>>8), byte(t.NextHopAFI))
		}
		b = endCap(b, off)
	}
	if c.ExtendedMessage {
		b = append(b, byte(CapExtendedMessage), 0)
	}
	if gr := c.GracefulRestart; gr != nil {
		b, off = beginCap(b, CapGracefulRestart)
		// RFC 4724 §3 / RFC 8538 §2: Restart Flags (4 bits: R=8, N=4) and
		// Restart Time (12 bits); then per AFI/SAFI a flags octet (F=0x80).
		v := gr.Time & 0x0fff
		if gr.Restarting {
			v |= 0x8000
		}
		if gr.Notification {
			v |= 0x4000
		}
		b = append(b, byte(v>>8), byte(v))
		for _, f := range gr.Families {
			b = append(b, byte(f.Family.AFI>>8), byte(f.Family.AFI), byte(f.Family.SAFI), fbit(f.Forwarding))
		}
		b = endCap(b, off)
	}
	if c.HasFourOctetAS {
		b = append(b, byte(CapFourOctetAS), 4)
		b = binary.BigEndian.AppendUint32(b, c.FourOctetAS)
	}
	if len(c.AddPath) > 0 {
		b, off = beginCap(b, CapAddPath)
		for _, t := range c.AddPath {
			// RFC 7911 §4: AFI (2), SAFI (1), Send/Receive (1).
			b = append(b, byte(t.Family.AFI>>8), byte(t.Family.AFI), byte(t.Family.SAFI), byte(t.Mode))
		}
		b = endCap(b, off)
	}
	if c.EnhancedRouteRefresh {
		b = append(b, byte(CapEnhancedRouteRefresh), 0)
	}
	if c.HasLongLivedGR || len(c.LongLivedGR) > 0 {
		b, off = beginCap(b, CapLongLivedGR)
		for _, t := range c.LongLivedGR {
			// RFC 9494 §3: AFI (2), SAFI (1), Flags (1, F=0x80),
			// Long-lived Stale Time (3).
			s := t.StaleTime & 0xffffff
			b = append(b, byte(t.Family.AFI>>8), byte(t.Family.AFI), byte(t.Family.SAFI), fbit(t.Forwarding), byte(s>>16), byte(s>>8), byte(s))
		}
		b = endCap(b, off)
	}
	if c.HasFQDN {
		b, off = beginCap(b, CapFQDN)
		// The value (two length octets, host name, domain name) must fit
		// the one-octet capability length: 253 octets of names in all.
		h, d := c.Hostname, c.DomainName
		if len(h) > 253 {
			h = h[:253]
		}
		if len(d) > 253-len(h) {
			d = d[:253-len(h)]
		}
		b = append(b, byte(len(h)))
		b = append(b, h...)
		b = append(b, byte(len(d)))
		b = append(b, d...)
		b = endCap(b, off)
	}
	for _, u := range c.Unknown {
		v := u.Value
		if len(v) > 255 {
			v = v[:255]
		}
		b = append(b, byte(u.Code), byte(len(v)))
		b = append(b, v...)
	}
	return b
}

func fbit(f bool) byte {
	if f {
		return 0x80
	}
	return 0
}

func capErr(code CapCode, format string, args ...any) *Error {
	e := errf(NotifOpen, 0, nil, format, args...)
	e.Reason = "capability " + code.String() + ": " + e.Reason
	return e
}

// decode decodes the value of one Capabilities optional parameter, adding
// to c. Repeated list capabilities accumulate their tuples (RFC 5492 §4: "a
// BGP speaker MAY include more than one instance of a capability ...").
func (c *Capabilities) decode(b []byte) error {
	for len(b) > 0 {
		if len(b) < 2 {
			return errf(NotifOpen, 0, nil, "capability header truncated (%d byte left)", len(b))
		}
		code, l := CapCode(b[0]), int(b[1])
		if l > len(b)-2 {
			return capErr(code, "length %d overruns the optional parameter (%d bytes left)", l, len(b)-2)
		}
		v := b[2 : 2+l : 2+l]
		b = b[2+l:]
		if err := c.decodeOne(code, v); err != nil {
			return err
		}
	}
	return nil
}

func (c *Capabilities) decodeOne(code CapCode, v []byte) error {
	switch code {
	case CapMultiprotocol:
		// RFC 4760 §8: AFI (2), Reserved (1), SAFI (1).
		if len(v) != 4 {
			return capErr(code, "length %d, want 4", len(v))
		}
		f := Family{AFI(binary.BigEndian.Uint16(v)), SAFI(v[3])}
		for _, g := range c.Multiprotocol {
			if g == f {
				return nil
			}
		}
		c.Multiprotocol = append(c.Multiprotocol, f)
	case CapRouteRefresh, capRouteRefreshCisco:
		// RFC 2918 §2: capability length 0. Be lenient on the value.
		c.RouteRefresh = true
	case CapEnhancedRouteRefresh:
		c.EnhancedRouteRefresh = true
	case CapExtendedMessage:
		c.ExtendedMessage = true
	case CapExtendedNextHop:
		if len(v)%6 != 0 {
			return capErr(code, "length %d is not a multiple of 6", len(v))
		}
		for ; len(v) > 0; v = v[6:] {
			t := ExtNextHopFamily{
				Family:     Family{AFI(binary.BigEndian.Uint16(v)), SAFI(binary.BigEndian.Uint16(v[2:]))},
				NextHopAFI: AFI(binary.BigEndian.Uint16(v[4:])),
			}
			if binary.BigEndian.Uint16(v[2:]) > 255 {
				continue // SAFI does not fit; not a family kbgp knows
			}
			c.ExtendedNextHop = appendUnique(c.ExtendedNextHop, t, func(a, b ExtNextHopFamily) bool { return a == b })
		}
	case CapGracefulRestart:
		// RFC 4724 §3: 2 octets, then 4 per AFI/SAFI.
		if len(v) < 2 || (len(v)-2)%4 != 0 {
			return capErr(code, "length %d, want 2+4n", len(v))
		}
		gr := c.GracefulRestart
		if gr == nil {
			gr = &GracefulRestart{}
			c.GracefulRestart = gr
		}
		x := binary.BigEndian.Uint16(v)
		gr.Restarting = x&0x8000 != 0
		gr.Notification = x&0x4000 != 0
		gr.Time = x & 0x0fff
		for v = v[2:]; len(v) > 0; v = v[4:] {
			t := GRFamily{Family{AFI(binary.BigEndian.Uint16(v)), SAFI(v[2])}, v[3]&0x80 != 0}
			gr.Families = appendUnique(gr.Families, t, func(a, b GRFamily) bool { return a.Family == b.Family })
		}
	case CapFourOctetAS:
		// RFC 6793 §3: "the length of the capability ... 4".
		if len(v) != 4 {
			return capErr(code, "length %d, want 4", len(v))
		}
		c.HasFourOctetAS = true
		c.FourOctetAS = binary.BigEndian.Uint32(v)
	case CapAddPath:
		// RFC 7911 §4: tuples of AFI (2), SAFI (1), Send/Receive (1).
		if len(v)%4 != 0 {
			return capErr(code, "length %d is not a multiple of 4", len(v))
		}
		for ; len(v) > 0; v = v[4:] {
			t := AddPathFamily{Family{AFI(binary.BigEndian.Uint16(v)), SAFI(v[2])}, AddPathMode(v[3])}
			// RFC 7911 §4: "If any other value is received, then the
			// capability SHOULD be treated as not understood and ignored."
			if t.Mode < AddPathReceive || t.Mode > AddPathBoth {
				continue
			}
			c.AddPath = appendUnique(c.AddPath, t, func(a, b AddPathFamily) bool { return a.Family == b.Family })
		}
	case CapLongLivedGR:
		// RFC 9494 §3: tuples of 7 octets (CVE-2023-31489: check it).
		if len(v)%7 != 0 {
			return capErr(code, "length %d is not a multiple of 7", len(v))
		}
		c.HasLongLivedGR = true
		for ; len(v) > 0; v = v[7:] {
			t := LLGRFamily{
				Family:     Family{AFI(binary.BigEndian.Uint16(v)), SAFI(v[2])},
				Forwarding: v[3]&0x80 != 0,
				StaleTime:  uint32(v[4])<<16 | uint32(v[5])<<8 | uint32(v[6]),
			}
			c.LongLivedGR = appendUnique(c.LongLivedGR, t, func(a, b LLGRFamily) bool { return a.Family == b.Family })
		}
	case CapFQDN:
		// draft-walton-bgp-hostname-capability §3: hostname length (1),
		// hostname, domain name length (1), domain name.
		if len(v) < 1 || int(v[0])+2 > len(v) || int(v[0])+2+int(v[1+int(v[0])]) != len(v) {
			return capErr(code, "inconsistent hostname/domain lengths in %d bytes", len(v))
		}
		hl := int(v[0])
		c.HasFQDN = true
		c.Hostname = string(v[1 : 1+hl])
		c.DomainName = string(v[2+hl:])
	default:
		c.Unknown = append(c.Unknown, RawCapability{Code: code, Value: v})
	}
	return nil
}

// appendUnique appends t, replacing an existing element eq to it.
func appendUnique[T any](s []T, t T, eq func(a, b T) bool) []T {
	for i := range s {
		if eq(s[i], t) {
			s[i] = t
			return s
		}
	}
	return append(s, t)
}

// AddPathFor returns the ADD-PATH mode c advertises for f (0 if none).
func (c *Capabilities) AddPathFor(f Family) AddPathMode {
	for _, t := range c.AddPath {
		if t.Family == f {
			return t.Mode
		}
	}
	return 0
}

// HasFamily reports whether c advertises Multiprotocol for f. RFC 4760 §8:
// a speaker that sends no Multiprotocol capability supports IPv4 unicast only.
func (c *Capabilities) HasFamily(f Family) bool {
	if len(c.Multiprotocol) == 0 {
		return f == IPv4Unicast
	}
	for _, g := range c.Multiprotocol {
		if g == f {
			return true
		}
	}
	return false
}
