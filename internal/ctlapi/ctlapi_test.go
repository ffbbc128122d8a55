package ctlapi

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/kbgp/kbgp/internal/status"
)

// cmpNetip compares netip values by value.
var cmpNetip = cmp.Options{
	cmp.Comparer(func(a, b netip.Addr) bool { return a == b }),
	cmp.Comparer(func(a, b netip.Prefix) bool { return a == b }),
}

var now = time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)

func peer(addr string, state status.SessionState) status.Peer {
	return status.Peer{Address: netip.MustParseAddr(addr), Type: status.PeerNode, State: state, Since: now.Add(-time.Hour)}
}

// ubuntu2 is the seed lab's route reflector with one session down.
var ubuntu2 = status.Node{
	Name: "ubuntu-2", Running: true, StartedAt: now.Add(-10 * time.Second),
	Peers: []status.Peer{
		peer("172.16.30.101", status.Established),
		peer("172.16.30.103", status.Active),
		peer("172.16.30.254", status.Established),
	},
	Loops: []status.Loop{{Name: "speaker", LastProgress: now.Add(-time.Second)}},
}

var rib = status.RIB{Routes: []status.Route{
	{Prefix: netip.MustParsePrefix("10.244.1.0/26"), Paths: []status.Path{{Peer: netip.MustParseAddr("172.16.30.101"), Best: true, Origin: "IGP"}}},
	{Prefix: netip.MustParsePrefix("10.244.2.0/26"), Paths: []status.Path{{Peer: netip.MustParseAddr("172.16.30.103"), Best: true, Origin: "IGP"}}},
}}

// start serves p on a fresh socket in a temp dir and returns its path.
func start(t testing.TB, p status.Provider, opts Options) string {
	t.Helper()
	if opts.Now == nil {
		opts.Now = func() time.Time { return now }
	}
	path := filepath.Join(t.TempDir(), "run", "kbgp.sock")
	l, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- NewServer(p, opts).Serve(ctx, l) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return path
}

