package fsm

import (
	"errors"
	"io"
	"net"
	"net/netip"
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

	out   chan []byte        // bounded outbound queue, drained by routineWrite
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
type connEvent struct {
	c    *conn
	typ  wire.MsgType
	body []byte
	err  error
}

func newConn(s *Session, nc *net.TCPConn, outbound bool) *conn {
	c := &conn{
		s:        s,
		nc:       nc,
		outbound: outbound,
		out:      make(chan []byte, s.cfg.QueueLen),
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
	case c.out <- m:
	case <-c.dead:
	case <-c.s.done:
	}
}

// routineRead frames messages from the TCP stream and hands them to the
// session goroutine. It exits when the connection fails or is torn down.
func (c *conn) routineRead() {
	defer c.s.wg.Done()
	hdr := make([]byte, wire.HeaderLen)
	for {
		ev := connEvent{c: c}
		if _, err := io.ReadFull(c.nc, hdr); err != nil {
			ev.err = err
		} else if n, typ, err := wire.ParseHeader(hdr, int(c.maxLen.Load())); err != nil {
			ev.err = err
		} else {
			body := make([]byte, n-wire.HeaderLen)
			if _, err := io.ReadFull(c.nc, body); err != nil {
				ev.err = err
			} else {
				ev.typ, ev.body = typ, body
				c.s.countIn(typ)
				c.rxAt.Store(time.Now().UnixNano())
			}
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

// maxWriteBatch and maxWriteBytes bound how many queued messages
// routineWrite coalesces into one writev.
const (
	maxWriteBatch = 256
	maxWriteBytes = 256 << 10
)

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
	// sent does the bookkeeping for messages that went out.
	sent := func(ms [][]byte) {
		restart := false
		for _, m := range ms {
			c.s.countOut(wire.MsgType(m[18]))
			restart = restart || m[18] == byte(wire.MsgKeepalive) || m[18] == byte(wire.MsgUpdate)
		}
		if ka > 0 && restart {
			t.Reset(ka)
		}
	}
	write := func(m []byte) bool {
		if _, err := c.nc.Write(m); err != nil {
			// The reader sees the broken connection and reports it.
			c.nc.CloseRead()
			return false
		}
		sent([][]byte{m})
		return true
	}
	// Messages already queued behind the first go out in one writev
	// (net.Buffers) instead of one write(2) each: with many small
	// UPDATEs per peer the syscalls were most of the speaker's CPU.
	var batch [][]byte
	var bufs net.Buffers
	writeQueued := func(m []byte) bool {
		batch = append(batch[:0], m)
		size := len(m)
	more:
		for len(batch) < maxWriteBatch && size < maxWriteBytes {
			select {
			case m := <-c.out:
				batch = append(batch, m)
				size += len(m)
			default:
				break more
			}
		}
		if len(batch) == 1 {
			return write(m)
		}
		bufs = append(bufs[:0], batch...)
		if _, err := bufs.WriteTo(c.nc); err != nil {
			c.nc.CloseRead()
			return false
		}
		sent(batch)
		clear(batch) // drop references to sent messages
		return true
	}
	for {
		select {
		case m := <-c.out:
			if !writeQueued(m) {
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
				case m := <-c.out:
					if !write(m) {
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
