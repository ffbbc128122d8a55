package fsm

import (
	"context"
	"encoding/binary"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/kbgp/kbgp/internal/bgp/wire"
)

func baseConfig(localAS, peerAS uint32, id, peer string) Config {
	return Config{
		LocalAS:      localAS,
		PeerAS:       peerAS,
		RouterID:     netip.MustParseAddr(id),
		PeerAddr:     netip.MustParseAddr(peer),
		ConnectRetry: 200 * time.Millisecond,
		IdleHoldTime: 100 * time.Millisecond,
		Families:     []wire.Family{wire.IPv4Unicast, wire.IPv6Unicast},
	}
}

// TestTwoSessionsExchangeRoutes peers two kbgp sessions over loopback: one
// active, one passive; both reach Established, exchange UPDATEs and
// End-of-RIB, and shut down with an RFC 9003 message.
func TestTwoSessionsExchangeRoutes(t *testing.T) {
	checkLeaks(t)
	lnB := listen(t, "127.0.0.2")
	ra, rb := newRecorder(), newRecorder()
	ca := baseConfig(65001, 65002, "10.0.0.1", "127.0.0.2")
	ca.LocalAddr = netip.MustParseAddr("127.0.0.1")
	ca.PeerPort = lnB.port()
	ca.HoldTime = 30 * time.Second
	cb := baseConfig(65002, 65001, "10.0.0.2", "127.0.0.1")
	cb.Passive = true
	cb.HoldTime = 9 * time.Second
	cb.CountPrefixes = true
	b := newSession(t, cb, rb)
	lnB.add(b)
	a := newSession(t, ca, ra)
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	ea := ra.wait(t, "established", 5*time.Second)
	eb := rb.wait(t, "established", 5*time.Second)
	for name, n := range map[string]*Negotiated{"a": ea.neg, "b": eb.neg} {
		if n.HoldTime != 9*time.Second || n.KeepaliveInterval != 3*time.Second {
			t.Errorf("%s: hold %v keepalive %v, want 9s and 3s", name, n.HoldTime, n.KeepaliveInterval)
		}
		if diff := cmp.Diff([]wire.Family{wire.IPv4Unicast, wire.IPv6Unicast}, n.Families); diff != "" {
			t.Errorf("%s: families (-want +got):\n%s", name, diff)
		}
		if !n.AS4 || !n.RouteRefresh || !n.EnhancedRouteRefresh {
			t.Errorf("%s: AS4 %v RR %v ERR %v, want all true", name, n.AS4, n.RouteRefresh, n.EnhancedRouteRefresh)
		}
	}
	if ea.neg.PeerAS != 65002 || eb.neg.PeerRouterID != netip.MustParseAddr("10.0.0.1") {
		t.Errorf("peer AS %d, peer ID %v", ea.neg.PeerAS, eb.neg.PeerRouterID)
	}
	if st := a.Status(); st.State != Established || st.Remote.Port() != lnB.port() {
		t.Errorf("a status: state %v remote %v", st.State, st.Remote)
	}

	// a → b: a route, then End-of-RIB.
	ctx := context.Background()
	msg, err := wire.AppendUpdate(nil, routeUpdate("192.168.0.1", "192.0.2.0/24", "198.51.100.0/25"), &ea.neg.Send)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Send(ctx, ea.epoch, msg); err != nil {
		t.Fatal(err)
	}
	if err := a.Send(ctx, ea.epoch, wire.AppendEndOfRIB(nil, wire.IPv4Unicast)); err != nil {
		t.Fatal(err)
	}
	u := rb.wait(t, "update", 3*time.Second).upd
	want := []wire.NLRI{{Prefix: pfx("192.0.2.0/24")}, {Prefix: pfx("198.51.100.0/25")}}
	if diff := cmp.Diff(want, u.NLRI, cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); diff != "" {
		t.Errorf("NLRI (-want +got):\n%s", diff)
	}
	if got := rb.wait(t, "eor", 3*time.Second).family; got != wire.IPv4Unicast {
		t.Errorf("End-of-RIB for %v", got)
	}
	if got := b.Status().PrefixesReceived[wire.IPv4Unicast]; got != 2 {
		t.Errorf("b received %d IPv4 prefixes, want 2", got)
	}
	// b → a: a withdrawal of something never announced is harmless; then a
	// route refresh request.
	if err := b.SendRouteRefresh(ctx, wire.IPv6Unicast); err != nil {
		t.Fatal(err)
	}
	if rr := ra.wait(t, "refresh", 3*time.Second).refresh; rr.Family != wire.IPv6Unicast || rr.Subtype != wire.RefreshNormal {
		t.Errorf("route refresh %+v", rr)
	}
	// Stale epochs are refused.
	if err := a.Send(ctx, ea.epoch+1, msg); err != ErrNotEstablished {
		t.Errorf("Send with a wrong epoch: %v, want ErrNotEstablished", err)
	}

	// Administrative shutdown with an RFC 9003 message.
	if err := a.Stop("maintenance window 42"); err != nil {
		t.Fatal(err)
	}
	d := rb.wait(t, "down", 3*time.Second)
	if d.cause.Class != ClassNotificationReceived {
		t.Fatalf("b down class %v", d.cause.Class)
	}
	if m, ok := d.cause.Notification.ShutdownMessage(); !ok || m != "maintenance window 42" {
		t.Errorf("shutdown message %q %v (notification %v)", m, ok, d.cause.Notification)
	}
	if d.stale {
		t.Error("b keeps stale routes without graceful restart")
	}
	if st := a.Status(); st.State != Idle || !st.AdminDown {
		t.Errorf("a after Stop: state %v adminDown %v", st.State, st.AdminDown)
	}
	// Start again: the session comes back.
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	ra.wait(t, "established", 5*time.Second)
}

