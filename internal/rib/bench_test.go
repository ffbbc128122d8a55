package rib

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/kbgp/kbgp/internal/bgp/wire"
	"github.com/kbgp/kbgp/internal/mrt"
)

const (
	benchPrefixes = 250_000
	benchPeers    = 4
	benchSets     = 2_000 // distinct attribute sets per peer: ~125 prefixes share one
	benchBatch    = 100   // NLRI per UPDATE
	// benchDrainEvery is how many UPDATEs the speaker applies between
	// Drains (it drains after each read batch of messages).
	benchDrainEvery = 64
)

// benchTable is a realistic full-table load: benchPeers eBGP peers each
// announcing benchPrefixes prefixes in UPDATEs of benchBatch NLRI; each
// peer uses benchSets distinct attribute sets (AS paths of length 2–5,
// some with MED and communities).
type benchTable struct {
	peers   []PeerID
	attrs   [][]wire.Attrs // [peer][set]
	batches [][]wire.NLRI
}

func newBenchTable(r *RIB, up bool) *benchTable {
	bt := &benchTable{}
	for i := 0; i < benchPeers; i++ {
		as := uint32(65001 + i)
		id, err := r.AddPeer(PeerConfig{Name: fmt.Sprint("peer", i), Addr: netip.AddrFrom4([4]byte{192, 0, 2, byte(1 + i)}),
			LocalAS: localAS, RemoteAS: as, LocalAddr4: ip("10.255.0.1")})
		if err != nil {
			panic(err)
		}
		if up {
			r.Up(id, Session{RouterID: netip.AddrFrom4([4]byte{1, 1, 1, byte(1 + i)}), AS4: true,
				Families: []FamilySession{{Family: wire.IPv4Unicast}}})
		}
		bt.peers = append(bt.peers, id)
		sets := make([]wire.Attrs, benchSets)
		for s := range sets {
			a := &sets[s]
			a.Origin = wire.Origin(s % 3)
			a.Set(wire.AttrOrigin)
			asns := []uint32{as}
			for k := 0; k < 1+s%4; k++ {
				asns = append(asns, uint32(100+(s*7+k*13)%5000))
			}
			a.ASPath = []wire.ASPathSegment{{Type: wire.ASSequence, ASNs: asns}}
			a.Set(wire.AttrASPath)
			a.NextHop = netip.AddrFrom4([4]byte{192, 0, 2, byte(1 + i)})
			a.Set(wire.AttrNextHop)
			if s%2 == 0 {
				a.MED = uint32(s % 50)
				a.Set(wire.AttrMED)
			}
			if s%3 == 0 {
				a.Communities = []wire.Community{wire.Community(as<<16 | uint32(s%100))}
				a.Set(wire.AttrCommunities)
			}
		}
		bt.attrs = append(bt.attrs, sets)
	}
	for n := 0; n < benchPrefixes; n += benchBatch {
		var batch []wire.NLRI
		for k := n; k < n+benchBatch && k < benchPrefixes; k++ {
			batch = append(batch, wire.NLRI{Prefix: netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(1 + k>>16), byte(k >> 8), byte(k), 0}), 24)})
		}
		bt.batches = append(bt.batches, batch)
	}
	return bt
}

func (bt *benchTable) load(r *RIB) {
	for pi, id := range bt.peers {
		for bi, batch := range bt.batches {
			if _, _, err := r.Update(id, wire.IPv4Unicast, batch, &bt.attrs[pi][(bi*7+pi)%benchSets]); err != nil {
				panic(err)
			}
			if bi%benchDrainEvery == benchDrainEvery-1 {
				r.Drain()
			}
		}
	}
	r.Drain()
}

// cpuTime is the CPU time (user + system, all threads) the process used:
// on a shared, overloaded machine it is steadier than wall time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

const benchPaths = benchPrefixes * benchPeers

