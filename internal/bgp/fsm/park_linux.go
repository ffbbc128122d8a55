package fsm

import (
	"errors"
	"sync"

	"golang.org/x/sys/unix"
)

// Parked readers.
//
// Most of a route reflector's clients send nothing most of the time: a
// KEEPALIVE every HoldTime/3 once their routes are in. A reader goroutine
// blocked on each of those sockets costs its stack (4-8 KB each: the
// handler's calls ran on it), about a third of what an Established
// session costs kbgp. So a reader that finds its socket empty gives up:
// the socket goes into one epoll set shared by all sessions
// (EPOLLONESHOT), and when it becomes readable (a message, the peer's FIN
// or RST, or kbgp's own shutdown after a failed write) a reader is
// started again. A parked connection is no goroutine at all; its timers
// (hold, keepalive) run as before.
//
// It parks at once, in every state, rather than after a pause: a peer
// streaming UPDATEs rarely leaves its socket empty (and a park and wake
// cost a few µs when it does), but a reflector whose clients come up
// together had a reader waiting on each of them between OPEN, KEEPALIVE
// and UPDATE (with a 20 ms pause before parking, about 90 of 100 at the
// memory peak; with 200 ms, all 1,000 of the harness's largest k8s run).
//
// The epoll loop itself runs only while some connection is registered.

// errIdle is the framer's report that the socket had nothing to read.
var errIdle = errors.New("fsm: connection idle")

// Park states of a conn (poller.mu).
const (
	parkReading uint8 = iota // a reader runs (or the conn never parked)
	parkParked               // no reader: the poller starts one when readable
	parkGone                 // torn down: no reader is started again
)

// poller is the epoll set of parked connections and its loop.
type poller struct {
	mu      sync.Mutex
	epfd    int // -1 until made
	wakefd  int // eventfd: makes the loop re-check whether it is still needed
	err     error
	running bool
	conns   map[uint32]*conn // registered connections by conn.pid
	lastID  uint32
}

var readers = poller{epfd: -1, wakefd: -1}

// wakeID is the epoll data of the eventfd; conn ids start at 1.
const wakeID = 0

// park registers c's socket for readiness and reports whether it did; the
// calling reader must then exit without touching c's read side again (a
// new reader may already run). It reports false if c is torn down or the
// socket cannot be registered: the caller keeps reading.
func (c *conn) park() bool {
	p := &readers
	p.mu.Lock()
	defer p.mu.Unlock()
	if c.pstate == parkGone || !p.init() {
		return false
	}
	op := unix.EPOLL_CTL_MOD
	if c.pid == 0 {
		op = unix.EPOLL_CTL_ADD
		// A fresh id; after 2^32 connections the counter wraps, and
		// ids still registered are skipped.
		for p.lastID++; p.lastID == wakeID || p.conns[p.lastID] != nil; p.lastID++ {
		}
		c.pid = p.lastID
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLONESHOT, Fd: int32(c.pid)}
	if !c.epollCtl(p.epfd, op, &ev) {
		if op == unix.EPOLL_CTL_ADD {
			c.pid = 0
		}
		return false
	}
	p.conns[c.pid] = c
	c.pstate = parkParked
	if !p.running {
		p.running = true
		go p.loop()
	}
	return true
}

// wake starts a reader for c if it is parked: the socket is readable, or
// kbgp shut its read side down and the reader must report it.
func (c *conn) wake() {
	readers.mu.Lock()
	c.wakeLocked()
	readers.mu.Unlock()
}

func (c *conn) wakeLocked() {
	if c.pstate != parkParked {
		return
	}
	c.pstate = parkReading
	// The session's WaitGroup counts the reader. CloseWith marks every
	// conn gone (forget, under this lock) before it waits, so this Add
	// happens before that Wait or not at all.
	c.s.wg.Add(1)
	go c.routineRead()
}

// forget tears down c's parking for good: no reader is started again, and
// the socket leaves the epoll set. closeConn calls it (under the FSM lock)
// before the writer closes the socket.
func (c *conn) forget() {
	p := &readers
	p.mu.Lock()
	defer p.mu.Unlock()
	c.pstate = parkGone
	if c.pid == 0 {
		return
	}
	ev := unix.EpollEvent{}
	c.epollCtl(p.epfd, unix.EPOLL_CTL_DEL, &ev) // a closed socket left the set already
	delete(p.conns, c.pid)
	c.pid = 0
	if len(p.conns) == 0 && p.running {
		p.signal()
	}
}

// epollCtl applies op to c's socket. It runs under the socket's reference
// (RawConn.Control), so the descriptor cannot be closed, and its number
// reused, meanwhile.
func (c *conn) epollCtl(epfd, op int, ev *unix.EpollEvent) bool {
	if c.raw.rc == nil {
		return false
	}
	var cerr error
	if err := c.raw.rc.Control(func(fd uintptr) { cerr = unix.EpollCtl(epfd, op, int(fd), ev) }); err != nil {
		return false
	}
	return cerr == nil
}

// init makes the epoll set and the eventfd once; false if that failed
// (parking is then off: readers keep blocking).
func (p *poller) init() bool {
	if p.err != nil {
		return false
	}
	if p.epfd >= 0 {
		return true
	}
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		p.err = err
		return false
	}
	wfd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		unix.Close(epfd)
		p.err = err
		return false
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: wakeID}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, wfd, &ev); err != nil {
		unix.Close(epfd)
		unix.Close(wfd)
		p.err = err
		return false
	}
	p.epfd, p.wakefd, p.conns = epfd, wfd, map[uint32]*conn{}
	return true
}

// signal wakes the loop (it exits if no connection is registered).
func (p *poller) signal() {
	var one = [8]byte{1} // eventfd counters are host-endian uint64s
	unix.Write(p.wakefd, one[:])
}

// loop waits for parked sockets to become readable and starts their
// readers. It exits when no connection is registered any more.
func (p *poller) loop() {
	evs := make([]unix.EpollEvent, 64)
	for {
		n, err := unix.EpollWait(p.epfd, evs, -1)
		if err == unix.EINTR {
			continue
		}
		p.mu.Lock()
		if err != nil {
			// Cannot happen with a valid epoll set; if it does, no socket
			// stays parked: every parked conn gets its reader back, and
			// parking is off from now on.
			p.err = err
			for _, c := range p.conns {
				c.wakeLocked()
			}
			p.running = false
			p.mu.Unlock()
			return
		}
		for _, ev := range evs[:n] {
			if ev.Fd == wakeID {
				var b [8]byte
				unix.Read(p.wakefd, b[:])
				continue
			}
			if c := p.conns[uint32(ev.Fd)]; c != nil {
				c.wakeLocked()
			}
		}
		if len(p.conns) == 0 {
			p.running = false
			p.mu.Unlock()
			return
		}
		p.mu.Unlock()
	}
}
