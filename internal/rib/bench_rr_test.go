package rib

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"sync"
	"testing"
	"time"

	"github.com/kbgp/kbgp/internal/bgp/wire"
	"github.com/kbgp/kbgp/internal/mrt"
)

// The route-reflector table workload of bench/rr's `table` scenario: rrAS
// is the DUT's (and every client's) AS, rrTesters clients each announce the
// whole real table with their own next hop, one more client (the monitor)
// only receives. All five are route-reflector clients with the same export
// behaviour, so they form one update group.
const (
	rrAS      = 64512
	rrTesters = 4
	// rrDrainEvery is how many UPDATEs the speaker applies between Drains.
	rrDrainEvery = 512
)

// rrUpdate is one UPDATE of the table: a group of prefixes that share the
// tester-independent attributes.
type rrUpdate struct {
	group int      // index into rrTable.attrs
	nlri  []uint64 // v4Key of each prefix: pointer-free, so the benchmark's own input adds little GC work
}

// rrTable is the table scenario's input, decoded once.
type rrTable struct {
	attrs    []wire.Attrs // per group, without NEXT_HOP (each tester's own)
	updates  []rrUpdate
	prefixes int
}

var (
	rrOnce sync.Once
	rrData *rrTable
	rrErr  error
)

func rrClientAddr(i int) netip.Addr { return netip.AddrFrom4([4]byte{10, 0, 0, byte(2 + i)}) }

// loadRRTable mirrors bench/rr/scenario.LoadTable and TableLoad: the first
// announcement of every IPv4 prefix with its ORIGIN, AS_PATH, MED and
// COMMUNITIES, LOCAL_PREF 100 and the tester's next hop, split into UPDATEs
// of at most 4096 bytes.
func loadRRTable(tb testing.TB) *rrTable {
	file := filepath.Join(sharedMRT(tb), "bgpdump__updates.et-header.2015.gz")
	rrOnce.Do(func() { rrData, rrErr = readRRTable(file) })
	if rrErr != nil {
		tb.Fatal(rrErr)
	}
	return rrData
}

func readRRTable(file string) (*rrTable, error) {
	fh, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	rd := mrt.NewReader(fh)
	var (
		m    mrt.BGP4MP
		dec  mrt.RouteDecoder
		u    wire.Update
		seen = map[netip.Prefix]bool{}
		t    = &rrTable{}
	)
	for {
		rec, err := rd.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		if rec.BGP4MP(&m) != nil || m.IsStateChange() {
			continue
		}
		if typ, err := m.MessageType(); err != nil || typ != wire.MsgUpdate {
			continue
		}
		if dec.Update(&u, &m) != nil || len(u.NLRI) == 0 || !u.Attrs.Has(wire.AttrASPath) || rrHasAS(u.Attrs.ASPath, rrAS) {
			continue
		}
		var ps []netip.Prefix
		for _, n := range u.NLRI {
			if !seen[n.Prefix] && n.Prefix.Addr().Is4() {
				seen[n.Prefix] = true
				ps = append(ps, n.Prefix)
			}
		}
		if len(ps) == 0 {
			continue
		}
		base := rrReflectable(&u.Attrs)
		g := len(t.attrs)
		t.attrs = append(t.attrs, base)
		base.NextHop = rrClientAddr(0)
		base.Set(wire.AttrNextHop)
		enc, err := wire.AppendAttrs(nil, &base, &wire.Options{AS4: true})
		if err != nil {
			return nil, err
		}
		room := 4096 - 19 - 4 - len(enc)
		for len(ps) > 0 {
			n, size := 0, 0
			for n < len(ps) && size+1+(ps[n].Bits()+7)/8 <= room {
				size += 1 + (ps[n].Bits()+7)/8
				n++
			}
			up := rrUpdate{group: g}
			for _, p := range ps[:n] {
				k, _ := v4Key(p)
				up.nlri = append(up.nlri, k)
			}
			t.updates = append(t.updates, up)
			t.prefixes += n
			ps = ps[n:]
		}
	}
	if t.prefixes == 0 {
		return nil, fmt.Errorf("%s: no IPv4 announcements", file)
	}
	return t, nil
}

func rrHasAS(segs []wire.ASPathSegment, as uint32) bool {
	for _, s := range segs {
		for _, a := range s.ASNs {
			if a == as {
				return true
			}
		}
	}
	return false
}

