package status

import (
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"time"
	"unicode"
	"unicode/utf8"
)

// notificationTexts are BIRD's descriptions of NOTIFICATION codes and
// subcodes (proto/bgp/packets.c bgp_msg_table), which calicoctl shows after
// "Received: " or "BGP Error: ". Codes and subcodes are RFC 4271 §4.5,
// RFC 5492 (2/7), RFC 6608 (FSM), RFC 4486 and RFC 8203 (Cease), RFC 7313
// (ROUTE-REFRESH).
var notificationTexts = map[[2]uint8]string{
	{1, 0}: "Invalid message header", {1, 1}: "Connection not synchronized",
	{1, 2}: "Bad message length", {1, 3}: "Bad message type",
	{2, 0}: "Invalid OPEN message", {2, 1}: "Unsupported version number",
	{2, 2}: "Bad peer AS", {2, 3}: "Bad BGP identifier",
	{2, 4}: "Unsupported optional parameter", {2, 5}: "Authentication failure",
	{2, 6}: "Unacceptable hold time", {2, 7}: "Required capability missing",
	{2, 8}: "No supported AFI/SAFI",
	{3, 0}: "Invalid UPDATE message", {3, 1}: "Malformed attribute list",
	{3, 2}: "Unrecognized well-known attribute", {3, 3}: "Missing mandatory attribute",
	{3, 4}: "Invalid attribute flags", {3, 5}: "Invalid attribute length",
	{3, 6}: "Invalid ORIGIN attribute", {3, 7}: "AS routing loop",
	{3, 8}: "Invalid NEXT_HOP attribute", {3, 9}: "Optional attribute error",
	{3, 10}: "Invalid network field", {3, 11}: "Malformed AS_PATH",
	{4, 0}: "Hold timer expired",
	{5, 0}: "Finite state machine error", {5, 1}: "Unexpected message in OpenSent state",
	{5, 2}: "Unexpected message in OpenConfirm state", {5, 3}: "Unexpected message in Established state",
	{6, 0}: "Cease", {6, 1}: "Maximum number of prefixes reached",
	{6, 2}: "Administrative shutdown", {6, 3}: "Peer de-configured",
	{6, 4}: "Administrative reset", {6, 5}: "Connection rejected",
	{6, 6}: "Other configuration change", {6, 7}: "Connection collision resolution",
	{6, 8}: "Out of Resources",
	{7, 0}: "Invalid ROUTE-REFRESH message", {7, 1}: "Invalid ROUTE-REFRESH message length",
}

// NotificationText describes a NOTIFICATION code and subcode as BIRD does,
// e.g. "Hold timer expired", or "Unknown error 6.10" for pairs BIRD does
// not name.
func NotificationText(code, subcode uint8) string {
	if s, ok := notificationTexts[[2]uint8{code, subcode}]; ok {
		return s
	}
	return fmt.Sprintf("Unknown error %d.%d", code, subcode)
}

// NotificationError is the last error for a NOTIFICATION the peer sent
// (received true: "Received: Administrative shutdown") or kbgp sent after
// detecting an error ("BGP Error: Hold timer expired").
func NotificationError(received bool, code, subcode uint8, at time.Time) *PeerError {
	class := ErrorSent
	if received {
		class = ErrorReceived
	}
	return &PeerError{Class: class, Message: NotificationText(code, subcode), Code: code, Subcode: subcode, At: at}
}

// SocketError is the last error for a failed TCP connection, worded as
// BIRD words it: strerror(3) text ("Connection refused", "No route to
// host"), "Connection closed" when the peer closed the connection without
// a NOTIFICATION, "Connection timed out" for a timeout.
func SocketError(err error, at time.Time) *PeerError {
	var msg string
	var errno syscall.Errno
	var ne net.Error
	switch {
	case err == nil, errors.Is(err, io.EOF):
		msg = "Connection closed"
	case errors.As(err, &errno):
		msg = errno.Error()
	case errors.As(err, &ne) && ne.Timeout():
		msg = "Connection timed out"
	default:
		msg = err.Error()
	}
	return &PeerError{Class: ErrorSocket, Message: capitalize(msg), At: at}
}

// capitalize upper-cases the first letter: Go's errno texts are
// strerror(3)'s with a lower-case initial.
func capitalize(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	if r == utf8.RuneError {
		return s
	}
	return string(unicode.ToUpper(r)) + s[n:]
}
