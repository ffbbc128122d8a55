//go:build profile

package speakerdut

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"strings"
	"sync"
	"time"
)

// Profiling reports whether this build can write profiles (Config.Profile):
// this one, built with -tags profile, can.
const Profiling = true

// profile is a run's CPU profile and heap profiles in dir.
type profile struct {
	dir  string
	cpu  *os.File
	once sync.Once
	// peakDone is closed when watchPeak's goroutine has returned.
	peakDone chan struct{}
}

// startProfile starts the CPU profile into dir/cpu.pprof.
func startProfile(dir string) (*profile, error) {
	// Profile runs are not measured: sample every 16 KiB allocated (not
	// 512 KiB) so that the heap profiles resolve per-session structures.
	runtime.MemProfileRate = 16 << 10
	f, err := os.Create(filepath.Join(dir, "cpu.pprof"))
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("cpu profile %s: %w", f.Name(), err)
	}
	return &profile{dir: dir, cpu: f}, nil
}

// stopCPU stops the CPU profile and closes its file (once).
func (p *profile) stopCPU() error {
	var err error
	p.once.Do(func() {
		pprof.StopCPUProfile()
		if cerr := p.cpu.Close(); cerr != nil {
			err = fmt.Errorf("cpu profile: %w", cerr)
		}
	})
	return err
}

// abort stops the CPU profile of a run that failed.
func (p *profile) abort() { _ = p.stopCPU() }

// finish waits for watchPeak to end (ctx ended), stops the CPU profile and
// writes heap.pprof.
func (p *profile) finish() error {
	if p.peakDone != nil {
		<-p.peakDone
	}
	if err := p.stopCPU(); err != nil {
		return err
	}
	return writeHeap(filepath.Join(p.dir, "heap.pprof"))
}

func writeHeap(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	// No runtime.GC first: on a large heap under load it takes seconds, and
	// the profile's in-use numbers are as of the last GC anyway.
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		return fmt.Errorf("heap profile %s: %w", path, err)
	}
	return nil
}

// watchPeak starts a goroutine that writes peak-heap.pprof and
// peak-heap.txt each time the live heap (as of the last GC) grows 10% past
// the largest seen, until ctx ends: what held the memory at the peak, which
// the profile at the end no longer shows.
func (p *profile) watchPeak(ctx context.Context) {
	p.peakDone = make(chan struct{})
	go func() {
		defer close(p.peakDone)
		p.peakHeap(ctx)
	}()
}

func (p *profile) peakHeap(ctx context.Context) {
	path := filepath.Join(p.dir, "peak-heap.pprof")
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}, {Name: "/sched/goroutines:goroutines"}, {Name: "/memory/classes/heap/stacks:bytes"}}
	var peak, peakG uint64
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		metrics.Read(sample)
		if g := sample[1].Value.Uint64(); g > peakG+peakG/10 {
			// What the goroutines were doing at their largest number:
			// their stacks are part of the peak.
			peakG = g
			if err := writeGoroutines(filepath.Join(p.dir, "peak-goroutines.txt"), g, sample[2].Value.Uint64()); err != nil {
				fmt.Fprintln(os.Stderr, "kbgp DUT:", err)
				return
			}
		}
		if live := sample[0].Value.Uint64(); live > peak+peak/10 {
			peak = live
			if err := writeHeap(path); err != nil {
				fmt.Fprintln(os.Stderr, "kbgp DUT:", err)
				return
			}
			if err := writeMemClasses(strings.TrimSuffix(path, ".pprof") + ".txt"); err != nil {
				fmt.Fprintln(os.Stderr, "kbgp DUT:", err)
				return
			}
		}
	}
}

// writeGoroutines writes the goroutine profile, grouped by stack, with the
// count and the stack memory at the time.
func writeGoroutines(path string, n, stacks uint64) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	fmt.Fprintf(f, "# %d goroutines, %d bytes of stacks\n", n, stacks)
	return pprof.Lookup("goroutine").WriteTo(f, 1)
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