func rrReflectable(in *wire.Attrs) wire.Attrs {
	var a wire.Attrs
	a.Origin = in.Origin
	a.Set(wire.AttrOrigin)
	for _, s := range in.ASPath {
		a.ASPath = append(a.ASPath, wire.ASPathSegment{Type: s.Type, ASNs: append([]uint32(nil), s.ASNs...)})
	}
	a.Set(wire.AttrASPath)
	if in.Has(wire.AttrMED) {
		a.MED = in.MED
		a.Set(wire.AttrMED)
	}
	if in.Has(wire.AttrCommunities) && len(in.Communities) > 0 {
		a.Communities = append([]wire.Community(nil), in.Communities...)
		a.Set(wire.AttrCommunities)
	}
	a.LocalPref = 100
	a.Set(wire.AttrLocalPref)
	return a
}

// rrSetup returns a RIB with the testers and the monitor established.
func rrSetup(tb testing.TB) (*RIB, []PeerID) {
	return rrSetupOpts(tb, Options{})
}

// rrSetupOpts is rrSetup with RIB options (router and cluster IDs are set).
func rrSetupOpts(tb testing.TB, o Options) (*RIB, []PeerID) {
	o.RouterID, o.ClusterID = ip("10.0.0.1"), ip("10.0.0.1")
	r := New(o)
	var ids []PeerID
	for i := 0; i <= rrTesters; i++ {
		a := rrClientAddr(i)
		id, err := r.AddPeer(PeerConfig{Name: fmt.Sprint("client", i), Addr: a, LocalAS: rrAS, RemoteAS: rrAS, RRClient: true, LocalAddr4: ip("10.0.0.1")})
		if err != nil {
			tb.Fatal(err)
		}
		if _, err := r.Up(id, Session{RouterID: a, AS4: true, LocalAddr: ip("10.0.0.1"), Families: []FamilySession{{Family: wire.IPv4Unicast}}}); err != nil {
			tb.Fatal(err)
		}
		ids = append(ids, id)
	}
	return r, ids
}

// rrLoad feeds the testers' UPDATEs interleaved (the speaker's RIB goroutine
// takes them as the sessions deliver them) and drains every rrDrainEvery
// UPDATEs, consuming the export changes as the speaker does (split horizon
// per member). It returns the number of announcements to the monitor.
// With skew 0 each UPDATE comes from all testers in a row, each time first
// from another tester: every prefix is decided once. With skew > 0 the
// testers run rrLag[i]×skew UPDATEs apart, as racing sessions do in
// bench/rr: a prefix's paths then arrive in different Drains, each of which
// decides it again, and the monitor is sent two paths of each prefix (the
// second tester's path, with the lowest router ID, is better than the
// first's; the last two lose).
func rrLoad(tb testing.TB, r *RIB, ids []PeerID, t *rrTable, skew int) int {
	announced := 0
	monitor := ids[rrTesters]
	drain := func() {
		ch := r.Drain()
		for _, g := range ch.Groups {
			for k := range g.Changes {
				if g.Changes[k].For(monitor) == ActionAnnounce {
					announced++
				}
			}
		}
	}
	n := 0
	var a wire.Attrs
	var nl []wire.NLRI
	for k := 0; k < len(t.updates)+(rrTesters-1)*skew; k++ {
		for j := 0; j < rrTesters; j++ {
			// The testers race: which one announces a prefix first varies.
			i := (k + j) % rrTesters
			if skew > 0 {
				i = j
			}
			x := k - rrLag[i]*skew
			if x < 0 || x >= len(t.updates) {
				continue
			}
			u := t.updates[x]
			nl = nl[:0]
			for _, key := range u.nlri {
				nl = append(nl, wire.NLRI{Prefix: v4Prefix(key)})
			}
			// The decoded UPDATE of tester i (the RIB does not retain it).
			a = t.attrs[u.group]
			a.NextHop = rrClientAddr(i)
			a.Set(wire.AttrNextHop)
			if _, _, err := r.Update(ids[i], wire.IPv4Unicast, nl, &a); err != nil {
				tb.Fatal(err)
			}
			if n++; n%rrDrainEvery == 0 {
				drain()
			}
		}
	}
	drain()
	return announced
}

// rrLag orders the testers in a skewed load: tester 1 first, then 0, 3, 2.
var rrLag = [rrTesters]int{1, 0, 3, 2}

func writeHeapProfile(tb testing.TB, file string) {
	runtime.GC()
	fh, err := os.Create(file)
	if err != nil {
		tb.Fatal(err)
	}
	defer fh.Close()
	if err := pprof.Lookup("heap").WriteTo(fh, 0); err != nil {
		tb.Fatal(err)
	}
}

