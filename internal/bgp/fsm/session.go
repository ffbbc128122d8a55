package fsm

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/kbgp/kbgp/internal/bgp/wire"
)

// Handler receives a session's events. All methods are called with the
// session's FSM lock held, one at a time, in order, from the goroutine that
// delivered the event: a connection's reader, a timer, a dial, or the
// caller of Start, Stop, Close or Accept. They may block (that is the
// backpressure from the RIB to the peer: a reader blocked in Update reads
// no more from its socket), but must not call Start, Stop, Restart, Close
// or Accept on the same session, nor wait for Send to it, or the session
// deadlocks.
type Handler interface {
	// StateChanged reports every FSM state transition; reason is why a
	// session fell back (nil for forward progress).
	StateChanged(s *Session, from, to State, reason error)
	// Established starts an Established period identified by epoch.
	// n is shared and must not be modified.
	Established(s *Session, epoch uint64, n *Negotiated)
	// Update delivers a received UPDATE after RFC 7606 handling (a
	// treat-as-withdraw UPDATE arrives as withdrawals). The handler owns u
	// from then on, may pass it to another goroutine, and calls u.Release
	// when done with it.
	Update(s *Session, epoch uint64, u *ReceivedUpdate)
	// EndOfRIB reports a received End-of-RIB marker (RFC 4724 §2).
	EndOfRIB(s *Session, epoch uint64, f wire.Family)
	// RouteRefresh reports a received ROUTE-REFRESH for a negotiated
	// family (subtype 0, or BoRR/EoRR per RFC 7313).
	RouteRefresh(s *Session, epoch uint64, r wire.RouteRefresh)
	// Down ends the Established period epoch. keepStale is true when the
	// peer's routes must be retained as stale under graceful restart
	// (RFC 4724 §4.2, RFC 8538); otherwise they must be removed now.
	Down(s *Session, epoch uint64, reason *SessionError, keepStale bool)
}

// Session is the state machine of one configured peer. Create it with New;
// it starts in Idle and connects after Start.
type Session struct {
	cfg     Config
	h       Handler
	openMsg []byte // the encoded OPEN sent on every connection; only read

	done chan struct{} // closed by Close: wakes producers blocked in Send
	once sync.Once
	wg   sync.WaitGroup // dials and every conn's reader and writer

	est atomic.Pointer[conn] // the Established connection, for Send

	// The FSM has no goroutine of its own: fmu serializes the events (a
	// message read, a timer, a dial's result, a command), each handled on
	// the goroutine that delivered it. (A session goroutine per peer, with
	// its channels and timer, was about 5 KB of stack and 2 KB of heap for
	// every idle client of a route reflector.)
	fmu     sync.Mutex
	closed  bool        // Close ran: events are dropped
	timer   *time.Timer // runs onTimer at timerAt, the next FSM deadline
	timerAt time.Time

	// Guarded by fmu.
	base           State // Idle, Connect or Active: the state without connections
	state          State // last reported state
	reason         error // why the state falls back, reported once
	conns          []*conn
	dialCancel     context.CancelFunc
	dialGen        uint64
	connectRetryAt time.Time
	idleHoldAt     time.Time
	adminDown      bool
	failures       int
	lastUp         time.Time
	epochs         uint64
	adjIn          map[wire.Family]*prefixSet // only counted families (Session.counts)

	in, out [6]atomic.Uint64

	mu sync.Mutex // guards st
	st Status
}

// New validates cfg and returns the session in Idle. Call Start to connect,
// and Close to release it.
func New(cfg Config, h Handler) (*Session, error) {
	cfg, err := cfg.validate()
	if err != nil {
		return nil, err
	}
	s := &Session{
		cfg:  cfg,
		h:    h,
		done: make(chan struct{}),
	}
	// The encoded OPEN (about 60 bytes) is kept for every connection's
	// sendOpen; building and encoding it for each was about 1.4 KB of
	// garbage per session coming up. recvOpen builds the struct again
	// to negotiate: an idle session does not keep it.
	m, err := wire.AppendOpen(nil, localOpen(&s.cfg))
	if err != nil {
		return nil, fmt.Errorf("peer %v: encoding OPEN: %w", cfg.PeerAddr, err)
	}
	s.openMsg = slices.Clip(m)
	s.st = Status{Peer: cfg.PeerAddr, State: Idle, Since: time.Now(), AdminDown: true}
	s.adminDown = true
	return s, nil
}