// TestHoldTimerExpired: a peer that stops sending KEEPALIVEs gets a Hold
// Timer Expired NOTIFICATION after the negotiated hold time.
func TestHoldTimerExpired(t *testing.T) {
	checkLeaks(t)
	addr, accept := listenRaw(t, "127.0.0.1")
	rec := newRecorder()
	cfg := baseConfig(65001, 65002, "10.0.0.1", "127.0.0.1")
	cfg.PeerPort = addr.Port()
	cfg.HoldTime = 3 * time.Second
	s := newSession(t, cfg, rec)
	s.Start()
	p := accept()
	p.establish(peerOpen(65002, "10.0.0.2", 3))
	rec.wait(t, "established", 3*time.Second)
	start := time.Now()
	n := p.expectNotification(6 * time.Second)
	if el := time.Since(start); el < 2500*time.Millisecond {
		t.Errorf("hold timer fired after %v, want about 3s", el)
	}
	if n.Code != wire.NotifHoldTimerExpired {
		t.Errorf("got %v, want Hold Timer Expired", n)
	}
	d := rec.wait(t, "down", time.Second)
	if d.cause.Class != ClassHoldTimerExpired {
		t.Errorf("down class %v", d.cause.Class)
	}
	if st := s.Status(); st.LastError == nil || st.LastError.Class != ClassHoldTimerExpired || st.Flaps != 1 {
		t.Errorf("status last error %v flaps %d", st.LastError, st.Flaps)
	}
}

// TestKeepalivesKeepSessionUp: with hold 3 s kbgp sends KEEPALIVEs every
// second, and a peer that does the same stays up past the hold time.
func TestKeepalivesKeepSessionUp(t *testing.T) {
	checkLeaks(t)
	rec := newRecorder()
	cfg := baseConfig(65001, 65002, "10.0.0.1", "127.0.0.1")
	cfg.HoldTime = 3 * time.Second
	s, p, _ := establishRaw(t, cfg, rec, rec)
	if kas := p.answerKeepalives(4500 * time.Millisecond); kas < 3 || kas > 6 {
		t.Errorf("%d KEEPALIVEs in 4.5 s with a 1 s interval", kas)
	}
	if st := s.Status(); st.State != Established {
		t.Errorf("state %v after 4.5 s, want Established", st.State)
	}
}

