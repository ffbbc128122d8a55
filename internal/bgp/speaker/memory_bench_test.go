package speaker

import (
	"context"
	"fmt"
	"net/netip"
	"runtime"
	"runtime/metrics"
	"testing"
	"time"

	"github.com/kbgp/kbgp/internal/bgp/fsm"
	"github.com/kbgp/kbgp/internal/bgp/wire"
)

// memSample reads the live heap (after a GC), the goroutine stacks and
// the number of goroutines.
func memSample() (heap, stacks uint64, goroutines int) {
	// Twice: sync.Pool contents survive one GC (victim cache).
	runtime.GC()
	runtime.GC()
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}, {Name: "/memory/classes/heap/stacks:bytes"}, {Name: "/sched/goroutines:goroutines"}}
	metrics.Read(s)
	return s[0].Value.Uint64(), s[1].Value.Uint64(), int(s[2].Value.Uint64())
}

// k8sUpdate is what one node of the harness's k8s scenario announces: its
// /26 block and 20 /32 service addresses, with its own next hop.
func k8sUpdate(i int) []byte {
	u := &wire.Update{}
	u.Attrs.Origin = wire.OriginIGP
	u.Attrs.Set(wire.AttrOrigin)
	u.Attrs.Set(wire.AttrASPath)
	u.Attrs.NextHop = netip.AddrFrom4([4]byte{172, 16, byte(i >> 8), byte(i)})
	u.Attrs.Set(wire.AttrNextHop)
	u.Attrs.LocalPref = 100
	u.Attrs.Set(wire.AttrLocalPref)
	u.NLRI = append(u.NLRI, wire.NLRI{Prefix: netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 128 + byte(i>>10), byte(i >> 2), byte(i&3) << 6}), 26)})
	for j := range 20 {
		u.NLRI = append(u.NLRI, wire.NLRI{Prefix: netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 96, byte(i >> 3), byte(i&7)<<5 | byte(j)}), 32)})
	}
	b, err := wire.AppendUpdate(nil, u, &wire.Options{AS4: true})
	if err != nil {
		panic(err)
	}
	return b
}

// BenchmarkSessionMemory measures what each peer costs a route reflector
// in the harness's k8s scenario: n iBGP route-reflector clients connect,
// each announces 21 routes, and every client gets every other client's
// routes. It reports the live heap and goroutine stack bytes per peer once
// all routes are reflected (the test's clients included: one goroutine and
// a 512-byte read buffer each), the goroutines per peer, and the bytes
// allocated per peer on the way there.
func BenchmarkSessionMemory(b *testing.B) {
	for _, n := range []int{100, 500} {
		b.Run(fmt.Sprintf("peers=%d", n), func(b *testing.B) {
			var heap, stacks, gor, alloc float64
			for b.Loop() {
				h, st, g, a := sessionMemory(b, n)
				heap += h
				stacks += st
				gor += g
				alloc += a
			}
			runs := float64(b.N * n)
			b.ReportMetric(heap/runs, "heap-B/peer")
			b.ReportMetric(stacks/runs, "stack-B/peer")
			b.ReportMetric(gor/runs, "goroutines/peer")
			b.ReportMetric(alloc/runs, "alloc-B/peer")
		})
	}
}

func sessionMemory(b *testing.B, n int) (heap, stacks, goroutines, alloc float64) {
	ctx := context.Background()
	s, err := New(ctx, Config{LocalAS: 65002, RouterID: netip.MustParseAddr("10.0.0.1"),
		Listen: []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:0")}})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	h0, s0, g0 := memSample()
	var m0 runtime.MemStats
	runtime.ReadMemStats(&m0)
	addrs := make([]netip.Addr, n)
	for i := range n {
		addrs[i] = netip.AddrFrom4([4]byte{127, 1, byte(i >> 8), byte(i)})
		if err := s.AddPeer(ctx, PeerConfig{Session: fsm.Config{PeerAS: 65002, PeerAddr: addrs[i], Passive: true, HoldTime: 240 * time.Second},
			RRClient: true}); err != nil {
			b.Fatal(err)
		}
	}
	for i, a := range addrs {
		p := dialBench(b, a, s.Addrs()[0], 65002)
		go func() {
			buf := make([]byte, 512)
			for {
				if _, err := p.nc.Read(buf); err != nil {
					return
				}
			}
		}()
		if _, err := p.nc.Write(k8sUpdate(i)); err != nil {
			b.Fatal(err)
		}
	}
	want := (n - 1) * 21
	deadline := time.Now().Add(2 * time.Minute)
	for {
		done := 0
		for _, st := range s.Peers() {
			if st.Advertised[wire.IPv4Unicast] == want {
				done++
			}
		}
		if done == n {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d peers got all %d routes", done, n, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Let the last batches reach the sockets and the senders go idle.
	time.Sleep(200 * time.Millisecond)
	var m1 runtime.MemStats
	runtime.ReadMemStats(&m1)
	h1, s1, g1 := memSample()
	return float64(h1) - float64(h0), float64(s1) - float64(s0), float64(g1 - g0), float64(m1.TotalAlloc - m0.TotalAlloc)
}