// gcCPU reads the runtime's cumulative GC and user-code CPU estimates.
func gcCPU() (gc, total float64) {
	s := []metrics.Sample{{Name: "/cpu/classes/gc/total:cpu-seconds"}, {Name: "/cpu/classes/user:cpu-seconds"}}
	metrics.Read(s)
	gc = s[0].Value.Float64()
	return gc, gc + s[1].Value.Float64()
}

// BenchmarkRRTable is bench/rr's `table` scenario inside the RIB: 4 route-
// reflector clients each load the real 577k-prefix table with their own next
// hop, a fifth client receives the reflected best paths; Drain every 512
// UPDATEs. skew=2000 runs the testers 2,000 UPDATEs apart (see rrLoad),
// as they race in bench/rr, without forwarding state. Metrics: ns/path, bytes/path (live heap after GC, per stored
// path), allocs/path and alloc-bytes/path (allocation churn), cpu-ns/path (process CPU time, steadier than wall
// time on a shared machine), gc-cpu-% (the GC's share of the CPU the process
// spent, runtime/metrics estimates). fib=true keeps forwarding state as a
// node's agent does; fib=false is a reflector out of the forwarding path
// (Options.NoFIB), as the harness's kbgp DUT runs.
func BenchmarkRRTable(b *testing.B) {
	t := loadRRTable(b)
	for _, fib := range []bool{true, false} {
		b.Run(fmt.Sprintf("fib=%v", fib), func(b *testing.B) { benchRRTable(b, t, Options{NoFIB: !fib}, 0) })
	}
	// The testers 2,000 UPDATEs apart, as bench/rr's sessions race.
	b.Run("skew=2000", func(b *testing.B) { benchRRTable(b, t, Options{NoFIB: true}, 2000) })
}

func benchRRTable(b *testing.B, t *rrTable, o Options, skew int) {
	paths := t.prefixes * rrTesters
	var perPath, allocs, allocBytes, gcFrac float64
	var cpu time.Duration
	var st Stats
	var exportSets, announced int
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		base := heapInUse()
		var m0, m1 runtime.MemStats
		runtime.ReadMemStats(&m0)
		g0, c0 := gcCPU()
		r, ids := rrSetupOpts(b, o)
		b.StartTimer()
		cpu0 := cpuTime()
		got := rrLoad(b, r, ids, t, skew)
		cpu += cpuTime() - cpu0
		b.StopTimer()
		announced = got
		runtime.ReadMemStats(&m1)
		g1, c1 := gcCPU()
		sent := 0
		r.AdjRIBOut(ids[rrTesters], wire.IPv4Unicast, func(ExportChange) bool { sent++; return true })
		if got < t.prefixes || sent != t.prefixes {
			b.Fatalf("monitor got %d announcements and has %d routes, want %d", got, sent, t.prefixes)
		}
		perPath = float64(heapInUse()-base) / float64(paths)
		allocs = float64(m1.Mallocs-m0.Mallocs) / float64(paths)
		allocBytes = float64(m1.TotalAlloc-m0.TotalAlloc) / float64(paths)
		if c1 > c0 {
			gcFrac = (g1 - g0) / (c1 - c0)
		}
		st = r.Stats()
		exportSets = 0
		for _, s := range r.intern.sets {
			if s != nil && s.Attrs.Has(wire.AttrClusterList) {
				exportSets++ // the reflected copies (the clients send no CLUSTER_LIST)
			}
		}
		if st.Paths != paths {
			b.Fatalf("stored %d paths, want %d", st.Paths, paths)
		}
		if f := os.Getenv("KBGP_RIB_HEAPPROFILE"); f != "" {
			// The live heap with the table loaded (go test's -memprofile
			// is written after the RIB is gone).
			writeHeapProfile(b, f)
		}
		runtime.KeepAlive(r)
		b.StartTimer()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(paths), "ns/path")
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N)/float64(paths), "cpu-ns/path")
	b.ReportMetric(perPath, "bytes/path")
	b.ReportMetric(allocs, "allocs/path")
	b.ReportMetric(allocBytes, "alloc-bytes/path")
	b.ReportMetric(100*gcFrac, "gc-cpu-%")
	b.ReportMetric(float64(st.AttrSets), "attrsets")
	b.ReportMetric(float64(exportSets), "export-sets")
	b.ReportMetric(float64(announced)/float64(t.prefixes), "announcements/prefix")
}