// TestBadOpen: OPEN errors are answered with the RFC 4271 §6.2 / RFC 5492
// NOTIFICATION and the session is not established.
func TestBadOpen(t *testing.T) {
	checkLeaks(t)
	tests := []struct {
		name    string
		cfg     func(*Config)
		open    func(*wire.Open)
		raw     func([]byte) []byte
		code    uint8
		subcode uint8
		data    []byte
	}{
		{name: "bad peer AS", open: func(o *wire.Open) { o.Caps.FourOctetAS = 65099; o.MyAS = 65099 },
			code: wire.NotifOpen, subcode: wire.OpenBadPeerAS},
		{name: "unacceptable hold time", raw: func(b []byte) []byte { b[wire.HeaderLen+3], b[wire.HeaderLen+4] = 0, 2; return b },
			code: wire.NotifOpen, subcode: wire.OpenUnacceptableHoldTime},
		{name: "unsupported version", raw: func(b []byte) []byte { b[wire.HeaderLen] = 3; return b },
			code: wire.NotifOpen, subcode: wire.OpenUnsupportedVersion, data: []byte{0, 4}},
		{name: "bad BGP identifier zero", raw: func(b []byte) []byte { copy(b[wire.HeaderLen+5:], []byte{0, 0, 0, 0}); return b },
			code: wire.NotifOpen, subcode: wire.OpenBadBGPID},
		{name: "iBGP with our identifier", cfg: func(c *Config) { c.PeerAS = 65001 },
			open: func(o *wire.Open) {
				o.Caps.FourOctetAS = 65001
				o.MyAS = 65001
				o.BGPID = netip.MustParseAddr("10.0.0.1")
			},
			code: wire.NotifOpen, subcode: wire.OpenBadBGPID},
		{name: "required family missing", cfg: func(c *Config) { c.RequiredFamilies = []wire.Family{wire.IPv6Unicast} },
			open: func(o *wire.Open) { o.Caps.Multiprotocol = []wire.Family{wire.IPv4Unicast} },
			code: wire.NotifOpen, subcode: wire.OpenUnsupportedCapability,
			data: []byte{byte(wire.CapMultiprotocol), 4, 0, 2, 0, 1}},
		{name: "4-octet AS mismatch behind AS_TRANS", cfg: func(c *Config) { c.PeerAS = 4200000000 },
			open: func(o *wire.Open) { o.MyAS = wire.ASTrans; o.Caps.FourOctetAS = 4200000001 },
			code: wire.NotifOpen, subcode: wire.OpenBadPeerAS},
		{name: "KEEPALIVE before OPEN", raw: func([]byte) []byte { return wire.AppendKeepalive(nil) },
			code: wire.NotifFSM, subcode: wire.FSMUnexpectedInOpenSent},
		{name: "bad marker", raw: func(b []byte) []byte { b[0] = 0; return b },
			code: wire.NotifMessageHeader, subcode: wire.HeaderNotSynchronized},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			addr, accept := listenRaw(t, "127.0.0.1")
			rec := newRecorder()
			cfg := baseConfig(65001, 65002, "10.0.0.1", "127.0.0.1")
			cfg.PeerPort = addr.Port()
			cfg.ConnectRetry = time.Minute
			cfg.IdleHoldTime = time.Minute
			if tc.cfg != nil {
				tc.cfg(&cfg)
			}
			s := newSession(t, cfg, rec)
			s.Start()
			p := accept()
			o := peerOpen(65002, "10.0.0.2", 90)
			if tc.open != nil {
				tc.open(o)
			}
			b, err := wire.AppendOpen(nil, o)
			if err != nil {
				t.Fatal(err)
			}
			if tc.raw != nil {
				b = tc.raw(b)
			}
			p.write(b)
			n := p.expectNotification(3 * time.Second)
			if n.Code != tc.code || n.Subcode != tc.subcode {
				t.Fatalf("got %v, want %s", n, wire.NotificationName(tc.code, tc.subcode))
			}
			if tc.data != nil && string(n.Data) != string(tc.data) {
				t.Errorf("data %x, want %x", n.Data, tc.data)
			}
			rec.waitState(t, Idle, 2*time.Second)
			st := s.Status()
			if st.LastError == nil || st.LastError.Class != ClassNotificationSent || st.Established != 0 {
				t.Errorf("status: last error %v, established %d", st.LastError, st.Established)
			}
		})
	}
}