// BenchmarkRIB1M loads 250k prefixes × 4 peers = 1M paths. Metrics:
// ns/path, bytes/path (live heap after GC divided by the paths stored).
func BenchmarkRIB1M(b *testing.B) {
	for _, up := range []bool{false, true} {
		name := "insert/loc-rib"
		if up {
			name = "insert/with-adj-rib-out" // the 4 peers are Up: one eBGP update group
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			var perPath float64
			var cpu time.Duration
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				base := heapInUse()
				r := New(Options{RouterID: ip("10.255.0.1")})
				bt := newBenchTable(r, up)
				tableMem := heapInUse() - base
				b.StartTimer()
				c0 := cpuTime()
				bt.load(r)
				cpu += cpuTime() - c0
				b.StopTimer()
				r.Drain() // the speaker has consumed the load's changes: release them
				perPath = float64(heapInUse()-base-tableMem) / benchPaths
				if s := r.Stats(); s.Paths != benchPaths {
					b.Fatalf("stored %d paths", s.Paths)
				}
				runtime.KeepAlive(bt)
				runtime.KeepAlive(r)
				b.StartTimer()
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/benchPaths, "ns/path")
			b.ReportMetric(perPath, "bytes/path")
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N)/benchPaths, "cpu-ns/path")
		})
	}
	b.Run("bestpath", func(b *testing.B) {
		r := New(Options{RouterID: ip("10.255.0.1")})
		bt := newBenchTable(r, true)
		bt.load(r)
		b.ReportAllocs()
		b.ResetTimer()
		c0 := cpuTime()
		for i := 0; i < b.N; i++ {
			r.Reevaluate() // every prefix through the decision process and export
			r.Drain()
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/benchPrefixes, "ns/prefix")
		b.ReportMetric(float64((cpuTime()-c0).Nanoseconds())/float64(b.N)/benchPrefixes, "cpu-ns/prefix")
	})
	b.Run("withdraw", func(b *testing.B) {
		b.ReportAllocs()
		var cpu time.Duration
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			r := New(Options{RouterID: ip("10.255.0.1")})
			bt := newBenchTable(r, true)
			bt.load(r)
			b.StartTimer()
			c0 := cpuTime()
			// The best peer (lowest router ID) withdraws everything: every
			// prefix gets a new best path and an export change.
			for _, batch := range bt.batches {
				r.Withdraw(bt.peers[0], wire.IPv4Unicast, batch)
			}
			ch := r.Drain()
			cpu += cpuTime() - c0
			if len(ch.FIB) == 0 {
				b.Fatalf("%d FIB changes", len(ch.FIB))
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/benchPrefixes, "ns/path")
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N)/benchPrefixes, "cpu-ns/path")
	})
}

// BenchmarkExportFanout changes the best path of one prefix and drains,
// with the change exported to an update group of 1 or 1,000 route-reflector
// clients: the cost must not grow with the number of members.
func BenchmarkExportFanout(b *testing.B) {
	for _, n := range []int{1, 1000} {
		b.Run(fmt.Sprint("peers=", n), func(b *testing.B) {
			r := New(Options{RouterID: ip("10.255.0.1")})
			src, _ := r.AddPeer(PeerConfig{Addr: ip("192.0.2.1"), LocalAS: localAS, RemoteAS: 65001, LocalAddr4: ip("10.255.0.1")})
			r.Up(src, Session{RouterID: ip("1.1.1.1"), Families: []FamilySession{{Family: wire.IPv4Unicast}}})
			var gid GroupID
			for i := 0; i < n; i++ {
				id, _ := r.AddPeer(PeerConfig{Addr: netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)}), LocalAS: localAS, RemoteAS: localAS,
					RRClient: true, LocalAddr4: ip("10.255.0.1")})
				gid, _ = r.Up(id, Session{RouterID: netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)}), Families: []FamilySession{{Family: wire.IPv4Unicast}}})
			}
			r.Drain()
			attrs := [2]*wire.Attrs{mkAttrs(nh("192.0.2.1"), seq(65001, 7)), mkAttrs(nh("192.0.2.1"), seq(65001, 8))}
			nl := nlri("203.0.113.0/24")
			var enc int
			b.ReportAllocs()
			b.ResetTimer()
			c0 := cpuTime()
			for i := 0; i < b.N; i++ {
				r.Update(src, wire.IPv4Unicast, nl, attrs[i&1])
				ch := r.Drain()
				var gc *GroupChanges
				for _, g := range ch.Groups {
					if g.Group == gid {
						gc = g
					}
				}
				if gc == nil || len(gc.Members) != n {
					b.Fatalf("groups: %+v", ch.Groups)
				}
				// The speaker's per-member loop: split horizon only.
				for _, m := range gc.Members {
					for k := range gc.Changes {
						if gc.Changes[k].For(m) == ActionAnnounce {
							enc++
						}
					}
				}
			}
			b.ReportMetric(float64((cpuTime()-c0).Nanoseconds())/float64(b.N), "cpu-ns/op")
			if enc != b.N*n {
				b.Fatalf("%d announcements, want %d", enc, b.N*n)
			}
		})
	}
}

