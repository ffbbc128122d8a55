package agent

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kbgp/kbgp/internal/bgp/fsm"
	"github.com/kbgp/kbgp/internal/bgp/speaker"
	"github.com/kbgp/kbgp/internal/bgp/wire"
	"github.com/kbgp/kbgp/internal/config"
	"github.com/kbgp/kbgp/internal/fib"
	"github.com/kbgp/kbgp/internal/rib"
	"github.com/kbgp/kbgp/internal/store"
)

// compileSeed compiles the seed for one node, with the ToR at tor.
func compileSeed(t *testing.T, node string, tor netip.AddrPort, extra string) *config.NodeState {
	t.Helper()
	var addrs [3]netip.Prefix
	for i := range addrs {
		addrs[i] = netip.PrefixFrom(netip.AddrFrom4([4]byte{172, 16, 30, byte(101 + i)}), 24)
	}
	rs, err := config.Decode("seed.yaml", []byte(seedResources(0, tor, addrs)+extra))
	if err != nil {
		t.Fatal(err)
	}
	st, err := config.Compile(config.NewInput(rs, nil), node)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// TestApplyDiff drives apply with successive desired states and checks the
// speaker operations: sessions added and removed, originated prefixes,
// and that an unchanged state is a no-op.
func TestApplyDiff(t *testing.T) {
	lg, _ := newLogger(t, "apply")
	ds, _ := store.Open(t.TempDir(), nil)
	a, err := New(Options{Node: "ubuntu-2", Store: ds, Logger: lg, NoFIB: true,
		Listen: []netip.AddrPort{netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), 0)}})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if a.sp != nil {
			a.sp.Close()
		}
	}()
	ctx := context.Background()
	peerNames := func() []string {
		var out []string
		for _, p := range a.sp.Peers() {
			out = append(out, p.Name)
		}
		slices.Sort(out)
		return out
	}
	local := func() []string {
		bps, err := a.sp.BestPaths(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, bp := range bps {
			if bp.Local {
				out = append(out, bp.Prefix.String())
			}
		}
		return out
	}

	st1 := compileSeed(t, "ubuntu-2", netip.MustParseAddrPort("172.16.30.254:0"), "")
	if err := a.apply(ctx, st1); err != nil {
		t.Fatal(err)
	}
	sp1 := a.sp
	if got, want := peerNames(), []string{"Node_172_16_30_101", "Node_172_16_30_103", "Node_172_16_30_254"}; !slices.Equal(got, want) {
		t.Errorf("sessions %v, want %v", got, want)
	}
	waitFor(t, 5*time.Second, "originated routes", func() string {
		if got := local(); !slices.Equal(got, []string{"10.96.0.0/24", "192.168.0.64/26"}) {
			return strings.Join(got, ",")
		}
		return ""
	})

	// The ToR moves and a service range is added: one session replaced,
	// one prefix more, the speaker kept.
	st2 := compileSeed(t, "ubuntu-2", netip.MustParseAddrPort("172.16.30.253:0"), "")
	st2.Originate = append(st2.Originate, config.Route{Prefix: netip.MustParsePrefix("10.97.0.0/24"), Reasons: []string{config.ReasonExternalIPs}})
	if err := a.apply(ctx, st2); err != nil {
		t.Fatal(err)
	}
	if a.sp != sp1 {
		t.Errorf("the speaker was replaced for a peer change")
	}
	if got, want := peerNames(), []string{"Node_172_16_30_101", "Node_172_16_30_103", "Node_172_16_30_253"}; !slices.Equal(got, want) {
		t.Errorf("sessions %v, want %v", got, want)
	}
	waitFor(t, 5*time.Second, "the added prefix", func() string {
		if got := local(); !slices.Contains(got, "10.97.0.0/24") {
			return strings.Join(got, ",")
		}
		return ""
	})

	// Same state again: nothing happens.
	if err := a.apply(ctx, st2); err != nil || a.sp != sp1 {
		t.Errorf("re-applying the same state: err %v, speaker replaced %v", err, a.sp != sp1)
	}
	// Withdraw.
	if err := a.apply(ctx, st1); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "the withdrawal", func() string {
		if got := local(); slices.Contains(got, "10.97.0.0/24") {
			return strings.Join(got, ",")
		}
		return ""
	})

	// A new AS rebuilds the speaker.
	st3 := *st1
	st3.ASNumber = 64600
	if err := a.apply(ctx, &st3); err != nil {
		t.Fatal(err)
	}
	if a.sp == sp1 {
		t.Errorf("the speaker was kept across an AS change")
	}
}