// Config returns the session's configuration with defaults filled in.
func (s *Session) Config() Config { return s.cfg }

// Peer is the peer's address.
func (s *Session) Peer() netip.Addr { return s.cfg.PeerAddr }

// do runs the FSM event f under the FSM lock.
func (s *Session) do(f func()) error {
	s.fmu.Lock()
	defer s.fmu.Unlock()
	if s.closed {
		return ErrClosed
	}
	f()
	s.settle()
	return nil
}

// settle ends an FSM event: it reports a state change and arms the timer
// for the next deadline. fmu is held.
func (s *Session) settle() {
	s.report()
	at := s.nextDeadline()
	if at.Equal(s.timerAt) {
		return
	}
	s.timerAt = at
	switch {
	case at.IsZero():
		if s.timer != nil {
			s.timer.Stop()
		}
	case s.timer == nil:
		s.timer = time.AfterFunc(max(time.Until(at), 0), s.onTimer)
	default:
		s.timer.Reset(max(time.Until(at), 0))
	}
}

// onTimer handles the FSM's timers (hold, DelayOpen, ConnectRetry, idle
// hold). A call for a deadline that moved finds nothing due.
func (s *Session) onTimer() {
	s.fmu.Lock()
	defer s.fmu.Unlock()
	if s.closed {
		return
	}
	s.timerAt = time.Time{}
	s.handleTimers(time.Now())
	s.settle()
}

// Start is the ManualStart event (RFC 4271 §8.1.2): leave Idle and connect
// (or, for a passive peer, wait for the peer to connect).
func (s *Session) Start() error {
	return s.do(func() {
		s.adminDown = false
		s.failures = 0
		s.idleHoldAt = time.Time{}
		if s.base == Idle && len(s.conns) == 0 {
			s.startConnecting()
		}
	})
}

// Stop is the ManualStop event: close with Cease / Administrative Shutdown
// carrying msg as the RFC 9003 Shutdown Communication (cut to 128 bytes)
// and stay Idle until Start.
func (s *Session) Stop(msg string) error {
	return s.stopWith(shutdownNotification(wire.CeaseAdminShutdown, msg), true)
}

// Restart closes the session with Cease / Administrative Reset (RFC 4486)
// carrying msg, then connects again: the reset for a changed configuration
// or an operator's request.
func (s *Session) Restart(msg string) error {
	return s.stopWith(shutdownNotification(wire.CeaseAdminReset, msg), false)
}

// RestartWith closes the session with NOTIFICATION n (e.g. Cease / Out of
// Resources) and connects again.
func (s *Session) RestartWith(n *wire.Notification) error {
	return s.stopWith(n, false)
}

func (s *Session) stopWith(n *wire.Notification, stay bool) error {
	return s.do(func() {
		s.adminDown = true
		cause := &SessionError{Class: ClassAdmin, Notification: n, Peer: s.cfg.PeerAddr, At: time.Now()}
		s.closeAll(n, cause)
		s.toIdle(cause)
		if !stay {
			s.adminDown = false
			s.startConnecting()
		}
	})
}

func shutdownNotification(sub uint8, msg string) *wire.Notification {
	for len(msg) > wire.MaxShutdownMessageLen {
		// Cut at a rune boundary so the message stays valid UTF-8.
		msg = msg[:len(msg)-1]
		for len(msg) > 0 && msg[len(msg)-1]&0xc0 == 0x80 {
			msg = msg[:len(msg)-1]
		}
		if len(msg) > 0 && msg[len(msg)-1] >= 0xc0 {
			msg = msg[:len(msg)-1]
		}
	}
	n, err := wire.NewShutdown(sub, msg)
	if err != nil {
		return &wire.Notification{Code: wire.NotifCease, Subcode: sub}
	}
	return n
}

// Close tears the session down: it sends Cease / Peer De-configured (RFC
// 4486) on open connections and waits until every goroutine of the session
// has exited. It is safe to call more than once.
func (s *Session) Close() {
	n := &wire.Notification{Code: wire.NotifCease, Subcode: wire.CeasePeerDeconfigured}
	s.CloseWith(n)
}

