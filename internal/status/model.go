// Package status defines what a kbgp node reports about itself: the model the
// local control API serves (node, BGP peers, RIB, health), the Provider
// interface the agent implements, the Calico-compatible readiness rule, and
// the text renderers behind `kbgp node status|peers|routes`.
//
// The package depends only on the standard library so that the agent, the
// control API, the metrics collector and the CLI can all share it without
// pulling the speaker into the API server or the API server into the speaker.
package status

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"time"
)

// Provider is what the agent implements to expose its state. Every method
// must return promptly (the control API bounds each call with a deadline and
// reports a provider that does not answer as not live); implementations
// return copies, never structures the agent keeps mutating.
type Provider interface {
	// Node returns the node's current state, including every configured
	// BGP peer with its negotiated parameters and counters.
	Node(ctx context.Context) (Node, error)
	// Routes returns the RIB paths selected by q (see RIB.Select).
	Routes(ctx context.Context, q RouteQuery) (RIB, error)
}

// Node is one kbgp node's state.
type Node struct {
	Name     string     `json:"name"`
	RouterID netip.Addr `json:"routerID,omitzero"`
	ASN      uint32     `json:"asn,omitempty"`
	// Running reports whether the BGP speaker is running. A node whose
	// speaker is stopped still answers the API.
	Running bool `json:"running"`
	// StartedAt is when the agent started; the readiness rule's threshold
	// window is measured from it.
	StartedAt time.Time `json:"startedAt,omitzero"`
	// GracefulRestart is true while this node is recovering from its own
	// restart (RFC 4724 §4.1: waiting for End-of-RIB from its peers before
	// it flushes stale routes).
	GracefulRestart bool   `json:"gracefulRestart,omitempty"`
	Peers           []Peer `json:"peers"`
	// Loops are the agent's main loops, for liveness.
	Loops []Loop   `json:"loops,omitempty"`
	RIB   RIBStats `json:"rib"`
	FIB   FIBStats `json:"fib"`
	// Reconcile is the last FIB/config reconcile pass.
	Reconcile Reconcile `json:"reconcile,omitzero"`
}

// PeerType says why a peer exists, with calicoctl's display names.
type PeerType string

// The peer types, as `calicoctl node status` prints them.
const (
	PeerMesh   PeerType = "node-to-node mesh" // BIRD name prefix Mesh_
	PeerNode   PeerType = "node specific"     // BIRD name prefix Node_
	PeerGlobal PeerType = "global"            // BIRD name prefix Global_
)

// SessionState is the RFC 4271 §8.2.2 session state (plus BIRD's display
// extras handled in ProtocolState and Info).
type SessionState string

// RFC 4271 §8.2.2 states.
const (
	Idle        SessionState = "Idle"
	Connect     SessionState = "Connect"
	Active      SessionState = "Active"
	OpenSent    SessionState = "OpenSent"
	OpenConfirm SessionState = "OpenConfirm"
	Established SessionState = "Established"
)

// AdminState is the operator's intent for a session.
type AdminState string

// Admin states. The zero value means enabled.
const (
	AdminUp       AdminState = ""         // enabled, the FSM runs
	AdminDown     AdminState = "down"     // disabled or shut down
	AdminStopping AdminState = "stopping" // closing (Cease sent), not yet down
)

// ErrorClass says where a session's last error came from. Its values are
// BIRD's error classes (proto/bgp/bgp.c bgp_err_classes), which calicoctl
// prints as a prefix of the INFO column.
type ErrorClass string

// Error classes.
const (
	ErrorMisc         ErrorClass = "Error"              // local, not a socket or NOTIFICATION error
	ErrorSocket       ErrorClass = "Socket"             // TCP: connect/read/write failed
	ErrorReceived     ErrorClass = "Received"           // NOTIFICATION received from the peer
	ErrorSent         ErrorClass = "BGP Error"          // NOTIFICATION we sent (we detected the error)
	ErrorAutoShutdown ErrorClass = "Automatic shutdown" // e.g. prefix limit exceeded
)

