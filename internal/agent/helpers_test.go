package agent

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kbgp/kbgp/internal/config"
	"github.com/kbgp/kbgp/internal/fib"
	"github.com/kbgp/kbgp/internal/fib/fibtest"
	"github.com/kbgp/kbgp/internal/status"
	"github.com/kbgp/kbgp/internal/store"
)

// seedResources renders the seed's resources (shared/seed: BGPConfiguration,
// rack1-tor, peer-with-route-reflectors) for three nodes at
// <net>.11-13 with one /26 block each, ubuntu-2 the route reflector with
// rack=rack-1, and the ToR at torIP. port is the global listen port (0:
// default). addrs are the node addresses with prefix length. A ToR port of
// 0 means the default port.
func seedResources(port uint16, torIP netip.AddrPort, addrs [3]netip.Prefix) string {
	var b strings.Builder
	fmt.Fprintf(&b, `apiVersion: projectcalico.org/v3
kind: BGPConfiguration
metadata:
  name: default
spec:
  logSeverityScreen: Info
  nodeToNodeMeshEnabled: false
  asNumber: 64513
  serviceClusterIPs:
  - cidr: 10.96.0.0/24
`)
	if port != 0 {
		fmt.Fprintf(&b, "  listenPort: %d\n", port)
	}
	fmt.Fprintf(&b, `---
apiVersion: projectcalico.org/v3
kind: BGPPeer
metadata:
  name: rack1-tor
spec:
  peerIP: %s
  asNumber: 64513
  nodeSelector: rack == 'rack-1'
---
kind: BGPPeer
apiVersion: projectcalico.org/v3
metadata:
  name: peer-with-route-reflectors
spec:
  nodeSelector: all()
  peerSelector: route-reflector == 'true'
---
apiVersion: projectcalico.org/v3
kind: IPPool
metadata:
  name: default-ipv4-ippool
spec:
  cidr: 192.168.0.0/16
  ipipMode: Never
  natOutgoing: true
`, torString(torIP))
	for i, a := range addrs {
		name := fmt.Sprintf("ubuntu-%d", i+1)
		extra := ""
		if i == 1 {
			extra = "    rack: rack-1\n    route-reflector: \"true\"\n  annotations:\n    projectcalico.org/RouteReflectorClusterID: 244.0.0.1\n"
		}
		fmt.Fprintf(&b, `---
apiVersion: kbgp.io/v1
kind: Node
metadata:
  name: %s
  labels:
    kubernetes.io/hostname: %s
%sspec:
  bgp:
    ipv4Address: %s
  affineBlocks:
  - cidr: %s
`, name, name, extra, a, blockOf(i))
	}
	return b.String()
}

func torString(a netip.AddrPort) string {
	if a.Port() == 0 {
		return a.Addr().String()
	}
	return a.String()
}

// blockOf is node i's (0-based) pod block.
func blockOf(i int) netip.Prefix {
	return netip.MustParsePrefix(fmt.Sprintf("192.168.0.%d/26", 64*i))
}

// applyYAML decodes and applies resources to ds.
func applyYAML(t testing.TB, ds store.Datastore, name, yaml string) {
	t.Helper()
	rs, err := config.Decode(name, []byte(yaml))
	if err != nil {
		t.Fatalf("decoding %s: %v", name, err)
	}
	for _, r := range rs {
		if _, err := ds.Apply(context.Background(), r); err != nil {
			t.Fatalf("applying %s/%s: %v", r.Kind(), r.Name(), err)
		}
	}
}

// freePort returns a TCP port free on 127.0.0.1 (and so, in practice, on
// the other loopback addresses).
func freePort(t testing.TB) uint16 {
	t.Helper()
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return uint16(l.Addr().(*net.TCPAddr).Port)
}

