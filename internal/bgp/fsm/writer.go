package fsm

import (
	"context"
	"time"

	"github.com/kbgp/kbgp/internal/bgp/wire"
)

// The outbound side of a connection: a bounded queue of entries (a message
// or a batch of messages) and a writer goroutine, routineWrite, that runs
// only while the queue is non-empty (Enqueue and the KEEPALIVE timer write
// from their own goroutine when the socket has room, writeNow, and need
// no writer at all then), and a KEEPALIVE timer that is a
// time.AfterFunc, so an idle Established connection holds neither a
// goroutine nor a buffer for its outbound side. (A writer goroutine parked
// on a channel and a timer per connection was about 4 KB of stack and heap
// for every idle client of a route reflector.)

// writeTimeout bounds the NOTIFICATION write when tearing a connection down.
const writeTimeout = time.Second

// writeBufLen is the size of the pooled buffer that the messages of one
// write are copied into; writes of up to smallWriteBufLen (a session's
// handshake, a few routes) take a buffer of that size instead: a
// reflector's clients coming up together each held a 32 KB one for a few
// hundred bytes.
const (
	writeBufLen      = 32 << 10
	smallWriteBufLen = 4 << 10
)

// writeBufs holds the coalescing buffers of all connections: a
// connection holds one only while it writes a burst. (Per-connection
// writev slices, and the iovec array the runtime caches per socket for
// writev, stayed allocated for the connection's lifetime: about 5 KB of
// every idle peer of a reflector.)
// A write of more than writeBufLen goes out in several; writers append
// from (*b)[:0].
var writeBufs = newBufPool(smallWriteBufLen, writeBufLen)

// keepaliveMsg is the encoded KEEPALIVE; it is only ever read.
var keepaliveMsg = wire.AppendKeepalive(nil)

// enqueue puts an encoded FSM message (OPEN, KEEPALIVE, ROUTE-REFRESH) on
// the outbound queue. These are small and few, but if the queue is full of
// UPDATEs to a stalled peer, it waits until there is room or the
// connection dies.
func (c *conn) enqueue(m []byte) {
	c.push(context.Background(), [][]byte{m})
}

