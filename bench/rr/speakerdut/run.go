// Package speakerdut is the "kbgp" benchmark DUT: kbgp's BGP speaker
// (internal/bgp/speaker) alone as a route reflector, with nothing else
// linked in, so that its memory is the speaker's and not the harness's.
// cmd/kbgp-speaker is its binary.
package speakerdut

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"runtime/metrics"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/kbgp/kbgp/internal/bgp/fsm"
	"github.com/kbgp/kbgp/internal/bgp/speaker"
	"github.com/kbgp/kbgp/internal/bgp/wire"
	"github.com/kbgp/kbgp/internal/rib"
)

// Config is the DUT's JSON configuration (dut.GoConfig writes it).
type Config struct {
	Addr    netip.Addr   `json:"addr"`
	AS      uint32       `json:"as"`
	Clients []netip.Addr `json:"clients"`
	// Port is the BGP port to listen on (default 179; tests use others).
	Port uint16 `json:"port,omitempty"`
	// Profile is a directory for cpu.pprof and heap.pprof.
	Profile string `json:"profile,omitempty"`
}

// Listen is the address the DUT listens on.
func (c *Config) Listen() netip.AddrPort {
	if c.Port == 0 {
		return netip.AddrPortFrom(c.Addr, 179)
	}
	return netip.AddrPortFrom(c.Addr, c.Port)
}

// Run runs kbgp's speaker (internal/bgp/speaker) as the route reflector
// until ctx ends: listening on cfg.Addr:179, cluster ID cfg.Addr, every
// client a passive iBGP route-reflector client, no FIB. With cfg.Profile it
// writes cpu.pprof (the whole run), heap.pprof (at the end), and
// peak-heap.pprof and peak-heap.txt (the runtime's memory classes) at the
// largest live heap there.
func Run(ctx context.Context, cfg Config) (err error) {
	stopCPU := func() error { return nil }
	if cfg.Profile != "" {
		f, err := os.Create(filepath.Join(cfg.Profile, "cpu.pprof"))
		if err != nil {
			return fmt.Errorf("kbgp DUT: %w", err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return fmt.Errorf("kbgp DUT: %w", err)
		}
		stopCPU = func() error {
			pprof.StopCPUProfile()
			return f.Close()
		}
		defer stopCPU()
	}
	sp, err := speaker.New(ctx, speaker.Config{
		LocalAS:  cfg.AS,
		RouterID: cfg.Addr,
		Listen:   []netip.AddrPort{cfg.Listen()},
		// A reflector out of the forwarding path, as the other DUTs are
		// configured (BIRD without a kernel protocol, FRR with `bgp
		// no-rib`, GoBGP without zebra): no forwarding state.
		RIB: rib.Options{ClusterID: cfg.Addr, NoFIB: true},
	})
	if err != nil {
		return fmt.Errorf("kbgp DUT: %w", err)
	}
	defer sp.Close()
	start := time.Now()
	for _, c := range cfg.Clients {
		pc := speaker.PeerConfig{
			Session: fsm.Config{
				PeerAddr: c,
				PeerPort: cfg.Port,
				PeerAS:   cfg.AS,
				Passive:  true,
				Families: []wire.Family{wire.IPv4Unicast},
			},
			// RFC 4456 §6: routes from a client are reflected to all other
			// clients.
			RRClient: true,
		}
		if err := sp.AddPeer(ctx, pc); err != nil {
			return fmt.Errorf("kbgp DUT: add client %s: %w", c, err)
		}
	}
	fmt.Fprintf(os.Stderr, "kbgp DUT: %d peers configured in %v\n", len(cfg.Clients), time.Since(start).Round(time.Millisecond))
	if cfg.Profile != "" {
		go peakHeap(ctx, filepath.Join(cfg.Profile, "peak-heap.pprof"))
	}
	<-ctx.Done()
	if cfg.Profile != "" {
		if err := stopCPU(); err != nil {
			return fmt.Errorf("kbgp DUT: cpu profile: %w", err)
		}
		stopCPU = func() error { return nil }
		// The RIB is still full here: the heap profile shows what holds it.
		return writeHeap(filepath.Join(cfg.Profile, "heap.pprof"))
	}
	return nil
}

func writeHeap(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("kbgp DUT: %w", err)
	}
	defer f.Close()
	// No runtime.GC first: on a large heap under load it takes seconds, and
	// the profile's in-use numbers are as of the last GC anyway.
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		return fmt.Errorf("kbgp DUT: heap profile: %w", err)
	}
	return nil
}

// peakHeap writes a heap profile to path each time the live heap (as of
// the last GC) grows 10% past the largest seen, until ctx ends: what held
// the memory at the peak, which the profile at the end no longer shows.
func peakHeap(ctx context.Context, path string) {
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	var peak uint64
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		metrics.Read(sample)
		if live := sample[0].Value.Uint64(); live > peak+peak/10 {
			peak = live
			if err := writeHeap(path); err != nil {
				fmt.Fprintln(os.Stderr, err)
				return
			}
			if err := writeMemClasses(strings.TrimSuffix(path, ".pprof") + ".txt"); err != nil {
				fmt.Fprintln(os.Stderr, err)
				return
			}
		}
	}
}

// writeMemClasses writes the runtime's memory classes (where the process's
// memory is: heap objects, free heap, stacks, runtime metadata) beside a
// heap profile.
func writeMemClasses(path string) error {
	var samples []metrics.Sample
	for _, d := range metrics.All() {
		if strings.HasPrefix(d.Name, "/memory/classes/") || d.Name == "/gc/heap/goal:bytes" || d.Name == "/gc/heap/live:bytes" || d.Name == "/sched/goroutines:goroutines" {
			samples = append(samples, metrics.Sample{Name: d.Name})
		}
	}
	metrics.Read(samples)
	var b strings.Builder
	for _, s := range samples {
		if s.Value.Kind() == metrics.KindUint64 {
			fmt.Fprintf(&b, "%-60s %12d\n", s.Name, s.Value.Uint64())
		}
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}
