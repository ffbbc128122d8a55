package fsm

import (
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/kbgp/kbgp/internal/bgp/wire"
)

// ErrorClass says where a session error came from.
type ErrorClass uint8

// Error classes.
const (
	// ClassTransport: TCP connect, read or write failed or the peer closed
	// the connection without a NOTIFICATION.
	ClassTransport ErrorClass = iota + 1
	// ClassNotificationReceived: the peer sent a NOTIFICATION.
	ClassNotificationReceived
	// ClassNotificationSent: kbgp found a protocol error and sent a
	// NOTIFICATION.
	ClassNotificationSent
	// ClassHoldTimerExpired: nothing arrived from the peer within the hold
	// time (kbgp sent Hold Timer Expired).
	ClassHoldTimerExpired
	// ClassMaxPrefix: the peer sent more prefixes than allowed.
	ClassMaxPrefix
	// ClassCollision: the connection lost connection collision resolution.
	ClassCollision
	// ClassAdmin: stopped or reset by the operator (or a reconfiguration).
	ClassAdmin
)

var classNames = [...]string{"", "transport", "notification-received", "notification-sent", "hold-timer-expired", "max-prefix", "collision", "admin"}

func (c ErrorClass) String() string {
	if int(c) < len(classNames) && c != 0 {
		return classNames[c]
	}
	return fmt.Sprintf("class(%d)", uint8(c))
}

// SessionError is why a session or one of its connections went down.
type SessionError struct {
	Class ErrorClass
	// Notification is the NOTIFICATION sent or received, if any. Its Data
	// is a copy owned by the error.
	Notification *wire.Notification
	// Err is the underlying error (a *wire.Error for decode errors, a
	// net error for transport failures), if any.
	Err  error
	Peer netip.Addr
	At   time.Time
}

func (e *SessionError) Error() string {
	s := fmt.Sprintf("peer %v: %s", e.Peer, e.Class)
	if e.Notification != nil {
		s += ": " + e.Notification.String()
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *SessionError) Unwrap() error { return e.Err }

// GracefulNotification reports whether the NOTIFICATION (if any) preserves
// graceful restart state per RFC 8538 §3: with the N bit negotiated every
// NOTIFICATION except Cease / Hard Reset keeps the routes (as stale).
func (e *SessionError) GracefulNotification() bool {
	return e.Notification == nil || !(e.Notification.Code == wire.NotifCease && e.Notification.Subcode == wire.CeaseHardReset)
}

// ErrNotEstablished is returned by Send when the session is not (or no
// longer) in the Established period the caller named.
var ErrNotEstablished = errors.New("session is not established")

// ErrQueueFull is returned by Enqueue when its limit of entries already
// waits.
var ErrQueueFull = errors.New("outbound queue is full")

// ErrClosed is returned by calls on a closed Session.
var ErrClosed = errors.New("session is closed")

// Counters counts messages by type (index wire.MsgType, 1..5).
type Counters [6]uint64

// Total is the sum over all message types.
func (c *Counters) Total() uint64 {
	var t uint64
	for _, v := range c {
		t += v
	}
	return t
}

// Status is a snapshot of a session.
type Status struct {
	Peer  netip.Addr
	State State
	// Since is when State was entered.
	Since time.Time
	// LastError is the most recent failure (nil if none).
	LastError *SessionError
	// Negotiated is the state of the current Established period (nil when
	// not Established).
	Negotiated *Negotiated
	// Local and Remote are the endpoints of the Established connection.
	Local, Remote netip.AddrPort
	// PrefixesReceived is the Adj-RIB-In size per family.
	PrefixesReceived map[wire.Family]int
	// In and Out count messages received and sent.
	In, Out Counters
	// Established counts transitions into Established; Flaps counts
	// transitions out of it.
	Established, Flaps uint64
	// Collisions counts connections closed by collision resolution.
	Collisions uint64
	// UpdateErrors counts UPDATEs handled by treat-as-withdraw or
	// attribute discard (RFC 7606); LastUpdateError describes the last.
	UpdateErrors    uint64
	LastUpdateError string
	// AdminDown is true after Stop (or a max-prefix shutdown without
	// restart) until Start.
	AdminDown bool
}
