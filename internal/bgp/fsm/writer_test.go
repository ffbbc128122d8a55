package fsm

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/kbgp/kbgp/internal/bgp/wire"
)

// writerRunning reports whether the Established connection's writer
// goroutine runs.
func writerRunning(s *Session) bool {
	c := s.est.Load()
	if c == nil {
		return false
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.writing
}

// TestWriterBackpressure: to a peer that stops reading, SendBatch blocks
// once Config.QueueLen entries wait (and gives up with its context); when
// the peer reads again every queued UPDATE arrives in order, the writer
// goroutine exits once the queue drains, and a Stop sends its NOTIFICATION
// after them.
func TestWriterBackpressure(t *testing.T) {
	checkLeaks(t)
	rec := newRecorder()
	cfg := baseConfig(65001, 65002, "10.0.0.1", "127.0.0.1")
	cfg.QueueLen = 2
	s, p, ep := establishRaw(t, cfg, rec, rec)

	// Batches of 64 UPDATEs of about 4 KB, each UPDATE numbered by its
	// first prefix, until the socket buffers and the queue are full.
	update := numberedUpdates(t, 900)
	var sent [][]byte
	blocked := false
	for batch := 0; batch < 1000 && !blocked; batch++ {
		var ms [][]byte
		for range 64 {
			ms = append(ms, update(len(sent)+len(ms)))
		}
		ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
		err := s.SendBatch(ctx, ep, ms)
		cancel()
		switch {
		case err == nil:
			sent = append(sent, ms...)
		case errors.Is(err, context.DeadlineExceeded):
			blocked = true
		default:
			t.Fatalf("SendBatch: %v", err)
		}
	}
	if !blocked {
		t.Fatalf("%d UPDATEs queued to a peer that reads nothing without blocking", len(sent))
	}
	t.Logf("%d UPDATEs queued before SendBatch blocked", len(sent))
	if !writerRunning(s) {
		t.Error("no writer runs while UPDATEs wait")
	}
	for i := range sent {
		body := p.expect(wire.MsgUpdate, 5*time.Second)
		if string(body) != string(sent[i][wire.HeaderLen:]) {
			t.Fatalf("UPDATE %d of %d differs from what was sent", i, len(sent))
		}
	}
	deadline := time.Now().Add(2 * time.Second)
	for writerRunning(s) {
		if time.Now().After(deadline) {
			t.Fatal("the writer still runs with nothing queued")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got := s.Status().Out[wire.MsgUpdate]; got != uint64(len(sent)) {
		t.Errorf("Status().Out counts %d UPDATEs, sent %d", got, len(sent))
	}
	s.Send(t.Context(), ep, update(len(sent)))
	s.Stop("bye")
	p.expect(wire.MsgUpdate, 3*time.Second)
	if n := p.expectNotification(3 * time.Second); n.Code != wire.NotifCease || n.Subcode != wire.CeaseAdminShutdown {
		t.Errorf("got NOTIFICATION %v, want Cease / Administrative Shutdown", n)
	}
	if err := s.Send(t.Context(), ep, update(0)); !errors.Is(err, ErrNotEstablished) {
		t.Errorf("Send after Stop: %v, want ErrNotEstablished", err)
	}
}

// TestStalledPeerTeardown: a peer that never reads cannot hold the session
// up: Close returns within the write timeout, with a producer blocked on
// the full queue released.
func TestStalledPeerTeardown(t *testing.T) {
	checkLeaks(t)
	rec := newRecorder()
	cfg := baseConfig(65001, 65002, "10.0.0.1", "127.0.0.1")
	cfg.QueueLen = 1
	s, p, ep := establishRaw(t, cfg, rec, rec)
	m, err := wire.AppendUpdate(nil, routeUpdate("192.168.0.1", "10.0.0.0/24"), &wire.Options{AS4: true})
	if err != nil {
		t.Fatal(err)
	}
	batch := make([][]byte, 4096)
	for i := range batch {
		batch[i] = m
	}
	errc := make(chan error, 1)
	go func() {
		for {
			if err := s.SendBatch(context.Background(), ep, batch); err != nil {
				errc <- err
				return
			}
		}
	}()
	// Let the producer fill the socket buffers and block.
	time.Sleep(500 * time.Millisecond)
	select {
	case err := <-errc:
		t.Fatalf("SendBatch to a stalled peer: %v", err)
	default:
	}
	start := time.Now()
	s.Close()
	if d := time.Since(start); d > writeTimeout+2*time.Second {
		t.Errorf("Close took %v with a stalled peer", d)
	}
	select {
	case err := <-errc:
		if !errors.Is(err, ErrNotEstablished) && !errors.Is(err, ErrClosed) {
			t.Errorf("blocked SendBatch returned %v, want ErrNotEstablished or ErrClosed", err)
		}
	case <-time.After(2 * time.Second):
		t.Error("SendBatch still blocked after Close")
	}
	p.nc.Close()
}

// TestUpdatesRestartKeepalive: RFC 4271 §8.2.2, "Each time the local
// system sends a KEEPALIVE or UPDATE message, it restarts its
// KeepaliveTimer": while UPDATEs go out more often than the keepalive
// interval no KEEPALIVE is sent, and one follows an interval after the
// last UPDATE.
func TestUpdatesRestartKeepalive(t *testing.T) {
	checkLeaks(t)
	rec := newRecorder()
	cfg := baseConfig(65001, 65002, "10.0.0.1", "127.0.0.1")
	cfg.HoldTime = 3 * time.Second // keepalive interval 1 s
	s, p, ep := establishRaw(t, cfg, rec, rec)
	m, err := wire.AppendUpdate(nil, routeUpdate("192.168.0.1", "10.0.0.0/24"), &wire.Options{AS4: true})
	if err != nil {
		t.Fatal(err)
	}
	// The peer's KEEPALIVEs keep kbgp's hold timer from expiring.
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		tk := time.NewTicker(500 * time.Millisecond)
		defer tk.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tk.C:
				p.nc.Write(keepaliveMsg)
			}
		}
	}()
	defer func() { close(stop); <-done }()
	const n = 10
	go func() {
		for range n {
			if s.Send(t.Context(), ep, m) != nil {
				return
			}
			time.Sleep(250 * time.Millisecond)
		}
	}()
	var last time.Time
	for i := 0; i < n; {
		typ, _, err := p.read(3 * time.Second)
		if err != nil {
			t.Fatalf("after %d UPDATEs: %v", i, err)
		}
		switch typ {
		case wire.MsgUpdate:
			i++
			last = time.Now()
		case wire.MsgKeepalive:
			// The first can be the one kbgp sent an interval after
			// Established, before the first UPDATE.
			if i > 0 {
				t.Fatalf("KEEPALIVE after UPDATE %d, with UPDATEs every 250 ms and a 1 s interval", i)
			}
		default:
			t.Fatalf("unexpected %v", typ)
		}
	}
	p.expect(wire.MsgKeepalive, 3*time.Second)
	if d := time.Since(last); d < 700*time.Millisecond || d > 2*time.Second {
		t.Errorf("KEEPALIVE %v after the last UPDATE, want about 1 s", d)
	}
}