// PeerError is a session's last error.
type PeerError struct {
	Class   ErrorClass `json:"class"`
	Message string     `json:"message"`
	// Code and Subcode are the NOTIFICATION code/subcode for the
	// Received and BGP Error classes, zero otherwise.
	Code    uint8     `json:"code,omitempty"`
	Subcode uint8     `json:"subcode,omitempty"`
	At      time.Time `json:"at,omitzero"`
}

// String is the error as BIRD shows it: "Socket: Connection refused".
func (e *PeerError) String() string {
	if e == nil || (e.Class == "" && e.Message == "") {
		return ""
	}
	if e.Class == "" {
		return e.Message
	}
	return string(e.Class) + ": " + e.Message
}

// Peer is one BGP session.
type Peer struct {
	// Name is the deterministic session name (Mesh_172_16_30_102); empty
	// means SessionName(Type, Address, Port).
	Name         string       `json:"name"`
	Address      netip.Addr   `json:"address"`
	Port         uint16       `json:"port,omitempty"`
	Type         PeerType     `json:"type"`
	LocalAddress netip.Addr   `json:"localAddress,omitzero"`
	LocalASN     uint32       `json:"localASN,omitempty"`
	PeerASN      uint32       `json:"peerASN,omitempty"`
	RouterID     netip.Addr   `json:"routerID,omitzero"` // the peer's BGP Identifier
	Admin        AdminState   `json:"admin,omitempty"`
	Passive      bool         `json:"passive,omitempty"`
	State        SessionState `json:"state"`
	// Since is the last state change.
	Since time.Time `json:"since,omitzero"`
	// RouteReflectorClient is true when we reflect to this peer.
	RouteReflectorClient bool         `json:"routeReflectorClient,omitempty"`
	LastError            *PeerError   `json:"lastError,omitempty"`
	Prefixes             []Prefixes   `json:"prefixes,omitempty"`
	Capabilities         Capabilities `json:"capabilities,omitzero"`
	Timers               Timers       `json:"timers,omitzero"`
	Counters             Counters     `json:"counters,omitzero"`
}

// Prefixes are a session's per-family prefix counts.
type Prefixes struct {
	Family     string `json:"family"` // "ipv4-unicast", "ipv6-unicast"
	Received   uint64 `json:"received"`
	Accepted   uint64 `json:"accepted"`
	Advertised uint64 `json:"advertised"`
}

// Capabilities are what was negotiated (both sides advertised) on the
// current or last session.
type Capabilities struct {
	Families        []string `json:"families,omitempty"` // multiprotocol (RFC 4760)
	RouteRefresh    bool     `json:"routeRefresh,omitempty"`
	EnhancedRefresh bool     `json:"enhancedRouteRefresh,omitempty"`
	FourOctetASN    bool     `json:"fourOctetASN,omitempty"`
	ExtendedMessage bool     `json:"extendedMessage,omitempty"`
	// ExtendedNextHop lists families with RFC 8950 next hops.
	ExtendedNextHop []string `json:"extendedNextHop,omitempty"`
	// AddPath maps family to "send", "receive" or "send/receive".
	AddPath []AddPath `json:"addPath,omitempty"`
	// GracefulRestart is the peer's advertised restart time; nil when not
	// negotiated.
	GracefulRestart *GracefulRestart `json:"gracefulRestart,omitempty"`
	// LongLivedStaleTime is the LLGR stale time; zero when not negotiated.
	LongLivedStaleTime Duration `json:"longLivedStaleTime,omitempty"`
}

// AddPath is one family's negotiated ADD-PATH direction.
type AddPath struct {
	Family    string `json:"family"`
	Direction string `json:"direction"` // send, receive, send/receive
}

