package fsm

import (
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kbgp/kbgp/internal/bgp/wire"
)

// checkLeaks fails the test if goroutines started during it are still
// running shortly after its cleanups ran. Register it first so it runs last.
func checkLeaks(t *testing.T) {
	t.Helper()
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(5 * time.Second)
		for {
			n := runtime.NumGoroutine()
			if n <= before {
				return
			}
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<20)
				buf = buf[:runtime.Stack(buf, true)]
				t.Errorf("goroutine leak: %d goroutines before, %d after\n%s", before, n, buf)
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
}

// event is one Handler callback, recorded.
type event struct {
	kind     string // state, established, update, eor, refresh, down
	from, to State
	reason   error
	epoch    uint64
	neg      *Negotiated
	upd      *wire.Update
	family   wire.Family
	refresh  wire.RouteRefresh
	stale    bool
	cause    *SessionError
}

// recorder is a Handler that records every callback on a channel.
type recorder struct {
	ch chan event
}

func newRecorder() *recorder { return &recorder{ch: make(chan event, 1024)} }

func (r *recorder) StateChanged(_ *Session, from, to State, reason error) {
	r.ch <- event{kind: "state", from: from, to: to, reason: reason}
}
func (r *recorder) Established(_ *Session, epoch uint64, n *Negotiated) {
	r.ch <- event{kind: "established", epoch: epoch, neg: n}
}
func (r *recorder) Update(_ *Session, epoch uint64, u *ReceivedUpdate) {
	c := u.Clone()
	u.Release()
	r.ch <- event{kind: "update", epoch: epoch, upd: c}
}
func (r *recorder) EndOfRIB(_ *Session, epoch uint64, f wire.Family) {
	r.ch <- event{kind: "eor", epoch: epoch, family: f}
}
func (r *recorder) RouteRefresh(_ *Session, epoch uint64, rr wire.RouteRefresh) {
	r.ch <- event{kind: "refresh", epoch: epoch, refresh: rr}
}
func (r *recorder) Down(_ *Session, epoch uint64, reason *SessionError, keepStale bool) {
	r.ch <- event{kind: "down", epoch: epoch, cause: reason, stale: keepStale}
}

// wait returns the next event of kind, skipping others.
func (r *recorder) wait(t *testing.T, kind string, d time.Duration) event {
	t.Helper()
	timeout := time.After(d)
	for {
		select {
		case e := <-r.ch:
			if e.kind == kind {
				return e
			}
		case <-timeout:
			t.Fatalf("no %q event within %v", kind, d)
		}
	}
}

// waitState waits for a transition into to.
func (r *recorder) waitState(t *testing.T, to State, d time.Duration) event {
	t.Helper()
	timeout := time.After(d)
	for {
		select {
		case e := <-r.ch:
			if e.kind == "state" && e.to == to {
				return e
			}
		case <-timeout:
			t.Fatalf("no transition to %v within %v", to, d)
		}
	}
}

// listen opens a listener on addr:0 and hands accepted connections to the
// session registered for the remote address. It is closed at cleanup.
type testListener struct {
	*Listener
	mu       sync.Mutex
	sessions map[netip.Addr]*Session
	wg       sync.WaitGroup
	// gate, when non-nil, holds accepted connections until closed.
	gate chan struct{}
}

func listen(t *testing.T, addr string) *testListener {
	t.Helper()
	ln, err := Listen(context.Background(), netip.AddrPortFrom(netip.MustParseAddr(addr), 0))
	if err != nil {
		t.Fatal(err)
	}
	tl := &testListener{Listener: ln, sessions: map[netip.Addr]*Session{}}
	tl.wg.Add(1)
	go func() {
		defer tl.wg.Done()
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			ra := nc.RemoteAddr().(*net.TCPAddr).AddrPort().Addr().Unmap()
			tl.mu.Lock()
			s, gate := tl.sessions[ra], tl.gate
			tl.mu.Unlock()
			if gate != nil {
				<-gate
			}
			if s == nil {
				nc.Close()
				continue
			}
			s.Accept(nc)
		}
	}()
	t.Cleanup(func() { ln.Close(); tl.wg.Wait() })
	return tl
}

func (tl *testListener) add(s *Session) {
	tl.mu.Lock()
	tl.sessions[s.Peer()] = s
	tl.mu.Unlock()
}