// TestMalformedUpdate checks the RFC 7606 actions end to end.
func TestMalformedUpdate(t *testing.T) {
	checkLeaks(t)
	addr, accept := listenRaw(t, "127.0.0.1")
	rec := newRecorder()
	cfg := baseConfig(65001, 65002, "10.0.0.1", "127.0.0.1")
	cfg.PeerPort = addr.Port()
	cfg.IdleHoldTime = time.Minute
	cfg.CountPrefixes = true
	s := newSession(t, cfg, rec)
	s.Start()
	p := accept()
	p.establish(peerOpen(65002, "10.0.0.2", 90))
	rec.wait(t, "established", 3*time.Second)
	opts := &wire.Options{AS4: true}

	p.sendUpdate(routeUpdate("192.168.0.1", "192.0.2.0/24", "192.0.2.128/25"), opts)
	if u := rec.wait(t, "update", 3*time.Second).upd; len(u.NLRI) != 2 {
		t.Fatalf("first UPDATE: %d NLRI", len(u.NLRI))
	}
	if got := s.Status().PrefixesReceived[wire.IPv4Unicast]; got != 2 {
		t.Fatalf("after the first UPDATE: %d prefixes received, want 2", got)
	}
	// An invalid ORIGIN value is treat-as-withdraw (RFC 7606 §7.1): the
	// session stays up and both routes are withdrawn.
	bad, err := wire.AppendUpdate(nil, routeUpdate("192.168.0.1", "192.0.2.0/24", "192.0.2.128/25"), opts)
	if err != nil {
		t.Fatal(err)
	}
	// ORIGIN is the first attribute: header 19, withdrawn len 2, attr len 2,
	// then flags, type, length, value.
	if bad[23+1] != byte(wire.AttrOrigin) {
		t.Fatalf("unexpected encoding % x", bad[:30])
	}
	bad[23+3] = 7
	p.write(bad)
	u := rec.wait(t, "update", 3*time.Second).upd
	if len(u.NLRI) != 0 || len(u.Withdrawn) != 2 {
		t.Errorf("treat-as-withdraw delivered %d NLRI and %d withdrawn, want 0 and 2", len(u.NLRI), len(u.Withdrawn))
	}
	st := s.Status()
	if st.State != Established || st.UpdateErrors != 1 || st.PrefixesReceived[wire.IPv4Unicast] != 0 {
		t.Errorf("after treat-as-withdraw: state %v, update errors %d, prefixes %d", st.State, st.UpdateErrors, st.PrefixesReceived[wire.IPv4Unicast])
	}
	// An NLRI prefix length of 33 is a session reset (RFC 7606 §5.3) with
	// UPDATE Message Error / Invalid Network Field.
	good, _ := wire.AppendUpdate(nil, routeUpdate("192.168.0.1", "192.0.2.0/24"), opts)
	good[len(good)-4] = 33
	p.write(good)
	n := p.expectNotification(3 * time.Second)
	if n.Code != wire.NotifUpdate || n.Subcode != wire.UpdateInvalidNetwork {
		t.Errorf("got %v, want UPDATE Message Error / Invalid Network Field", n)
	}
	if d := rec.wait(t, "down", 2*time.Second); d.cause.Class != ClassNotificationSent {
		t.Errorf("down class %v", d.cause.Class)
	}
}