func TestDesiredRoutes(t *testing.T) {
	st := &config.NodeState{
		IPv4Address: netip.MustParsePrefix("172.16.30.101/24"),
		RouterID:    netip.MustParseAddr("172.16.30.101"),
		Originate: []config.Route{
			{Prefix: netip.MustParsePrefix("10.96.0.0/24")},
			{Prefix: netip.MustParsePrefix("192.168.0.0/26")},
		},
		KernelReject: []netip.Prefix{netip.MustParsePrefix("10.96.0.0/24"), netip.MustParsePrefix("10.100.0.0/16")},
		StaticRoutes: []config.StaticRoute{{Prefix: netip.MustParsePrefix("10.20.0.1/32"), Via: netip.MustParseAddr("172.16.30.1")}},
	}
	bp := func(p string, local bool, nhs ...string) speaker.BestPath {
		b := speaker.BestPath{Family: wire.IPv4Unicast, Prefix: netip.MustParsePrefix(p), Local: local, Attrs: &wire.Attrs{}}
		for _, n := range nhs {
			b.NextHops = append(b.NextHops, netip.MustParseAddr(n))
		}
		return b
	}
	best := map[netip.Prefix]speaker.BestPath{}
	for _, b := range []speaker.BestPath{
		bp("192.168.0.64/26", false, "172.16.30.102"),
		bp("192.168.0.128/26", false, "172.16.30.103", "172.16.30.104"), // ECMP
		bp("192.168.0.0/26", true),                                      // our own
		bp("10.96.0.0/24", false, "172.16.30.102"),                      // service range: kube-proxy's
		bp("10.100.5.0/24", false, "172.16.30.102"),                     // inside a never-install range
		bp("10.0.0.0/8", false, "172.16.30.102"),                        // covers a range: fine
		bp("192.168.1.0/26", false, "172.16.30.101"),                    // via ourselves: skipped
		bp("192.168.2.0/26", false, "172.16.30.101", "172.16.30.103"),   // our next hop dropped
		bp("192.168.3.0/26", false, "192.0.2.7"),                        // via NextHop4
	} {
		best[b.Prefix] = b
	}
	var got []string
	for _, r := range desiredRoutes(st, best, netip.MustParseAddr("192.0.2.7")) {
		got = append(got, routeString(r))
	}
	want := []string{
		"10.0.0.0/8 unicast via 172.16.30.102",
		"10.20.0.1/32 unicast via 172.16.30.1",
		"10.96.0.0/24 blackhole",
		"192.168.0.0/26 blackhole",
		"192.168.0.64/26 unicast via 172.16.30.102",
		"192.168.0.128/26 unicast via 172.16.30.103,172.16.30.104",
		"192.168.2.0/26 unicast via 172.16.30.103",
	}
	if !slices.Equal(got, want) {
		t.Errorf("desired routes:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if desiredRoutes(nil, best) != nil {
		t.Errorf("no state must mean no routes")
	}
	_ = fib.Blackhole
}

func TestPeerConfig(t *testing.T) {
	st := compileSeed(t, "ubuntu-2", netip.MustParseAddrPort("172.16.30.254:0"), "")
	var tor *config.Peer
	for i := range st.Peers {
		if st.Peers[i].Address == netip.MustParseAddr("172.16.30.254") {
			tor = &st.Peers[i]
		}
	}
	if tor == nil {
		t.Fatal("no ToR session")
	}
	opts := &Options{ConnectRetry: time.Second}
	c := peerConfig(st, tor, opts, true)
	s := c.Session
	if s.LocalAddr != netip.MustParseAddr("172.16.30.102") {
		t.Errorf("session source %v, want the node address (never the kernel's choice)", s.LocalAddr)
	}
	if s.PeerAS != 64513 || s.LocalAS != 64513 || s.RouterID != netip.MustParseAddr("172.16.30.102") {
		t.Errorf("AS %d->%d router ID %v", s.LocalAS, s.PeerAS, s.RouterID)
	}
	if s.GracefulRestart == nil || !s.GracefulRestart.Restarting || !s.GracefulRestart.Forwarding || s.GracefulRestart.RestartTime != 120*time.Second {
		t.Errorf("graceful restart %+v", s.GracefulRestart)
	}
	if !slices.Equal(s.Families, []wire.Family{wire.IPv4Unicast}) || s.HoldTime != 240*time.Second || s.ConnectRetry != time.Second {
		t.Errorf("families %v hold %v connect retry %v", s.Families, s.HoldTime, s.ConnectRetry)
	}
	if len(s.AddPath) != 1 || s.AddPath[0].Mode != wire.AddPathBoth {
		t.Errorf("add-path %+v, want send/receive", s.AddPath)
	}
	if !c.RRClient || c.NextHop != rib.NextHopAuto || c.NextHopSelf4 != netip.MustParseAddr("172.16.30.102") {
		t.Errorf("rr client %v next hop %v self %v", c.RRClient, c.NextHop, c.NextHopSelf4)
	}
	if c.Import.Name == c.Export.Name || c.Import.Func == nil || c.Export.Func == nil {
		t.Errorf("policies %q %q", c.Import.Name, c.Export.Name)
	}
	opts.NextHop4 = netip.MustParseAddr("192.0.2.1")
	if c := peerConfig(st, tor, opts, false); c.NextHopSelf4 != opts.NextHop4 || c.Session.GracefulRestart.Restarting {
		t.Errorf("next hop override %v, restarting %v", c.NextHopSelf4, c.Session.GracefulRestart.Restarting)
	}
	_ = fsm.Established
}

// TestMetricsAndStatus serves the agent's metrics and checks the config
// and session series.
func TestMetricsAndStatus(t *testing.T) {
	lg, _ := newLogger(t, "metrics")
	ds, _ := store.Open(t.TempDir(), nil)
	a, _ := New(Options{Node: "ubuntu-2", Store: ds, Logger: lg, NoFIB: true,
		Listen: []netip.AddrPort{netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), 0)}})
	a.started = time.Now()
	ctx := context.Background()
	if err := a.apply(ctx, compileSeed(t, "ubuntu-2", netip.MustParseAddrPort("172.16.30.254:0"), "")); err != nil {
		t.Fatal(err)
	}
	defer a.sp.Close()
	a.badRes["BGPPeer/x"] = "bad"
	srv := httptest.NewServer(a.metricsHandler())
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		"kbgp_config_valid 0",
		`kbgp_bgp_peer_state{peer="172.16.30.254",session="Node_172_16_30_254",state="Idle",type="node specific"}`,
		"kbgp_bgp_speaker_running 1",
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	n, err := a.Node(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n.ASN != 64513 || n.RouterID != netip.MustParseAddr("172.16.30.102") || len(n.Peers) != 3 || !strings.Contains(n.Reconcile.Error, "BGPPeer/x: bad") {
		t.Errorf("node status: AS %d router ID %v peers %s reconcile error %q", n.ASN, n.RouterID, peerStates(n), n.Reconcile.Error)
	}
}

