package wire

import (
	"encoding/binary"
	"fmt"
)

// minLen is the minimum message length per type (RFC 4271 §4.2-§4.5,
// RFC 2918 §3).
func minLen(t MsgType) int {
	switch t {
	case MsgOpen:
		return 29
	case MsgUpdate:
		return 23
	case MsgNotification:
		return 21
	case MsgKeepalive:
		return 19
	case MsgRouteRefresh:
		return 23
	}
	return 0
}

// ParseHeader validates the 19-byte message header at the start of b and
// returns the total message length (header included) and the type. maxLen
// is the negotiated maximum (MaxMessageLen or MaxExtMessageLen). b must hold
// at least HeaderLen bytes; the body need not be present yet.
func ParseHeader(b []byte, maxLen int) (length int, typ MsgType, err error) {
	if len(b) < HeaderLen {
		return 0, 0, errf(NotifMessageHeader, HeaderBadLength, nil, "header is %d bytes, need %d", len(b), HeaderLen)
	}
	// RFC 4271 §6.1: "If at least one of the following is true: if the
	// Marker field of the message header is not all ones ... the Error
	// Subcode MUST be set to Connection Not Synchronized."
	for _, c := range b[:16] {
		if c != 0xff {
			return 0, 0, errf(NotifMessageHeader, HeaderNotSynchronized, nil, "marker is not all ones")
		}
	}
	length = int(binary.BigEndian.Uint16(b[16:18]))
	typ = MsgType(b[18])
	// The erroneous Length field, copied (b is the caller's receive
	// buffer) only on the error paths so a valid header does not allocate.
	lenData := func() []byte { return []byte{b[16], b[17]} }
	// RFC 4271 §6.1: "If the Type field of the message header is not
	// recognized, then the Error Subcode MUST be set to Bad Message Type.
	// The Data field MUST contain the erroneous Type field."
	ml := minLen(typ)
	if ml == 0 {
		return 0, 0, errf(NotifMessageHeader, HeaderBadType, []byte{b[18]}, "unknown message type %d", typ)
	}
	if maxLen <= 0 {
		maxLen = MaxMessageLen
	}
	// RFC 4271 §6.1: "if the Length field of the message header is less
	// than 19 or greater than 4096, or if the Length field of an OPEN
	// message is less than the minimum length of the OPEN message, ... the
	// Error Subcode MUST be set to Bad Message Length. The Data field MUST
	// contain the erroneous Length field."
	if length < ml || length > maxLen {
		return 0, 0, errf(NotifMessageHeader, HeaderBadLength, lenData(), "%s length %d outside %d..%d", typ, length, ml, maxLen)
	}
	// RFC 8654 §4: OPEN and KEEPALIVE never exceed 4096 bytes.
	if (typ == MsgOpen || typ == MsgKeepalive) && length > MaxMessageLen {
		return 0, 0, errf(NotifMessageHeader, HeaderBadLength, lenData(), "%s length %d over %d", typ, length, MaxMessageLen)
	}
	if typ == MsgKeepalive && length != KeepaliveLen {
		return 0, 0, errf(NotifMessageHeader, HeaderBadLength, lenData(), "KEEPALIVE length %d, must be 19", length)
	}
	return length, typ, nil
}

// AppendHeader appends a message header for a body of bodyLen bytes.
func AppendHeader(b []byte, typ MsgType, bodyLen int) []byte {
	b = append(b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)
	return append(b, byte((bodyLen+HeaderLen)>>8), byte(bodyLen+HeaderLen), byte(typ))
}

// beginMsg appends a header with a placeholder length and returns the
// offset of the message start for endMsg.
func beginMsg(b []byte, typ MsgType) ([]byte, int) {
	return AppendHeader(b, typ, 0), len(b)
}

// endMsg back-patches the length of the message started at off and checks
// it against maxLen.
func endMsg(b []byte, off, maxLen int) ([]byte, error) {
	n := len(b) - off
	if n > maxLen {
		return b[:off], fmt.Errorf("wire: encoded %s is %d bytes, over the %d-byte limit", MsgType(b[off+18]), n, maxLen)
	}
	binary.BigEndian.PutUint16(b[off+16:], uint16(n))
	return b, nil
}

// AppendKeepalive appends a KEEPALIVE message.
func AppendKeepalive(b []byte) []byte { return AppendHeader(b, MsgKeepalive, 0) }

// Split returns the first complete message in b (header included) and the
// rest. It returns ok=false with no error when b holds only part of a
// message. Use it to frame a TCP byte stream.
func Split(b []byte, maxLen int) (msg, rest []byte, ok bool, err error) {
	if len(b) < HeaderLen {
		return nil, b, false, nil
	}
	n, _, err := ParseHeader(b, maxLen)
	if err != nil {
		return nil, b, false, err
	}
	if len(b) < n {
		return nil, b, false, nil
	}
	return b[:n:n], b[n:], true, nil
}
