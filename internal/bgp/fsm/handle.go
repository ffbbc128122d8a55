package fsm

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/kbgp/kbgp/internal/bgp/wire"
)

// handleEvent processes one message (or read error) from a connection and
// returns its pooled buffer unless the message's handling kept it.
func (s *Session) handleEvent(ev connEvent) {
	if !s.dispatch(ev) && ev.buf != nil {
		putBody(ev.buf)
	}
}

// dispatch processes ev and reports whether ev.buf was passed on: an
// UPDATE in Established hands it to the Handler with the ReceivedUpdate
// aliasing it, and an OPEN's decoded capabilities may alias it.
func (s *Session) dispatch(ev connEvent) (kept bool) {
	c := ev.c
	if c.closed {
		return false
	}
	if ev.err != nil {
		var we *wire.Error
		if errors.As(ev.err, &we) {
			// RFC 4271 §6.1: message header errors are answered with a
			// NOTIFICATION and the connection is closed.
			n := we.Notification()
			s.closeConn(c, n, &SessionError{Class: ClassNotificationSent, Notification: n, Err: ev.err, Peer: s.cfg.PeerAddr, At: time.Now()})
			return false
		}
		err := ev.err
		if errors.Is(err, io.EOF) {
			err = errors.New("peer closed the connection")
		}
		s.closeConn(c, nil, &SessionError{Class: ClassTransport, Err: err, Peer: s.cfg.PeerAddr, At: time.Now()})
		return false
	}
	if ev.typ == wire.MsgNotification {
		s.recvNotification(c, ev.body)
		return false
	}
	switch c.state {
	case OpenSent:
		if ev.typ == wire.MsgOpen {
			s.recvOpen(c, ev.body)
			return true
		}
		// RFC 6608 §4: unexpected messages in OpenSent are answered with
		// Finite State Machine Error / "Receive Unexpected Message in
		// OpenSent State".
		s.fsmError(c, wire.FSMUnexpectedInOpenSent, ev.typ)
	case OpenConfirm:
		if ev.typ == wire.MsgKeepalive {
			// RFC 4271 §8.2.2 OpenConfirm, KeepAliveMsg: "restarts the
			// HoldTimer and changes its state to Established".
			s.restartHold(c)
			s.established(c)
			return false
		}
		s.fsmError(c, wire.FSMUnexpectedInOpenConfirm, ev.typ)
	case Established:
		// RFC 4271 §8.2.2 Established: KeepAliveMsg and UpdateMsg restart
		// the HoldTimer (and a ROUTE-REFRESH, RFC 2918, is a message
		// received like them). The reader records when it read and
		// handled each message (rxAt, two monotonic clock reads), and
		// the timer, when it fires, restarts from there (handleTimers);
		// restarting it here too took a third, full time.Now per message.
		switch ev.typ {
		case wire.MsgKeepalive:
		case wire.MsgUpdate:
			s.recvUpdate(c, ev.body, ev.buf)
			return true
		case wire.MsgRouteRefresh:
			s.recvRouteRefresh(c, ev.body)
		default:
			s.fsmError(c, wire.FSMUnexpectedInEstablished, ev.typ)
		}
	}
	return false
}

func (s *Session) fsmError(c *conn, sub uint8, typ wire.MsgType) {
	n := &wire.Notification{Code: wire.NotifFSM, Subcode: sub}
	s.closeConn(c, n, &SessionError{Class: ClassNotificationSent, Notification: n, Peer: s.cfg.PeerAddr, At: time.Now(),
		Err: fmt.Errorf("unexpected message type %d in state %v", typ, c.state)})
}

func (s *Session) restartHold(c *conn) {
	if c.neg != nil && c.neg.HoldTime > 0 {
		c.holdAt = time.Now().Add(c.neg.HoldTime)
	}
}

func (s *Session) recvNotification(c *conn, body []byte) {
	var n wire.Notification
	if err := n.Decode(body); err != nil {
		s.closeConn(c, nil, &SessionError{Class: ClassTransport, Err: fmt.Errorf("malformed NOTIFICATION: %w", err), Peer: s.cfg.PeerAddr, At: time.Now()})
		return
	}
	n.Data = append([]byte(nil), n.Data...)
	s.closeConn(c, nil, &SessionError{Class: ClassNotificationReceived, Notification: &n, Peer: s.cfg.PeerAddr, At: time.Now()})
}

