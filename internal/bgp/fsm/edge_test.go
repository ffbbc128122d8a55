package fsm

import (
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/kbgp/kbgp/internal/bgp/wire"
)

// Edge cases of the parked readers (park_linux.go), the inline writes
// (writer.go writeNow) and Session.Enqueue.

// registered reports how many connections the poller holds.
func registered() int {
	readers.mu.Lock()
	defer readers.mu.Unlock()
	return len(readers.conns)
}

// TestWriteFailureWakesParkedReader: a write that fails while the
// reader is parked (here: kbgp's own send side shut down, so the peer
// makes the socket readable by nothing) must still take the session down
// at once. Only the writer's CloseRead + wake can start a reader for the
// parked connection; without it the session would stay up until the hold
// timer (90 s).
func TestWriteFailureWakesParkedReader(t *testing.T) {
	checkLeaks(t)
	rec := newRecorder()
	s, p, ep := establishRaw(t, baseConfig(65001, 65002, "10.0.0.1", "127.0.0.1"), rec, rec)
	defer s.Close()
	waitParked(t, s)
	c := s.est.Load()
	if err := c.nc.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	// tryWrite meets EPIPE and leaves the KEEPALIVE to a writer, which
	// meets it too.
	if err := s.Enqueue(ep, 8, [][]byte{keepaliveMsg}); err != nil {
		t.Fatalf("Enqueue: %v", err)
	}
	d := rec.wait(t, "down", 3*time.Second)
	if d.cause.Class != ClassTransport {
		t.Errorf("down class %v, want transport", d.cause.Class)
	}
	if err := s.Enqueue(ep, 8, [][]byte{keepaliveMsg}); !errors.Is(err, ErrNotEstablished) {
		t.Errorf("Enqueue after the write failure: %v, want ErrNotEstablished", err)
	}
	p.nc.Close()
}

// TestPartialWriteTeardown: UPDATEs enqueued to a peer that reads
// nothing fill the socket (inline writes that the socket takes in part
// leave the rest in c.partial); the session is then closed while the
// peer starts reading. The peer must read every enqueued UPDATE whole and
// in order, then the Cease: the final NOTIFICATION never lands inside a
// half-written message, and nothing follows it.
func TestPartialWriteTeardown(t *testing.T) {
	checkLeaks(t)
	rec := newRecorder()
	s, p, ep := establishRaw(t, baseConfig(65001, 65002, "10.0.0.1", "127.0.0.1"), rec, rec)
	update := numberedUpdates(t, 700)
	var sent [][]byte
	sawPartial := false
	for range 20000 {
		m := update(len(sent))
		err := s.Enqueue(ep, 4, [][]byte{m})
		if errors.Is(err, ErrQueueFull) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		sent = append(sent, m)
		c := s.est.Load()
		c.wmu.Lock()
		sawPartial = sawPartial || c.partial != nil
		c.wmu.Unlock()
	}
	t.Logf("%d UPDATEs enqueued; a partial inline write seen: %v", len(sent), sawPartial)
	closed := make(chan struct{})
	go func() {
		s.Close()
		close(closed)
	}()
	for i := range sent {
		typ, body, err := p.read(5 * time.Second)
		if err != nil {
			t.Fatalf("UPDATE %d of %d: %v", i, len(sent), err)
		}
		if typ != wire.MsgUpdate || string(body) != string(sent[i][wire.HeaderLen:]) {
			t.Fatalf("message %d of %d: type %v, not the UPDATE enqueued", i, len(sent), typ)
		}
	}
	if n := p.expectNotification(5 * time.Second); n.Code != wire.NotifCease || n.Subcode != wire.CeasePeerDeconfigured {
		t.Errorf("final NOTIFICATION %v, want Cease / Peer De-configured", n)
	}
	<-closed
}

