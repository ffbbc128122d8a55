package speaker

import (
	"context"
	"io"
	"net"
	"net/netip"
	"syscall"
	"testing"
	"time"

	"github.com/kbgp/kbgp/internal/bgp/fsm"
	"github.com/kbgp/kbgp/internal/bgp/wire"
	"github.com/kbgp/kbgp/internal/rib"
)

// rawConn is a hand-driven BGP peer.
type rawConn struct {
	t  *testing.T
	nc net.Conn
}

func dialRaw(t *testing.T, from netip.Addr, to netip.AddrPort) *rawConn {
	t.Helper()
	d := net.Dialer{LocalAddr: net.TCPAddrFromAddrPort(netip.AddrPortFrom(from, 0)), Timeout: 2 * time.Second}
	nc, err := d.Dial("tcp", to.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return &rawConn{t: t, nc: nc}
}

func (r *rawConn) write(b []byte) {
	r.t.Helper()
	if _, err := r.nc.Write(b); err != nil {
		r.t.Fatal(err)
	}
}

func (r *rawConn) read() (wire.MsgType, []byte) {
	r.t.Helper()
	r.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	hdr := make([]byte, wire.HeaderLen)
	if _, err := io.ReadFull(r.nc, hdr); err != nil {
		r.t.Fatal(err)
	}
	n, typ, err := wire.ParseHeader(hdr, wire.MaxMessageLen)
	if err != nil {
		r.t.Fatal(err)
	}
	body := make([]byte, n-wire.HeaderLen)
	if _, err := io.ReadFull(r.nc, body); err != nil {
		r.t.Fatal(err)
	}
	return typ, body
}

// open establishes the session and returns the speaker's OPEN.
func (r *rawConn) open(o *wire.Open) *wire.Open {
	r.t.Helper()
	b, err := wire.AppendOpen(nil, o)
	if err != nil {
		r.t.Fatal(err)
	}
	r.write(b)
	var theirs wire.Open
	for {
		typ, body := r.read()
		if typ == wire.MsgOpen {
			if err := theirs.Decode(body); err != nil {
				r.t.Fatal(err)
			}
			continue
		}
		if typ == wire.MsgKeepalive {
			break
		}
		r.t.Fatalf("unexpected %v during OPEN exchange", typ)
	}
	r.write(wire.AppendKeepalive(nil))
	return &theirs
}

// expectEoR reads until an End-of-RIB for f arrives.
func (r *rawConn) expectEoR(f wire.Family) {
	r.t.Helper()
	for {
		typ, body := r.read()
		if typ != wire.MsgUpdate {
			continue
		}
		var u wire.Update
		if err := u.Decode(body, &wire.Options{AS4: true}); err != nil {
			r.t.Fatal(err)
		}
		if g, ok := wire.IsEndOfRIB(&u); ok && g == f {
			return
		}
	}
}

func (r *rawConn) announce(prefixes ...string) {
	r.t.Helper()
	u := &wire.Update{}
	u.Attrs.Origin = wire.OriginIGP
	u.Attrs.Set(wire.AttrOrigin)
	u.Attrs.ASPath = []wire.ASPathSegment{{Type: wire.ASSequence, ASNs: []uint32{65002}}}
	u.Attrs.Set(wire.AttrASPath)
	u.Attrs.NextHop = netip.MustParseAddr("192.0.2.2")
	u.Attrs.Set(wire.AttrNextHop)
	for _, p := range prefixes {
		u.NLRI = append(u.NLRI, wire.NLRI{Prefix: netip.MustParsePrefix(p)})
	}
	b, err := wire.AppendUpdate(nil, u, &wire.Options{AS4: true})
	if err != nil {
		r.t.Fatal(err)
	}
	r.write(b)
}

// plainOpen is the OPEN of a raw peer without graceful restart.
func plainOpen() *wire.Open {
	o := grOpen(false)
	o.Caps.GracefulRestart = nil
	return o
}

// rawClient configures cfg, a passive peer, on s and connects to s from
// the peer's address as a raw peer.
func rawClient(t *testing.T, s *node, cfg PeerConfig) *rawConn {
	t.Helper()
	if err := s.AddPeer(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	return dialRaw(t, cfg.Session.PeerAddr, s.Addrs()[0])
}

func grOpen(restarting bool) *wire.Open {
	o := &wire.Open{Version: 4, MyAS: 65002, HoldTime: 90, BGPID: netip.MustParseAddr("10.0.0.2")}
	o.Caps.HasFourOctetAS, o.Caps.FourOctetAS = true, 65002
	o.Caps.Multiprotocol = []wire.Family{wire.IPv4Unicast}
	o.Caps.GracefulRestart = &wire.GracefulRestart{Restarting: restarting, Notification: true, Time: 2,
		Families: []wire.GRFamily{{Family: wire.IPv4Unicast, Forwarding: true}}}
	return o
}

// TestGracefulRestartHelper: kbgp as the RFC 4724 receiving speaker keeps
// a restarting peer's routes as stale, removes the ones not re-announced at
// End-of-RIB, and removes all of them when the restart time passes.
func TestGracefulRestartHelper(t *testing.T) {
	checkLeaks(t)
	s := newNode(t, "127.0.0.1", 65001, "10.0.0.1")
	peerAddr := netip.MustParseAddr("127.0.0.2")
	ctx := context.Background()
	err := s.AddPeer(ctx, PeerConfig{Session: fsm.Config{
		PeerAS: 65002, PeerAddr: peerAddr, Passive: true, IdleHoldTime: 50 * time.Millisecond,
		GracefulRestart: &fsm.GRConfig{RestartTime: 120 * time.Second},
	}})
	if err != nil {
		t.Fatal(err)
	}
	r := dialRaw(t, peerAddr, s.Addrs()[0])
	theirs := r.open(grOpen(false))
	if g := theirs.Caps.GracefulRestart; g == nil || g.Time != 120 || !g.Notification {
		t.Fatalf("kbgp's GR capability %+v", g)
	}
	// RFC 4724 §4.1: End-of-RIB after the initial table.
	r.expectEoR(wire.IPv4Unicast)
	r.announce("10.5.0.0/24", "10.6.0.0/24")
	waitRoute(t, s, "10.6.0.0/24", present)

	// The peer's TCP connection dies without a NOTIFICATION: routes stay.
	r.nc.Close()
	time.Sleep(300 * time.Millisecond)
	waitRoute(t, s, "10.5.0.0/24", present)
	waitRoute(t, s, "10.6.0.0/24", present)

	// It comes back (R bit), re-announces one route and sends End-of-RIB:
	// the other stale route goes.
	var r2 *rawConn
	deadline := time.Now().Add(5 * time.Second)
	for {
		r2 = dialRaw(t, peerAddr, s.Addrs()[0])
		b, _ := wire.AppendOpen(nil, grOpen(true))
		r2.write(b)
		typ, _ := r2.read()
		if typ == wire.MsgOpen {
			break
		}
		// Refused while kbgp is still in Idle hold: try again.
		if time.Now().After(deadline) {
			t.Fatalf("reconnect refused (%v)", typ)
		}
		r2.nc.Close()
		time.Sleep(100 * time.Millisecond)
	}
	for typ, _ := r2.read(); typ != wire.MsgKeepalive; typ, _ = r2.read() {
	}
	r2.write(wire.AppendKeepalive(nil))
	r2.announce("10.5.0.0/24")
	r2.write(wire.AppendEndOfRIB(nil, wire.IPv4Unicast))
	waitRoute(t, s, "10.6.0.0/24", withdrawn)
	waitRoute(t, s, "10.5.0.0/24", present)

	// Dies again and stays away: after the 2 s restart time all is gone.
	r2.nc.Close()
	time.Sleep(time.Second)
	waitRoute(t, s, "10.5.0.0/24", present)
	waitRoute(t, s, "10.5.0.0/24", withdrawn)
}

// TestGracefulRestartDynamicPeerNewAS: a dynamic peer (PeerAS 0) with
// stale routes comes back in another AS: the RIB takes the new AS (here
// iBGP, so the LOCAL_PREF it sends counts, RFC 4271 §5.1.5) without
// dropping the stale routes before End-of-RIB.
func TestGracefulRestartDynamicPeerNewAS(t *testing.T) {
	checkLeaks(t)
	s := newNode(t, "127.0.0.1", 65001, "10.0.0.1")
	peerAddr := netip.MustParseAddr("127.0.0.2")
	ctx := context.Background()
	err := s.AddPeer(ctx, PeerConfig{Session: fsm.Config{
		PeerAddr: peerAddr, Passive: true, IdleHoldTime: 50 * time.Millisecond,
		GracefulRestart: &fsm.GRConfig{RestartTime: 120 * time.Second},
	}})
	if err != nil {
		t.Fatal(err)
	}
	r := dialRaw(t, peerAddr, s.Addrs()[0])
	r.open(grOpen(false))
	r.expectEoR(wire.IPv4Unicast)
	r.announce("10.5.0.0/24")
	waitRoute(t, s, "10.5.0.0/24", present)
	r.nc.Close()

	// Back as AS 65001 (iBGP) with the R bit.
	o := grOpen(true)
	o.MyAS, o.Caps.FourOctetAS = 65001, 65001
	var r2 *rawConn
	deadline := time.Now().Add(5 * time.Second)
	for {
		r2 = dialRaw(t, peerAddr, s.Addrs()[0])
		b, _ := wire.AppendOpen(nil, o)
		r2.write(b)
		if typ, _ := r2.read(); typ == wire.MsgOpen {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("reconnect refused")
		}
		r2.nc.Close()
		time.Sleep(100 * time.Millisecond)
	}
	for typ, _ := r2.read(); typ != wire.MsgKeepalive; typ, _ = r2.read() {
	}
	r2.write(wire.AppendKeepalive(nil))
	// The stale route is still there before End-of-RIB.
	rs, err := s.Routes(ctx, netip.MustParsePrefix("10.5.0.0/24"))
	if err != nil || len(rs) != 1 || !rs[0].Stale {
		t.Fatalf("stale route after the reconnect: %+v (%v)", rs, err)
	}
	u := &wire.Update{}
	u.Attrs.Origin = wire.OriginIGP
	u.Attrs.Set(wire.AttrOrigin)
	u.Attrs.Set(wire.AttrASPath)
	u.Attrs.NextHop = netip.MustParseAddr("192.0.2.2")
	u.Attrs.Set(wire.AttrNextHop)
	u.Attrs.LocalPref = 300
	u.Attrs.Set(wire.AttrLocalPref)
	u.NLRI = []wire.NLRI{{Prefix: netip.MustParsePrefix("10.6.0.0/24")}}
	b, err := wire.AppendUpdate(nil, u, &wire.Options{AS4: true})
	if err != nil {
		t.Fatal(err)
	}
	r2.write(b)
	got := waitRoute(t, s, "10.6.0.0/24", present)
	if !got.Attrs.Has(wire.AttrLocalPref) || got.Attrs.LocalPref != 300 {
		t.Errorf("route from the peer now in our AS: LOCAL_PREF %d (present %v), want 300: the RIB still treats it as eBGP",
			got.Attrs.LocalPref, got.Attrs.Has(wire.AttrLocalPref))
	}
	r2.write(wire.AppendEndOfRIB(nil, wire.IPv4Unicast))
	waitRoute(t, s, "10.5.0.0/24", withdrawn)
}

// TestEnhancedRouteRefresh: a peer's ROUTE-REFRESH is answered with the
// Adj-RIB-Out framed by BoRR and EoRR (RFC 7313 §4).
func TestEnhancedRouteRefresh(t *testing.T) {
	checkLeaks(t)
	s := newNode(t, "127.0.0.1", 65001, "10.0.0.1")
	peerAddr := netip.MustParseAddr("127.0.0.2")
	ctx := context.Background()
	if err := s.AddPeer(ctx, PeerConfig{Session: fsm.Config{PeerAS: 65002, PeerAddr: peerAddr, Passive: true},
		NextHopSelf4: netip.MustParseAddr("192.0.2.1")}); err != nil {
		t.Fatal(err)
	}
	if err := s.Originate(ctx, netip.MustParsePrefix("10.7.0.0/24"), wire.Attrs{}); err != nil {
		t.Fatal(err)
	}
	r := dialRaw(t, peerAddr, s.Addrs()[0])
	o := plainOpen()
	o.Caps.RouteRefresh, o.Caps.EnhancedRouteRefresh = true, true
	r.open(o)
	r.expectEoR(wire.IPv4Unicast)
	r.write(wire.AppendRouteRefresh(nil, &wire.RouteRefresh{Family: wire.IPv4Unicast}))
	var seq []string
	for len(seq) == 0 || seq[len(seq)-1] != "EoRR" {
		typ, body := r.read()
		switch typ {
		case wire.MsgRouteRefresh:
			var rr wire.RouteRefresh
			if err := rr.Decode(body); err != nil {
				t.Fatal(err)
			}
			seq = append(seq, map[uint8]string{wire.RefreshBoRR: "BoRR", wire.RefreshEoRR: "EoRR"}[rr.Subtype])
		case wire.MsgUpdate:
			var u wire.Update
			if err := u.Decode(body, &wire.Options{AS4: true}); err != nil {
				t.Fatal(err)
			}
			for _, n := range u.NLRI {
				seq = append(seq, n.Prefix.String())
			}
		}
	}
	if want := []string{"BoRR", "10.7.0.0/24", "EoRR"}; len(seq) != 3 || seq[0] != want[0] || seq[1] != want[1] || seq[2] != want[2] {
		t.Errorf("refresh sequence %v, want %v", seq, want)
	}
}

// TestEnhancedRouteRefreshReceive: kbgp as the receiver of an enhanced
// route refresh (RFC 7313 §4) keeps the peer's routes between BoRR and
// EoRR, and at EoRR removes those the peer did not announce again. An EoRR
// without a BoRR removes nothing.
func TestEnhancedRouteRefreshReceive(t *testing.T) {
	checkLeaks(t)
	s := newNode(t, "127.0.0.1", 65001, "10.0.0.1")
	peerAddr := netip.MustParseAddr("127.0.0.2")
	ctx := context.Background()
	r := rawClient(t, s, PeerConfig{Session: fsm.Config{PeerAS: 65002, PeerAddr: peerAddr, Passive: true}})
	o := plainOpen()
	o.Caps.RouteRefresh, o.Caps.EnhancedRouteRefresh = true, true
	r.open(o)
	r.expectEoR(wire.IPv4Unicast)
	r.announce("10.8.0.0/24", "10.9.0.0/24")
	waitRoute(t, s, "10.9.0.0/24", present)
	rr := func(sub uint8) {
		r.write(wire.AppendRouteRefresh(nil, &wire.RouteRefresh{Family: wire.IPv4Unicast, Subtype: sub}))
	}

	// A lone EoRR: nothing was marked, nothing goes. The later
	// announcement orders the check after the EoRR.
	rr(wire.RefreshEoRR)
	r.announce("10.10.0.0/24")
	waitRoute(t, s, "10.10.0.0/24", present)
	waitRoute(t, s, "10.9.0.0/24", present)

	// BoRR, one route again, EoRR: the others are swept.
	rr(wire.RefreshBoRR)
	r.announce("10.8.0.0/24")
	rr(wire.RefreshEoRR)
	waitRoute(t, s, "10.9.0.0/24", withdrawn)
	waitRoute(t, s, "10.10.0.0/24", withdrawn)
	waitRoute(t, s, "10.8.0.0/24", present)
	rs, err := s.Routes(ctx, netip.MustParsePrefix("10.8.0.0/24"))
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 1 || rs[0].Stale || rs[0].Peer != peerAddr || !rs[0].Best {
		t.Errorf("10.8.0.0/24 after the refresh: %+v, want one best, not stale path from %v", rs, peerAddr)
	}
}

// TestSelectionDeferral: a restarting kbgp (RFC 4724 §4.1) selects no
// routes until its graceful-restart peer sent End-of-RIB, or until the
// selection deferral timer expires.
func TestSelectionDeferral(t *testing.T) {
	checkLeaks(t)
	for _, sendEoR := range []bool{true, false} {
		t.Run(map[bool]string{true: "until End-of-RIB", false: "until the timer"}[sendEoR], func(t *testing.T) {
			const deferral = 1500 * time.Millisecond
			start := time.Now()
			sp, err := New(context.Background(), Config{LocalAS: 65001, RouterID: netip.MustParseAddr("10.0.0.1"),
				Listen: []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:0")}, SelectionDeferral: deferral, Logger: testLogger(t)})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(sp.Close)
			s := &node{Speaker: sp, addr: netip.MustParseAddr("127.0.0.1")}
			peerAddr := netip.MustParseAddr("127.0.0.2")
			ctx := context.Background()
			if err := s.AddPeer(ctx, PeerConfig{Session: fsm.Config{PeerAS: 65002, PeerAddr: peerAddr, Passive: true,
				GracefulRestart: &fsm.GRConfig{RestartTime: 120 * time.Second, Restarting: true}}}); err != nil {
				t.Fatal(err)
			}
			r := dialRaw(t, peerAddr, s.Addrs()[0])
			theirs := r.open(grOpen(false))
			if !theirs.Caps.GracefulRestart.Restarting {
				t.Error("R bit not set in kbgp's OPEN")
			}
			r.announce("10.8.0.0/24")
			time.Sleep(300 * time.Millisecond)
			if bs, _ := s.BestPaths(ctx); len(bs) != 0 {
				t.Fatalf("routes selected during deferral: %v", bs)
			}
			if sendEoR {
				r.write(wire.AppendEndOfRIB(nil, wire.IPv4Unicast))
			}
			waitRoute(t, s, "10.8.0.0/24", present)
			el := time.Since(start)
			if sendEoR && el >= deferral {
				t.Errorf("selection resumed after %v, not at End-of-RIB", el)
			}
			if !sendEoR && el < deferral {
				t.Errorf("selection resumed after %v, before the %v timer", el, deferral)
			}
			// kbgp's own End-of-RIB follows its (deferred) initial table.
			r.expectEoR(wire.IPv4Unicast)
		})
	}
}

// TestLongLivedGracefulRestart: when the GR restart time passes, routes of
// a peer that negotiated LLGR (RFC 9494) stay as LLGR-stale, tagged with the
// LLGR_STALE community, until the long-lived stale time passes.
func TestLongLivedGracefulRestart(t *testing.T) {
	checkLeaks(t)
	s := newNode(t, "127.0.0.1", 65001, "10.0.0.1")
	peerAddr := netip.MustParseAddr("127.0.0.2")
	ctx := context.Background()
	if err := s.AddPeer(ctx, PeerConfig{Session: fsm.Config{PeerAS: 65002, PeerAddr: peerAddr, Passive: true,
		GracefulRestart: &fsm.GRConfig{RestartTime: 120 * time.Second, LLGRStaleTime: time.Hour}}}); err != nil {
		t.Fatal(err)
	}
	r := dialRaw(t, peerAddr, s.Addrs()[0])
	o := grOpen(false)
	o.Caps.GracefulRestart.Time = 1
	o.Caps.HasLongLivedGR = true
	o.Caps.LongLivedGR = []wire.LLGRFamily{{Family: wire.IPv4Unicast, StaleTime: 2}}
	theirs := r.open(o)
	if !theirs.Caps.HasLongLivedGR || len(theirs.Caps.LongLivedGR) == 0 || theirs.Caps.LongLivedGR[0].StaleTime != 3600 {
		t.Errorf("kbgp's LLGR capability: %+v", theirs.Caps.LongLivedGR)
	}
	r.announce("10.9.0.0/24")
	waitRoute(t, s, "10.9.0.0/24", present)
	down := time.Now()
	r.nc.Close()
	llgrStale := func(b BestPath) bool {
		if b.Withdrawn() {
			return false
		}
		for _, c := range b.Attrs.Communities {
			if c == wire.CommunityLLGRStale {
				return true
			}
		}
		return false
	}
	waitRoute(t, s, "10.9.0.0/24", llgrStale)
	if el := time.Since(down); el < 900*time.Millisecond {
		t.Errorf("LLGR-stale after %v, before the 1 s restart time", el)
	}
	waitRoute(t, s, "10.9.0.0/24", withdrawn)
	if el := time.Since(down); el < 2900*time.Millisecond {
		t.Errorf("removed after %v, before restart + long-lived stale time (3 s)", el)
	}
}

// TestImportPolicyCounts: routes an import policy rejects count as received
// but not accepted, and a policy-only UpdatePeer applies without a reset.
func TestImportPolicyCounts(t *testing.T) {
	checkLeaks(t)
	s := newNode(t, "127.0.0.1", 65001, "10.0.0.1")
	peerAddr := netip.MustParseAddr("127.0.0.2")
	ctx := context.Background()
	reject := func(p string) rib.PolicyFunc {
		return func(in rib.PolicyInput, _ *wire.Attrs) bool { return in.Prefix != netip.MustParsePrefix(p) }
	}
	cfg := PeerConfig{Session: fsm.Config{PeerAS: 65002, PeerAddr: peerAddr, Passive: true},
		Import: rib.Policy{Name: "no-10.66", Func: reject("10.66.0.0/24")}}
	if err := s.AddPeer(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	r := dialRaw(t, peerAddr, s.Addrs()[0])
	o := plainOpen()
	o.Caps.RouteRefresh = true
	r.open(o)
	r.announce("10.65.0.0/24", "10.66.0.0/24", "10.67.0.0/24")
	waitRoute(t, s, "10.65.0.0/24", present)
	deadline := time.Now().Add(5 * time.Second)
	for {
		st, _ := s.PeerStatus(peerAddr)
		if st.PrefixesReceived[wire.IPv4Unicast] == 3 && st.Accepted[wire.IPv4Unicast] == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("received %v accepted %v, want 3 and 2", st.PrefixesReceived, st.Accepted)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if bs, _ := s.BestPaths(ctx); len(bs) != 2 {
		t.Errorf("best paths %v, want 2", bs)
	}
	// Swap the policy function under the same name: no reset; kbgp asks
	// the peer for a ROUTE-REFRESH (RFC 2918).
	cfg.Import.Func = reject("10.67.0.0/24")
	if err := s.UpdatePeer(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	for {
		typ, body := r.read()
		if typ == wire.MsgRouteRefresh {
			var rr wire.RouteRefresh
			if err := rr.Decode(body); err != nil || rr.Family != wire.IPv4Unicast {
				t.Fatalf("route refresh %+v %v", rr, err)
			}
			break
		}
	}
	r.announce("10.65.0.0/24", "10.66.0.0/24", "10.67.0.0/24")
	waitRoute(t, s, "10.66.0.0/24", present)
	waitRoute(t, s, "10.67.0.0/24", withdrawn)
	if st, _ := s.PeerStatus(peerAddr); st.Established != 1 || st.Accepted[wire.IPv4Unicast] != 2 {
		t.Errorf("after the policy change: established %d accepted %v", st.Established, st.Accepted)
	}
}

// TestSlowPeerIsReset: a peer that stops reading cannot make kbgp queue
// without bound or stall other work: once its export queue is full it is
// reset with Cease / Out of Resources (RFC 4486).
func TestSlowPeerIsReset(t *testing.T) {
	checkLeaks(t)
	sp, err := New(context.Background(), Config{LocalAS: 65001, RouterID: netip.MustParseAddr("10.0.0.1"),
		Listen: []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:0")}, ExportQueueLen: 4, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sp.Close)
	peerAddr := netip.MustParseAddr("127.0.0.2")
	ctx := context.Background()
	if err := sp.AddPeer(ctx, PeerConfig{Session: fsm.Config{PeerAS: 65002, PeerAddr: peerAddr, Passive: true, QueueLen: 1},
		NextHopSelf4: netip.MustParseAddr("192.0.2.1")}); err != nil {
		t.Fatal(err)
	}
	d := net.Dialer{LocalAddr: net.TCPAddrFromAddrPort(netip.AddrPortFrom(peerAddr, 0)), Timeout: 2 * time.Second}
	// A small receive buffer so the peer's window fills quickly.
	d.Control = func(_, _ string, rc syscall.RawConn) error {
		return rc.Control(func(fd uintptr) { syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
	}
	nc, err := d.Dial("tcp", sp.Addrs()[0].String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	r := &rawConn{t: t, nc: nc}
	o := plainOpen()
	r.open(o)
	// Each origination is its own ~3 KB UPDATE; the peer reads nothing.
	// Loopback send buffers autotune up to net.ipv4.tcp_wmem's maximum
	// (4 MiB by default), so keep originating until the reset, well past
	// what the socket buffers can absorb (4,000 × 3 KB = 12 MB).
	var attrs wire.Attrs
	for i := range 4000 {
		attrs.Communities = append(attrs.Communities[:0], wire.Community(i))
		for j := range 700 {
			attrs.Communities = append(attrs.Communities, wire.Community(j<<16|i))
		}
		attrs.Set(wire.AttrCommunities)
		p := netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 70, byte(i >> 8), byte(i)}), 32)
		if err := sp.Originate(ctx, p, attrs); err != nil {
			t.Fatal(err)
		}
		if st, _ := sp.PeerStatus(peerAddr); st.Flaps > 0 {
			break
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		st, _ := sp.PeerStatus(peerAddr)
		if st.Flaps > 0 {
			if n := st.LastError.Notification; n == nil || n.Code != wire.NotifCease || n.Subcode != wire.CeaseOutOfResources {
				t.Errorf("reset with %v, want Cease / Out of Resources", st.LastError)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("slow peer never reset: %+v", st.Status)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The speaker still works.
	if _, err := sp.BestPaths(ctx); err != nil {
		t.Fatal(err)
	}
}