// slowHandler is a recorder whose Update blocks for delay: a RIB that is
// busy for longer than the hold time.
type slowHandler struct {
	*recorder
	delay time.Duration
}

func (h slowHandler) Update(s *Session, epoch uint64, u *ReceivedUpdate) {
	time.Sleep(h.delay)
	h.recorder.Update(s, epoch, u)
}

// TestSlowHandlerKeepsSession: time the Handler spends on an UPDATE is
// kbgp's, not the peer's: a peer that keeps sending KEEPALIVEs stays up
// while its reader waits in Update for longer than the hold time, and
// kbgp's own KEEPALIVEs go out meanwhile.
func TestSlowHandlerKeepsSession(t *testing.T) {
	checkLeaks(t)
	rec := newRecorder()
	cfg := baseConfig(65001, 65002, "10.0.0.1", "127.0.0.1")
	cfg.HoldTime = 3 * time.Second
	s, p, _ := establishRaw(t, cfg, slowHandler{rec, 4 * time.Second}, rec)
	p.sendUpdate(routeUpdate("192.168.0.1", "10.0.0.0/24"), &wire.Options{AS4: true})
	if kas := p.answerKeepalives(5 * time.Second); kas < 3 {
		t.Errorf("%d KEEPALIVEs from kbgp in 5 s with a 1 s interval", kas)
	}
	rec.wait(t, "update", time.Second)
	if st := s.Status(); st.State != Established {
		t.Errorf("state %v (%v) after a 4 s Update with hold time 3 s, want Established", st.State, st.LastError)
	}
}

