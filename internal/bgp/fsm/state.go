// Package fsm runs BGP-4 sessions: the RFC 4271 §8 finite state machine for
// one configured peer, its TCP connections (with TCP MD5, GTSM and TTL
// control), the OPEN exchange and capability negotiation, keepalives and
// hold timers, connection collision detection (§6.8), UPDATE error handling
// per RFC 7606 and per-peer prefix limits.
//
// Concurrency: a Session has no goroutine of its own. Its FSM state is
// guarded by a lock, and each event is handled on the goroutine that
// delivers it: a connection's reader (one per TCP connection while the
// peer's messages are there to read; a connection whose socket is empty
// parks it in a shared epoll set and gets a reader back when it is
// readable, park_linux.go), a time.AfterFunc timer, a dial, or the caller
// of Start, Stop or Accept. Outbound messages are written at once by the sender when
// the socket has room and nothing is queued (Enqueue, the KEEPALIVE
// timer); otherwise they wait in a bounded per-connection queue whose
// writer goroutine runs only while the queue is non-empty: an idle
// Established session costs no goroutine. Send blocks (backpressure on
// the producer) until there is room, the context ends or the connection
// closes; Enqueue never blocks and reports a full queue instead.
// Received UPDATEs are handed to the Handler on the connection's reader; a
// slow Handler slows the reader and so the peer's TCP stream, never other
// sessions.
//
// Memory: message bodies, decoded UPDATEs (ReceivedUpdate, whose ownership
// passes to the Handler), read-ahead chunks (framer) and write buffers come
// from pools shared by all sessions, so an idle session holds none of them;
// the Adj-RIB-In is counted (a set of received NLRI) only for families
// with a MaxPrefix limit, or all with Config.CountPrefixes.
//
// The package does no logging: state changes and errors reach the caller
// through Handler and Status.
package fsm

import "fmt"

// State is an RFC 4271 §8.2.2 session state.
type State uint8

// The six BGP FSM states.
const (
	Idle State = iota
	Connect
	Active
	OpenSent
	OpenConfirm
	Established
)

var stateNames = [...]string{"Idle", "Connect", "Active", "OpenSent", "OpenConfirm", "Established"}

func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return fmt.Sprintf("State(%d)", uint8(s))
}
