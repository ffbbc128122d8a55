package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kbgp/kbgp/bench/rr/report"
)

// TestMain lets the test binary act as rrbench when the harness re-executes
// itself inside a namespace (_run, _dut-kbgp, _dut-null).
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && strings.HasPrefix(os.Args[1], "_") {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestQuick is the CI smoke test: the whole harness in --quick mode
// against every installed DUT and the null reflector. It checks that every
// run converged (every client got every route it must get) and that the
// results, table and plots are written; it asserts no times.
func TestQuick(t *testing.T) {
	if testing.Short() {
		t.Skip("the harness smoke run takes 1-2 minutes; run it without -short")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root (network namespaces)")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs iproute2's ip")
	}
	duts := []string{"null", "kbgp"}
	if _, err := exec.LookPath("go"); err == nil {
		// The harness builds kbgp, and gobgpd v4 from the module proxy.
		duts = append(duts, "kbgp-agent", "gobgp4")
	} else {
		t.Log("no go command to build kbgp and gobgpd v4: kbgp-agent and gobgp4 not benchmarked")
	}
	for name, bin := range map[string]string{"bird": "bird", "frr": "/usr/lib/frr/bgpd", "gobgp": "gobgpd"} {
		if _, err := exec.LookPath(bin); err == nil {
			duts = append(duts, name)
		} else {
			t.Logf("%s not installed: not benchmarked", name)
		}
	}
	out := t.TempDir()
	// FRR's daemons drop to user frr, which must reach the run directories:
	// t.TempDir and its parent are 0700.
	for _, d := range []string{out, filepath.Dir(out)} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := orchestrate(context.Background(), []string{"-quick", "-duts", strings.Join(duts, ","), "-out", out}); err != nil {
		t.Fatal(err)
	}
	js, _ := filepath.Glob(filepath.Join(out, "*-quick.json"))
	if len(js) != 1 {
		t.Fatalf("results files %v, want one", js)
	}
	rs, err := report.Read(js[0])
	if err != nil {
		t.Fatal(err)
	}
	// A third-party daemon that misses convergence within the quick run's
	// timeout is that daemon's result, not a harness failure (GoBGP 4 once
	// left one of 7,980 prefixes undelivered to one of 20 clients): it is
	// logged. kbgp's DUTs and the null reflector must converge, and any
	// other error (a daemon that does not start, a config it rejects)
	// fails the test for every DUT.
	thirdParty := map[string]bool{"bird": true, "frr": true, "gobgp": true, "gobgp4": true}
	seen := map[string]int{}
	for _, r := range rs {
		seen[r.Scenario]++
		if thirdParty[r.DUT] && strings.Contains(r.Error, "not converged after") {
			t.Logf("%s %s n=%d: third-party DUT did not converge (not a harness failure): %s", r.Scenario, r.DUT, r.N, r.Error)
			continue
		}
		if r.Error != "" {
			t.Errorf("%s %s n=%d: %s", r.Scenario, r.DUT, r.N, r.Error)
			continue
		}
		if r.ConvergenceS <= 0 || r.PeakRSSBytes <= 0 || r.Routes == 0 {
			t.Errorf("%s %s n=%d: convergence %v s, peak RSS %d, routes %d: want all > 0", r.Scenario, r.DUT, r.N, r.ConvergenceS, r.PeakRSSBytes, r.Routes)
		}
	}
	for _, s := range []string{"k8s", "churn", "table", "sessions"} {
		if seen[s] != len(duts) {
			t.Errorf("scenario %s: %d results, want one per DUT (%d)", s, seen[s], len(duts))
		}
	}
	pngs, _ := filepath.Glob(filepath.Join(out, "*-quick", "*.png"))
	if len(pngs) != 8 {
		t.Errorf("%d plots, want 8 (4 scenarios x time, memory)", len(pngs))
	}
	if _, err := os.Stat(strings.TrimSuffix(js[0], ".json") + ".md"); err != nil {
		t.Error(err)
	}
}
