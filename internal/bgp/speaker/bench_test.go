package speaker

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/kbgp/kbgp/internal/bgp/wire"
)

// BenchmarkConvergence measures how long 100 000 routes originated on one
// speaker take to be announced to, and then withdrawn from, a second
// speaker's best paths over a loopback eBGP session (decision process,
// update-group encoding, TCP, decoding and the receiver's RIB included).
func BenchmarkConvergence(b *testing.B) {
	const n = 100000
	a := benchNode(b, "127.0.0.1", 65001, "10.0.0.1")
	c := benchNode(b, "127.0.0.2", 65002, "10.0.0.2")
	ctx := context.Background()
	ac, cc := a.peerWith(c, true), c.peerWith(a, false)
	if err := c.AddPeer(ctx, cc); err != nil {
		b.Fatal(err)
	}
	if err := a.AddPeer(ctx, ac); err != nil {
		b.Fatal(err)
	}
	for {
		st, _ := a.PeerStatus(c.addr)
		if st.State.String() == "Established" {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	prefixes := make([]netip.Prefix, n)
	for i := range prefixes {
		prefixes[i] = netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), 32)
	}
	sub, err := c.Subscribe(ctx)
	if err != nil {
		b.Fatal(err)
	}
	defer sub.Close()
	have := map[netip.Prefix]bool{}
	waitCount := func(want int) {
		for len(have) != want {
			bs, err := sub.Next(ctx)
			if err != nil {
				b.Fatal(err)
			}
			for _, p := range bs {
				if p.Withdrawn() {
					delete(have, p.Prefix)
				} else {
					have[p.Prefix] = true
				}
			}
		}
	}
	b.ResetTimer()
	for b.Loop() {
		if err := a.OriginateAll(ctx, prefixes, wire.Attrs{}); err != nil {
			b.Fatal(err)
		}
		t0 := time.Now()
		waitCount(n)
		b.Logf("announce: %v", time.Since(t0))
		t0 = time.Now()
		if err := a.WithdrawAll(ctx, prefixes); err != nil {
			b.Fatal(err)
		}
		waitCount(0)
		b.Logf("withdraw: %v", time.Since(t0))
	}
	b.ReportMetric(float64(2*n*b.N)/b.Elapsed().Seconds(), "routes/s")
}

func benchNode(b *testing.B, addr string, as uint32, id string) *node {
	a := netip.MustParseAddr(addr)
	s, err := New(context.Background(), Config{LocalAS: as, RouterID: netip.MustParseAddr(id), Listen: []netip.AddrPort{netip.AddrPortFrom(a, 0)}})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(s.Close)
	return &node{Speaker: s, addr: a, as: as, id: netip.MustParseAddr(id)}
}