// TestEnqueueLimit: Enqueue never waits. To a peer that reads nothing it
// queues until limit entries wait, then returns ErrQueueFull and queues
// nothing; a stale epoch gets ErrNotEstablished.
// When the peer reads, every queued UPDATE arrives, in order.
func TestEnqueueLimit(t *testing.T) {
	checkLeaks(t)
	rec := newRecorder()
	s, p, ep := establishRaw(t, baseConfig(65001, 65002, "10.0.0.1", "127.0.0.1"), rec, rec)
	if err := s.Enqueue(ep+1, 10, [][]byte{keepaliveMsg}); !errors.Is(err, ErrNotEstablished) {
		t.Fatalf("Enqueue for another period: %v, want ErrNotEstablished", err)
	}
	update := numberedUpdates(t, 900)
	const limit = 8
	var sent [][]byte
	full := false
	for range 5000 {
		// Two entries per call, as a batch with a second part.
		a, b := [][]byte{update(len(sent))}, [][]byte{update(len(sent) + 1)}
		start := time.Now()
		err := s.Enqueue(ep, limit, a, b)
		if d := time.Since(start); d > time.Second {
			t.Fatalf("Enqueue waited %v", d)
		}
		if errors.Is(err, ErrQueueFull) {
			full = true
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		sent = append(sent, a[0], b[0])
	}
	if !full {
		t.Fatalf("%d UPDATEs enqueued to a peer that reads nothing without ErrQueueFull", len(sent))
	}
	c := s.est.Load()
	c.wmu.Lock()
	waiting := len(c.queue)
	c.wmu.Unlock()
	if waiting < limit || waiting > limit+1 {
		t.Errorf("%d entries wait at ErrQueueFull, want the limit %d (plus the last call's second part)", waiting, limit)
	}
	for i := range sent {
		body := p.expect(wire.MsgUpdate, 5*time.Second)
		if string(body) != string(sent[i][wire.HeaderLen:]) {
			t.Fatalf("UPDATE %d of %d differs from what was enqueued", i, len(sent))
		}
	}
	s.Close()
}

// TestWriteNow: to a peer whose socket has room, Enqueue writes from the
// calling goroutine: no writer goroutine starts, the messages arrive, the
// counters count them and the KeepaliveTimer restarts.
func TestWriteNow(t *testing.T) {
	checkLeaks(t)
	rec := newRecorder()
	s, p, ep := establishRaw(t, baseConfig(65001, 65002, "10.0.0.1", "127.0.0.1"), rec, rec)
	c := s.est.Load()
	// The OPEN exchange's messages went through a writer; let it finish.
	for end := time.Now().Add(2 * time.Second); writerRunning(s); {
		if time.Now().After(end) {
			t.Fatal("the writer of the OPEN exchange still runs")
		}
		time.Sleep(time.Millisecond)
	}
	before := s.Status().Out[wire.MsgUpdate]
	var want [][]byte
	for i := range 20 {
		m, err := wire.AppendUpdate(nil, routeUpdate("192.168.0.1", fmt.Sprintf("10.0.%d.0/24", i)), &wire.Options{AS4: true})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Enqueue(ep, 8, [][]byte{m}, [][]byte{m}); err != nil {
			t.Fatal(err)
		}
		c.wmu.Lock()
		writing, partial := c.writing, c.partial
		c.wmu.Unlock()
		if writing || partial != nil {
			t.Fatalf("Enqueue %d to a socket with room started a writer", i)
		}
		want = append(want, m, m)
	}
	for i, m := range want {
		if body := p.expect(wire.MsgUpdate, 2*time.Second); string(body) != string(m[wire.HeaderLen:]) {
			t.Fatalf("UPDATE %d differs", i)
		}
	}
	if got := s.Status().Out[wire.MsgUpdate] - before; got != uint64(len(want)) {
		t.Errorf("counted %d UPDATEs sent, want %d", got, len(want))
	}
	s.Close()
}

// TestLocalAddr: LocalAddr is Status().Local, the Established
// connection's local end, and zero once the session is down.
func TestLocalAddr(t *testing.T) {
	checkLeaks(t)
	rec := newRecorder()
	s, p, _ := establishRaw(t, baseConfig(65001, 65002, "10.0.0.1", "127.0.0.1"), rec, rec)
	got, want := s.LocalAddr(), s.Status().Local
	if !got.IsValid() || got != want || got.String() != p.nc.RemoteAddr().String() {
		t.Errorf("LocalAddr %v, Status().Local %v, the peer's remote end %v", got, want, p.nc.RemoteAddr())
	}
	s.Close()
	if got := s.LocalAddr(); got.IsValid() {
		t.Errorf("LocalAddr after Close: %v", got)
	}
}

// TestWriteBufSize: a write of a few hundred bytes takes a small pooled
// buffer, a larger one the full-size buffer, and each goes back to its own
// pool.
func TestWriteBufSize(t *testing.T) {
	for _, tc := range []struct {
		size, want int
	}{
		{19, smallWriteBufLen},
		{smallWriteBufLen, smallWriteBufLen},
		{smallWriteBufLen + 1, writeBufLen},
		{writeBufLen, writeBufLen},
		{10 * writeBufLen, writeBufLen}, // written in several rounds
	} {
		b := writeBufs.get(tc.size)
		if cap(*b) != tc.want {
			t.Errorf("buffer for %d bytes: capacity %d, want %d", tc.size, cap(*b), tc.want)
		}
		writeBufs.put(b)
	}
}