// TestRestartWhileParked: a session restarted while its reader is
// parked drops the old connection's registration (it is not woken again,
// and its socket leaves the epoll set); the new connection parks under a
// new id, and closing the session leaves nothing registered.
func TestRestartWhileParked(t *testing.T) {
	checkLeaks(t)
	rec := newRecorder()
	base := registered()
	s, p, ep, accept := establishRawHold(t, baseConfig(65001, 65002, "10.0.0.1", "127.0.0.1"), rec, rec, 90)
	waitParked(t, s)
	old := s.est.Load()
	readers.mu.Lock()
	oldPID := old.pid
	readers.mu.Unlock()
	if err := s.RestartWith(&wire.Notification{Code: wire.NotifCease, Subcode: wire.CeaseOutOfResources}); err != nil {
		t.Fatal(err)
	}
	if n := p.expectNotification(2 * time.Second); n.Code != wire.NotifCease || n.Subcode != wire.CeaseOutOfResources {
		t.Errorf("got %v, want Cease / Out of Resources", n)
	}
	if d := rec.wait(t, "down", 2*time.Second); d.epoch != ep {
		t.Errorf("down for period %d, want %d", d.epoch, ep)
	}
	readers.mu.Lock()
	st, pid, still := old.pstate, old.pid, readers.conns[oldPID] != nil
	readers.mu.Unlock()
	if st != parkGone || pid != 0 || still {
		t.Errorf("old connection after restart: state %d, id %d, registered %v; want gone, 0, false", st, pid, still)
	}
	p2 := accept()
	p2.establish(peerOpen(65002, "10.0.0.2", 90))
	ep2 := rec.wait(t, "established", 3*time.Second).epoch
	if ep2 == ep {
		t.Fatalf("new period has the old epoch %d", ep)
	}
	waitParked(t, s)
	c2 := s.est.Load()
	readers.mu.Lock()
	newPID := c2.pid
	readers.mu.Unlock()
	if c2 == old || newPID == 0 || newPID == oldPID {
		t.Errorf("new connection parked with id %d (old %d)", newPID, oldPID)
	}
	if got := registered() - base; got != 1 {
		t.Errorf("%d connections of this session registered, want 1", got)
	}
	// The new parked connection still wakes for the peer.
	p2.sendUpdate(routeUpdate("192.168.0.2", "10.9.0.0/24"), &wire.Options{AS4: true})
	if ev := rec.wait(t, "update", 2*time.Second); ev.epoch != ep2 || len(ev.upd.NLRI) != 1 {
		t.Errorf("UPDATE after restart: epoch %d (want %d), %v", ev.epoch, ep2, ev.upd.NLRI)
	}
	s.Close()
	if got := registered() - base; got != 0 {
		t.Errorf("%d connections of this session still registered after Close", got)
	}
}

// TestHoldTimerWhileParked: a parked session whose peer falls silent
// still runs both timers: kbgp's KEEPALIVEs go out (written inline by the
// timer), and the hold timer expires on rxAt from the last message read
// before parking (RFC 4271 §6.5), with the NOTIFICATION sent and the
// registration dropped.
func TestHoldTimerWhileParked(t *testing.T) {
	checkLeaks(t)
	rec := newRecorder()
	start := time.Now()
	s, p, _, _ := establishRawHold(t, baseConfig(65001, 65002, "10.0.0.1", "127.0.0.1"), rec, rec, 3)
	defer s.Close()
	waitParked(t, s)
	keepalives := 0
	for {
		typ, body, err := p.read(5 * time.Second)
		if err != nil {
			t.Fatalf("waiting for the hold timer: %v", err)
		}
		if typ == wire.MsgKeepalive {
			keepalives++
			continue
		}
		if typ != wire.MsgNotification {
			t.Fatalf("got %v", typ)
		}
		var n wire.Notification
		if err := n.Decode(body); err != nil {
			t.Fatal(err)
		}
		if n.Code != wire.NotifHoldTimerExpired {
			t.Fatalf("got %v, want Hold Timer Expired", &n)
		}
		break
	}
	if d := time.Since(start); d < 3*time.Second || d > 5*time.Second {
		t.Errorf("hold timer expired after %v, want about 3 s", d)
	}
	if keepalives < 2 {
		t.Errorf("%d KEEPALIVEs in the 3 s hold time (interval 1 s) while parked", keepalives)
	}
	if _, _, err := p.read(2 * time.Second); !errors.Is(err, io.EOF) {
		t.Errorf("after the NOTIFICATION: %v, want EOF", err)
	}
	if d := rec.wait(t, "down", 2*time.Second); d.cause.Class != ClassHoldTimerExpired {
		t.Errorf("down class %v, want hold timer expired", d.cause.Class)
	}
}