// GracefulRestart is the negotiated RFC 4724 capability.
type GracefulRestart struct {
	RestartTime Duration `json:"restartTime"`
	// Families whose forwarding state the peer preserves.
	Families []string `json:"families,omitempty"`
}

// Timers are a session's configured and negotiated timers.
type Timers struct {
	HoldTime            Duration `json:"holdTime,omitempty"`           // configured
	KeepaliveTime       Duration `json:"keepaliveTime,omitempty"`      // configured
	ConnectRetry        Duration `json:"connectRetry,omitempty"`       // configured
	NegotiatedHold      Duration `json:"negotiatedHoldTime,omitempty"` // RFC 4271 §4.2: the smaller of the two
	NegotiatedKeepalive Duration `json:"negotiatedKeepaliveTime,omitempty"`
}

// Counters are a session's message counters since the agent started.
type Counters struct {
	MessagesIn       uint64 `json:"messagesIn"`
	MessagesOut      uint64 `json:"messagesOut"`
	UpdatesIn        uint64 `json:"updatesIn"`
	UpdatesOut       uint64 `json:"updatesOut"`
	KeepalivesIn     uint64 `json:"keepalivesIn"`
	KeepalivesOut    uint64 `json:"keepalivesOut"`
	RouteRefreshIn   uint64 `json:"routeRefreshIn,omitempty"`
	RouteRefreshOut  uint64 `json:"routeRefreshOut,omitempty"`
	EstablishedCount uint64 `json:"establishedCount"` // transitions into Established
	// Notifications are counted by direction, code and subcode.
	Notifications []NotificationCount `json:"notifications,omitempty"`
}

// NotificationCount counts NOTIFICATIONs of one code/subcode in one direction.
type NotificationCount struct {
	Sent    bool   `json:"sent"` // false: received
	Code    uint8  `json:"code"`
	Subcode uint8  `json:"subcode"`
	Count   uint64 `json:"count"`
}

// Loop is one of the agent's main loops (speaker, config watcher, FIB
// reconciler). A loop is live when it made progress within MaxSilence.
type Loop struct {
	Name string `json:"name"`
	// LastProgress is when the loop last completed an iteration or
	// heartbeat.
	LastProgress time.Time `json:"lastProgress"`
	// MaxSilence is how long the loop may go without progress before the
	// node is reported not live. Zero means DefaultMaxSilence.
	MaxSilence Duration `json:"maxSilence,omitempty"`
}

// RIBStats summarises the Loc-RIB.
type RIBStats struct {
	Prefixes4 uint64 `json:"prefixes4"`
	Prefixes6 uint64 `json:"prefixes6"`
	Paths     uint64 `json:"paths"`
}

// FIBStats counts kernel route programming since the agent started.
type FIBStats struct {
	Routes  uint64 `json:"routes"` // routes currently installed
	Adds    uint64 `json:"adds"`
	Deletes uint64 `json:"deletes"`
	Errors  uint64 `json:"errors"`
}

// Reconcile is the last reconcile pass.
type Reconcile struct {
	At       time.Time `json:"at,omitzero"`
	Duration Duration  `json:"duration,omitempty"`
	Error    string    `json:"error,omitempty"`
}

// Duration is a time.Duration that JSON-encodes as Go's duration string
// ("4m0s", "1.5s"), readable by people and by time.ParseDuration, instead
// of a count of nanoseconds.
type Duration time.Duration

// String is time.Duration's String.
func (d Duration) String() string { return time.Duration(d).String() }

// MarshalJSON encodes d as a duration string.
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

// UnmarshalJSON accepts a duration string or a number of nanoseconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		var ns int64
		if err := json.Unmarshal(b, &ns); err != nil {
			return fmt.Errorf("duration: want a string such as \"90s\" or nanoseconds, got %s", b)
		}
		*d = Duration(ns)
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("duration %q: %w", s, err)
	}
	*d = Duration(v)
	return nil
}