// CloseWith is Close with a chosen NOTIFICATION (nil: none).
func (s *Session) CloseWith(n *wire.Notification) {
	s.fmu.Lock()
	if !s.closed {
		s.adminDown = true
		cause := &SessionError{Class: ClassAdmin, Notification: n, Peer: s.cfg.PeerAddr, At: time.Now()}
		s.closeAll(n, cause)
		s.toIdle(cause)
		s.report()
		s.closed = true
		if s.timer != nil {
			s.timer.Stop()
		}
		s.once.Do(func() { close(s.done) })
	}
	s.fmu.Unlock()
	s.wg.Wait()
}

// Accept hands the session a connection the speaker accepted from the peer.
// The session owns nc from then on.
func (s *Session) Accept(nc *net.TCPConn) {
	if s.do(func() { s.accept(nc) }) != nil {
		nc.Close()
	}
}

// Send queues an encoded message for the Established period epoch. It
// blocks while the connection's bounded queue is full (backpressure) and
// returns ErrNotEstablished if that period ended, or ctx's error.
func (s *Session) Send(ctx context.Context, epoch uint64, msg []byte) error {
	return s.SendBatch(ctx, epoch, [][]byte{msg})
}

// SendBatch is Send for several messages, sent in order: they take one
// entry of the bounded queue (Config.QueueLen) and go out in as few writes
// as their size allows. The session keeps msgs until they are written.
func (s *Session) SendBatch(ctx context.Context, epoch uint64, msgs [][]byte) error {
	if len(msgs) == 0 {
		return nil
	}
	c := s.est.Load()
	if c == nil || c.epoch != epoch {
		return ErrNotEstablished
	}
	return c.push(ctx, msgs)
}

// Enqueue queues entries (first, then more: each a list of encoded
// messages) for the Established period epoch without waiting, to be written
// in order after everything queued before. Unlike SendBatch, which waits
// for room, it returns ErrQueueFull, queuing nothing, if limit entries
// already wait: the caller decides what a peer that does not keep up gets
// (the speaker resets its session). It returns
// ErrNotEstablished, queuing nothing, if that period ended or its
// connection failed.
func (s *Session) Enqueue(epoch uint64, limit int, first [][]byte, more ...[][]byte) error {
	c := s.est.Load()
	if c == nil || c.epoch != epoch {
		return ErrNotEstablished
	}
	return c.enqueueEntries(limit, first, more)
}

// SendRouteRefresh sends a ROUTE-REFRESH for f (RFC 2918), e.g. after an
// import policy change. The peer must have negotiated route refresh.
func (s *Session) SendRouteRefresh(ctx context.Context, f wire.Family) error {
	c := s.est.Load()
	if c == nil {
		return ErrNotEstablished
	}
	// RFC 2918 §4: "A BGP speaker may send a ROUTE-REFRESH message to its
	// peer only if it has received the Route Refresh Capability from its
	// peer."
	if !c.neg.RouteRefresh {
		return fmt.Errorf("peer %v did not advertise the route refresh capability", s.cfg.PeerAddr)
	}
	if !c.neg.HasFamily(f) {
		return fmt.Errorf("peer %v: family %s was not negotiated", s.cfg.PeerAddr, f.String())
	}
	return s.Send(ctx, c.epoch, wire.AppendRouteRefresh(nil, &wire.RouteRefresh{Family: f}))
}

// Status returns a snapshot of the session.
func (s *Session) Status() Status {
	s.mu.Lock()
	st := s.st
	st.PrefixesReceived = make(map[wire.Family]int, len(s.st.PrefixesReceived))
	for f, n := range s.st.PrefixesReceived {
		st.PrefixesReceived[f] = n
	}
	s.mu.Unlock()
	for i := range st.In {
		st.In[i] = s.in[i].Load()
		st.Out[i] = s.out[i].Load()
	}
	return st
}

func (s *Session) countIn(t wire.MsgType) {
	if int(t) < len(s.in) {
		s.in[t].Add(1)
	}
}

// derive computes the state reported for the session: the most advanced
// connection's, or the base state without connections.
func (s *Session) derive() State {
	st := s.base
	for _, c := range s.conns {
		if c.state > st {
			st = c.state
		}
	}
	return st
}

// report notifies the handler of a state change and updates Status.
func (s *Session) report() {
	to := s.derive()
	if to == s.state {
		return
	}
	from, reason := s.state, s.reason
	s.state, s.reason = to, nil
	now := time.Now()
	s.mu.Lock()
	s.st.State, s.st.Since = to, now
	s.st.AdminDown = s.adminDown
	if c := s.est.Load(); c != nil {
		s.st.Negotiated, s.st.Local, s.st.Remote = c.neg, c.local, c.remote
	} else {
		s.st.Negotiated, s.st.Local, s.st.Remote = nil, netip.AddrPort{}, netip.AddrPort{}
	}
	s.mu.Unlock()
	s.h.StateChanged(s, from, to, reason)
}