// TestRetryAfterFailure: the BGP port is taken when the agent starts; it
// reports the error, keeps running and starts the speaker once the port
// is free, without a datastore change.
func TestRetryAfterFailure(t *testing.T) {
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := netip.MustParseAddrPort(l.Addr().String())
	ds, _ := store.Open(t.TempDir(), nil)
	applyYAML(t, ds, "seed.yaml", seedResources(0, netip.MustParseAddrPort("172.16.30.254:0"),
		[3]netip.Prefix{netip.MustParsePrefix("172.16.30.101/24"), netip.MustParsePrefix("172.16.30.102/24"), netip.MustParsePrefix("172.16.30.103/24")}))
	ra := startAgent(t, Options{Node: "ubuntu-1", Store: ds, IPv4: Address{Mode: "none"}, Listen: []netip.AddrPort{addr}})
	waitFor(t, 10*time.Second, "the listen error", func() string {
		if e := ra.node(t).Reconcile.Error; !strings.Contains(e, "speaker") {
			return fmt.Sprintf("reconcile error %q", e)
		}
		return ""
	})
	if ra.node(t).Running {
		t.Errorf("speaker running although its port is taken")
	}
	l.Close()
	waitFor(t, 10*time.Second, "the speaker to start", func() string {
		n := ra.node(t)
		if !n.Running || n.Reconcile.Error != "" || len(n.Peers) != 1 {
			return fmt.Sprintf("running %v, error %q, peers %s", n.Running, n.Reconcile.Error, peerStates(n))
		}
		return ""
	})
}
