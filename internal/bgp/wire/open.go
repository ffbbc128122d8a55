package wire

import (
	"encoding/binary"
	"fmt"
	"net/netip"
)

// Optional parameter types (RFC 5492 §4, RFC 9072 §2).
const (
	ParamCapabilities uint8 = 2
	paramExtended     uint8 = 255
)

// AppendOpen appends a complete OPEN message. Capabilities are written in
// one Capabilities optional parameter; the RFC 9072 extended optional
// parameters format is used when m.ExtendedParams is set or the parameters
// exceed 255 bytes.
func AppendOpen(b []byte, m *Open) ([]byte, error) {
	if !m.BGPID.Is4() {
		return b, fmt.Errorf("wire: OPEN BGP Identifier %v is not an IPv4 address", m.BGPID)
	}
	b, off := beginMsg(b, MsgOpen)
	v := m.Version
	if v == 0 {
		v = Version
	}
	id := m.BGPID.As4()
	b = append(b, v, byte(m.MyAS>>8), byte(m.MyAS), byte(m.HoldTime>>8), byte(m.HoldTime), id[0], id[1], id[2], id[3])
	lenOff := len(b)
	ext := m.ExtendedParams
	if ext {
		// RFC 9072 §2: Non-Ext OP Len 255, Non-Ext OP Type 255, then a
		// 2-octet Extended Opt. Parm. Length; parameter lengths are 2 octets.
		b = append(b, 255, paramExtended, 0, 0)
	} else {
		b = append(b, 0)
	}
	pstart := len(b)
	b = appendCapParam(b, &m.Caps, ext)
	plen := len(b) - pstart
	if !ext && plen > 255 {
		// Too long for the classic format: redo with RFC 9072.
		b = b[:lenOff]
		b = append(b, 255, paramExtended, 0, 0)
		pstart = len(b)
		b = appendCapParam(b, &m.Caps, true)
		plen = len(b) - pstart
		ext = true
	}
	if ext {
		binary.BigEndian.PutUint16(b[lenOff+2:], uint16(plen))
	} else {
		b[lenOff] = byte(plen)
	}
	return endMsg(b, off, MaxMessageLen)
}

// appendCapParam appends one Capabilities optional parameter holding all
// capabilities, or nothing if there are none.
func appendCapParam(b []byte, c *Capabilities, ext bool) []byte {
	start := len(b)
	if ext {
		b = append(b, ParamCapabilities, 0, 0)
	} else {
		b = append(b, ParamCapabilities, 0)
	}
	vstart := len(b)
	b = AppendCapabilities(b, c)
	n := len(b) - vstart
	if n == 0 {
		return b[:start]
	}
	if ext {
		binary.BigEndian.PutUint16(b[start+1:], uint16(n))
	} else {
		if n > 255 {
			return b // caller detects plen > 255 and retries with ext
		}
		b[start+1] = byte(n)
	}
	return b
}

// Decode decodes an OPEN body (RFC 4271 §4.2, §6.2).
func (m *Open) Decode(body []byte) error {
	if len(body) < 10 {
		return errf(NotifMessageHeader, HeaderBadLength, nil, "OPEN body is %d bytes, need 10", len(body))
	}
	m.Version = body[0]
	m.MyAS = binary.BigEndian.Uint16(body[1:])
	m.HoldTime = binary.BigEndian.Uint16(body[3:])
	m.BGPID = netip.AddrFrom4([4]byte(body[5:9]))
	m.Caps.Reset()
	m.ExtendedParams = false
	// RFC 4271 §6.2: "If the version number in the Version field of the
	// received OPEN message is not supported, then the Error Subcode MUST be
	// set to Unsupported Version Number. The Data field is a 2-octet
	// unsigned integer, which indicates the largest, locally-supported
	// version number less than the version the remote BGP peer bid".
	if m.Version != Version {
		return errf(NotifOpen, OpenUnsupportedVersion, []byte{0, Version}, "peer speaks BGP version %d, kbgp speaks %d", m.Version, Version)
	}
	// RFC 4271 §6.2: "If the Hold Time field of the OPEN message is
	// unacceptable, then the Error Subcode MUST be set to Unacceptable Hold
	// Time. An implementation MUST reject Hold Time values of one or two
	// seconds."
	if m.HoldTime == 1 || m.HoldTime == 2 {
		return errf(NotifOpen, OpenUnacceptableHoldTime, nil, "hold time %d s (must be 0 or at least 3)", m.HoldTime)
	}
	// RFC 4271 §6.2: "If the BGP Identifier field of the OPEN message is
	// syntactically incorrect, then the Error Subcode MUST be set to Bad BGP
	// Identifier." RFC 6286 §2.1 makes any non-zero value valid.
	if m.BGPID.As4() == [4]byte{} {
		return errf(NotifOpen, OpenBadBGPID, nil, "BGP Identifier is 0.0.0.0")
	}
	plen := int(body[9])
	params := body[10:]
	ext := false
	// RFC 9072 §2: "If the value of the Non-Ext OP Type field is 255 ...
	// the Extended Opt. Parm. Length field [follows]" and "In parsing an OPEN
	// message, if the one-octet Optional Parameters Length field ... is
	// non-zero, a BGP speaker MUST use the value of the octet following the
	// one-octet Optional Parameters Length field ... to determine both the
	// encoding of the Optional Parameters length and the size of the
	// Parameter Length field".
	if plen != 0 && len(params) > 0 && params[0] == paramExtended {
		if len(params) < 3 {
			return errf(NotifOpen, 0, nil, "extended optional parameters length truncated (RFC 9072)")
		}
		ext = true
		m.ExtendedParams = true
		plen = int(binary.BigEndian.Uint16(params[1:]))
		params = params[3:]
	}
	// RFC 4271 §6.2 / RFC 9072 §2: a parameter length that overruns the
	// message is an OPEN Message Error (subcode unspecific).
	if plen != len(params) {
		return errf(NotifOpen, 0, nil, "optional parameters length %d, but %d bytes follow", plen, len(params))
	}
	for len(params) > 0 {
		hl := 2
		if ext {
			hl = 3
		}
		if len(params) < hl {
			return errf(NotifOpen, 0, nil, "optional parameter header truncated (%d bytes left)", len(params))
		}
		typ := params[0]
		var l int
		if ext {
			l = int(binary.BigEndian.Uint16(params[1:]))
		} else {
			l = int(params[1])
		}
		params = params[hl:]
		if l > len(params) {
			return errf(NotifOpen, 0, nil, "optional parameter type %d length %d overruns the %d bytes left", typ, l, len(params))
		}
		val := params[:l:l]
		params = params[l:]
		// RFC 4271 §6.2: "If one of the Optional Parameters in the OPEN
		// message is not recognized, then the Error Subcode MUST be set to
		// Unsupported Optional Parameters."
		if typ != ParamCapabilities {
			return errf(NotifOpen, OpenUnsupportedOptParam, nil, "unsupported optional parameter type %d", typ)
		}
		if err := m.Caps.decode(val); err != nil {
			return err
		}
	}
	return nil
}

// ASN returns the speaker's AS: the 4-octet AS capability if present
// (RFC 6793 §3), else My Autonomous System.
func (m *Open) ASN() uint32 {
	if m.Caps.HasFourOctetAS {
		return m.Caps.FourOctetAS
	}
	return uint32(m.MyAS)
}