func dial(t *testing.T, path string) *Client {
	t.Helper()
	c, err := Dial(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestSocketFile(t *testing.T) {
	path := start(t, &status.Snapshot{State: ubuntu2}, Options{})
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode()&os.ModeSocket == 0 || fi.Mode().Perm() != 0o600 {
		t.Errorf("socket mode %v, want a socket with 0600", fi.Mode())
	}
	di, err := os.Stat(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	if di.Mode().Perm() != 0o755 {
		t.Errorf("socket directory mode %v, want 0755", di.Mode().Perm())
	}
	// A second agent must not steal a live socket.
	if _, err := Listen(path); err == nil || !strings.Contains(err.Error(), "already serving") {
		t.Errorf("Listen on a live socket: %v, want 'already serving'", err)
	}
}

func TestListenStaleAndForeign(t *testing.T) {
	dir := t.TempDir()
	stale := filepath.Join(dir, "stale.sock")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: stale, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	l.SetUnlinkOnClose(false)
	l.Close() // leaves the file behind, as a crashed agent does
	l2, err := Listen(stale)
	if err != nil {
		t.Fatalf("Listen over a stale socket: %v", err)
	}
	l2.Close()
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("socket file left after Close: %v", err)
	}

	regular := filepath.Join(dir, "file")
	if err := os.WriteFile(regular, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Listen(regular); err == nil || !strings.Contains(err.Error(), "not a socket") {
		t.Errorf("Listen over a regular file: %v, want refusal", err)
	}
}

func TestEndpoints(t *testing.T) {
	path := start(t, &status.Snapshot{State: ubuntu2, Table: rib}, Options{})
	c := dial(t, path)
	ctx := context.Background()

	n, err := c.Node(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(ubuntu2, n, cmpNetip); diff != "" {
		t.Errorf("Node over the wire (-want +got):\n%s", diff)
	}
	ps, err := c.Peers(ctx)
	if err != nil || len(ps) != 3 {
		t.Fatalf("Peers = %d peers, %v", len(ps), err)
	}
	for _, key := range []string{"172.16.30.103", "::ffff:172.16.30.103", "Node_172_16_30_103"} {
		p, err := c.Peer(ctx, key)
		if err != nil {
			t.Fatalf("Peer(%q): %v", key, err)
		}
		if p.Address != netip.MustParseAddr("172.16.30.103") {
			t.Errorf("Peer(%q) = %v", key, p.Address)
		}
	}
	_, err = c.Peer(ctx, "10.9.9.9")
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status != http.StatusNotFound || !strings.Contains(err.Error(), `node ubuntu-2 has no BGP peer "10.9.9.9"`) {
		t.Errorf("Peer(unknown) = %v, want a 404 naming the node and peer", err)
	}

	r, err := c.Routes(ctx, "10.244.2.0/24")
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Routes) != 1 || r.Routes[0].Prefix.String() != "10.244.2.0/26" {
		t.Errorf("Routes(10.244.2.0/24) = %+v", r.Routes)
	}
	r, err = c.Routes(ctx, "")
	if err != nil || len(r.Routes) != 2 {
		t.Errorf("Routes() = %d routes, %v", len(r.Routes), err)
	}
	r, err = c.Routes(ctx, "192.0.2.1")
	if err != nil || r.Routes == nil || len(r.Routes) != 0 {
		t.Errorf("Routes(no match) = %#v, %v; want an empty list", r.Routes, err)
	}
	if _, err := c.Routes(ctx, "10.0.0.0/99"); !errors.As(err, &ae) || ae.Status != http.StatusBadRequest {
		t.Errorf("Routes(bad) = %v, want 400", err)
	}

	// Within 30 s of start, 172.16.30.103 being down makes the node unready.
	h, err := c.Ready(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := status.Health{Reasons: []string{"BGP not established with 172.16.30.103"}}
	if diff := cmp.Diff(want, h); diff != "" {
		t.Errorf("Ready (-want +got):\n%s", diff)
	}
	h, err = c.Live(ctx)
	if err != nil || !h.OK {
		t.Errorf("Live = %+v, %v", h, err)
	}
}

func TestUnknownEndpoint(t *testing.T) {
	path := start(t, &status.Snapshot{State: ubuntu2}, Options{})
	c := dial(t, path)
	var v any
	_, err := c.get(context.Background(), "/v2/nothing", &v, http.StatusOK)
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status != http.StatusNotFound {
		t.Errorf("unknown endpoint: %v", err)
	}
}

// stuck is a provider whose Node never returns (a wedged agent); it even
// ignores its context.
type stuck struct{ release chan struct{} }

func (s stuck) Node(context.Context) (status.Node, error) { <-s.release; return status.Node{}, nil }
func (s stuck) Routes(context.Context, status.RouteQuery) (status.RIB, error) {
	<-s.release
	return status.RIB{}, nil
}

func TestWedgedAgentIsNotLive(t *testing.T) {
	s := stuck{release: make(chan struct{})}
	path := start(t, s, Options{CallTimeout: 100 * time.Millisecond})
	t.Cleanup(func() { close(s.release) }) // runs before the server stops
	c := dial(t, path)
	begin := time.Now()
	h, err := c.Live(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if h.OK || len(h.Reasons) != 1 || h.Reasons[0] != "agent did not answer within 100ms" {
		t.Errorf("Live = %+v", h)
	}
	if d := time.Since(begin); d > time.Second {
		t.Errorf("Live took %v", d)
	}
	if _, err := c.Node(context.Background()); err == nil || !strings.Contains(err.Error(), "did not answer") {
		t.Errorf("Node from a wedged agent: %v", err)
	}
}

type failing struct{}

func (failing) Node(context.Context) (status.Node, error) {
	return status.Node{}, errors.New("speaker not started")
}
func (failing) Routes(context.Context, status.RouteQuery) (status.RIB, error) {
	return status.RIB{}, errors.New("rib locked")
}

func TestProviderErrors(t *testing.T) {
	c := dial(t, start(t, failing{}, Options{}))
	if _, err := c.Node(context.Background()); err == nil || err.Error() != "kbgp agent: agent: speaker not started" {
		t.Errorf("Node: %v", err)
	}
	if _, err := c.Routes(context.Background(), ""); err == nil || !strings.Contains(err.Error(), "rib locked") {
		t.Errorf("Routes: %v", err)
	}
	h, err := c.Ready(context.Background())
	if err != nil || h.OK {
		t.Errorf("Ready = %+v, %v", h, err)
	}
}

func TestDialErrors(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "kbgp.sock")
	_, err := Dial(missing)
	want := "cannot reach kbgp agent at " + missing + ": no such file or directory — is kbgp agent running?"
	if err == nil || err.Error() != want {
		t.Errorf("Dial(missing) = %v\nwant %s", err, want)
	}

	// A socket nobody listens on: connection refused.
	refused := filepath.Join(dir, "dead.sock")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: refused, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	l.SetUnlinkOnClose(false)
	l.Close()
	_, err = Dial(refused)
	want = "cannot reach kbgp agent at " + refused + ": connection refused — is kbgp agent running?"
	if err == nil || err.Error() != want {
		t.Errorf("Dial(refused) = %v\nwant %s", err, want)
	}
	var ue *UnreachableError
	if !errors.As(err, &ue) || !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("Dial error %T does not unwrap to ECONNREFUSED", err)
	}
}

func TestUnreachableMessages(t *testing.T) {
	// Root bypasses socket permissions, so EACCES cannot be provoked in
	// a root test run; check its message on the errno directly.
	e := &UnreachableError{Path: "/run/kbgp/kbgp.sock", Err: syscall.EACCES}
	want := "cannot reach kbgp agent at /run/kbgp/kbgp.sock: permission denied — the socket is mode 0600; run as root"
	if e.Error() != want {
		t.Errorf("got %q\nwant %q", e.Error(), want)
	}
}

func TestSocketPath(t *testing.T) {
	t.Setenv(SocketEnv, "")
	if got := SocketPath(""); got != DefaultSocket {
		t.Errorf("default = %q", got)
	}
	t.Setenv(SocketEnv, "/tmp/x.sock")
	if got := SocketPath(""); got != "/tmp/x.sock" {
		t.Errorf("env = %q", got)
	}
	if got := SocketPath("/flag.sock"); got != "/flag.sock" {
		t.Errorf("flag = %q", got)
	}
}

func TestListenProbesLoopbackOnly(t *testing.T) {
	for _, addr := range []string{":0", "0.0.0.0:0", "[::]:0", "192.0.2.1:0", "example.com:0", "10.0.0.1"} {
		if l, err := ListenProbes(addr); err == nil {
			l.Close()
			t.Errorf("ListenProbes(%q) accepted a non-loopback address", addr)
		}
	}
	for _, addr := range []string{"127.0.0.1:0", "localhost:0", "[::1]:0"} {
		l, err := ListenProbes(addr)
		if err != nil {
			if strings.Contains(addr, "::1") && strings.Contains(err.Error(), "cannot assign") {
				continue // no IPv6 loopback here
			}
			t.Errorf("ListenProbes(%q): %v", addr, err)
			continue
		}
		if ip := netip.MustParseAddrPort(l.Addr().String()).Addr(); !ip.IsLoopback() {
			t.Errorf("ListenProbes(%q) bound %v", addr, ip)
		}
		l.Close()
	}
}

func TestProbeServer(t *testing.T) {
	metrics := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "kbgp_up 1\n") })
	srv := NewServer(&status.Snapshot{State: ubuntu2}, Options{Now: func() time.Time { return now }, Metrics: metrics})
	l, err := ListenProbes("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.ServeProbes(ctx, l) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("ServeProbes: %v", err)
		}
	}()
	base := "http://" + l.Addr().String()
	for _, tc := range []struct {
		path string
		code int
		body string
	}{
		{"/livez", 200, "ok\n"},
		{"/readyz", 503, "kbgp is not ready: BGP not established with 172.16.30.103\n"},
		{"/metrics", 200, "kbgp_up 1\n"},
		{"/v1/node", 404, "404 page not found\n"},
	} {
		resp, err := http.Get(base + tc.path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.code || string(b) != tc.body {
			t.Errorf("GET %s = %d %q, want %d %q", tc.path, resp.StatusCode, b, tc.code, tc.body)
		}
	}
}

func TestServeShutdownRemovesSocket(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kbgp.sock")
	l, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- NewServer(&status.Snapshot{}, Options{}).Serve(ctx, l) }()
	c := dial(t, path)
	if _, err := c.Node(context.Background()); err != nil {
		t.Fatal(err)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after cancel")
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("socket still present after shutdown: %v", err)
	}
	if _, err := c.Node(context.Background()); err == nil {
		t.Errorf("request after shutdown succeeded")
	}
}

func TestConcurrentClients(t *testing.T) {
	path := start(t, &status.Snapshot{State: ubuntu2, Table: rib}, Options{})
	errs := make(chan error, 40)
	for i := range 20 {
		go func() {
			c, err := Dial(path)
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			if i%2 == 0 {
				_, err = c.Node(context.Background())
			} else {
				_, err = c.Routes(context.Background(), "10.244.0.0/16")
			}
			errs <- err
		}()
	}
	for range 20 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
