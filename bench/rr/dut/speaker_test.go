package dut

import (
	"context"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSpeakerDUT runs the kbgp DUT as the harness does, from the binaries
// BuildSpeaker makes: the plain (measured) build runs from its text config
// and refuses to profile; the profile build writes the CPU and heap
// profiles on SIGTERM.
func TestSpeakerDUT(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("needs the go command to build cmd/kbgp-speaker")
	}
	if testing.Short() {
		t.Skip("builds cmd/kbgp-speaker twice")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	bins := t.TempDir()
	plain, prof := filepath.Join(bins, "kbgp-speaker"), filepath.Join(bins, "kbgp-speaker-profile")
	if err := BuildSpeaker(ctx, "..", plain, false); err != nil {
		t.Fatal(err)
	}
	if err := BuildSpeaker(ctx, "..", prof, true); err != nil {
		t.Fatal(err)
	}
	const port = 41795
	setup := func(bin string, profile bool) Setup {
		return Setup{Addr: netip.MustParseAddr("127.0.0.1"), AS: 64512, Port: port, Dir: t.TempDir(), Speaker: bin,
			Profile: profile, Clients: []netip.Addr{netip.MustParseAddr("127.0.3.1"), netip.MustParseAddr("127.0.3.2")}}
	}
	start := func(t *testing.T, s Setup) DUT {
		d, err := New("kbgp")
		if err != nil {
			t.Fatal(err)
		}
		if err := d.Start(ctx, s); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = d.Stop() })
		return d
	}

	t.Run("plain", func(t *testing.T) {
		s := setup(plain, false)
		d := start(t, s)
		if err := WaitListening(ctx, port, 10*time.Second); err != nil {
			t.Fatal(err, Check(d, s.Dir))
		}
		u, err := Measure(d.PIDs())
		if err != nil || u.PeakRSS <= 0 {
			t.Fatalf("Measure = %+v, %v", u, err)
		}
		t.Logf("idle kbgp-speaker with %d clients: VmHWM %d KiB", len(s.Clients), u.PeakRSS>>10)
		if err := d.Stop(); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(filepath.Join(s.Dir, "kbgp.conf")); err != nil {
			t.Errorf("the config is not kept: %v", err)
		}
		if b, _ := os.ReadFile(filepath.Join(s.Dir, "kbgp.out")); !strings.Contains(string(b), "2 peers configured") {
			t.Errorf("kbgp.out = %q, want the 2 clients configured", b)
		}
	})

	t.Run("plain refuses to profile", func(t *testing.T) {
		s := setup(plain, true)
		d := start(t, s)
		deadline := time.Now().Add(10 * time.Second)
		for Check(d, s.Dir) == nil {
			if time.Now().After(deadline) {
				t.Fatal("the plain build still runs with a profile directory")
			}
			time.Sleep(20 * time.Millisecond)
		}
		b, _ := os.ReadFile(filepath.Join(s.Dir, "kbgp.out"))
		if !strings.Contains(string(b), "-tags profile") {
			t.Errorf("kbgp.out = %q, want it to say how to build with profiling", b)
		}
		if _, err := os.Stat(filepath.Join(s.Dir, "cpu.pprof")); err == nil {
			t.Error("the plain build wrote cpu.pprof")
		}
	})

	t.Run("profile", func(t *testing.T) {
		s := setup(prof, true)
		d := start(t, s)
		if err := WaitListening(ctx, port, 10*time.Second); err != nil {
			t.Fatal(err, Check(d, s.Dir))
		}
		if err := d.Stop(); err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"cpu.pprof", "heap.pprof"} {
			if fi, err := os.Stat(filepath.Join(s.Dir, name)); err != nil || fi.Size() == 0 {
				t.Errorf("%s: %v (want a non-empty profile)", name, err)
			}
		}
	})
}
