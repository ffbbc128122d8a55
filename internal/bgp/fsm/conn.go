package fsm

import (
	"errors"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kbgp/kbgp/internal/bgp/wire"
)

// conn is one TCP connection of a session. Its FSM fields (state, holdAt,
// neg, epoch) are guarded by the session's FSM lock. The reader
// (routineRead) is started by startConn and runs only while the peer's
// messages are there to read (park_linux.go); the writer (routineWrite)
// runs only while there is something to write (writer.go). Both are owned
// by the session, whose WaitGroup waits for them.
type conn struct {
	s        *Session
	nc       *net.TCPConn
	raw      rawIO // non-blocking reads and writes, and epoll registration (rawio.go)
	outbound bool  // initiated by kbgp
	local    netip.AddrPort
	remote   netip.AddrPort

	// Guarded by the session's FSM lock (Session.fmu).
	state       State // OpenSent, OpenConfirm or Established
	holdAt      time.Time
	delayOpenAt time.Time // non-zero while DelayOpen runs (no OPEN sent yet)
	sentOpen    bool
	neg         *Negotiated
	epoch       uint64
	closed      bool

	dead  chan struct{}      // closed by the FSM to tear down
	final *wire.Notification // sent by routineWrite on dead; set before close(dead)

	// The outbound queue and its on-demand writer (writer.go).
	wmu       sync.Mutex
	queue     [][][]byte    // entries (messages or batches) waiting for routineWrite
	partial   []byte        // the rest of a write writeNow began: routineWrite sends it first
	writing   bool          // a routineWrite runs
	closing   bool          // torn down: nothing more is queued
	broken    bool          // a write failed: nothing more is written
	space     chan struct{} // closed when routineWrite takes the queue; made by a producer waiting for room
	keepalive time.Duration // negotiated KEEPALIVE interval (0: none)
	kaTimer   *time.Timer   // sends a KEEPALIVE when it fires (RFC 4271 §8.2.2)

	maxLen atomic.Int32 // largest message the reader accepts
	// rxAt is when the reader last read or finished handling a message
	// (monoNow), and delivering is true while it waits for the FSM lock to
	// handle one: a backlog on kbgp's side is not a silent peer. In
	// Established the hold timer restarts from rxAt (handleTimers), not
	// per message.
	rxAt       atomic.Int64
	delivering atomic.Bool

	// Parking (park_linux.go): pid and pstate are guarded by readers.mu.
	pid    uint32
	pstate uint8
}

// connEvent is a message (or read error) from a connection's reader.
// buf, when non-nil, is the pooled buffer body lives in: the FSM owns it and returns it to the pool (putBody) or passes it on
// with a ReceivedUpdate.
type connEvent struct {
	c    *conn
	typ  wire.MsgType
	body []byte
	buf  *[]byte
	err  error
}

func newConn(s *Session, nc *net.TCPConn, outbound bool) *conn {
	c := &conn{
		s:        s,
		nc:       nc,
		outbound: outbound,
		dead:     make(chan struct{}),
	}
	if a, ok := nc.LocalAddr().(*net.TCPAddr); ok {
		c.local = netip.AddrPortFrom(a.AddrPort().Addr().Unmap(), a.AddrPort().Port())
	}
	if a, ok := nc.RemoteAddr().(*net.TCPAddr); ok {
		c.remote = netip.AddrPortFrom(a.AddrPort().Addr().Unmap(), a.AddrPort().Port())
	}
	c.raw.init(nc)
	c.maxLen.Store(wire.MaxMessageLen)
	return c
}

// routineRead frames messages from the TCP stream and handles each under
// the FSM lock, so the Handler's backpressure (a blocked Update) stops the
// reading. It exits when the connection fails or is torn down, or when
// the socket has nothing to read and it parks (a new routineRead starts
// when the socket is readable again).
func (c *conn) routineRead() {
	s := c.s
	defer s.wg.Done()
	// Bodies come from a pool shared by all sessions, and the framer
	// reads ahead only while messages flow: an idle session holds no read
	// buffer, and a busy one reuses the buffers the RIB goroutine has
	// released.
	f := framer{r: c.nc, try: c}
	defer f.release()
	for {
		ev := connEvent{c: c}
		if typ, body, buf, err := f.next(int(c.maxLen.Load())); err == errIdle {
			if c.park() {
				return
			}
			// Torn down, or no epoll: keep reading, blocking.
			f.try = nil
			continue
		} else if err != nil {
			ev.err = err
		} else {
			ev.typ, ev.body, ev.buf = typ, body, buf
			s.countIn(typ)
			c.rxAt.Store(monoNow())
		}
		c.delivering.Store(true)
		s.fmu.Lock()
		if s.closed || c.closed {
			s.fmu.Unlock()
			if ev.buf != nil {
				putBody(ev.buf)
			}
			return
		}
		s.handleEvent(ev)
		s.settle()
		// The time spent handling it (e.g. waiting for the RIB) is kbgp's,
		// not the peer's: the hold timer counts from here.
		if ev.err == nil {
			c.rxAt.Store(monoNow())
		}
		c.delivering.Store(false)
		s.fmu.Unlock()
		if ev.err != nil {
			return
		}
	}
}

// isClosedErr reports whether err is the result of kbgp closing the socket.
func isClosedErr(err error) bool { return errors.Is(err, net.ErrClosed) }

// clockBase anchors monoNow.
var clockBase = time.Now()

// monoNow is the monotonic clock in nanoseconds since clockBase: one clock
// read, where time.Now reads the wall clock too. The reader stamps every
// message with it.
func monoNow() int64 { return int64(time.Since(clockBase)) }