func (tl *testListener) setGate(g chan struct{}) {
	tl.mu.Lock()
	tl.gate = g
	tl.mu.Unlock()
}

func (tl *testListener) port() uint16 { return tl.Addr().Port() }

// newSession creates a session closed at cleanup.
func newSession(t *testing.T, cfg Config, h Handler) *Session {
	t.Helper()
	s, err := New(cfg, h)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// establishRaw starts a session with cfg (its PeerPort set to a raw
// peer's listener) and handler h, and brings it to Established with the
// raw peer. rec must be h's recorder; it returns the session, the peer
// and the Established epoch.
func establishRaw(t *testing.T, cfg Config, h Handler, rec *recorder) (*Session, *rawPeer, uint64) {
	t.Helper()
	s, p, epoch, _ := establishRawHold(t, cfg, h, rec, 90)
	return s, p, epoch
}

// establishRawHold is establishRaw with the peer proposing hold seconds;
// it also returns the accept function, so a test can take the session's
// next connection too.
func establishRawHold(t *testing.T, cfg Config, h Handler, rec *recorder, hold uint16) (*Session, *rawPeer, uint64, func() *rawPeer) {
	t.Helper()
	addr, accept := listenRaw(t, "127.0.0.1")
	cfg.PeerPort = addr.Port()
	s := newSession(t, cfg, h)
	s.Start()
	p := accept()
	p.establish(peerOpen(65002, "10.0.0.2", hold))
	return s, p, rec.wait(t, "established", 3*time.Second).epoch, accept
}

// answerKeepalives reads until d has passed, answering each KEEPALIVE with
// one, and returns how many came; any other message fails the test.
func (p *rawPeer) answerKeepalives(d time.Duration) int {
	p.t.Helper()
	n := 0
	for end := time.Now().Add(d); time.Now().Before(end); {
		typ, _, err := p.read(time.Until(end))
		if err != nil {
			break
		}
		if typ != wire.MsgKeepalive {
			p.t.Fatalf("got %v, want only KEEPALIVEs", typ)
		}
		n++
		p.write(wire.AppendKeepalive(nil))
	}
	return n
}

// rawPeer is a hand-driven BGP speaker for tests that need to misbehave.
type rawPeer struct {
	t  *testing.T
	nc net.Conn
}

// dialRaw connects to a listener as a raw peer from local address from.
func dialRaw(t *testing.T, from string, to netip.AddrPort) *rawPeer {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 2 * time.Second}
	nc, err := d.Dial("tcp", to.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return &rawPeer{t: t, nc: nc}
}

// listenRaw accepts one connection from a session dialing addr.
func listenRaw(t *testing.T, addr string) (netip.AddrPort, func() *rawPeer) {
	t.Helper()
	ln, err := net.Listen("tcp", addr+":0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln.Addr().(*net.TCPAddr).AddrPort(), func() *rawPeer {
		ln.(*net.TCPListener).SetDeadline(time.Now().Add(5 * time.Second))
		nc, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { nc.Close() })
		return &rawPeer{t: t, nc: nc}
	}
}

func (p *rawPeer) write(b []byte) {
	p.t.Helper()
	if _, err := p.nc.Write(b); err != nil {
		p.t.Fatalf("raw peer write: %v", err)
	}
}

func (p *rawPeer) sendOpen(o *wire.Open) {
	p.t.Helper()
	b, err := wire.AppendOpen(nil, o)
	if err != nil {
		p.t.Fatal(err)
	}
	p.write(b)
}

func (p *rawPeer) sendUpdate(u *wire.Update, o *wire.Options) {
	p.t.Helper()
	b, err := wire.AppendUpdate(nil, u, o)
	if err != nil {
		p.t.Fatal(err)
	}
	p.write(b)
}

// read returns the next message's type and body; err on EOF or timeout.
func (p *rawPeer) read(d time.Duration) (wire.MsgType, []byte, error) {
	p.nc.SetReadDeadline(time.Now().Add(d))
	hdr := make([]byte, wire.HeaderLen)
	if _, err := io.ReadFull(p.nc, hdr); err != nil {
		return 0, nil, err
	}
	n, typ, err := wire.ParseHeader(hdr, wire.MaxExtMessageLen)
	if err != nil {
		return 0, nil, err
	}
	body := make([]byte, n-wire.HeaderLen)
	if _, err := io.ReadFull(p.nc, body); err != nil {
		return 0, nil, err
	}
	return typ, body, nil
}