// TestMaxPrefix: one prefix over the limit closes the session with Cease /
// Maximum Number of Prefixes Reached carrying AFI, SAFI and the limit, and
// the session restarts after MaxPrefixRestart.
func TestMaxPrefix(t *testing.T) {
	checkLeaks(t)
	addr, accept := listenRaw(t, "127.0.0.1")
	rec := newRecorder()
	cfg := baseConfig(65001, 65002, "10.0.0.1", "127.0.0.1")
	cfg.PeerPort = addr.Port()
	cfg.MaxPrefix = map[wire.Family]int{wire.IPv4Unicast: 2}
	cfg.MaxPrefixRestart = 300 * time.Millisecond
	s := newSession(t, cfg, rec)
	s.Start()
	p := accept()
	p.establish(peerOpen(65002, "10.0.0.2", 90))
	rec.wait(t, "established", 3*time.Second)
	opts := &wire.Options{AS4: true}
	p.sendUpdate(routeUpdate("192.168.0.1", "192.0.2.0/24", "192.0.2.128/25"), opts)
	rec.wait(t, "update", 3*time.Second)
	// Re-announcing a known prefix does not count twice.
	p.sendUpdate(routeUpdate("192.168.0.1", "192.0.2.0/24"), opts)
	rec.wait(t, "update", 3*time.Second)
	p.sendUpdate(routeUpdate("192.168.0.1", "198.51.100.0/24"), opts)
	n := p.expectNotification(3 * time.Second)
	want := []byte{0, 1, 1, 0, 0, 0, 2}
	if n.Code != wire.NotifCease || n.Subcode != wire.CeaseMaxPrefix || string(n.Data) != string(want) {
		t.Fatalf("got %v data %x, want Cease / Maximum Number of Prefixes Reached data %x", n, n.Data, want)
	}
	if d := rec.wait(t, "down", 2*time.Second); d.cause.Class != ClassMaxPrefix {
		t.Errorf("down class %v", d.cause.Class)
	}
	// It comes back by itself after the restart timer.
	p2 := accept()
	p2.establish(peerOpen(65002, "10.0.0.2", 90))
	rec.wait(t, "established", 3*time.Second)
	if got := binary.BigEndian.Uint32(want[3:]); got != 2 {
		t.Fatal(got)
	}
}

// TestCollision: two kbgp sessions connect to each other at the same time
// (DelayOpen makes both TCP connections exist before either OPEN). Exactly
// one connection survives: the one initiated by the speaker with the higher
// BGP Identifier (RFC 4271 §6.8).
func TestCollision(t *testing.T) {
	checkLeaks(t)
	for _, tc := range []struct {
		name       string
		idA, idB   string
		aInitiates bool
	}{
		{name: "a has the higher identifier", idA: "10.0.0.9", idB: "10.0.0.1", aInitiates: true},
		{name: "b has the higher identifier", idA: "10.0.0.1", idB: "10.0.0.9", aInitiates: false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lnA, lnB := listen(t, "127.0.0.1"), listen(t, "127.0.0.2")
			// Hold accepted connections until both sessions are started, so
			// neither refuses the other's connection as not yet started.
			gate := make(chan struct{})
			lnA.setGate(gate)
			lnB.setGate(gate)
			ra, rb := newRecorder(), newRecorder()
			ca := baseConfig(65001, 65002, tc.idA, "127.0.0.2")
			ca.LocalAddr, ca.PeerPort, ca.DelayOpen = netip.MustParseAddr("127.0.0.1"), lnB.port(), 300*time.Millisecond
			cb := baseConfig(65002, 65001, tc.idB, "127.0.0.1")
			cb.LocalAddr, cb.PeerPort, cb.DelayOpen = netip.MustParseAddr("127.0.0.2"), lnA.port(), 300*time.Millisecond
			a, b := newSession(t, ca, ra), newSession(t, cb, rb)
			lnA.add(a)
			lnB.add(b)
			a.Start()
			b.Start()
			close(gate)
			ra.wait(t, "established", 5*time.Second)
			rb.wait(t, "established", 5*time.Second)
			sa, sb := a.Status(), b.Status()
			// Each side resolves the collision when it sees the other's OPEN
			// on the losing connection, unless the winner's Cease arrives
			// there first; at least one side must have resolved it.
			if sa.Collisions+sb.Collisions == 0 || sa.Collisions > 1 || sb.Collisions > 1 {
				t.Errorf("collisions a=%d b=%d, want 1 on at least one side", sa.Collisions, sb.Collisions)
			}
			// The surviving connection is a's outbound one iff a initiates:
			// then its remote port is b's listening port.
			if got := sa.Remote.Port() == lnB.port(); got != tc.aInitiates {
				t.Errorf("a's connection %v→%v: initiated by a = %v, want %v", sa.Local, sa.Remote, got, tc.aInitiates)
			}
			if sa.Local != sb.Remote || sa.Remote != sb.Local {
				t.Errorf("a and b disagree: a %v→%v, b %v→%v", sa.Local, sa.Remote, sb.Local, sb.Remote)
			}
			// The session stays up: no down event within a second.
			select {
			case e := <-ra.ch:
				if e.kind == "down" {
					t.Errorf("a went down: %v", e.cause)
				}
			case <-time.After(time.Second):
			}
		})
	}
}

