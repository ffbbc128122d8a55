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
// peerOpen, neg, epoch) are owned by the session goroutine. The reader
// (routineRead) and writer (routineWrite) goroutines are started by
// startConn and owned by the session, whose WaitGroup waits for them.
type conn struct {
	s        *Session
	nc       *net.TCPConn
	outbound bool // initiated by kbgp
	local    netip.AddrPort
	remote   netip.AddrPort

	// Owned by the session goroutine.
	state       State // OpenSent, OpenConfirm or Established
	holdAt      time.Time
	delayOpenAt time.Time // non-zero while DelayOpen runs (no OPEN sent yet)
	sentOpen    bool
	peerOpen    *wire.Open
	neg         *Negotiated
	epoch       uint64
	closed      bool

	out   chan [][]byte      // bounded outbound queue of messages or batches, drained by routineWrite
	kaSet chan time.Duration // keepalive interval for routineWrite (buffered 1)
	dead  chan struct{}      // closed by the session goroutine to tear down
	final *wire.Notification // sent by routineWrite on dead; set before close(dead)

	maxLen atomic.Int32 // largest message the reader accepts
	// rxAt is when the reader last read a complete message (Unix ns), and
	// delivering is true while it waits to hand one to the session
	// goroutine: a backlog on kbgp's side is not a silent peer.
	rxAt       atomic.Int64
	delivering atomic.Bool
}

// connEvent is a message (or read error) from a connection's reader.
// buf, when non-nil, is the pooled buffer body lives in: the session
// goroutine owns it and returns it to the pool (putBody) or passes it on
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
		out:      make(chan [][]byte, s.cfg.QueueLen),
		kaSet:    make(chan time.Duration, 1),
		dead:     make(chan struct{}),
	}
	if a, ok := nc.LocalAddr().(*net.TCPAddr); ok {
		c.local = netip.AddrPortFrom(a.AddrPort().Addr().Unmap(), a.AddrPort().Port())
	}
	if a, ok := nc.RemoteAddr().(*net.TCPAddr); ok {
		c.remote = netip.AddrPortFrom(a.AddrPort().Addr().Unmap(), a.AddrPort().Port())
	}
	c.maxLen.Store(wire.MaxMessageLen)
	return c
}

// enqueue puts an encoded message on the outbound queue without blocking
// the session goroutine for long: FSM messages (OPEN, KEEPALIVE,
// ROUTE-REFRESH, NOTIFICATION) are small and few, but if the queue is full
// of UPDATEs to a stalled peer, it waits until the connection dies.
func (c *conn) enqueue(m []byte) {
	select {
	case c.out <- [][]byte{m}:
	case <-c.dead:
	case <-c.s.done:
	}
}

// routineRead frames messages from the TCP stream and hands them to the
// session goroutine. It exits when the connection fails or is torn down.
func (c *conn) routineRead() {
	defer c.s.wg.Done()
	// Bodies come from a pool shared by all sessions, and the framer
	// reads ahead only while messages flow: an idle session holds no read
	// buffer, and a busy one reuses the buffers the RIB goroutine has
	// released.
	f := framer{r: c.nc}
	defer f.release()
	for {
		ev := connEvent{c: c}
		if typ, body, buf, err := f.next(int(c.maxLen.Load())); err != nil {
			ev.err = err
		} else {
			ev.typ, ev.body, ev.buf = typ, body, buf
			c.s.countIn(typ)
			c.rxAt.Store(time.Now().UnixNano())
		}
		c.delivering.Store(true)
		select {
		case c.s.events <- ev:
		case <-c.dead:
			return
		case <-c.s.done:
			return
		}
		c.delivering.Store(false)
		if ev.err != nil {
			return
		}
	}
}

// writeTimeout bounds the NOTIFICATION write when tearing a connection down.
const writeTimeout = time.Second

// maxWriteBatches bounds how many queue entries (messages or batches)
// routineWrite drains before it looks at its timer again, and writeBufLen
// is the size of the pooled buffer the messages are copied into for one
// write.
const (
	maxWriteBatches = 64
	writeBufLen     = 32 << 10
)

