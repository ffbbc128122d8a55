package wire

import (
	"fmt"
	"strings"
)

// Action is what RFC 7606 tells the receiver of a malformed UPDATE to do.
// Actions are ordered by severity: a larger value is more severe.
type Action uint8

// RFC 7606 §2 error handling approaches, least severe first.
const (
	// ActionAttrDiscard: the attribute is discarded and the UPDATE is
	// otherwise processed normally (RFC 7606 §2 "attribute discard").
	ActionAttrDiscard Action = 1
	// ActionTreatAsWithdraw: every route in the UPDATE (NLRI, MP_REACH NLRI,
	// and of course withdrawn routes) must be handled as withdrawn
	// (RFC 7606 §2 "treat-as-withdraw").
	ActionTreatAsWithdraw Action = 2
	// ActionSessionReset: send the NOTIFICATION from (*Error).Notification
	// and close the session (RFC 4271 §6, RFC 7606 §2 "session reset").
	ActionSessionReset Action = 3
)

func (a Action) String() string {
	switch a {
	case ActionAttrDiscard:
		return "attribute-discard"
	case ActionTreatAsWithdraw:
		return "treat-as-withdraw"
	case ActionSessionReset:
		return "session-reset"
	}
	return fmt.Sprintf("action(%d)", uint8(a))
}

// Error is a protocol error found while decoding a message. Code, Subcode
// and Data are what to put in the NOTIFICATION if Action is
// ActionSessionReset. Attr names the offending path attribute (0 when the
// error is not about one attribute).
type Error struct {
	Code    uint8
	Subcode uint8
	Data    []byte
	Action  Action
	Attr    AttrType
	Reason  string
	// Others holds the less severe errors found in the same UPDATE (e.g.
	// attributes discarded while the UPDATE was treated as withdraw), in the
	// order found. Their Others field is nil.
	Others []*Error
}

func (e *Error) Error() string {
	var sb strings.Builder
	sb.WriteString(NotificationName(e.Code, e.Subcode))
	if e.Attr != 0 {
		sb.WriteString(" in attribute ")
		sb.WriteString(e.Attr.String())
	}
	if e.Reason != "" {
		sb.WriteString(": ")
		sb.WriteString(e.Reason)
	}
	if e.Action != 0 && e.Action != ActionSessionReset {
		sb.WriteString(" (")
		sb.WriteString(e.Action.String())
		sb.WriteString(")")
	}
	for _, o := range e.Others {
		sb.WriteString("; also ")
		sb.WriteString(o.Error())
	}
	return sb.String()
}

// Notification returns the NOTIFICATION to send for e. Data is bounded to
// what was received (CVE-2017-15865: never echo more than the attribute).
func (e *Error) Notification() *Notification {
	return &Notification{Code: e.Code, Subcode: e.Subcode, Data: e.Data}
}

func errf(code, sub uint8, data []byte, format string, args ...any) *Error {
	return &Error{Code: code, Subcode: sub, Data: data, Action: ActionSessionReset, Reason: fmt.Sprintf(format, args...)}
}

// NOTIFICATION error codes (RFC 4271 §4.5, RFC 7313 §5).
const (
	NotifMessageHeader    uint8 = 1
	NotifOpen             uint8 = 2
	NotifUpdate           uint8 = 3
	NotifHoldTimerExpired uint8 = 4
	NotifFSM              uint8 = 5
	NotifCease            uint8 = 6
	NotifRouteRefresh     uint8 = 7 // RFC 7313 §5
)

// Message Header Error subcodes (RFC 4271 §6.1).
const (
	HeaderNotSynchronized uint8 = 1
	HeaderBadLength       uint8 = 2
	HeaderBadType         uint8 = 3
)

// OPEN Message Error subcodes (RFC 4271 §6.2, RFC 5492 §5).
const (
	OpenUnsupportedVersion    uint8 = 1
	OpenBadPeerAS             uint8 = 2
	OpenBadBGPID              uint8 = 3
	OpenUnsupportedOptParam   uint8 = 4
	OpenUnacceptableHoldTime  uint8 = 6
	OpenUnsupportedCapability uint8 = 7  // RFC 5492 §5
	OpenRoleMismatch          uint8 = 11 // RFC 9234
)

