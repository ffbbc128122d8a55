package speaker

import (
	"context"
	"io"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/kbgp/kbgp/internal/bgp/fsm"
	"github.com/kbgp/kbgp/internal/bgp/wire"
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
	o := grOpen(false)
	o.Caps.GracefulRestart = nil
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
