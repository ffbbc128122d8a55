package mrt

import (
	"net/netip"

	"github.com/kbgp/kbgp/internal/bgp/wire"
)

// Sessions remembers what each side of the BGP sessions in a BGP4MP stream
// advertised in its OPEN, so that later messages can be decoded with the
// options the session negotiated. The RFC 8050 ADD-PATH subtypes make this
// unnecessary, but dumps written before them (BIRD, some Quagga) record
// ADD-PATH sessions with the plain MESSAGE/MESSAGE_AS4 subtypes, and their
// NLRI cannot be parsed without knowing about the path identifiers.
// The zero value is ready to use.
type Sessions struct {
	m    map[sessionKey]*sessionCaps
	open wire.Open
}

type sessionKey struct{ peer, local netip.Addr }

type sessionCaps struct {
	peer, local       wire.Capabilities
	hasPeer, hasLocal bool
}

// established is the BGP FSM state number of Established in STATE_CHANGE
// records (RFC 6396 §4.4.1).
const established = 6

// Observe records the capabilities of an OPEN (the peer's for received
// messages, the local speaker's for the _LOCAL subtypes) and forgets a
// session's OPENs when a STATE_CHANGE takes it out of Established. Other
// records are ignored.
func (s *Sessions) Observe(m *BGP4MP) {
	k := sessionKey{m.PeerAddr, m.LocalAddr}
	if m.IsStateChange() {
		if m.OldState == established && m.NewState != established {
			delete(s.m, k)
		}
		return
	}
	if typ, err := m.MessageType(); err != nil || typ != wire.MsgOpen {
		return
	}
	if s.open.Decode(m.Message[wire.HeaderLen:]) != nil {
		return
	}
	if s.m == nil {
		s.m = make(map[sessionKey]*sessionCaps)
	}
	c := s.m[k]
	if c == nil {
		c = &sessionCaps{}
		s.m[k] = c
	}
	// Copy what Options needs; the decoded OPEN aliases the record.
	caps := wire.Capabilities{HasFourOctetAS: s.open.Caps.HasFourOctetAS, AddPath: append([]wire.AddPathFamily(nil), s.open.Caps.AddPath...)}
	if m.Local() {
		c.local, c.hasLocal = caps, true
	} else {
		c.peer, c.hasPeer = caps, true
	}
}

// Options returns the wire options for decoding message m: those of its
// subtype (m.Options), corrected by the session's OPENs when they were
// observed. With both OPENs known, 4-octet AS and ADD-PATH are what the two
// negotiated (RFC 6793 §3; RFC 7911 §4: path identifiers are sent when the
// sender advertised Send and the receiver Receive). With only the sender's
// OPEN, its ADD-PATH Send advertisement is taken as negotiated.
func (s *Sessions) Options(m *BGP4MP) wire.Options {
	o := m.Options()
	c := s.m[sessionKey{m.PeerAddr, m.LocalAddr}]
	if c == nil {
		return o
	}
	sender, receiver, hasSender, hasReceiver := &c.peer, &c.local, c.hasPeer, c.hasLocal
	if m.Local() {
		sender, receiver, hasSender, hasReceiver = &c.local, &c.peer, c.hasLocal, c.hasPeer
	}
	if hasSender && hasReceiver {
		o.AS4 = sender.HasFourOctetAS && receiver.HasFourOctetAS
	}
	if !hasSender || m.AddPath() {
		return o
	}
	o.AddPath = nil
	for _, t := range sender.AddPath {
		if t.Mode&wire.AddPathSend == 0 {
			continue
		}
		if hasReceiver && receiver.AddPathFor(t.Family)&wire.AddPathReceive == 0 {
			continue
		}
		o.AddPath = append(o.AddPath, t.Family)
	}
	return o
}