// TestHardReset: with the RFC 8538 N bit on both sides, an administrative
// shutdown is sent as Cease / Hard Reset wrapping Administrative Shutdown
// (RFC 8538 §3, §5), and a transport failure keeps the peer's routes stale.
func TestHardReset(t *testing.T) {
	checkLeaks(t)
	addr, accept := listenRaw(t, "127.0.0.1")
	rec := newRecorder()
	cfg := baseConfig(65001, 65002, "10.0.0.1", "127.0.0.1")
	cfg.PeerPort = addr.Port()
	cfg.GracefulRestart = &GRConfig{RestartTime: 60 * time.Second}
	s := newSession(t, cfg, rec)
	s.Start()
	o := peerOpen(65002, "10.0.0.2", 90)
	o.Caps.GracefulRestart = &wire.GracefulRestart{Notification: true, Time: 30, Families: []wire.GRFamily{{Family: wire.IPv4Unicast}}}

	// Transport failure: keep stale.
	p := accept()
	p.establish(o)
	rec.wait(t, "established", 3*time.Second)
	p.nc.Close()
	if d := rec.wait(t, "down", 3*time.Second); !d.stale || d.cause.Class != ClassTransport {
		t.Errorf("after a TCP failure: keepStale %v class %v, want true and transport", d.stale, d.cause.Class)
	}

	// A received NOTIFICATION other than Hard Reset with N negotiated also
	// keeps them (RFC 8538 §4).
	p = accept()
	p.establish(o)
	rec.wait(t, "established", 3*time.Second)
	m, _ := wire.AppendNotification(nil, &wire.Notification{Code: wire.NotifUpdate, Subcode: wire.UpdateMalformedAttrList})
	p.write(m)
	if d := rec.wait(t, "down", 3*time.Second); !d.stale {
		t.Error("a NOTIFICATION under the N bit dropped the routes")
	}

	// Administrative shutdown: Hard Reset, routes dropped.
	p = accept()
	p.establish(o)
	rec.wait(t, "established", 3*time.Second)
	s.Stop("decommissioned")
	n := p.expectNotification(3 * time.Second)
	if n.Code != wire.NotifCease || n.Subcode != wire.CeaseHardReset {
		t.Fatalf("got %v, want Cease / Hard Reset", n)
	}
	if c, sc, ok := n.HardResetInner(); !ok || c != wire.NotifCease || sc != wire.CeaseAdminShutdown {
		t.Errorf("inner %d/%d", c, sc)
	}
	if d := rec.wait(t, "down", 3*time.Second); d.stale {
		t.Error("Hard Reset kept stale routes")
	}
}

// TestDampPeerOscillations: consecutive failures double the IdleHold time
// up to IdleHoldMax (RFC 4271 §8.1.1); without damping it stays constant.
func TestDampPeerOscillations(t *testing.T) {
	checkLeaks(t)
	for _, tc := range []struct {
		name string
		damp bool
		want []time.Duration
	}{
		{"damping", true, []time.Duration{100, 200, 400, 800, 1000, 1000}},
		{"no damping", false, []time.Duration{100, 100, 100}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := baseConfig(65001, 65002, "10.0.0.1", "127.0.0.9")
			cfg.DampPeerOscillations = tc.damp
			cfg.IdleHoldTime, cfg.IdleHoldMax = 100*time.Millisecond, time.Second
			s := newSession(t, cfg, newRecorder())
			var got []time.Duration
			s.do(func() {
				s.adminDown = false
				for range tc.want {
					now := time.Now()
					s.toIdle(&SessionError{Class: ClassTransport})
					got = append(got, s.idleHoldAt.Sub(now).Round(50*time.Millisecond)/time.Millisecond)
				}
				s.adminDown = true
				s.idleHoldAt = time.Time{}
			})
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("idle hold times in ms (-want +got):\n%s", diff)
			}
		})
	}
}