// recvOpen handles an OPEN in OpenSent: validation, negotiation and
// connection collision detection.
func (s *Session) recvOpen(c *conn, body []byte) {
	now := time.Now()
	o := new(wire.Open)
	if err := o.Decode(body); err != nil {
		var we *wire.Error
		n := &wire.Notification{Code: wire.NotifOpen}
		if errors.As(err, &we) {
			n = we.Notification()
		}
		s.closeConn(c, n, &SessionError{Class: ClassNotificationSent, Notification: n, Err: err, Peer: s.cfg.PeerAddr, At: now})
		return
	}
	// RFC 4271 §8.2.2 (DelayOpen running): on receiving OPEN the local
	// system "sends an OPEN message" before the KEEPALIVE.
	s.sendOpen(c)
	neg, n, err := negotiate(&s.cfg, localOpen(&s.cfg), o)
	if n != nil {
		s.closeConn(c, n, &SessionError{Class: ClassNotificationSent, Notification: n, Err: err, Peer: s.cfg.PeerAddr, At: now})
		return
	}
	if !s.resolveCollision(c, o, neg) {
		return
	}
	c.neg = neg
	c.state = OpenConfirm
	c.maxLen.Store(int32(neg.MaxMessageLen()))
	// RFC 4271 §8.2.2 OpenSent, BGPOpen: "sends a KEEPALIVE message, sets
	// a KeepaliveTimer ..., sets the HoldTimer according to the negotiated
	// value ..., changes its state to OpenConfirm". A negotiated hold time
	// of zero stops both timers (§4.4).
	c.enqueue(keepaliveMsg)
	c.setKeepalive(neg.KeepaliveInterval)
	c.holdAt = time.Time{}
	s.restartHold(c)
}

// resolveCollision implements RFC 4271 §6.8 for an OPEN received on c. It
// reports whether c survives.
func (s *Session) resolveCollision(c *conn, o *wire.Open, neg *Negotiated) bool {
	for _, other := range append([]*conn(nil), s.conns...) {
		if other == c || other.closed {
			continue
		}
		now := time.Now()
		collision := &wire.Notification{Code: wire.NotifCease, Subcode: wire.CeaseCollisionResolution}
		lose := func(x *conn, why string) {
			s.mu.Lock()
			s.st.Collisions++
			s.mu.Unlock()
			s.closeConn(x, collision, &SessionError{Class: ClassCollision, Notification: collision, Peer: s.cfg.PeerAddr, At: now, Err: errors.New(why)})
		}
		if other.state == Established {
			// RFC 4724 §4.2: "If the session does not get re-established
			// within the 'Restart Time' ... [and] when the Receiving
			// Speaker detects ... a new TCP connection for the peer, it
			// MUST close the TCP connection associated with the
			// previously established session" when the peer had advertised
			// graceful restart: the peer restarted and the old session is
			// dead.
			if other.neg.PeerGR != nil && other.neg.LocalGR != nil {
				s.closeConn(other, nil, &SessionError{Class: ClassTransport, Peer: s.cfg.PeerAddr, At: now,
					Err: errors.New("peer opened a new connection while Established: it restarted (graceful restart)")})
				continue
			}
			// RFC 4271 §6.8: "Unless allowed via configuration, a
			// connection collision with an existing BGP connection that is
			// in the Established state causes closing of the newly created
			// connection."
			lose(c, "collision with the Established connection")
			return false
		}
		if other.outbound == c.outbound {
			// Same direction twice: the peer gave up on the older one.
			lose(other, "superseded by a newer connection from the same side")
			continue
		}
		// RFC 4271 §6.8: "Upon receipt of an OPEN message, the local
		// system MUST examine all of its connections that are in the
		// OpenConfirm state. A BGP speaker MAY also examine connections in
		// an OpenSent state if it knows the BGP Identifier of the peer by
		// means outside of the protocol." The OPEN on c tells us the peer's
		// Identifier, so both states are examined. "If the value of the
		// local BGP Identifier is less than the remote one, the local system
		// closes the BGP connection that already exists ... and accepts the
		// BGP connection initiated by the remote system" — i.e. the
		// connection initiated by the speaker with the higher Identifier
		// survives. RFC 6286 §2.3: with equal Identifiers "the connection
		// initiated by the BGP speaker with the larger AS number is
		// preserved".
		cmp := s.cfg.RouterID.Compare(o.BGPID)
		keepOutbound := cmp > 0 || (cmp == 0 && s.cfg.LocalAS > neg.PeerAS)
		if c.outbound == keepOutbound {
			lose(other, fmt.Sprintf("collision: the connection initiated by %s (higher BGP Identifier) is kept", initiator(keepOutbound)))
		} else {
			lose(c, fmt.Sprintf("collision: the connection initiated by %s (higher BGP Identifier) is kept", initiator(keepOutbound)))
			return false
		}
	}
	return true
}

