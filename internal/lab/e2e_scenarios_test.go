package lab

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// testLab is a lab of its own (directory and namespace prefix) driven
// through the kbgp binary, removed with everything it created when the
// test ends.
type testLab struct {
	t                *testing.T
	bin, dir, prefix string
}

// startLab builds kbgp, runs `kbgp lab up -f examples/FILE` with a per-run
// directory and namespace prefix, waits until `lab check` passes, and
// registers the cleanup that runs `lab down` and fails the test for any
// namespace or process left behind.
func startLab(t *testing.T, file, tag string) *testLab {
	t.Helper()
	tmp := t.TempDir()
	// FRR drops to user frr: the lab directory must be reachable.
	for _, d := range []string{filepath.Dir(tmp), tmp} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	prefix := fmt.Sprintf("kbgpt%d%s-", os.Getpid(), tag)
	l := &testLab{t: t, bin: buildKBGP(t, tmp), dir: filepath.Join(tmp, "lab"), prefix: prefix}
	t.Cleanup(func() {
		if _, err := os.Stat(statePath(l.dir)); err == nil {
			if _, err := l.run("down"); err != nil {
				t.Errorf("lab down: %v", err)
			}
		}
		leftovers(t, prefix, tmp)
	})
	t0 := time.Now()
	if _, err := l.run("up", "-f", filepath.Join(examplesDir(), file)); err != nil {
		t.Fatalf("lab up -f %s: %v", file, err)
	}
	t.Logf("lab up -f %s took %s", file, time.Since(t0).Round(time.Millisecond))
	l.waitCheck()
	return l
}

// run runs `kbgp lab --dir DIR --prefix PREFIX ARGS...` and logs its
// output.
func (l *testLab) run(args ...string) (string, error) {
	cmd := exec.Command(l.bin, append([]string{"lab", "--dir", l.dir, "--prefix", l.prefix}, args...)...)
	out, err := cmd.CombinedOutput()
	l.t.Logf("kbgp lab %s:\n%s", strings.Join(args, " "), out)
	return string(out), err
}

// waitCheck runs `lab check` until it passes (routes propagate a moment
// after the sessions come up), failing the test after 30s.
func (l *testLab) waitCheck() {
	l.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := l.run("check", "-n", "5")
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			l.t.Fatalf("lab check: %v", err)
		}
		time.Sleep(time.Second)
	}
}

// scenario runs `lab scenario ARGS...` and fails the test unless it
// reports its expectation held and its output has every want.
func (l *testLab) scenario(args []string, want ...string) {
	l.t.Helper()
	out, err := l.run(append([]string{"scenario"}, args...)...)
	if err != nil || !strings.Contains(out, "as expected") {
		l.t.Errorf("lab scenario %s: %v", strings.Join(args, " "), err)
	}
	for _, w := range want {
		if !strings.Contains(out, w) {
			l.t.Errorf("lab scenario %s: output lacks %q", strings.Join(args, " "), w)
		}
	}
}

// TestLabScenarios runs the scenarios TestLabUpCheckDown does not, each
// lab in its own directory and namespaces, the labs in parallel:
// reflector-down (both modes) on two reflectors must lose no probe;
// reflector-down on the seed with graceful restart 10s and LLGR 60s
// (examples/seed-llgr.yaml) must lose none 10s past the restart time.
// RunScenario itself fails when a probe that must work is lost.
func TestLabScenarios(t *testing.T) {
	requireLab(t)
	t.Parallel()
	t.Run("two-reflectors", func(t *testing.T) {
		t.Parallel()
		l := startLab(t, "two-reflectors.yaml", "t")
		l.scenario([]string{"reflector-down", "--before", "1s", "--after", "8s", "--rate", "10"},
			"SIGKILL kbgp agent on reflector ubuntu-2", "undone:")
		// Its own pods are cut off; every other pod must lose nothing.
		l.scenario([]string{"reflector-down", "--mode", "links", "--before", "1s", "--after", "6s", "--rate", "10"},
			"links of reflector ubuntu-2 down", "undone:")
		// The links are up again and the routes the kernel dropped with
		// them are back: every pod answers.
		l.waitCheck()
		l.scenario([]string{"ipvs-asymmetric", "--before", "1s", "--after", "3s", "--rate", "10"})
	})
	t.Run("seed-llgr", func(t *testing.T) {
		t.Parallel()
		l := startLab(t, "seed-llgr.yaml", "l")
		if out, err := l.run("exec", "router", "--", "vtysh", "-c", "show bgp neighbors"); err != nil || !strings.Contains(out, "Long-lived Graceful Restart: advertised and received") {
			t.Errorf("router: LLGR not negotiated with the reflector: %v", err)
		}
		// Graceful restart is 10s: probes at t+20s still succeed because
		// the peers keep the routes as LLGR_STALE (60s).
		l.scenario([]string{"reflector-down", "--before", "1s", "--after", "20s", "--rate", "10"},
			"nothing lost in 20s", "restart time 10s", "LLGR_STALE for 1m0s")
	})
}
