package speaker

import (
	"context"
	"io"
	"net"
	"net/netip"
	"runtime"
	"runtime/metrics"
	"testing"
	"time"

	"github.com/kbgp/kbgp/internal/bgp/fsm"
	"github.com/kbgp/kbgp/internal/bgp/wire"
)

// benchPeer is a minimal BGP client for benchmarks: it completes the OPEN
// exchange and then only writes; a goroutine drains what the speaker sends.
type benchPeer struct {
	nc net.Conn
}

// dialBench connects from from to the speaker at to as AS 65002 (iBGP to
// a speaker in AS 65002) and waits for the OPEN exchange to finish.
func dialBench(tb testing.TB, from netip.Addr, to netip.AddrPort, as uint32) *benchPeer {
	tb.Helper()
	d := net.Dialer{LocalAddr: net.TCPAddrFromAddrPort(netip.AddrPortFrom(from, 0)), Timeout: 5 * time.Second}
	nc, err := d.Dial("tcp", to.String())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { nc.Close() })
	o := &wire.Open{Version: 4, MyAS: uint16(as), HoldTime: 240, BGPID: from}
	o.Caps.HasFourOctetAS, o.Caps.FourOctetAS = true, as
	o.Caps.Multiprotocol = []wire.Family{wire.IPv4Unicast}
	m, err := wire.AppendOpen(nil, o)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := nc.Write(m); err != nil {
		tb.Fatal(err)
	}
	hdr := make([]byte, wire.HeaderLen)
	for {
		nc.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.ReadFull(nc, hdr); err != nil {
			tb.Fatal(err)
		}
		n, typ, err := wire.ParseHeader(hdr, wire.MaxMessageLen)
		if err != nil {
			tb.Fatal(err)
		}
		if _, err := io.CopyN(io.Discard, nc, int64(n-wire.HeaderLen)); err != nil {
			tb.Fatal(err)
		}
		if typ == wire.MsgKeepalive {
			break
		}
	}
	nc.SetReadDeadline(time.Time{})
	if _, err := nc.Write(wire.AppendKeepalive(nil)); err != nil {
		tb.Fatal(err)
	}
	return &benchPeer{nc: nc}
}

// drain discards everything the speaker sends until the connection closes.
func (p *benchPeer) drain() {
	go io.Copy(io.Discard, p.nc)
}

// ingestStream returns n /24 routes as UPDATEs of per NLRI each, every
// UPDATE with its own next hop (an attribute set per message).
func ingestStream(n, per int) []byte {
	var out []byte
	o := &wire.Options{AS4: true}
	for i := 0; i < n; i += per {
		u := &wire.Update{}
		u.Attrs.Origin = wire.OriginIGP
		u.Attrs.Set(wire.AttrOrigin)
		u.Attrs.ASPath = []wire.ASPathSegment{{Type: wire.ASSequence, ASNs: []uint32{65010, 65020 + uint32(i%7)}}}
		u.Attrs.Set(wire.AttrASPath)
		u.Attrs.NextHop = netip.AddrFrom4([4]byte{192, 0, byte(i >> 16), byte(i >> 8)})
		u.Attrs.Set(wire.AttrNextHop)
		u.Attrs.LocalPref = 100
		u.Attrs.Set(wire.AttrLocalPref)
		for j := i; j < min(i+per, n); j++ {
			u.NLRI = append(u.NLRI, wire.NLRI{Prefix: netip.PrefixFrom(netip.AddrFrom4([4]byte{10 + byte(j>>16), byte(j >> 8), byte(j), 0}), 24)})
		}
		var err error
		if out, err = wire.AppendUpdate(out, u, o); err != nil {
			panic(err)
		}
	}
	return out
}

// gcCPU returns the CPU seconds the GC and the whole process (GC
// included, idle excluded) used so far, as the runtime estimates them.
func gcCPU() (gc, used float64) {
	s := []metrics.Sample{{Name: "/cpu/classes/gc/total:cpu-seconds"}, {Name: "/cpu/classes/total:cpu-seconds"}, {Name: "/cpu/classes/idle:cpu-seconds"}}
	metrics.Read(s)
	return s[0].Value.Float64(), s[1].Value.Float64() - s[2].Value.Float64()
}

// BenchmarkIngest measures receiving a stream of UPDATEs from one iBGP
// peer over loopback until every route is in the RIB: framing, decoding,
// the hand-off to the RIB goroutine and the RIB. It reports ns and
// allocated bytes per route, the live heap per route after a GC with the
// routes in the RIB, the CPU time per route (less sensitive than ns/route
// to other load on the machine) and the GC's share of it.
func BenchmarkIngest(b *testing.B) {
	const n, per = 200000, 20
	stream := ingestStream(n, per)
	ctx := context.Background()
	var live, gcShare, cpu float64
	for b.Loop() {
		b.StopTimer()
		s, err := New(ctx, Config{LocalAS: 65002, RouterID: netip.MustParseAddr("10.0.0.1"),
			Listen: []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:0")}})
		if err != nil {
			b.Fatal(err)
		}
		peerAddr := netip.MustParseAddr("127.0.0.2")
		if err := s.AddPeer(ctx, PeerConfig{Session: fsm.Config{PeerAS: 65002, PeerAddr: peerAddr, Passive: true, HoldTime: 240 * time.Second}}); err != nil {
			b.Fatal(err)
		}
		runtime.GC()
		var m0 runtime.MemStats
		runtime.ReadMemStats(&m0)
		p := dialBench(b, peerAddr, s.Addrs()[0], 65002)
		p.drain()
		for {
			if st, _ := s.PeerStatus(peerAddr); st.State == fsm.Established {
				break
			}
			time.Sleep(time.Millisecond)
		}
		gc0, cpu0 := gcCPU()
		b.StartTimer()
		if _, err := p.nc.Write(stream); err != nil {
			b.Fatal(err)
		}
		for {
			st, err := s.PeerStatus(peerAddr)
			if err != nil {
				b.Fatal(err)
			}
			if st.State != fsm.Established {
				b.Fatalf("session down: %v", st.LastError)
			}
			if st.Accepted[wire.IPv4Unicast] == n {
				break
			}
			time.Sleep(2 * time.Millisecond)
		}
		b.StopTimer()
		gc1, cpu1 := gcCPU()
		gcShare += (gc1 - gc0) / (cpu1 - cpu0)
		cpu += cpu1 - cpu0
		// Twice: sync.Pool contents survive one GC (victim cache).
		runtime.GC()
		runtime.GC()
		var m1 runtime.MemStats
		runtime.ReadMemStats(&m1)
		live += float64(int64(m1.HeapAlloc) - int64(m0.HeapAlloc))
		p.nc.Close()
		s.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/route")
	b.ReportMetric(live/float64(b.N*n), "live-B/route")
	b.ReportMetric(gcShare/float64(b.N), "gc-cpu-frac")
	b.ReportMetric(cpu*1e9/float64(b.N*n), "cpu-ns/route")
}