func initiator(outbound bool) string {
	if outbound {
		return "kbgp"
	}
	return "the peer"
}

// established enters Established on c.
func (s *Session) established(c *conn) {
	c.state = Established
	s.epochs++
	c.epoch = s.epochs
	s.cancelDial()
	s.connectRetryAt = time.Time{}
	s.lastUp = time.Now()
	clear(s.adjIn)
	s.est.Store(c)
	s.mu.Lock()
	s.st.Established++
	s.st.PrefixesReceived = map[wire.Family]int{}
	s.mu.Unlock()
	// Report Established before the handler's callback so StateChanged
	// precedes Established.
	s.report()
	s.h.Established(s, c.epoch, c.neg)
}

// recvUpdate handles an UPDATE in Established: RFC 7606 error actions,
// End-of-RIB, prefix limits. It owns buf (the pooled buffer of body, or
// nil): the decoded UPDATE aliases it, and both go to the Handler or back
// to their pools.
func (s *Session) recvUpdate(c *conn, body []byte, buf *[]byte) {
	u := newReceivedUpdate()
	u.body = buf
	err := u.Decode(body, &c.neg.Recv)
	if err != nil {
		var we *wire.Error
		if !errors.As(err, &we) {
			we = &wire.Error{Code: wire.NotifUpdate, Subcode: wire.UpdateMalformedAttrList, Action: wire.ActionSessionReset, Reason: err.Error()}
		}
		switch we.Action {
		case wire.ActionTreatAsWithdraw:
			// RFC 7606 §2: "In this approach, the UPDATE message containing
			// the path attribute in question MUST be treated as though all
			// contained routes had been withdrawn just as if they had been
			// listed in the WITHDRAWN ROUTES field".
			s.noteUpdateError(we)
			w := newReceivedUpdate()
			asWithdraw(&w.Update, &u.Update)
			u.Release()
			s.applyUpdate(c, w)
			return
		case wire.ActionAttrDiscard:
			// RFC 7606 §2: the attribute is discarded and the UPDATE
			// processed normally; the decoder already dropped it.
			s.noteUpdateError(we)
		default:
			n := we.Notification()
			n.Data = append([]byte(nil), n.Data...)
			// u is not released: we.Data may alias the buffer, and the
			// SessionError keeps we.
			s.closeConn(c, n, &SessionError{Class: ClassNotificationSent, Notification: n, Err: we, Peer: s.cfg.PeerAddr, At: time.Now()})
			return
		}
	}
	if f, ok := wire.IsEndOfRIB(&u.Update); ok {
		u.Release()
		if c.neg.HasFamily(f) {
			s.h.EndOfRIB(s, c.epoch, f)
		}
		return
	}
	s.applyUpdate(c, u)
}

// applyUpdate counts the Adj-RIB-In of the counted families (see
// Session.counts), enforces MaxPrefix and hands u to the handler.
func (s *Session) applyUpdate(c *conn, u *ReceivedUpdate) {
	changed := false
	track := func(f wire.Family, w []wire.NLRI, add bool) {
		if len(w) == 0 || !s.counts(f) {
			return
		}
		changed = true
		m := s.adjIn[f]
		if m == nil {
			if s.adjIn == nil {
				s.adjIn = map[wire.Family]*prefixSet{}
			}
			m = &prefixSet{}
			s.adjIn[f] = m
		}
		for _, n := range w {
			if add {
				m.add(n)
			} else {
				m.remove(n)
			}
		}
	}
	track(wire.IPv4Unicast, u.Withdrawn, false)
	if u.MPUnreach != nil {
		track(u.MPUnreach.Family, u.MPUnreach.NLRI, false)
	}
	track(wire.IPv4Unicast, u.NLRI, true)
	if u.MPReach != nil {
		track(u.MPReach.Family, u.MPReach.NLRI, true)
	}
	if !changed {
		s.h.Update(s, c.epoch, u)
		return
	}
	s.mu.Lock()
	for f, m := range s.adjIn {
		s.st.PrefixesReceived[f] = m.len()
	}
	s.mu.Unlock()
	for f, limit := range s.cfg.MaxPrefix {
		if limit > 0 && s.adjIn[f] != nil && s.adjIn[f].len() > limit {
			u.Release()
			s.maxPrefixExceeded(c, f, limit)
			return
		}
	}
	s.h.Update(s, c.epoch, u)
}