// push appends the entry ms to the outbound queue and starts the writer if
// none runs. While the queue holds Config.QueueLen entries it blocks until
// the writer takes them (backpressure), and it gives up when the
// connection is torn down (ErrNotEstablished), the session is closed
// (ErrClosed) or ctx ends.
func (c *conn) push(ctx context.Context, ms [][]byte) error {
	for {
		c.wmu.Lock()
		if c.closing {
			c.wmu.Unlock()
			return ErrNotEstablished
		}
		var wait chan struct{}
		if c.broken {
			// The writer failed: the reader reports the broken connection
			// and the session tears it down; wait for that.
		} else if len(c.queue) < c.s.cfg.QueueLen {
			c.queue = append(c.queue, ms)
			c.startWriter()
			c.wmu.Unlock()
			return nil
		} else {
			if c.space == nil {
				c.space = make(chan struct{})
			}
			wait = c.space
		}
		c.wmu.Unlock()
		select {
		case <-wait: // nil (blocks forever) while broken
		case <-c.dead:
			return ErrNotEstablished
		case <-c.s.done:
			return ErrClosed
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// enqueueEntries is Enqueue on c.
func (c *conn) enqueueEntries(limit int, first [][]byte, more [][][]byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.closing || c.broken {
		return ErrNotEstablished
	}
	if !c.writing && len(c.queue) == 0 && c.writeNow(first, more) {
		return nil
	}
	// Entries already waiting, not those of this call: a batch of many
	// parts to a peer that keeps up is not an overflow. (The writer may
	// hold one round taken from the queue besides, and a partial write.)
	if len(c.queue) >= limit {
		return ErrQueueFull
	}
	c.queue = append(c.queue, first)
	c.queue = append(c.queue, more...)
	c.startWriter()
	return nil
}

// writeNow writes the entries from the calling goroutine if the socket
// takes them without waiting, and reports whether it took them: all
// written, or the rest left in c.partial for a writer it starts. When it
// reports false nothing was written. A reflector's clients have room in
// their sockets most of the time, so fanning a change out to a thousand of
// them needs no writer goroutine each (and their stacks). c.wmu is held,
// no writer runs and nothing is queued.
func (c *conn) writeNow(first [][]byte, more [][][]byte) bool {
	size := entryLen(first)
	for _, ms := range more {
		size += entryLen(ms)
	}
	if size > writeBufLen {
		return false
	}
	bp := writeBufs.get(size)
	defer writeBufs.put(bp)
	buf := (*bp)[:0]
	w := writer{c: c}
	add := func(ms [][]byte) {
		for _, m := range ms {
			buf = append(buf, m...)
			w.note(m)
		}
	}
	add(first)
	for _, ms := range more {
		add(ms)
	}
	n := c.tryWrite(buf)
	if n == 0 {
		// The socket is full, or failed: the writer waits for room or
		// meets the error and reports it.
		return false
	}
	if n < len(buf) {
		c.partial = append([]byte(nil), buf[n:]...)
		c.startWriter()
	}
	// Counted as sent once the socket has taken part of them: the writer
	// sends the rest first.
	w.sentLocked()
	return true
}

// entryLen is the length of an entry's messages together.
func entryLen(ms [][]byte) int {
	n := 0
	for _, m := range ms {
		n += len(m)
	}
	return n
}

// startWriter starts routineWrite unless it runs. c.wmu is held.
func (c *conn) startWriter() {
	if !c.writing {
		c.writing = true
		c.s.wg.Add(1)
		go c.routineWrite()
	}
}

// setKeepalive starts sending a KEEPALIVE every d (RFC 4271 §4.4: none if
// the negotiated hold time is zero, d == 0). The FSM calls it when the
// OPENs are exchanged.
func (c *conn) setKeepalive(d time.Duration) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.keepalive = d
	if d <= 0 || c.closing {
		return
	}
	if c.kaTimer == nil {
		c.kaTimer = time.AfterFunc(d, c.keepaliveDue)
	} else {
		c.kaTimer.Reset(d)
	}
}

// keepaliveDue runs when the KeepaliveTimer expires: it queues a KEEPALIVE
// (RFC 4271 §8.2.2: on KeepaliveTimer_Expires the local system "sends a
// KEEPALIVE message"). If the queue is full, UPDATEs are waiting: the
// writer restarts the timer when it sends them.
func (c *conn) keepaliveDue() {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.closing || c.broken || c.keepalive <= 0 {
		return
	}
	if len(c.queue) >= c.s.cfg.QueueLen {
		c.kaTimer.Reset(c.keepalive)
		return
	}
	if !c.writing && len(c.queue) == 0 && c.writeNow([][]byte{keepaliveMsg}, nil) {
		return
	}
	c.queue = append(c.queue, [][]byte{keepaliveMsg})
	c.startWriter()
}

// restartKeepalive restarts the KeepaliveTimer. RFC 4271 §8.2.2: "Each
// time the local system sends a KEEPALIVE or UPDATE message, it restarts
// its KeepaliveTimer", so the writer does it after each write with either.
func (c *conn) restartKeepalive() {
	c.wmu.Lock()
	c.restartKeepaliveLocked()
	c.wmu.Unlock()
}

func (c *conn) restartKeepaliveLocked() {
	if c.kaTimer != nil && c.keepalive > 0 && !c.closing {
		c.kaTimer.Reset(c.keepalive)
	}
}

// teardown stops the outbound side after the FSM closed c.dead: the writer sends what was queued before, then c.final (with
// writeTimeout), and closes the socket.
func (c *conn) teardown() {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.closing = true
	if c.kaTimer != nil {
		c.kaTimer.Stop()
	}
	if c.space != nil {
		close(c.space)
		c.space = nil
	}
	c.startWriter()
}

// routineWrite sends the queued entries until the queue is empty, and
// exits; on teardown it sends the final NOTIFICATION and closes the
// socket. startWriter starts it; the session's WaitGroup waits for it.
func (c *conn) routineWrite() {
	defer c.s.wg.Done()
	w := writer{c: c}
	for {
		c.wmu.Lock()
		q, closing, broken, partial := c.queue, c.closing, c.broken, c.partial
		if len(q) == 0 && partial == nil && !closing {
			c.writing = false
			c.wmu.Unlock()
			return
		}
		// Producers start a new queue while this one is written.
		c.queue, c.partial = nil, nil
		if c.space != nil {
			close(c.space)
			c.space = nil
		}
		c.wmu.Unlock()
		if !broken && (!w.writeRaw(partial) || len(q) > 0 && !w.writeEntries(q)) {
			// The reader sees the broken connection and reports it (a
			// parked one is started for that).
			c.nc.CloseRead()
			c.wake()
			c.wmu.Lock()
			c.broken = true
			clear(c.queue)
			c.queue = nil
			c.wmu.Unlock()
			broken = true
		}
		clear(q)
		if !closing {
			continue
		}
		// Torn down: c.closing was set under wmu before this round, so
		// nothing was queued after q.
		if !broken && c.final != nil {
			c.nc.SetWriteDeadline(time.Now().Add(writeTimeout))
			if m, err := wire.AppendNotification(nil, c.final); err == nil {
				w.write(m)
			}
		}
		c.nc.Close()
		return
	}
}

// writer does the writes of one routineWrite and their bookkeeping.
type writer struct {
	c *conn
	// counts holds the types of the messages in the write being built.
	counts [6]uint32
}

func (w *writer) note(m []byte) {
	if len(m) < wire.HeaderLen {
		return // not a message: written, not counted
	}
	if typ := m[18]; int(typ) < len(w.counts) {
		w.counts[typ]++
	}
}

// sent does the bookkeeping for the messages noted since the last call,
// which went out.
func (w *writer) sent() {
	if w.count() {
		w.c.restartKeepalive()
	}
}

// sentLocked is sent with c.wmu held.
func (w *writer) sentLocked() {
	if w.count() {
		w.c.restartKeepaliveLocked()
	}
}

// count adds the noted messages to the session's counters and reports
// whether they restart the KeepaliveTimer.
func (w *writer) count() bool {
	for typ, n := range w.counts {
		if n > 0 {
			w.c.s.out[typ].Add(uint64(n))
		}
	}
	restart := w.counts[wire.MsgKeepalive] > 0 || w.counts[wire.MsgUpdate] > 0
	w.counts = [6]uint32{}
	return restart
}

// writeRaw sends the rest of a write writeNow began (already counted).
func (w *writer) writeRaw(b []byte) bool {
	if len(b) == 0 {
		return true
	}
	_, err := w.c.nc.Write(b)
	return err == nil
}

// write sends one message.
func (w *writer) write(m []byte) bool {
	if _, err := w.c.nc.Write(m); err != nil {
		return false
	}
	w.note(m)
	w.sent()
	return true
}

// writeEntries sends the queued entries q, in order. The messages are
// copied into one buffer and go out in one write(2) instead of one each:
// with many small UPDATEs per peer the syscalls were most of the
// speaker's CPU.
func (w *writer) writeEntries(q [][][]byte) bool {
	if len(q) == 1 && len(q[0]) == 1 {
		return w.write(q[0][0])
	}
	size := 0
	for _, ms := range q {
		size += entryLen(ms)
	}
	bp := writeBufs.get(size)
	defer writeBufs.put(bp)
	buf := (*bp)[:0]
	flush := func() bool {
		if len(buf) == 0 {
			return true
		}
		if _, err := w.c.nc.Write(buf); err != nil {
			return false
		}
		w.sent()
		buf = buf[:0]
		return true
	}
	for _, ms := range q {
		for _, m := range ms {
			if len(buf)+len(m) > cap(buf) && !flush() {
				return false
			}
			if len(m) > cap(buf) {
				if !w.write(m) {
					return false
				}
				continue
			}
			buf = append(buf, m...)
			w.note(m)
		}
	}
	return flush()
}