// LocalAddr is the local address and port of the Established connection,
// the zero AddrPort when there is none: Status().Local without copying the
// whole status (the speaker asks on every Established, on the reader).
func (s *Session) LocalAddr() netip.AddrPort {
	if c := s.est.Load(); c != nil {
		return c.local
	}
	return netip.AddrPort{}
}

func (s *Session) nextDeadline() time.Time {
	var at time.Time
	earlier := func(t time.Time) {
		if !t.IsZero() && (at.IsZero() || t.Before(at)) {
			at = t
		}
	}
	earlier(s.connectRetryAt)
	earlier(s.idleHoldAt)
	for _, c := range s.conns {
		earlier(c.holdAt)
		earlier(c.delayOpenAt)
	}
	return at
}

func (s *Session) handleTimers(now time.Time) {
	for _, c := range append([]*conn(nil), s.conns...) {
		if !c.delayOpenAt.IsZero() && !now.Before(c.delayOpenAt) {
			s.sendOpen(c)
		}
		if !c.holdAt.IsZero() && !now.Before(c.holdAt) && c.neg != nil {
			// In Established this is how the hold timer restarts: from
			// the last message the reader read or processed (rxAt), not
			// on every message (handle.go). A message read but not yet
			// processed (the FSM busy, e.g. another connection's reader
			// waiting for the RIB) proves the peer alive too.
			if c.delivering.Load() {
				c.holdAt = now.Add(c.neg.HoldTime)
			} else if rx := clockBase.Add(time.Duration(c.rxAt.Load())); now.Sub(rx) < c.neg.HoldTime {
				c.holdAt = rx.Add(c.neg.HoldTime)
			}
		}
		if !c.holdAt.IsZero() && !now.Before(c.holdAt) {
			// RFC 4271 §6.5: "If a system does not receive successive
			// KEEPALIVE, UPDATE, and/or NOTIFICATION messages within the
			// period specified in the Hold Time field of the OPEN message,
			// then the NOTIFICATION message with the Hold Timer Expired
			// Error Code is sent and the BGP connection is closed."
			n := &wire.Notification{Code: wire.NotifHoldTimerExpired}
			s.closeConn(c, n, &SessionError{Class: ClassHoldTimerExpired, Notification: n, Peer: s.cfg.PeerAddr, At: now,
				Err: fmt.Errorf("nothing received for the hold time %v", s.holdTime(c))})
		}
	}
	if !s.connectRetryAt.IsZero() && !now.Before(s.connectRetryAt) {
		s.connectRetryAt = time.Time{}
		// RFC 4271 §8.2.2 Active state: on ConnectRetryTimer_Expires the
		// local system "initiates a TCP connection to the other BGP peer"
		// and "changes its state to Connect".
		if !s.adminDown && !s.cfg.Passive && len(s.conns) == 0 && s.dialCancel == nil {
			s.base = Connect
			s.dial()
		}
	}
	if !s.idleHoldAt.IsZero() && !now.Before(s.idleHoldAt) {
		s.idleHoldAt = time.Time{}
		if !s.adminDown && s.base == Idle && len(s.conns) == 0 {
			s.startConnecting()
		}
	}
}

func (s *Session) holdTime(c *conn) time.Duration {
	if c.neg != nil {
		return c.neg.HoldTime
	}
	return OpenSentHoldTime
}

// startConnecting leaves Idle: AutomaticStart with or without
// PassiveTcpEstablishment (RFC 4271 §8.1.2).
func (s *Session) startConnecting() {
	s.idleHoldAt = time.Time{}
	if s.cfg.Passive {
		s.base = Active
		return
	}
	s.base = Connect
	s.dial()
}

type dialResult struct {
	gen uint64
	nc  *net.TCPConn
	err error
}

// dial starts routineDial for a new connection attempt.
func (s *Session) dial() {
	s.cancelDial()
	ctx, cancel := context.WithTimeout(context.Background(), max(s.cfg.ConnectRetry, time.Second))
	s.dialCancel = cancel
	s.dialGen++
	s.wg.Add(1)
	go s.routineDial(ctx, s.dialGen)
}

