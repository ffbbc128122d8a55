package fsm

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"github.com/kbgp/kbgp/internal/bgp/wire"
)

// parked reports whether s's Established connection has no reader.
func parked(s *Session) bool {
	c := s.est.Load()
	if c == nil {
		return false
	}
	readers.mu.Lock()
	defer readers.mu.Unlock()
	return c.pstate == parkParked
}

func waitParked(t *testing.T, s *Session) {
	t.Helper()
	for end := time.Now().Add(3 * time.Second); !parked(s); {
		if time.Now().After(end) {
			t.Fatal("the idle Established connection did not park its reader")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestParkedReaderWakes: an idle Established connection parks its reader,
// and each thing the peer sends after that (an UPDATE, a KEEPALIVE, then
// its FIN) starts a reader that handles it; the KEEPALIVE counts for the
// hold timer, and the close takes the session down as a transport error.
func TestParkedReaderWakes(t *testing.T) {
	checkLeaks(t)
	rec := newRecorder()
	s, p, _ := establishRaw(t, baseConfig(65001, 65002, "10.0.0.1", "127.0.0.1"), rec, rec)
	c := s.est.Load()

	waitParked(t, s)
	p.sendUpdate(routeUpdate("192.168.0.2", "10.1.0.0/24"), &wire.Options{AS4: true})
	if ev := rec.wait(t, "update", 2*time.Second); len(ev.upd.NLRI) != 1 || ev.upd.NLRI[0].Prefix != pfx("10.1.0.0/24") {
		t.Fatalf("got UPDATE %+v", ev.upd)
	}

	waitParked(t, s)
	before := c.rxAt.Load()
	p.write(wire.AppendKeepalive(nil))
	for end := time.Now().Add(2 * time.Second); c.rxAt.Load() == before; {
		if time.Now().After(end) {
			t.Fatal("a KEEPALIVE to a parked connection was not read")
		}
		time.Sleep(5 * time.Millisecond)
	}

	waitParked(t, s)
	p.nc.Close()
	if d := rec.wait(t, "down", 2*time.Second); d.cause.Class != ClassTransport {
		t.Errorf("down class %v, want transport", d.cause.Class)
	}
	s.Close()
}

// TestCloseWhileParked: closing a session whose reader is parked sends
// the Cease and leaves no goroutine behind (checkLeaks: neither a reader
// nor the epoll loop, which runs only while a connection is registered).
func TestCloseWhileParked(t *testing.T) {
	checkLeaks(t)
	rec := newRecorder()
	s, p, _ := establishRaw(t, baseConfig(65001, 65002, "10.0.0.1", "127.0.0.1"), rec, rec)
	waitParked(t, s)
	s.Close()
	if n := p.expectNotification(2 * time.Second); n.Code != wire.NotifCease {
		t.Errorf("got %v, want Cease", n)
	}
	readers.mu.Lock()
	n := len(readers.conns)
	readers.mu.Unlock()
	if n != 0 {
		t.Errorf("%d connections still registered for parking", n)
	}
}

// TestParkedSessionsHoldNoGoroutine: idle Established sessions cost no
// goroutine once parked (one epoll loop serves them all).
func TestParkedSessionsHoldNoGoroutine(t *testing.T) {
	checkLeaks(t)
	base := runtime.NumGoroutine()
	const n = 20
	var ss []*Session
	for i := range n {
		rec := newRecorder()
		cfg := baseConfig(65001, 65002, "10.0.0.1", "127.0.0.1")
		cfg.RouterID = netip.AddrFrom4([4]byte{10, 0, 1, byte(i)})
		s, _, _ := establishRaw(t, cfg, rec, rec)
		ss = append(ss, s)
	}
	for _, s := range ss {
		waitParked(t, s)
	}
	// Each session's keepalive is a timer, and the test's listeners are
	// closed already; what may run is the epoll loop.
	if got := runtime.NumGoroutine() - base; got > 1 {
		t.Errorf("%d idle Established sessions hold %d goroutines, want at most 1 (the epoll loop)", n, got)
	}
	for _, s := range ss {
		s.Close()
	}
}

// TestParkWakeStress: UPDATEs sent with pauses around the park delay
// (some arrive while the reader waits, some just after it parked, some
// split mid-message) all reach the handler once and in order; then the
// session closes while its reader may be parking. Run it with -race.
func TestParkWakeStress(t *testing.T) {
	checkLeaks(t)
	rec := newRecorder()
	s, p, _ := establishRaw(t, baseConfig(65001, 65002, "10.0.0.1", "127.0.0.1"), rec, rec)
	rng := rand.New(rand.NewPCG(1, 2))
	const n = 300
	got := make(chan error, 1)
	go func() {
		for i := 0; i < n; {
			var ev event
			select {
			case ev = <-rec.ch:
			case <-time.After(5 * time.Second):
				got <- fmt.Errorf("UPDATE %d did not arrive", i)
				return
			}
			if ev.kind != "update" {
				continue
			}
			want := netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i >> 8), byte(i), 0}), 24)
			if len(ev.upd.NLRI) != 1 || ev.upd.NLRI[0].Prefix != want {
				got <- fmt.Errorf("UPDATE %d: got %v, want %v", i, ev.upd.NLRI, want)
				return
			}
			i++
		}
		got <- nil
	}()
	for i := range n {
		u := routeUpdate("192.168.0.2", netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i >> 8), byte(i), 0}), 24).String())
		m, err := wire.AppendUpdate(nil, u, &wire.Options{AS4: true})
		if err != nil {
			t.Fatal(err)
		}
		if rng.IntN(4) == 0 {
			// Split inside the header: the reader must not take the
			// pause for idleness and lose the first bytes.
			k := 1 + rng.IntN(wire.HeaderLen-1)
			p.write(m[:k])
			time.Sleep(time.Duration(rng.IntN(3000)) * time.Microsecond)
			m = m[k:]
		}
		p.write(m)
		time.Sleep(time.Duration(rng.IntN(2500)) * time.Microsecond)
	}
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Duration(rng.IntN(2000)) * time.Microsecond)
	s.Close()
}

