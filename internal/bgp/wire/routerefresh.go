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

// Decode decodes a ROUTE-REFRESH body. RFC 7313 §5: "If the length ... of
// the ROUTE-REFRESH message is not 4 (except for ... ORF), ... NOTIFICATION
// ... ROUTE-REFRESH Message Error ... Invalid Message Length"; the data is
// the complete message. Subtypes other than 0-2 are returned as-is; RFC 7313
// §5 says the receiver "MUST ignore" such a message.
func (r *RouteRefresh) Decode(body []byte) error {
	if len(body) < 4 {
		return errf(NotifRouteRefresh, RouteRefreshInvalidLength, bytes.Clone(body), "ROUTE-REFRESH body is %d bytes, need 4", len(body))
	}
	r.Family = Family{AFI(binary.BigEndian.Uint16(body)), SAFI(body[3])}
	r.Subtype = body[2]
	// Longer messages carry ORF entries (RFC 5291) when ORF was negotiated;
	// kbgp does not negotiate ORF, so they are an error.
	if len(body) != 4 {
		return errf(NotifRouteRefresh, RouteRefreshInvalidLength, bytes.Clone(body[:min(len(body), 64)]), "ROUTE-REFRESH body is %d bytes, want 4 (ORF is not supported)", len(body))
	}
	return nil
}
