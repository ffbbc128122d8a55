package fsm

import "github.com/kbgp/kbgp/internal/bgp/wire"

// notificationGR reports whether both sides set the N bit (RFC 8538 §2:
// "the 'N' bit ... indicates that the BGP speaker supports Graceful
// Restart for BGP NOTIFICATION messages").
func notificationGR(n *Negotiated) bool {
	return n != nil && n.PeerGR != nil && n.LocalGR != nil && n.PeerGR.Notification && n.LocalGR.Notification
}

// hardReset reports whether NOTIFICATIONs kbgp sends on this session must be
// wrapped in Cease / Hard Reset when they end the session for good. RFC
// 8538 §5 recommends Hard Reset for the Cease subcodes that mean the peer
// should drop the routes: Maximum Number of Prefixes Reached,
// Administrative Shutdown, Peer De-configured, Administrative Reset (and
// Out of Resources, which kbgp does not send).
func (s *Session) hardReset(n *Negotiated) bool { return notificationGR(n) }

// wrapHardReset wraps n as RFC 8538 §3 says: "the Data field ... MUST
// contain the ErrCode and ErrSubcode of the original NOTIFICATION and ... its
// Data". Only the Cease subcodes of RFC 8538 §5 are wrapped.
func wrapHardReset(n *wire.Notification) *wire.Notification {
	if n.Code != wire.NotifCease {
		return n
	}
	switch n.Subcode {
	case wire.CeaseMaxPrefix, wire.CeaseAdminShutdown, wire.CeasePeerDeconfigured, wire.CeaseAdminReset:
	default:
		return n
	}
	d := make([]byte, 0, 2+len(n.Data))
	d = append(d, n.Code, n.Subcode)
	d = append(d, n.Data...)
	return &wire.Notification{Code: wire.NotifCease, Subcode: wire.CeaseHardReset, Data: d}
}

// keepStale decides whether the routes of a session that ended with cause
// are retained as stale (graceful restart helper, RFC 4724 §4.2) or
// removed. sent is the NOTIFICATION kbgp sent (nil if none).
func (s *Session) keepStale(n *Negotiated, cause *SessionError, sent *wire.Notification) bool {
	if n == nil || n.PeerGR == nil || n.LocalGR == nil || len(n.GRFamilies()) == 0 {
		return false
	}
	if cause == nil || cause.Class == ClassAdmin && sent == nil {
		// Local shutdown of the speaker: nothing to keep.
		return false
	}
	switch cause.Class {
	case ClassTransport:
		// RFC 4724 §4.2: "When the Receiving Speaker detects termination
		// of the TCP session for a BGP session with a peer that has
		// advertised the Graceful Restart Capability, it MUST retain the
		// routes received from the peer".
		return true
	case ClassAdmin, ClassMaxPrefix:
		// Hard Reset (sent when N is negotiated) or a plain Cease without
		// N: RFC 4724 says a NOTIFICATION ends GR.
		return false
	}
	// RFC 8538 §4: with the N bit exchanged, "When a BGP speaker receives
	// or sends a NOTIFICATION message ... other than Hard Reset ..., the
	// Graceful Restart procedures ... MUST be followed"; without it any
	// NOTIFICATION ends the session for good (RFC 4724 §4).
	if !notificationGR(n) {
		return false
	}
	if m := cause.Notification; m != nil && m.Code == wire.NotifCease && m.Subcode == wire.CeaseHardReset {
		return false
	}
	return true
}
