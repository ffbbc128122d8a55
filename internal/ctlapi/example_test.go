package ctlapi_test

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"time"

	"github.com/kbgp/kbgp/internal/ctlapi"
	"github.com/kbgp/kbgp/internal/metrics"
	"github.com/kbgp/kbgp/internal/status"
)

// Example shows how the agent wires the control API: a Provider (here a
// fixed snapshot; the agent's own implementation reads the speaker), the
// socket, the metrics collector and the loopback probe listener.
func Example() {
	dir, err := os.MkdirTemp("", "kbgp-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)

	provider := &status.Snapshot{State: status.Node{
		Name: "ubuntu-1", Running: true,
		Peers: []status.Peer{{Address: netip.MustParseAddr("172.16.30.102"), Type: status.PeerNode, State: status.Established}},
	}}
	collector := metrics.New(provider, metrics.Options{})
	srv := ctlapi.NewServer(provider, ctlapi.Options{Metrics: metrics.Handler(collector)})

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sock, err := ctlapi.Listen(filepath.Join(dir, "kbgp.sock")) // ctlapi.SocketPath(flag) in the agent
	if err != nil {
		panic(err)
	}
	go srv.Serve(ctx, sock)
	probes, err := ctlapi.ListenProbes("127.0.0.1:0") // e.g. 127.0.0.1:9099
	if err != nil {
		panic(err)
	}
	go srv.ServeProbes(ctx, probes)
	collector.ObserveReconcile(12 * time.Millisecond) // after each reconcile pass

	// What `kbgp health --ready` does.
	c, err := ctlapi.Dial(filepath.Join(dir, "kbgp.sock"))
	if err != nil {
		panic(err)
	}
	defer c.Close()
	h, err := c.Ready(context.Background())
	if err != nil {
		panic(err)
	}
	fmt.Println(h.Message("ready"))
	// Output: kbgp is ready
}