func (s *Session) cancelDial() {
	if s.dialCancel != nil {
		s.dialCancel()
		s.dialCancel = nil
	}
}

// routineDial connects to the peer and hands the result to handleDial. The
// FSM cancels ctx when the attempt is no longer wanted.
func (s *Session) routineDial(ctx context.Context, gen uint64) {
	defer s.wg.Done()
	network := "tcp4"
	if s.cfg.PeerAddr.Is6() {
		network = "tcp6"
	}
	d := net.Dialer{
		Control: func(network, _ string, rc syscall.RawConn) error { return socketOptions(&s.cfg, rc, network, false) },
	}
	d.SetMultipathTCP(false) // TCP MD5 and GTSM need plain TCP sockets
	if s.cfg.LocalAddr.IsValid() || s.cfg.LocalPort != 0 {
		d.LocalAddr = net.TCPAddrFromAddrPort(netip.AddrPortFrom(s.cfg.LocalAddr, s.cfg.LocalPort))
	}
	addr := net.JoinHostPort(s.cfg.PeerAddr.String(), strconv.Itoa(int(s.cfg.PeerPort)))
	var nc net.Conn
	var err error
	if s.cfg.Dial != nil {
		nc, err = s.cfg.Dial(ctx, &d, network, addr)
	} else {
		nc, err = d.DialContext(ctx, network, addr)
	}
	r := dialResult{gen: gen, err: err}
	if err == nil {
		tc, ok := nc.(*net.TCPConn)
		if !ok {
			nc.Close()
			r.err = fmt.Errorf("Config.Dial returned a %T, not a *net.TCPConn", nc)
		}
		r.nc = tc
	}
	if r.err == nil {
		if s.cfg.TTLSecurity {
			cfg := s.cfg
			cfg.Password = ""
			if rc, err := r.nc.SyscallConn(); err != nil {
				r.err = err
			} else if err := socketOptions(&cfg, rc, "", true); err != nil {
				r.err = err
			}
			if r.err != nil {
				r.nc.Close()
				r.nc = nil
			}
		}
	}
	if s.do(func() { s.handleDial(r) }) != nil && r.nc != nil {
		r.nc.Close()
	}
}

func (s *Session) handleDial(r dialResult) {
	if r.gen != s.dialGen || s.dialCancel == nil {
		if r.nc != nil {
			r.nc.Close()
		}
		return
	}
	s.cancelDial()
	if r.err != nil {
		// RFC 4271 §8.2.2 Connect state, TcpConnectionFails: the local
		// system "restarts the ConnectRetryTimer, ... and changes its state
		// to Active".
		if len(s.conns) == 0 {
			s.base = Active
			s.reason = &SessionError{Class: ClassTransport, Err: r.err, Peer: s.cfg.PeerAddr, At: time.Now()}
			s.setLastError(s.reason.(*SessionError))
		}
		s.connectRetryAt = time.Now().Add(s.cfg.ConnectRetry)
		return
	}
	if s.adminDown || len(s.conns) >= 2 || s.est.Load() != nil {
		r.nc.Close()
		return
	}
	s.startConn(newConn(s, r.nc, true))
}

// accept takes an incoming connection (RFC 4271 Event 17,
// TcpConnectionConfirmed).
func (s *Session) accept(nc *net.TCPConn) {
	// RFC 4271 §8.2.2 Idle state: "any other event ... is ignored" and the
	// connection refused, while the operator keeps the peer down or while
	// DampPeerOscillations holds it in Idle.
	refuse := s.adminDown || len(s.conns) >= 2 || (s.cfg.DampPeerOscillations && !s.idleHoldAt.IsZero())
	if !refuse {
		// GTSM and TTL on the accepted socket; the MD5 key comes from the
		// listening socket.
		cfg := s.cfg
		cfg.Password = ""
		if rc, err := nc.SyscallConn(); err == nil {
			if err := socketOptions(&cfg, rc, "", true); err != nil {
				s.setLastError(&SessionError{Class: ClassTransport, Err: err, Peer: s.cfg.PeerAddr, At: time.Now()})
				refuse = true
			}
		}
	}
	if refuse {
		// RFC 4486 §4: a speaker that disallows a connection after
		// accepting it "SHOULD send a NOTIFICATION message with the Error
		// Code Cease and the Error Subcode 'Connection Rejected'".
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer nc.Close()
			nc.SetWriteDeadline(time.Now().Add(writeTimeout))
			m, _ := wire.AppendNotification(nil, &wire.Notification{Code: wire.NotifCease, Subcode: wire.CeaseConnectionRejected})
			nc.Write(m)
		}()
		return
	}
	s.idleHoldAt = time.Time{}
	if s.base == Idle {
		s.base = Active
	}
	s.startConn(newConn(s, nc, false))
}