// expect reads messages until one of type typ arrives (KEEPALIVEs are
// skipped unless typ is KEEPALIVE) and returns its body.
func (p *rawPeer) expect(typ wire.MsgType, d time.Duration) []byte {
	p.t.Helper()
	deadline := time.Now().Add(d)
	for {
		got, body, err := p.read(time.Until(deadline))
		if err != nil {
			p.t.Fatalf("waiting for %v: %v", typ, err)
		}
		if got == typ {
			return body
		}
		if got == wire.MsgNotification {
			var n wire.Notification
			n.Decode(body)
			p.t.Fatalf("waiting for %v, got NOTIFICATION %v", typ, &n)
		}
	}
}

// expectNotification waits for a NOTIFICATION and then for the connection
// to close.
func (p *rawPeer) expectNotification(d time.Duration) *wire.Notification {
	p.t.Helper()
	body := p.expect(wire.MsgNotification, d)
	var n wire.Notification
	if err := n.Decode(body); err != nil {
		p.t.Fatal(err)
	}
	if _, _, err := p.read(2 * time.Second); !errors.Is(err, io.EOF) && (err == nil || !strings.Contains(err.Error(), "reset")) {
		p.t.Errorf("after NOTIFICATION: want connection closed, got %v", err)
	}
	return &n
}

// establish completes the OPEN exchange as peer o and returns kbgp's OPEN.
func (p *rawPeer) establish(o *wire.Open) *wire.Open {
	p.t.Helper()
	p.sendOpen(o)
	body := p.expect(wire.MsgOpen, 3*time.Second)
	var theirs wire.Open
	if err := theirs.Decode(body); err != nil {
		p.t.Fatal(err)
	}
	p.expect(wire.MsgKeepalive, 3*time.Second)
	p.write(wire.AppendKeepalive(nil))
	return &theirs
}

func peerOpen(as uint32, id string, hold uint16) *wire.Open {
	o := &wire.Open{Version: 4, HoldTime: hold, BGPID: netip.MustParseAddr(id)}
	if as > 0xffff {
		o.MyAS = wire.ASTrans
	} else {
		o.MyAS = uint16(as)
	}
	o.Caps.HasFourOctetAS = true
	o.Caps.FourOctetAS = as
	o.Caps.Multiprotocol = []wire.Family{wire.IPv4Unicast, wire.IPv6Unicast}
	o.Caps.RouteRefresh = true
	return o
}

func pfx(s string) netip.Prefix { return netip.MustParsePrefix(s) }

func routeUpdate(nh string, prefixes ...string) *wire.Update {
	u := &wire.Update{}
	u.Attrs.Origin = wire.OriginIGP
	u.Attrs.Set(wire.AttrOrigin)
	u.Attrs.ASPath = []wire.ASPathSegment{{Type: wire.ASSequence, ASNs: []uint32{65002}}}
	u.Attrs.Set(wire.AttrASPath)
	u.Attrs.NextHop = netip.MustParseAddr(nh)
	u.Attrs.Set(wire.AttrNextHop)
	for _, p := range prefixes {
		u.NLRI = append(u.NLRI, wire.NLRI{Prefix: pfx(p)})
	}
	return u
}

// numberedUpdates returns an encoder of large test UPDATEs: UPDATE i
// announces 10.i.0/24 (which numbers it) and n more /24s, about 4.5 bytes
// each.
func numberedUpdates(t *testing.T, n int) func(i int) []byte {
	u := routeUpdate("192.168.0.1", "10.0.0.0/24")
	for j := range n {
		u.NLRI = append(u.NLRI, wire.NLRI{Prefix: netip.PrefixFrom(netip.AddrFrom4([4]byte{11, byte(j >> 8), byte(j), 0}), 24)})
	}
	return func(i int) []byte {
		u.NLRI[0].Prefix = netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i >> 8), byte(i), 0}), 24)
		m, err := wire.AppendUpdate(nil, u, &wire.Options{AS4: true})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
}
