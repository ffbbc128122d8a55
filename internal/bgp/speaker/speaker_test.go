package speaker

import (
	"context"
	"log/slog"
	"net/netip"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/kbgp/kbgp/internal/bgp/fsm"
	"github.com/kbgp/kbgp/internal/bgp/wire"
)

func checkLeaks(t *testing.T) {
	t.Helper()
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(5 * time.Second)
		for runtime.NumGoroutine() > before {
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<20)
				buf = buf[:runtime.Stack(buf, true)]
				t.Errorf("goroutine leak: %d before, %d after\n%s", before, runtime.NumGoroutine(), buf)
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
}

func testLogger(t *testing.T) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return nil
}

// node is a speaker on one loopback address.
type node struct {
	*Speaker
	addr netip.Addr
	as   uint32
	id   netip.Addr
}

func newNode(t *testing.T, addr string, as uint32, id string) *node {
	t.Helper()
	a := netip.MustParseAddr(addr)
	s, err := New(context.Background(), Config{
		LocalAS:  as,
		RouterID: netip.MustParseAddr(id),
		Listen:   []netip.AddrPort{netip.AddrPortFrom(a, 0)},
		Logger:   testLogger(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return &node{Speaker: s, addr: a, as: as, id: netip.MustParseAddr(id)}
}

// peerWith returns n's PeerConfig for peering with o. The active side
// connects to o's listener; next hop self is a documentation address so
// receivers accept it (loopback next hops are martians).
func (n *node) peerWith(o *node, active bool) PeerConfig {
	nh := netip.AddrFrom4([4]byte{192, 0, 2, n.addr.As4()[3]})
	c := PeerConfig{
		Session: fsm.Config{
			PeerAS:       o.as,
			PeerAddr:     o.addr,
			LocalAddr:    n.addr,
			ConnectRetry: 200 * time.Millisecond,
			IdleHoldTime: 100 * time.Millisecond,
			HoldTime:     9 * time.Second,
			Families:     []wire.Family{wire.IPv4Unicast, wire.IPv6Unicast},
		},
		NextHopSelf4: nh,
	}
	if active {
		c.Session.PeerPort = o.Addrs()[0].Port()
	} else {
		c.Session.Passive = true
	}
	return c
}

func connect(t *testing.T, a, b *node, tweak func(ac, bc *PeerConfig)) {
	t.Helper()
	ac, bc := a.peerWith(b, true), b.peerWith(a, false)
	if tweak != nil {
		tweak(&ac, &bc)
	}
	ctx := context.Background()
	if err := b.AddPeer(ctx, bc); err != nil {
		t.Fatal(err)
	}
	if err := a.AddPeer(ctx, ac); err != nil {
		t.Fatal(err)
	}
}

func waitEstablished(t *testing.T, n *node, peer netip.Addr) PeerStatus {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		st, err := n.PeerStatus(peer)
		if err != nil {
			t.Fatal(err)
		}
		if st.State == fsm.Established {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("%v: peer %v not Established: %v (last error %v)", n.addr, peer, st.State, st.LastError)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitRoute waits until n's best path for prefix satisfies ok (a prefix
// without a route is passed as a withdrawn BestPath).
func waitRoute(t *testing.T, n *node, prefix string, ok func(BestPath) bool) BestPath {
	t.Helper()
	p := netip.MustParsePrefix(prefix)
	deadline := time.Now().Add(10 * time.Second)
	for {
		bs, err := n.BestPaths(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		got := BestPath{Prefix: p}
		for _, b := range bs {
			if b.Prefix == p {
				got = b
			}
		}
		if ok(got) {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("%v: route %v never as wanted, last %+v", n.addr, prefix, got)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// nextChange waits for the subscription to report prefix.
func nextChange(t *testing.T, sub *Subscription, prefix string) BestPath {
	t.Helper()
	p := netip.MustParsePrefix(prefix)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		bs, err := sub.Next(ctx)
		if err != nil {
			t.Fatalf("waiting for a change of %v: %v", prefix, err)
		}
		for _, b := range bs {
			if b.Prefix == p {
				return b
			}
		}
	}
}

func present(b BestPath) bool   { return !b.Withdrawn() }
func withdrawn(b BestPath) bool { return b.Withdrawn() }

// TestSpeakersExchangeRoutes: two speakers (eBGP) exchange IPv4 and IPv6
// routes both ways with their attributes, and withdraw them.
func TestSpeakersExchangeRoutes(t *testing.T) {
	checkLeaks(t)
	a := newNode(t, "127.0.0.1", 65001, "10.0.0.1")
	b := newNode(t, "127.0.0.2", 65002, "10.0.0.2")
	connect(t, a, b, func(ac, bc *PeerConfig) {
		ac.NextHopSelf6 = netip.MustParseAddr("2001:db8::1")
		bc.NextHopSelf6 = netip.MustParseAddr("2001:db8::2")
	})
	waitEstablished(t, a, b.addr)
	waitEstablished(t, b, a.addr)
	ctx := context.Background()
	subA, err := a.Subscribe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer subA.Close()
	subB, err := b.Subscribe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer subB.Close()

	var attrs wire.Attrs
	attrs.Communities = []wire.Community{65001<<16 | 100}
	attrs.Set(wire.AttrCommunities)
	attrs.MED = 50
	attrs.Set(wire.AttrMED)
	if err := a.Originate(ctx, netip.MustParsePrefix("10.1.0.0/24"), attrs); err != nil {
		t.Fatal(err)
	}
	if err := a.Originate(ctx, netip.MustParsePrefix("2001:db8:1::/48"), wire.Attrs{}); err != nil {
		t.Fatal(err)
	}
	if err := b.Originate(ctx, netip.MustParsePrefix("10.2.0.0/24"), wire.Attrs{}); err != nil {
		t.Fatal(err)
	}
	got := waitRoute(t, b, "10.1.0.0/24", present)
	if len(got.NextHops) != 1 || got.NextHops[0] != netip.MustParseAddr("192.0.2.1") {
		t.Errorf("10.1.0.0/24 next hops %v, want [192.0.2.1]", got.NextHops)
	}
	if got.Attrs.MED != 50 || len(got.Attrs.Communities) != 1 || got.Attrs.Communities[0] != 65001<<16|100 {
		t.Errorf("attributes lost: MED %d communities %v", got.Attrs.MED, got.Attrs.Communities)
	}
	if len(got.Attrs.ASPath) != 1 || len(got.Attrs.ASPath[0].ASNs) != 1 || got.Attrs.ASPath[0].ASNs[0] != 65001 {
		t.Errorf("AS_PATH %v, want [65001]", got.Attrs.ASPath)
	}
	got6 := waitRoute(t, b, "2001:db8:1::/48", present)
	if got6.NextHops[0] != netip.MustParseAddr("2001:db8::1") {
		t.Errorf("IPv6 next hop %v", got6.NextHops)
	}
	waitRoute(t, a, "10.2.0.0/24", present)
	st := waitEstablished(t, a, b.addr)
	if st.Advertised[wire.IPv4Unicast] != 1 || st.Advertised[wire.IPv6Unicast] != 1 || st.PrefixesReceived[wire.IPv4Unicast] != 1 {
		t.Errorf("a's status for b: advertised %v received %v", st.Advertised, st.PrefixesReceived)
	}

	if err := a.Withdraw(ctx, netip.MustParsePrefix("10.1.0.0/24")); err != nil {
		t.Fatal(err)
	}
	if c := nextChange(t, subB, "10.1.0.0/24"); !c.Withdrawn() {
		// The announcement may still be pending in the subscription.
		if c = nextChange(t, subB, "10.1.0.0/24"); !c.Withdrawn() {
			t.Errorf("subscription: %+v, want a withdrawal", c)
		}
	}
	waitRoute(t, b, "10.1.0.0/24", withdrawn)
	// Removing the peer withdraws everything it sent.
	if err := b.RemovePeer(ctx, a.addr); err != nil {
		t.Fatal(err)
	}
	waitRoute(t, b, "2001:db8:1::/48", withdrawn)
	waitRoute(t, a, "10.2.0.0/24", withdrawn)
}

// TestReconfigureOnePeer: changing one of three peers resets only that
// peer; a policy-only change resets nothing.
func TestReconfigureOnePeer(t *testing.T) {
	checkLeaks(t)
	hub := newNode(t, "127.0.0.1", 65000, "10.0.0.1")
	spokes := []*node{
		newNode(t, "127.0.0.2", 65002, "10.0.0.2"),
		newNode(t, "127.0.0.3", 65003, "10.0.0.3"),
		newNode(t, "127.0.0.4", 65004, "10.0.0.4"),
	}
	cfgs := map[netip.Addr]PeerConfig{}
	for _, s := range spokes {
		connect(t, hub, s, func(hc, _ *PeerConfig) { cfgs[s.addr] = *hc })
	}
	for _, s := range spokes {
		waitEstablished(t, hub, s.addr)
	}
	ctx := context.Background()
	// A hold time change needs a new OPEN: only spoke 2 resets.
	c := cfgs[spokes[1].addr]
	c.Session.HoldTime = 12 * time.Second
	if err := hub.UpdatePeer(ctx, c); err != nil {
		t.Fatal(err)
	}
	st := waitEstablished(t, hub, spokes[1].addr)
	if st.Negotiated.HoldTime != 9*time.Second {
		// min(12, 9) from the spoke's side.
		t.Errorf("negotiated hold %v", st.Negotiated.HoldTime)
	}
	// Unchanged and policy-only updates do not reset.
	c0 := cfgs[spokes[0].addr]
	if err := hub.UpdatePeer(ctx, c0); err != nil {
		t.Fatal(err)
	}
	for _, s := range []*node{spokes[0], spokes[2]} {
		st := waitEstablished(t, hub, s.addr)
		if st.Established != 1 || st.Flaps != 0 {
			t.Errorf("peer %v flapped: established %d flaps %d", s.addr, st.Established, st.Flaps)
		}
		ss := waitEstablished(t, s, hub.addr)
		if ss.Established != 1 || ss.Flaps != 0 {
			t.Errorf("spoke %v saw a flap: established %d flaps %d", s.addr, ss.Established, ss.Flaps)
		}
	}
	// The reconfigured peer is a new session on the spoke's side.
	if ss := waitEstablished(t, spokes[1], hub.addr); ss.Established != 2 {
		t.Errorf("spoke 2 established %d times, want 2", ss.Established)
	}
}

// TestRouteReflection: a reflector passes a client's route to another
// client with ORIGINATOR_ID and CLUSTER_LIST (RFC 4456 §8).
func TestRouteReflection(t *testing.T) {
	checkLeaks(t)
	rr := newNode(t, "127.0.0.1", 65000, "10.0.0.1")
	c1 := newNode(t, "127.0.0.2", 65000, "10.0.0.2")
	c2 := newNode(t, "127.0.0.3", 65000, "10.0.0.3")
	for _, c := range []*node{c1, c2} {
		connect(t, c, rr, func(cc, rc *PeerConfig) { rc.RRClient = true })
	}
	waitEstablished(t, rr, c1.addr)
	waitEstablished(t, rr, c2.addr)
	ctx := context.Background()
	sub, err := c2.Subscribe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	if err := c1.Originate(ctx, netip.MustParsePrefix("10.9.0.0/24"), wire.Attrs{}); err != nil {
		t.Fatal(err)
	}
	got := waitRoute(t, c2, "10.9.0.0/24", present)
	a := got.Attrs
	if !a.Has(wire.AttrOriginatorID) || a.OriginatorID != c1.id {
		t.Errorf("ORIGINATOR_ID %v, want %v", a.OriginatorID, c1.id)
	}
	if len(a.ClusterList) != 1 || a.ClusterList[0] != rr.id {
		t.Errorf("CLUSTER_LIST %v, want [%v]", a.ClusterList, rr.id)
	}
	if got.NextHops[0] != netip.MustParseAddr("192.0.2.2") {
		t.Errorf("reflected next hop %v, want the client's 192.0.2.2", got.NextHops)
	}
}
