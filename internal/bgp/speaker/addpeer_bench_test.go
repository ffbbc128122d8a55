package speaker

import (
	"context"
	"fmt"
	"net/netip"
	"testing"

	"github.com/kbgp/kbgp/internal/bgp/fsm"
	"github.com/kbgp/kbgp/internal/bgp/wire"
)

// BenchmarkAddPeer measures adding n passive peers (never dialled) to a
// speaker with no listener: configuration cost only. Per-peer time must
// stay flat as n grows; the harness saw 2,001 peers take 43 s when every
// RIB flush visited every peer.
func BenchmarkAddPeer(b *testing.B) {
	for _, n := range []int{100, 1000, 2000} {
		b.Run(fmt.Sprintf("peers=%d", n), func(b *testing.B) {
			ctx := context.Background()
			cfgs := passivePeers(n)
			for b.Loop() {
				s, err := New(ctx, Config{LocalAS: 65000, RouterID: netip.MustParseAddr("10.0.0.1")})
				if err != nil {
					b.Fatal(err)
				}
				for _, c := range cfgs {
					if err := s.AddPeer(ctx, c); err != nil {
						b.Fatal(err)
					}
				}
				// A status read must see every peer.
				if got := len(s.Peers()); got != n {
					b.Fatalf("Peers() = %d peers, want %d", got, n)
				}
				s.Close()
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*n), "µs/peer")
		})
	}
}

// passivePeers returns n route-reflector-client configurations of
// passive peers at 127.1.x.y (never dialled).
func passivePeers(n int) []PeerConfig {
	cfgs := make([]PeerConfig, n)
	for i := range cfgs {
		cfgs[i] = PeerConfig{
			Name: fmt.Sprintf("p%d", i),
			Session: fsm.Config{
				PeerAS:   65000,
				PeerAddr: netip.AddrFrom4([4]byte{127, 1, byte(i >> 8), byte(i)}),
				Passive:  true,
				Families: []wire.Family{wire.IPv4Unicast},
			},
			RRClient: true,
		}
	}
	return cfgs
}

// BenchmarkOpWithPeers measures one RIB operation (an Originate and a
// flush) on a speaker with n configured peers that are not up:
// the cost must not grow with n. Every flush used to visit every peer,
// so each session event or UPDATE of a 2,000-peer reflector paid for all
// 2,000 peers and AddPeer calls queued behind those flushes.
func BenchmarkOpWithPeers(b *testing.B) {
	for _, n := range []int{100, 1000, 2000} {
		b.Run(fmt.Sprintf("peers=%d", n), func(b *testing.B) {
			ctx := context.Background()
			s, err := New(ctx, Config{LocalAS: 65000, RouterID: netip.MustParseAddr("10.0.0.1")})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			for _, c := range passivePeers(n) {
				if err := s.AddPeer(ctx, c); err != nil {
					b.Fatal(err)
				}
			}
			pfx := netip.MustParsePrefix("10.9.0.0/24")
			attrs := wire.Attrs{NextHop: netip.MustParseAddr("192.0.2.1")}
			for b.Loop() {
				if err := s.Originate(ctx, pfx, attrs); err != nil {
					b.Fatal(err)
				}
				// Operations queued back to back share one flush; run
				// one per operation, as a session event or UPDATE
				// arriving alone gets.
				if err := s.do(ctx, s.flush); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