// connParked reports whether s's only connection has no reader, and its
// state.
func connParked(s *Session) (bool, State) {
	s.fmu.Lock()
	if len(s.conns) != 1 {
		s.fmu.Unlock()
		return false, Idle
	}
	c := s.conns[0]
	st := c.state
	s.fmu.Unlock()
	readers.mu.Lock()
	defer readers.mu.Unlock()
	return c.pstate == parkParked, st
}

// TestParksBeforeEstablished: a reader whose socket is empty parks in
// OpenSent and OpenConfirm too, not only once Established (a reflector's
// clients coming up together each held a reader between OPEN, KEEPALIVE
// and their routes), and the handshake completes through the readers the
// peer's messages start.
func TestParksBeforeEstablished(t *testing.T) {
	checkLeaks(t)
	rec := newRecorder()
	addr, accept := listenRaw(t, "127.0.0.1")
	cfg := baseConfig(65001, 65002, "10.0.0.1", "127.0.0.1")
	cfg.PeerPort = addr.Port()
	s := newSession(t, cfg, rec)
	s.Start()
	p := accept()
	waitState := func(want State) {
		t.Helper()
		for end := time.Now().Add(3 * time.Second); ; time.Sleep(2 * time.Millisecond) {
			if ok, st := connParked(s); ok && st == want {
				return
			}
			if time.Now().After(end) {
				ok, st := connParked(s)
				t.Fatalf("connection parked %v in %v, want parked in %v", ok, st, want)
			}
		}
	}
	p.expect(wire.MsgOpen, 3*time.Second)
	waitState(OpenSent)
	p.sendOpen(peerOpen(65002, "10.0.0.2", 90))
	p.expect(wire.MsgKeepalive, 3*time.Second)
	waitState(OpenConfirm)
	p.write(wire.AppendKeepalive(nil))
	rec.wait(t, "established", 3*time.Second)
	waitParked(t, s)
	s.Close()
}
