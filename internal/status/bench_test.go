package status

import (
	"io"
	"net/netip"
	"testing"
)

// manyPeers is a 500-node mesh, half the sessions failing with a wrapped
// INFO.
func manyPeers() *Node {
	n := &Node{Running: true}
	for i := range 500 {
		p := peer(netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}).String(), PeerMesh, Established, now)
		if i%2 == 1 {
			p = errPeer(peer(p.Address.String(), PeerMesh, Active, now), ErrorSocket, "Connection reset by peer")
		}
		n.Peers = append(n.Peers, p)
	}
	return n
}

func BenchmarkWriteNodeStatus500(b *testing.B) {
	n := manyPeers()
	b.ReportAllocs()
	for b.Loop() {
		if err := WriteNodeStatus(io.Discard, n, now, nil); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkReadiness500(b *testing.B) {
	n := manyPeers()
	b.ReportAllocs()
	for b.Loop() {
		Readiness(n, now, 0)
	}
}