// startConn starts a connection's reader and sends OPEN (RFC 4271
// §8.2.2: on TcpConnection_Valid/Confirmed the system "sends an OPEN
// message to its peer, sets the HoldTimer to a large value, and changes its
// state to OpenSent"), unless DelayOpen is configured.
func (s *Session) startConn(c *conn) {
	s.connectRetryAt = time.Time{}
	s.conns = append(s.conns, c)
	c.state = OpenSent
	s.wg.Add(1)
	go c.routineRead()
	if s.cfg.DelayOpen > 0 {
		c.delayOpenAt = time.Now().Add(s.cfg.DelayOpen)
		c.holdAt = time.Now().Add(OpenSentHoldTime)
		return
	}
	s.sendOpen(c)
}

func (s *Session) sendOpen(c *conn) {
	if c.sentOpen {
		return
	}
	c.delayOpenAt = time.Time{}
	c.sentOpen = true
	c.enqueue(s.openMsg)
	c.holdAt = time.Now().Add(OpenSentHoldTime)
}

// closeAll closes every connection with n.
func (s *Session) closeAll(n *wire.Notification, cause *SessionError) {
	for len(s.conns) > 0 {
		s.closeConn(s.conns[0], n, cause)
	}
}

// closeConn tears down c, sending final (if non-nil) as its last message.
// If c was Established, the handler's Down ends the period. If no
// connection is left, the session falls back to Idle.
func (s *Session) closeConn(c *conn, final *wire.Notification, cause *SessionError) {
	if c.closed {
		return
	}
	c.closed = true
	if final != nil && c.neg != nil && s.hardReset(c.neg) {
		final = wrapHardReset(final)
	}
	c.final = final
	c.holdAt, c.delayOpenAt = time.Time{}, time.Time{}
	c.nc.SetWriteDeadline(time.Now().Add(writeTimeout))
	c.forget()
	close(c.dead)
	c.teardown()
	for i, o := range s.conns {
		if o == c {
			s.conns = append(s.conns[:i], s.conns[i+1:]...)
			break
		}
	}
	if cause != nil && final != nil && cause.Class != ClassNotificationReceived {
		cause.Notification = final
	}
	// LastError is set before the handler hears of the failure (Down), so
	// a Status read after Down sees it.
	if cause != nil && cause.Class != ClassCollision {
		s.setLastError(cause)
	}
	if c.state == Established {
		s.est.Store(nil)
		keep := s.keepStale(c.neg, cause, final)
		s.mu.Lock()
		s.st.Flaps++
		s.st.PrefixesReceived = nil
		s.mu.Unlock()
		clear(s.adjIn)
		s.h.Down(s, c.epoch, cause, keep)
	}
	if cause != nil && cause.Class != ClassCollision {
		if len(s.conns) == 0 && s.est.Load() == nil && cause.Class != ClassAdmin {
			s.toIdle(cause)
		}
	}
}

// toIdle enters Idle after a failure and schedules the automatic restart:
// after IdleHoldTime, doubled for each consecutive failure when
// DampPeerOscillations is set (RFC 4271 §8.1.1).
func (s *Session) toIdle(cause *SessionError) {
	s.cancelDial()
	s.base = Idle
	s.connectRetryAt = time.Time{}
	if cause != nil {
		s.reason = cause
	}
	if s.adminDown {
		s.idleHoldAt = time.Time{}
		return
	}
	now := time.Now()
	if !s.lastUp.IsZero() && now.Sub(s.lastUp) > s.cfg.IdleHoldMax {
		s.failures = 0
	}
	hold := s.cfg.IdleHoldTime
	if s.cfg.DampPeerOscillations {
		for i := 0; i < s.failures && hold < s.cfg.IdleHoldMax; i++ {
			hold *= 2
		}
		hold = min(hold, s.cfg.IdleHoldMax)
	}
	s.failures++
	s.idleHoldAt = now.Add(hold)
}

func (s *Session) setLastError(e *SessionError) {
	s.mu.Lock()
	s.st.LastError = e
	s.mu.Unlock()
}