// BenchmarkReplayFullTable replays a real full IPv4 table (PCH collector,
// 2015: one iBGP peer, 577,706 prefixes in 89,679 UPDATEs) into a RIB:
// real attribute diversity, one path per prefix (the worst case for bytes
// per path: nothing is shared between paths of a prefix).
func BenchmarkReplayFullTable(b *testing.B) {
	file := filepath.Join(sharedMRT(b), "bgpdump__updates.et-header.2015.gz")
	// Decode once, outside the timer.
	fh, err := os.Open(file)
	if err != nil {
		b.Fatal(err)
	}
	rd := mrt.NewReader(fh)
	var ups []*wire.Update
	var dec mrt.RouteDecoder
	var m mrt.BGP4MP
	var peerAddr netip.Addr
	var peerAS, localAS uint32
	for {
		rec, err := rd.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			b.Fatal(err)
		}
		if rec.Type != mrt.TypeBGP4MPET && rec.Type != mrt.TypeBGP4MP {
			continue
		}
		if rec.BGP4MP(&m) != nil || m.IsStateChange() || m.Local() {
			continue
		}
		if typ, err := m.MessageType(); err != nil || typ != wire.MsgUpdate {
			continue
		}
		var u wire.Update
		if err := dec.Update(&u, &m); err != nil {
			continue
		}
		ups = append(ups, u.Clone())
		peerAddr, peerAS, localAS = m.PeerAddr, m.PeerAS, m.LocalAS
	}
	fh.Close()
	// The peer is iBGP and not a reflector client: nothing is exported, so
	// this measures the Loc-RIB (Adj-RIB-In) alone.
	{
		b.Run("loc-rib", func(b *testing.B) {
			b.ReportAllocs()
			var perPath float64
			var s Stats
			var cpu time.Duration
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				base := heapInUse()
				r := New(Options{RouterID: ip("10.255.255.1")})
				id, _ := r.AddPeer(PeerConfig{Addr: peerAddr, LocalAS: localAS, RemoteAS: peerAS})
				r.Up(id, Session{RouterID: ip("10.77.0.1"), AS4: true, Families: []FamilySession{{Family: wire.IPv4Unicast}}})
				b.StartTimer()
				c0 := cpuTime()
				for k, u := range ups {
					r.ApplyUpdate(id, u)
					if k%benchDrainEvery == benchDrainEvery-1 {
						r.Drain()
					}
				}
				r.Drain()
				cpu += cpuTime() - c0
				b.StopTimer()
				r.Drain()
				s = r.Stats()
				perPath = float64(heapInUse()-base) / float64(s.Paths)
				runtime.KeepAlive(r)
				b.StartTimer()
			}
			b.ReportMetric(float64(s.Paths), "paths")
			b.ReportMetric(float64(s.AttrSets), "attrsets")
			b.ReportMetric(perPath, "bytes/path")
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N)/float64(s.Paths), "cpu-ns/path")
		})
	}
}