// TestEnqueueBatchOverLimitIdle: ErrQueueFull is for entries already
// waiting. To an idle peer with room in its socket nothing waits
// (writeNow writes them at once), so a call with more parts than the
// limit must not be refused: the speaker would reset a peer that keeps
// up (a split-horizon view has up to two parts per segment involving the
// member, which can pass ExportQueueLen).
func TestEnqueueBatchOverLimitIdle(t *testing.T) {
	checkLeaks(t)
	rec := newRecorder()
	s, p, ep := establishRaw(t, baseConfig(65001, 65002, "10.0.0.1", "127.0.0.1"), rec, rec)
	defer s.Close()
	m, err := wire.AppendUpdate(nil, routeUpdate("192.168.0.1", "10.0.0.0/24"), &wire.Options{AS4: true})
	if err != nil {
		t.Fatal(err)
	}
	const limit = 2
	parts := [][][]byte{{m}, {m}, {m}} // first + 2 more: 3 entries, 3 small UPDATEs
	if err := s.Enqueue(ep, limit, parts[0], parts[1:]...); err != nil {
		t.Fatalf("Enqueue of %d small entries to an idle session with an empty queue (limit %d): %v; nothing would wait", len(parts), limit, err)
	}
	for range parts {
		p.expect(wire.MsgUpdate, 2*time.Second)
	}
}

// tcpPair returns the two ends of a loopback TCP connection.
func tcpPair(t *testing.T) (a, b *net.TCPConn) {
	t.Helper()
	ln, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	acc := make(chan *net.TCPConn, 1)
	go func() {
		c, _ := ln.AcceptTCP()
		acc <- c
	}()
	a, err = net.DialTCP("tcp", nil, ln.Addr().(*net.TCPAddr))
	if err != nil {
		t.Fatal(err)
	}
	b = <-acc
	if b == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b
}

// TestWaitHeader: the framer's wait for the next message (waitHeader with
// f.try, a conn's non-blocking tryRead) over a loopback TCP connection.
// An empty socket is errIdle at once; a header begun is completed
// blocking; the peer's FIN before any byte is io.EOF, inside a header
// io.ErrUnexpectedEOF; without try the wait blocks.
func TestWaitHeader(t *testing.T) {
	ka := wire.AppendKeepalive(nil)
	const later = 50 * time.Millisecond
	type step struct {
		write []byte // nil: close the peer's end
		after time.Duration
	}
	for _, tc := range []struct {
		name   string
		steps  []step
		want   []error // each next() call's error (nil: a KEEPALIVE)
		noTry  bool    // read without try, as routineRead does when it cannot park
		before time.Duration
	}{
		{"empty socket", nil, []error{errIdle, errIdle}, false, 0},
		{"a message, then empty", []step{{ka, 0}}, []error{nil, errIdle}, false, later},
		{"header split, completed later", []step{{ka[:5], 0}, {ka[5:], later}}, []error{nil, errIdle}, false, later / 2},
		{"EOF", []step{{nil, 0}}, []error{io.EOF}, false, later},
		{"EOF inside the header", []step{{ka[:7], 0}, {nil, later}}, []error{io.ErrUnexpectedEOF}, false, later / 2},
		{"without try it blocks", []step{{ka, later}}, []error{nil}, true, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, b := tcpPair(t)
			c := &conn{nc: a}
			c.raw.init(a)
			go func() {
				for _, s := range tc.steps {
					time.Sleep(s.after)
					if s.write == nil {
						b.CloseWrite()
						return
					}
					if _, err := b.Write(s.write); err != nil {
						return
					}
				}
			}()
			time.Sleep(tc.before) // let the first writes arrive
			f := framer{r: a, try: c}
			if tc.noTry {
				f.try = nil
			}
			defer f.release()
			for i, want := range tc.want {
				start := time.Now()
				typ, _, buf, err := f.next(wire.MaxMessageLen)
				if buf != nil {
					putBody(buf)
				}
				if !errors.Is(err, want) || (want == nil && typ != wire.MsgKeepalive) {
					t.Fatalf("next %d: type %v, err %v; want err %v", i, typ, err, want)
				}
				if want == errIdle && time.Since(start) > later/2 {
					t.Errorf("next %d: errIdle after %v, want at once", i, time.Since(start))
				}
			}
		})
	}
}