// UPDATE Message Error subcodes (RFC 4271 §6.3).
const (
	UpdateMalformedAttrList     uint8 = 1
	UpdateUnrecognizedWellKnown uint8 = 2
	UpdateMissingWellKnown      uint8 = 3
	UpdateAttrFlags             uint8 = 4
	UpdateAttrLength            uint8 = 5
	UpdateInvalidOrigin         uint8 = 6
	UpdateInvalidNextHop        uint8 = 8
	UpdateOptionalAttr          uint8 = 9
	UpdateInvalidNetwork        uint8 = 10
	UpdateMalformedASPath       uint8 = 11
)

// Finite State Machine Error subcodes (RFC 6608 §3).
const (
	FSMUnexpectedInOpenSent    uint8 = 1
	FSMUnexpectedInOpenConfirm uint8 = 2
	FSMUnexpectedInEstablished uint8 = 3
)

// Cease subcodes (RFC 4486 §4, RFC 8538 §3 Hard Reset, RFC 9384 BFD Down).
const (
	CeaseMaxPrefix           uint8 = 1
	CeaseAdminShutdown       uint8 = 2
	CeasePeerDeconfigured    uint8 = 3
	CeaseAdminReset          uint8 = 4
	CeaseConnectionRejected  uint8 = 5
	CeaseOtherConfigChange   uint8 = 6
	CeaseCollisionResolution uint8 = 7
	CeaseOutOfResources      uint8 = 8
	CeaseHardReset           uint8 = 9
	CeaseBFDDown             uint8 = 10
)

// ROUTE-REFRESH Message Error subcodes (RFC 7313 §5).
const (
	RouteRefreshInvalidLength uint8 = 1
)

var notifCodeNames = [...]string{
	1: "Message Header Error",
	2: "OPEN Message Error",
	3: "UPDATE Message Error",
	4: "Hold Timer Expired",
	5: "Finite State Machine Error",
	6: "Cease",
	7: "ROUTE-REFRESH Message Error",
}

var notifSubcodeNames = map[[2]uint8]string{
	{1, 1}:  "Connection Not Synchronized",
	{1, 2}:  "Bad Message Length",
	{1, 3}:  "Bad Message Type",
	{2, 1}:  "Unsupported Version Number",
	{2, 2}:  "Bad Peer AS",
	{2, 3}:  "Bad BGP Identifier",
	{2, 4}:  "Unsupported Optional Parameter",
	{2, 5}:  "Authentication Failure (deprecated)",
	{2, 6}:  "Unacceptable Hold Time",
	{2, 7}:  "Unsupported Capability",
	{2, 11}: "Role Mismatch",
	{3, 1}:  "Malformed Attribute List",
	{3, 2}:  "Unrecognized Well-known Attribute",
	{3, 3}:  "Missing Well-known Attribute",
	{3, 4}:  "Attribute Flags Error",
	{3, 5}:  "Attribute Length Error",
	{3, 6}:  "Invalid ORIGIN Attribute",
	{3, 7}:  "AS Routing Loop (deprecated)",
	{3, 8}:  "Invalid NEXT_HOP Attribute",
	{3, 9}:  "Optional Attribute Error",
	{3, 10}: "Invalid Network Field",
	{3, 11}: "Malformed AS_PATH",
	{5, 1}:  "Receive Unexpected Message in OpenSent State",
	{5, 2}:  "Receive Unexpected Message in OpenConfirm State",
	{5, 3}:  "Receive Unexpected Message in Established State",
	{6, 1}:  "Maximum Number of Prefixes Reached",
	{6, 2}:  "Administrative Shutdown",
	{6, 3}:  "Peer De-configured",
	{6, 4}:  "Administrative Reset",
	{6, 5}:  "Connection Rejected",
	{6, 6}:  "Other Configuration Change",
	{6, 7}:  "Connection Collision Resolution",
	{6, 8}:  "Out of Resources",
	{6, 9}:  "Hard Reset",
	{6, 10}: "BFD Down",
	{7, 1}:  "Invalid Message Length",
}

// NotificationName names a NOTIFICATION code and subcode, e.g.
// "Cease / Administrative Shutdown" or "UPDATE Message Error / subcode 77".
func NotificationName(code, subcode uint8) string {
	var c string
	if int(code) < len(notifCodeNames) && notifCodeNames[code] != "" {
		c = notifCodeNames[code]
	} else {
		c = fmt.Sprintf("error code %d", code)
	}
	if s, ok := notifSubcodeNames[[2]uint8{code, subcode}]; ok {
		return c + " / " + s
	}
	if subcode == 0 {
		return c
	}
	return fmt.Sprintf("%s / subcode %d", c, subcode)
}