// logBuffer collects a test's logs and prints them if the test fails.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func newLogger(t testing.TB, name string) (*slog.Logger, *logBuffer) {
	lb := &logBuffer{}
	t.Cleanup(func() {
		if t.Failed() || testing.Verbose() {
			f := filepath.Join(os.TempDir(), "kbgp-agent-test-"+name+".log")
			os.WriteFile(f, []byte(lb.String()), 0o644)
			t.Logf("%s log: %s (%d bytes)", name, f, len(lb.String()))
		}
	})
	return slog.New(slog.NewTextHandler(lb, &slog.HandlerOptions{Level: slog.LevelDebug})), lb
}

// runningAgent is an agent running in the test.
type runningAgent struct {
	*Agent
	kernel  *fibtest.Kernel
	log     *logBuffer
	cancel  context.CancelFunc
	done    chan error
	stopped bool
}

// startAgent runs an agent until the test ends (or stop is called).
func startAgent(t testing.TB, opts Options) *runningAgent {
	t.Helper()
	lg, lb := newLogger(t, opts.Node)
	opts.Logger = lg
	k := fibtest.New()
	if opts.FIBKernel == nil && !opts.NoFIB {
		opts.FIBKernel = k
	}
	if opts.ConnectRetry == 0 {
		opts.ConnectRetry = 300 * time.Millisecond
	}
	if opts.IdleHoldTime == 0 {
		opts.IdleHoldTime = 100 * time.Millisecond
	}
	if opts.Settle == 0 {
		opts.Settle = 300 * time.Millisecond
	}
	if opts.Debounce == 0 {
		opts.Debounce = 20 * time.Millisecond
	}
	a, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	a.tick = 200 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	ra := &runningAgent{Agent: a, kernel: k, log: lb, cancel: cancel, done: make(chan error, 1)}
	go func() { ra.done <- a.Run(ctx) }()
	t.Cleanup(func() { ra.stop(t) })
	return ra
}

// stop cancels the agent and waits for Run to return.
func (ra *runningAgent) stop(t testing.TB) {
	if ra.stopped {
		return
	}
	ra.stopped = true
	ra.cancel()
	select {
	case err := <-ra.done:
		if err != nil {
			t.Errorf("agent %s: Run: %v", ra.opts.Node, err)
		}
	case <-time.After(15 * time.Second):
		t.Errorf("agent %s did not stop within 15 s", ra.opts.Node)
	}
}

// node returns the agent's status.
func (ra *runningAgent) node(t testing.TB) status.Node {
	t.Helper()
	n, err := ra.Node(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// waitFor polls cond every 50 ms until it returns "" or the timeout ends,
// then fails with cond's last complaint.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		msg := cond()
		if msg == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s: %s", timeout, what, msg)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// peerStates renders the agent's sessions as "name=State" pairs.
func peerStates(n status.Node) string {
	var s []string
	for _, p := range n.Peers {
		s = append(s, fmt.Sprintf("%s=%s", p.Name, p.State))
	}
	return strings.Join(s, " ")
}

// allEstablished reports "" when the agent has want sessions, all
// Established.
func allEstablished(ra *runningAgent, want int) func() string {
	return func() string {
		n, err := ra.Node(context.Background())
		if err != nil {
			return err.Error()
		}
		up := 0
		for _, p := range n.Peers {
			if p.State == status.Established {
				up++
			}
		}
		if len(n.Peers) != want || up != want {
			return fmt.Sprintf("%s: want %d Established sessions, have [%s]", ra.opts.Node, want, peerStates(n))
		}
		return ""
	}
}

// kernelRoutes renders the agent's fake kernel routes (our protocol).
func (ra *runningAgent) kernelRoutes(t testing.TB) []string {
	t.Helper()
	rs, err := ra.kernel.List(context.Background(), fib.DefaultProtocol, 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range rs {
		out = append(out, routeString(r))
	}
	return out
}

// routeString renders a route as "prefix type [via a,b]".
func routeString(r fib.Route) string {
	s := r.Prefix.String() + " " + r.Type.String()
	var via []string
	for _, nh := range r.NextHops {
		via = append(via, nh.Gateway.String())
	}
	if len(via) > 0 {
		s += " via " + strings.Join(via, ",")
	}
	return s
}
