package dut

import (
	"context"
	"flag"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kbgp/kbgp/bench/rr/load"
	"github.com/kbgp/kbgp/bench/rr/scenario"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func testSetup(dir string) Setup {
	return Setup{
		Addr:    netip.MustParseAddr("10.0.0.1"),
		AS:      64512,
		Clients: []netip.Addr{netip.MustParseAddr("10.100.0.2"), netip.MustParseAddr("10.100.0.3"), netip.MustParseAddr("10.100.0.4")},
		Dir:     dir,
	}
}

// TestConfigGolden: the generated configurations are exactly the reviewed
// ones (run with -update after an intended change).
func TestConfigGolden(t *testing.T) {
	s := testSetup("/run/dir")
	kb, err := GoDUTConfig(s)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, got string }{
		{"bird.conf", BIRDConfig(s)},
		{"bgpd.conf", FRRConfig(s)},
		{"gobgpd.toml", GoBGPConfig(s)},
		{"kbgp.conf", string(kb)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join("testdata", tc.name+".golden")
			if *update {
				if err := os.WriteFile(path, []byte(tc.got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if tc.got != string(want) {
				t.Errorf("%s differs from %s:\n%s", tc.name, path, tc.got)
			}
		})
	}
}

// TestConfigAccepted: each daemon's own config checker accepts the
// generated file (skipped where the daemon is not installed).
func TestConfigAccepted(t *testing.T) {
	dir := t.TempDir()
	s := testSetup(dir)
	for _, tc := range []struct {
		name, file, text, bin string
		args                  []string
	}{
		{"bird", "bird.conf", BIRDConfig(s), "bird", []string{"-p", "-c"}},
		{"gobgp", "gobgpd.toml", GoBGPConfig(s), "gobgpd", []string{"-d", "-t", "toml", "-f"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := exec.LookPath(tc.bin); err != nil {
				t.Skipf("%s not installed", tc.bin)
			}
			path := filepath.Join(dir, tc.file)
			if err := os.WriteFile(path, []byte(tc.text), 0o644); err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command(tc.bin, append(tc.args, path)...).CombinedOutput()
			if err != nil {
				t.Fatalf("%s rejects the generated config: %v\n%s", tc.bin, err, out)
			}
		})
	}
}

func TestNew(t *testing.T) {
	for _, name := range Names {
		d, err := New(name)
		if err != nil || d.Name() != name {
			t.Errorf("New(%q) = %v, %v", name, d, err)
		}
	}
	if _, err := New("quagga"); err == nil || !strings.Contains(err.Error(), "kbgp, kbgp-agent, bird") {
		t.Errorf("New(quagga) error %v should list the DUTs", err)
	}
}

func TestMeasureSelf(t *testing.T) {
	// Burn a little CPU so the counters move.
	x := 0
	for start := time.Now(); time.Since(start) < 50*time.Millisecond; x++ {
	}
	_ = x
	u, err := Measure([]int{os.Getpid()})
	if err != nil {
		t.Fatal(err)
	}
	if u.CPU <= 0 || u.PeakRSS < 1<<20 || u.RSS <= 0 || u.RSS > u.PeakRSS {
		t.Errorf("Measure(self) = %+v: want CPU > 0 and 0 < RSS <= peak RSS (>= 1 MiB)", u)
	}
	if _, err := Measure([]int{1 << 30}); err == nil {
		t.Error("Measure of a missing pid: no error")
	}
}

func TestParseStat(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     time.Duration
		ok       bool
	}{
		{"plain", "42 (bird) S 1 42 42 0 -1 4194560 100 0 0 0 150 50 0 0 20 0 1 0 100 1000 200", 2 * time.Second, true},
		{"spaces and parens in comm", "7 (a) b) c) R 1 7 7 0 -1 0 0 0 0 0 3 4 0 0", 70 * time.Millisecond, true},
		{"no comm", "42 bird S 1", 0, false},
		{"short", "42 (bird) S 1 2 3", 0, false},
		{"not a number", "42 (bird) S 1 42 42 0 -1 4194560 100 0 0 0 x 50", 0, false},
		{"empty", "", 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseStat(tc.in)
			if (err == nil) != tc.ok || got != tc.want {
				t.Errorf("parseStat(%q) = %v, %v; want %v, ok=%v", tc.in, got, err, tc.want, tc.ok)
			}
		})
	}
}

func FuzzParseStat(f *testing.F) {
	f.Add("42 (bird) S 1 42 42 0 -1 4194560 100 0 0 0 150 50 0 0 20 0 1 0 100 1000 200")
	f.Add("7 (a) b) R 1 7 7 0 -1 0 0 0 0 0 3 4")
	f.Fuzz(func(t *testing.T, s string) {
		d, err := parseStat(s)
		if err == nil && d < 0 {
			t.Errorf("parseStat(%q) = %v, negative", s, d)
		}
	})
}

// TestGoDUTs runs the Go DUTs in-process on loopback (no root needed) with
// a small k8s workload and its churn phase: every client must get every
// other client's routes, lose the churned ones and get them back.
func TestGoDUTs(t *testing.T) {
	for _, tc := range []struct {
		name string
		run  func(context.Context, GoConfig) error
		port uint16
	}{
		{"null", RunNull, 41791},
		{"kbgp", RunKBGP, 41792},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const n = 6
			w, err := scenario.K8s(n, true)
			if err != nil {
				t.Fatal(err)
			}
			cfg := GoConfig{Addr: netip.MustParseAddr("127.0.0.1"), AS: scenario.AS, Port: tc.port}
			for i, c := range w.Clients {
				c.Addr = netip.AddrFrom4([4]byte{127, 0, 1, byte(i + 1)})
				cfg.Clients = append(cfg.Clients, c.Addr)
			}
			ctx, cancel := context.WithCancel(context.Background())
			errc := make(chan error, 1)
			go func() { errc <- tc.run(ctx, cfg) }()
			defer func() {
				cancel()
				if err := <-errc; err != nil {
					t.Errorf("%s DUT: %v", tc.name, err)
				}
			}()
			r := &load.Run{DUT: netip.AddrPortFrom(cfg.Addr, tc.port), Index: w.Index, Clients: w.Clients}
			r.Start(ctx)
			defer r.Close()
			tm, err := r.Wait(ctx, r.T0(), 30*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			if tm.Converged < tm.Established/2 || tm.Converged <= 0 {
				t.Errorf("times %+v: converged must be positive and not long before the last session", tm)
			}
			_, prefixes, bad := r.Counts()
			if want := int64(n * (n - 1) * (1 + scenario.ServicesPerClient)); prefixes < want || bad != 0 {
				t.Errorf("clients received %d prefixes (%d undecodable), want at least %d", prefixes, bad, want)
			}
			if _, err := r.Churn(ctx, w.Churn, 30*time.Second); err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: converged in %v", tc.name, tm.Converged)
		})
	}
}