// writeBufPool holds the coalescing buffers of all connections: a
// connection holds one only while it writes a burst. (Per-connection
// writev slices, and the iovec array the runtime caches per socket for
// writev, stayed allocated for the connection's lifetime: about 5 KB of
// every idle peer of a reflector.)
var writeBufPool = sync.Pool{New: func() any {
	b := make([]byte, 0, writeBufLen)
	return &b
}}

// routineWrite drains the outbound queue and sends KEEPALIVEs. RFC 4271
// §8.2.2: "Each time the local system sends a KEEPALIVE or UPDATE message,
// it restarts its KeepaliveTimer", so the writer owns that timer: a busy
// session goroutine never delays keepalives.
func (c *conn) routineWrite() {
	defer c.s.wg.Done()
	defer c.nc.Close()
	var ka time.Duration
	t := time.NewTimer(time.Hour)
	t.Stop()
	defer t.Stop()
	// counts holds the types of the messages in the write being built.
	var counts [6]uint32
	note := func(m []byte) {
		if typ := m[18]; int(typ) < len(counts) {
			counts[typ]++
		}
	}
	// sent does the bookkeeping for the messages noted since the last
	// call, which went out.
	sent := func() {
		for typ, n := range counts {
			if n > 0 {
				c.s.out[typ].Add(uint64(n))
			}
		}
		if ka > 0 && (counts[wire.MsgKeepalive] > 0 || counts[wire.MsgUpdate] > 0) {
			t.Reset(ka)
		}
		counts = [6]uint32{}
	}
	fail := func() bool {
		// The reader sees the broken connection and reports it.
		c.nc.CloseRead()
		return false
	}
	write := func(m []byte) bool {
		if _, err := c.nc.Write(m); err != nil {
			return fail()
		}
		note(m)
		sent()
		return true
	}
	// The messages of a batch, and those queued behind it, are copied
	// into one buffer and go out in one write(2) instead of one each:
	// with many small UPDATEs per peer the syscalls were most of the
	// speaker's CPU.
	writeQueued := func(ms [][]byte) bool {
		if len(ms) == 1 && len(c.out) == 0 {
			return write(ms[0])
		}
		bp := writeBufPool.Get().(*[]byte)
		defer writeBufPool.Put(bp)
		buf := (*bp)[:0]
		flush := func() bool {
			if len(buf) == 0 {
				return true
			}
			if _, err := c.nc.Write(buf); err != nil {
				return fail()
			}
			sent()
			buf = buf[:0]
			return true
		}
		add := func(m []byte) bool {
			if len(buf)+len(m) > cap(buf) && !flush() {
				return false
			}
			if len(m) > cap(buf) {
				return write(m)
			}
			buf = append(buf, m...)
			note(m)
			return true
		}
		addAll := func(ms [][]byte) bool {
			for _, m := range ms {
				if !add(m) {
					return false
				}
			}
			return true
		}
		if !addAll(ms) {
			return false
		}
	more:
		for n := 1; n < maxWriteBatches; n++ {
			select {
			case ms := <-c.out:
				if !addAll(ms) {
					return false
				}
			default:
				break more
			}
		}
		return flush()
	}
	for {
		select {
		case ms := <-c.out:
			if !writeQueued(ms) {
				<-c.dead
				return
			}
		case ka = <-c.kaSet:
			if ka > 0 {
				t.Reset(ka)
			}
		case <-t.C:
			if !write(wire.AppendKeepalive(nil)) {
				<-c.dead
				return
			}
		case <-c.dead:
			c.nc.SetWriteDeadline(time.Now().Add(writeTimeout))
			// Flush what was queued before the teardown (an OPEN or
			// KEEPALIVE ahead of the NOTIFICATION), then the NOTIFICATION.
			for {
				select {
				case ms := <-c.out:
					if !writeQueued(ms) {
						return
					}
					continue
				default:
				}
				break
			}
			if c.final != nil {
				if m, err := wire.AppendNotification(nil, c.final); err == nil {
					write(m)
				}
			}
			return
		}
	}
}

// isClosedErr reports whether err is the result of kbgp closing the socket.
func isClosedErr(err error) bool { return errors.Is(err, net.ErrClosed) }
