//go:build profile

package speakerdut

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestRunProfile (go test -tags profile): a profile build writes the CPU,
// heap and peak-heap profiles, and the memory classes, into the directory.
func TestRunProfile(t *testing.T) {
	if !Profiling {
		t.Fatal("Profiling is false with the profile build tag")
	}
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		errc <- Run(ctx, Config{Addr: netip.MustParseAddr("127.0.0.1"), AS: 64512, Port: 41794, Profile: dir,
			Clients: []netip.Addr{netip.MustParseAddr("127.0.1.1")}})
	}()
	// The first peak-heap sample comes at the first tick after a GC.
	deadline := time.Now().Add(10 * time.Second)
	for {
		runtime.GC()
		if _, err := os.Stat(filepath.Join(dir, "peak-heap.txt")); err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if runtime.MemProfileRate != 16<<10 {
		t.Errorf("MemProfileRate = %d, want %d", runtime.MemProfileRate, 16<<10)
	}
	for _, name := range []string{"cpu.pprof", "heap.pprof", "peak-heap.pprof", "peak-heap.txt"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Error(err)
			continue
		}
		if len(b) == 0 {
			t.Errorf("%s is empty", name)
		}
		if name == "peak-heap.txt" && !strings.Contains(string(b), "/gc/heap/live:bytes") {
			t.Errorf("peak-heap.txt lacks the live heap:\n%s", b)
		}
	}
}
