package ctlapi

import (
	"context"
	"testing"

	"github.com/kbgp/kbgp/internal/status"
)

// BenchmarkNodeOverSocket is one `kbgp node status` round trip (request,
// JSON encode and decode of a three-peer node) over a real unix socket.
func BenchmarkNodeOverSocket(b *testing.B) {
	path := start(b, &status.Snapshot{State: ubuntu2}, Options{})
	c, err := Dial(path)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Node(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
}