// maxPrefixExceeded closes the session per RFC 4486 §4: "If a BGP speaker
// decides to terminate its peering with a neighbor because the number of
// address prefixes received from the neighbor exceeds a locally configured
// upper bound ..., then the speaker MUST send to the neighbor a
// NOTIFICATION message with the Error Code Cease and the Error Subcode
// 'Maximum Number of Prefixes Reached'. The message MAY optionally include
// the Address Family information [AFI (2), SAFI (1)] and the upper bound
// [4 octets] in the 'Data' field".
func (s *Session) maxPrefixExceeded(c *conn, f wire.Family, limit int) {
	data := make([]byte, 7)
	binary.BigEndian.PutUint16(data, uint16(f.AFI))
	data[2] = byte(f.SAFI)
	binary.BigEndian.PutUint32(data[3:], uint32(limit))
	n := &wire.Notification{Code: wire.NotifCease, Subcode: wire.CeaseMaxPrefix, Data: data}
	got := s.adjIn[f].len()
	if s.cfg.MaxPrefixRestart <= 0 {
		s.adminDown = true
	}
	s.closeConn(c, n, &SessionError{Class: ClassMaxPrefix, Notification: n, Peer: s.cfg.PeerAddr, At: time.Now(),
		Err: fmt.Errorf("received %d %s prefixes, limit %d", got, f.String(), limit)})
	if s.cfg.MaxPrefixRestart > 0 && !s.adminDown {
		s.idleHoldAt = time.Now().Add(s.cfg.MaxPrefixRestart)
	}
	s.mu.Lock()
	s.st.AdminDown = s.adminDown
	s.mu.Unlock()
}

func (s *Session) noteUpdateError(we *wire.Error) {
	s.mu.Lock()
	s.st.UpdateErrors++
	s.st.LastUpdateError = we.Error()
	s.mu.Unlock()
}

// asWithdraw sets w to an UPDATE that withdraws every route u carried. w
// does not alias u.
func asWithdraw(w, u *wire.Update) {
	*w = wire.Update{Withdrawn: append(append([]wire.NLRI(nil), u.Withdrawn...), u.NLRI...)}
	if u.MPUnreach != nil {
		w.MPUnreach = &wire.MPUnreach{Family: u.MPUnreach.Family, NLRI: append([]wire.NLRI(nil), u.MPUnreach.NLRI...)}
	}
	if r := u.MPReach; r != nil && len(r.NLRI) > 0 {
		if w.MPUnreach == nil {
			w.MPUnreach = &wire.MPUnreach{Family: r.Family}
		}
		if w.MPUnreach.Family == r.Family {
			w.MPUnreach.NLRI = append(w.MPUnreach.NLRI, r.NLRI...)
		} else if r.Family == wire.IPv4Unicast {
			w.Withdrawn = append(w.Withdrawn, r.NLRI...)
		}
	}
}

func (s *Session) recvRouteRefresh(c *conn, body []byte) {
	var r wire.RouteRefresh
	if err := r.Decode(body); err != nil {
		// RFC 7313 §5: a ROUTE-REFRESH of bad length is answered with
		// ROUTE-REFRESH Message Error / Invalid Message Length.
		var we *wire.Error
		n := &wire.Notification{Code: wire.NotifRouteRefresh, Subcode: wire.RouteRefreshInvalidLength}
		if errors.As(err, &we) {
			n = we.Notification()
			n.Data = append([]byte(nil), n.Data...)
		}
		s.closeConn(c, n, &SessionError{Class: ClassNotificationSent, Notification: n, Err: err, Peer: s.cfg.PeerAddr, At: time.Now()})
		return
	}
	// RFC 2918 §4: "If a BGP speaker receives a ROUTE-REFRESH message with
	// the <AFI, SAFI> that the speaker didn't advertise to the peer at the
	// session establishment time via capability advertisement, the speaker
	// shall ignore such a message." RFC 7313 §5: unknown subtypes "MUST"
	// be ignored.
	if s.cfg.DisableRouteRefresh || !c.neg.HasFamily(r.Family) || r.Subtype > wire.RefreshEoRR {
		return
	}
	s.h.RouteRefresh(s, c.epoch, r)
}
