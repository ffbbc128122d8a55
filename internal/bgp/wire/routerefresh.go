package wire

import (
	"bytes"
	"encoding/binary"
)

// ROUTE-REFRESH message subtypes (RFC 7313 §3).
const (
	RefreshNormal uint8 = 0
	RefreshBoRR   uint8 = 1 // beginning of route refresh
	RefreshEoRR   uint8 = 2 // end of route refresh
)

// RouteRefresh is a ROUTE-REFRESH message (RFC 2918, RFC 7313). Subtype is
// the byte RFC 2918 called Reserved.
type RouteRefresh struct {
	Family  Family
	Subtype uint8
}

// AppendRouteRefresh appends a complete ROUTE-REFRESH message.
func AppendRouteRefresh(b []byte, r *RouteRefresh) []byte {
	b = AppendHeader(b, MsgRouteRefresh, 4)
	return append(b, byte(r.Family.AFI>>8), byte(r.Family.AFI), r.Subtype, byte(r.Family.SAFI))
}

// Decode decodes a ROUTE-REFRESH body. RFC 7313 §5: "If the length,
// excluding the fixed-size message header, of the received ROUTE-REFRESH
// message with Message Subtype 1 and 2 is not 4, then the BGP speaker MUST
// send a NOTIFICATION message with the Error Code of 'ROUTE-REFRESH Message
// Error' and the subcode of 'Invalid Message Length'"; the data is the
// complete message. A normal request (subtype 0) longer than 4 octets
// carries ORF entries (RFC 5291), which are only valid when ORF was
// negotiated; kbgp never negotiates ORF, so that is the same error. A
// message with another subtype is returned without error whatever its
// length: RFC 7313 §5 says the receiver "MUST ignore the received
// ROUTE-REFRESH message", and its layout beyond the subtype is unknown.
func (r *RouteRefresh) Decode(body []byte) error {
	if len(body) < 4 {
		return errf(NotifRouteRefresh, RouteRefreshInvalidLength, bytes.Clone(body), "ROUTE-REFRESH body is %d bytes, need 4", len(body))
	}
	r.Family = Family{AFI(binary.BigEndian.Uint16(body)), SAFI(body[3])}
	r.Subtype = body[2]
	if len(body) != 4 && r.Subtype <= RefreshEoRR {
		return errf(NotifRouteRefresh, RouteRefreshInvalidLength, bytes.Clone(body[:min(len(body), 64)]), "ROUTE-REFRESH subtype %d body is %d bytes, want 4 (ORF is not supported)", r.Subtype, len(body))
	}
	return nil
}
