package agent

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kbgp/kbgp/api"
	"github.com/kbgp/kbgp/internal/bgp/fsm"
	"github.com/kbgp/kbgp/internal/bgp/speaker"
	"github.com/kbgp/kbgp/internal/status"
	"github.com/kbgp/kbgp/internal/store"
)

// loopIP is the seed host i (1-3; 4 is the ToR) on loopback: 127.0.0.1i.
func loopIP(i int) netip.Addr { return netip.AddrFrom4([4]byte{127, 0, 0, byte(10 + i)}) }

// nextHop is the next hop node i advertises: 127/8 is not a valid NEXT_HOP
// (RFC 4271 §6.3), so the loopback agents advertise 192.0.2.1i.
func nextHop(i int) netip.Addr { return netip.AddrFrom4([4]byte{192, 0, 2, byte(10 + i)}) }

// cluster is the seed topology on loopback: three agents with real
// speakers (ubuntu-2 the route reflector) and a plain speaker as the ToR.
type cluster struct {
	port   uint16
	dir    string
	ds     *store.File
	agents [3]*runningAgent
	tor    *speaker.Speaker
}

func newCluster(t *testing.T, drain3 bool, extra string) *cluster {
	t.Helper()
	c := &cluster{port: freePort(t), dir: t.TempDir()}
	var err error
	c.ds, err = store.Open(c.dir, &store.Options{PollInterval: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	var addrs [3]netip.Prefix
	for i := range addrs {
		addrs[i] = netip.PrefixFrom(loopIP(i+1), 8)
	}
	applyYAML(t, c.ds, "seed.yaml", seedResources(c.port, netip.AddrPortFrom(loopIP(4), c.port), addrs))
	if extra != "" {
		applyYAML(t, c.ds, "extra.yaml", extra)
	}

	// The ToR (the seed's MikroTik): AS 64513, peers with ubuntu-2 only.
	ctx := context.Background()
	c.tor, err = speaker.New(ctx, speaker.Config{LocalAS: 64513, RouterID: loopIP(4),
		Listen: []netip.AddrPort{netip.AddrPortFrom(loopIP(4), c.port)}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.tor.Close)
	err = c.tor.AddPeer(ctx, speaker.PeerConfig{Session: fsm.Config{PeerAS: 64513, PeerAddr: loopIP(2), PeerPort: c.port,
		LocalAddr: loopIP(4), ConnectRetry: 300 * time.Millisecond, IdleHoldTime: 100 * time.Millisecond,
		GracefulRestart: &fsm.GRConfig{RestartTime: 30 * time.Second}}})
	if err != nil {
		t.Fatal(err)
	}
	for i := range c.agents {
		c.agents[i] = c.start(t, i, nil)
		if i == 2 {
			c.agents[i].opts.DrainOnExit = drain3
		}
	}
	return c
}

// start runs agent i (0-based), optionally on an existing fake kernel.
func (c *cluster) start(t *testing.T, i int, kernel *runningAgent) *runningAgent {
	opts := Options{
		Node:     fmt.Sprintf("ubuntu-%d", i+1),
		Store:    c.ds,
		IPv4:     Address{Mode: "none"},
		Listen:   []netip.AddrPort{netip.AddrPortFrom(loopIP(i+1), c.port)},
		GRHold:   20 * time.Second,
		NextHop4: nextHop(i + 1),
	}
	if kernel != nil {
		opts.FIBKernel = kernel.kernel
	}
	ra := startAgent(t, opts)
	if kernel != nil {
		ra.kernel = kernel.kernel
	}
	return ra
}

func (c *cluster) waitEstablished(t *testing.T) {
	t.Helper()
	for i, want := range []int{1, 3, 1} {
		waitFor(t, 20*time.Second, "sessions", allEstablished(c.agents[i], want))
	}
}

// torPrefixes lists the prefixes the ToR has a route for.
func (c *cluster) torPrefixes(t testing.TB) []string {
	bps, err := c.tor.BestPaths(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, bp := range bps {
		if !bp.Withdrawn() {
			out = append(out, bp.Prefix.String())
		}
	}
	return out
}

// hasAll returns "" if have contains every want, else what is missing.
func hasAll(have []string, want ...string) string {
	var missing []string
	for _, w := range want {
		if !slices.Contains(have, w) {
			missing = append(missing, w)
		}
	}
	if missing == nil {
		return ""
	}
	return fmt.Sprintf("missing %q in %q", missing, have)
}

// peerByAddr finds a session in a node's status.
func peerByAddr(n status.Node, a netip.Addr) (status.Peer, bool) {
	for _, p := range n.Peers {
		if p.Address == a {
			return p, true
		}
	}
	return status.Peer{}, false
}

// TestSeedLoopback runs the seed network on loopback with real speakers
// and fake kernels: sessions, routes at the ToR and in every node's
// kernel, a BGPPeer change that resets only its session, bad resources
// that leave the node on its last good state, a graceful-restart exit and
// restart that keeps routes, and a drain exit that withdraws them.
func TestSeedLoopback(t *testing.T) {
	c := newCluster(t, true, "")
	c.waitEstablished(t)

	t.Run("routes", func(t *testing.T) {
		waitFor(t, 10*time.Second, "the ToR's routes", func() string {
			return hasAll(c.torPrefixes(t), "10.96.0.0/24", "192.168.0.0/26", "192.168.0.64/26", "192.168.0.128/26")
		})
		for i, ra := range c.agents {
			var want []string
			for j := range 3 {
				if j == i {
					want = append(want, blockOf(j).String()+" blackhole")
				} else {
					want = append(want, fmt.Sprintf("%s unicast via %s", blockOf(j), nextHop(j+1)))
				}
			}
			// The service range is our own blackhole, never a learned
			// route (kernelReject).
			want = append(want, "10.96.0.0/24 blackhole")
			waitFor(t, 10*time.Second, ra.opts.Node+" kernel routes", func() string {
				got := ra.kernelRoutes(t)
				if m := hasAll(got, want...); m != "" {
					return m
				}
				if len(got) != len(want) {
					return fmt.Sprintf("extra routes: %q", got)
				}
				return ""
			})
		}
		// Status: the seed's rows for the reflector.
		n := c.agents[1].node(t)
		for _, p := range n.Peers {
			if p.Type != status.PeerNode || p.State != status.Established {
				t.Errorf("ubuntu-2 peer %s: type %q state %q, want node specific Established", p.Name, p.Type, p.State)
			}
			if p.LocalAddress != loopIP(2) {
				t.Errorf("ubuntu-2 peer %s: sourced from %v, want the node address %v", p.Name, p.LocalAddress, loopIP(2))
			}
		}
		rib, err := c.agents[0].Routes(context.Background(), status.RouteQuery{})
		if err != nil {
			t.Fatal(err)
		}
		var pfx []string
		for _, r := range rib.Routes {
			pfx = append(pfx, r.Prefix.String())
		}
		if m := hasAll(pfx, "192.168.0.64/26", "192.168.0.128/26", "192.168.0.0/26"); m != "" {
			t.Errorf("ubuntu-1 Routes: %s", m)
		}
	})

	t.Run("peer change resets only its session", func(t *testing.T) {
		before := c.agents[1].node(t)
		tor, _ := peerByAddr(before, loopIP(4))
		applyYAML(t, c.ds, "tor.yaml", fmt.Sprintf(`apiVersion: projectcalico.org/v3
kind: BGPPeer
metadata:
  name: rack1-tor
spec:
  peerIP: %s
  asNumber: 64513
  nodeSelector: rack == 'rack-1'
  keepaliveTime: 20s
`, loopIP(4)))
		waitFor(t, 15*time.Second, "the ToR session to come back", func() string {
			p, _ := peerByAddr(c.agents[1].node(t), loopIP(4))
			if !p.Since.After(tor.Since) || p.State != status.Established {
				return fmt.Sprintf("ToR session: state %s since %v (was since %v)", p.State, p.Since, tor.Since)
			}
			return ""
		})
		after := c.agents[1].node(t)
		for _, i := range []int{1, 3} {
			b, _ := peerByAddr(before, loopIP(i))
			a, _ := peerByAddr(after, loopIP(i))
			if !a.Since.Equal(b.Since) || a.Counters.EstablishedCount != b.Counters.EstablishedCount || a.State != status.Established {
				t.Errorf("session with ubuntu-%d was touched: since %v -> %v, established %d -> %d times, state %s", i,
					b.Since, a.Since, b.Counters.EstablishedCount, a.Counters.EstablishedCount, a.State)
			}
		}
		if p, _ := peerByAddr(after, loopIP(4)); p.Timers.KeepaliveTime != status.Duration(20*time.Second) {
			t.Errorf("ToR session keepalive = %v, want 20s", p.Timers.KeepaliveTime)
		}
	})

	t.Run("bad resources keep the last good state", func(t *testing.T) {
		ra := c.agents[0]
		before := ra.node(t)
		up, _ := peerByAddr(before, loopIP(2))
		// A hand-edited file that does not decode.
		bad := filepath.Join(c.dir, "bgppeer", "broken.yaml")
		if err := os.WriteFile(bad, []byte("apiVersion: projectcalico.org/v3\nkind: BGPPeer\nmetadata: {name: broken}\nspec: {peerIP: not-an-ip}\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 10*time.Second, "the error to be reported", func() string {
			if e := ra.node(t).Reconcile.Error; !strings.Contains(e, "broken") {
				return fmt.Sprintf("reconcile error %q", e)
			}
			return ""
		})
		if v := testGauge(ra.Agent); v != 0 {
			t.Errorf("kbgp_config_valid = %v with a bad resource, want 0", v)
		}
		// A compile error: the node's own Node resource disappears.
		if err := c.ds.Delete(context.Background(), "Node", "ubuntu-1"); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 10*time.Second, "the compile error to be reported", func() string {
			if e := ra.node(t).Reconcile.Error; !strings.Contains(e, "ubuntu-1") {
				return fmt.Sprintf("reconcile error %q", e)
			}
			return ""
		})
		// Still running on the last good state: the session is still
		// configured and our own routes are still in the kernel.
		n := ra.node(t)
		if _, ok := peerByAddr(n, loopIP(2)); !ok || !n.Running {
			t.Errorf("after the compile error: running %v, peers %s", n.Running, peerStates(n))
		}
		if m := hasAll(ra.kernelRoutes(t), "192.168.0.0/26 blackhole", "10.96.0.0/24 blackhole"); m != "" {
			t.Errorf("kernel after the compile error: %s", m)
		}
		// The next good state is applied and the errors clear.
		if err := os.Remove(bad); err != nil {
			t.Fatal(err)
		}
		var addrs [3]netip.Prefix
		for i := range addrs {
			addrs[i] = netip.PrefixFrom(loopIP(i+1), 8)
		}
		applyYAML(t, c.ds, "seed.yaml", seedResources(c.port, netip.AddrPortFrom(loopIP(4), c.port), addrs))
		waitFor(t, 10*time.Second, "the errors to clear", func() string {
			if e := ra.node(t).Reconcile.Error; e != "" {
				return fmt.Sprintf("reconcile error %q", e)
			}
			return ""
		})
		if v := testGauge(ra.Agent); v != 1 {
			t.Errorf("kbgp_config_valid = %v after the fix, want 1", v)
		}
		c.waitEstablished(t)
		_ = up
	})

	t.Run("drain annotation", func(t *testing.T) {
		annotate := func(v string) {
			_, err := c.ds.Update(context.Background(), "Node", "ubuntu-3", func(r api.Resource) error {
				m := r.Meta()
				if v == "" {
					delete(m.Annotations, AnnotationDrain)
				} else {
					if m.Annotations == nil {
						m.Annotations = map[string]string{}
					}
					m.Annotations[AnnotationDrain] = v
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		annotate("maintenance")
		waitFor(t, 10*time.Second, "the drain", func() string {
			if slices.Contains(c.torPrefixes(t), blockOf(2).String()) {
				return "ToR still routes ubuntu-3's block"
			}
			n := c.agents[2].node(t)
			if len(n.Peers) != 1 || n.Peers[0].Admin != status.AdminDown {
				return "ubuntu-3's session is not shut down: " + peerStates(n)
			}
			if e := n.Peers[0].LastError; e == nil || !strings.Contains(e.Message, "Administrative Shutdown") {
				return fmt.Sprintf("ubuntu-3's session error %v, want the RFC 9003 shutdown", e)
			}
			if p, _ := peerByAddr(c.agents[1].node(t), loopIP(3)); p.State == status.Established {
				return "the reflector's session with ubuntu-3 is still Established"
			}
			return ""
		})
		annotate("")
		waitFor(t, 15*time.Second, "the undrain", func() string {
			if m := hasAll(c.torPrefixes(t), blockOf(2).String()); m != "" {
				return m
			}
			return allEstablished(c.agents[2], 1)()
		})
	})

	t.Run("graceful restart keeps routes", func(t *testing.T) {
		old := c.agents[0]
		full := []string{"192.168.0.64/26 unicast via 192.0.2.12", "192.168.0.128/26 unicast via 192.0.2.13", "192.168.0.0/26 blackhole"}
		waitFor(t, 10*time.Second, "ubuntu-1's routes before the restart", func() string { return hasAll(old.kernelRoutes(t), full...) })
		waitFor(t, 10*time.Second, "the ToR's route to ubuntu-1", func() string { return hasAll(c.torPrefixes(t), "192.168.0.0/26") })
		old.stop(t)
		// Watch ubuntu-1's kernel and the ToR for lost routes from now on.
		var lost atomic.Value
		stop := make(chan struct{})
		watched := make(chan struct{})
		go func() {
			defer close(watched)
			for {
				select {
				case <-stop:
					return
				case <-time.After(20 * time.Millisecond):
				}
				if m := hasAll(old.kernelRoutes(t), full...); m != "" {
					lost.Store("ubuntu-1 kernel: " + m)
				}
				if m := hasAll(c.torPrefixes(t), "192.168.0.0/26"); m != "" {
					lost.Store("ToR: " + m)
				}
			}
		}()
		time.Sleep(500 * time.Millisecond)
		ra := c.start(t, 0, old)
		c.agents[0] = ra
		waitFor(t, 20*time.Second, "ubuntu-1 back", allEstablished(ra, 1))
		waitFor(t, 20*time.Second, "the graceful restart hold to end", func() string {
			if ra.node(t).GracefulRestart {
				return "still in graceful restart"
			}
			return ""
		})
		time.Sleep(200 * time.Millisecond)
		close(stop)
		<-watched
		if v := lost.Load(); v != nil {
			t.Errorf("routes lost during the restart: %v", v)
		}
		if !strings.Contains(ra.log.String(), "adopted kernel routes") {
			t.Errorf("the restarted agent did not adopt its kernel routes; log:\n%s", ra.log.String())
		}
		// RFC 4724 §4.1: the hold ends on the reflector's End-of-RIB, not
		// on the quiet-period fallback.
		if !strings.Contains(ra.log.String(), `reason="End-of-RIB received from every peer"`) {
			t.Errorf("the graceful restart hold did not end on End-of-RIB; log:\n%s", ra.log.String())
		}
	})

	t.Run("drain withdraws", func(t *testing.T) {
		ra := c.agents[2]
		ra.stop(t)
		waitFor(t, 10*time.Second, "the ToR to lose ubuntu-3's block", func() string {
			if slices.Contains(c.torPrefixes(t), "192.168.0.128/26") {
				return "ToR still routes 192.168.0.128/26"
			}
			return ""
		})
		if got := ra.kernelRoutes(t); len(got) != 0 {
			t.Errorf("ubuntu-3 kernel after drain: %q, want no kbgp routes", got)
		}
		if !strings.Contains(ra.log.String(), "draining") {
			t.Errorf("no drain in the log:\n%s", ra.log.String())
		}
	})
}

// testGauge reads kbgp_config_valid.
func testGauge(a *Agent) float64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.configErrors()) > 0 {
		return 0
	}
	return 1
}

// TestGracefulRestartExpiry: a node that exits for a graceful restart and
// does not come back keeps its routes at the reflector, the ToR and the
// other nodes' kernels for its advertised restart time, then they are
// removed everywhere (RFC 4724 §4.2).
func TestGracefulRestartExpiry(t *testing.T) {
	c := newCluster(t, false, `apiVersion: projectcalico.org/v3
kind: BGPPeer
metadata:
  name: peer-with-route-reflectors
spec:
  nodeSelector: all()
  peerSelector: route-reflector == 'true'
  maxRestartTime: 3s
`)
	c.waitEstablished(t)
	block := blockOf(2).String()
	via := fmt.Sprintf("%s unicast via %s", block, nextHop(3))
	waitFor(t, 10*time.Second, "ubuntu-3's block everywhere", func() string {
		if m := hasAll(c.torPrefixes(t), block); m != "" {
			return "ToR: " + m
		}
		return hasAll(c.agents[0].kernelRoutes(t), via)
	})
	c.agents[2].stop(t)
	stopped := time.Now()
	time.Sleep(time.Second)
	if m := hasAll(c.torPrefixes(t), block); m != "" {
		t.Errorf("ToR dropped the block before the restart time: %s", m)
	}
	if m := hasAll(c.agents[0].kernelRoutes(t), via); m != "" {
		t.Errorf("ubuntu-1's kernel dropped the block before the restart time: %s", m)
	}
	waitFor(t, 10*time.Second, "the stale block to expire", func() string {
		if slices.Contains(c.torPrefixes(t), block) {
			return "ToR still has " + block
		}
		if slices.Contains(c.agents[0].kernelRoutes(t), via) {
			return "ubuntu-1's kernel still has " + via
		}
		return ""
	})
	if d := time.Since(stopped); d < 3*time.Second {
		t.Errorf("stale routes removed after %v, before the 3 s restart time", d)
	}
}
