package lab

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// requireLab skips unless the test can build a lab: root, iproute2,
// iptables and FRR.
func requireLab(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("skipping: the lab needs root (network namespaces, iptables); run as root, e.g. `make test`")
	}
	if err := RequireRoot(); err != nil {
		t.Skipf("skipping: %v", err)
	}
	if testing.Short() {
		t.Skip("skipping the lab end-to-end test in -short mode")
	}
}

// buildKBGP builds the kbgp binary into dir.
func buildKBGP(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "kbgp")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/kbgp")
	cmd.Dir = filepath.Join("..", "..")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/kbgp: %v\n%s", err, out)
	}
	return bin
}

// TestLabUpCheckDown runs `kbgp lab up`, `check`, `exec` and `down` on the
// default (seed) topology with a per-run namespace prefix and directory,
// and fails if anything is left behind.
func TestLabUpCheckDown(t *testing.T) {
	requireLab(t)
	t.Parallel()
	tmp := t.TempDir()
	// FRR drops to user frr: the lab directory must be reachable.
	for _, d := range []string{filepath.Dir(tmp), tmp} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	bin := buildKBGP(t, tmp)
	dir := filepath.Join(tmp, "lab")
	prefix := fmt.Sprintf("kbgpt%d-", os.Getpid())
	kbgp := func(args ...string) (string, error) {
		cmd := exec.Command(bin, append([]string{"lab", "--dir", dir, "--prefix", prefix}, args...)...)
		out, err := cmd.CombinedOutput()
		t.Logf("kbgp lab %s:\n%s", strings.Join(args, " "), out)
		return string(out), err
	}
	t.Cleanup(func() {
		if _, err := os.Stat(statePath(dir)); err == nil {
			_, _ = kbgp("down")
		}
		leftovers(t, prefix, tmp) // reports, and removes, anything left
	})

	t0 := time.Now()
	out, err := kbgp("up")
	if err != nil {
		t.Fatalf("lab up: %v", err)
	}
	t.Logf("lab up took %s", time.Since(t0).Round(time.Millisecond))
	if !strings.Contains(out, filepath.Join(dir, "topology.svg")) {
		t.Errorf("lab up did not print the picture's path")
	}
	svg, err := os.ReadFile(filepath.Join(dir, "topology.svg"))
	if err != nil || !bytes.Contains(svg, []byte("Established")) {
		t.Errorf("topology.svg missing or shows no Established session: %v", err)
	}
	if out, err := kbgp("up"); err == nil || !strings.Contains(out, "already exists") {
		t.Errorf("a second lab up: err %v, want a refusal saying the lab already exists", err)
	}
	// Routes propagate a moment after the sessions come up.
	var checkOut string
	deadline := time.Now().Add(30 * time.Second)
	for {
		checkOut, err = kbgp("check", "-n", "5")
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Second)
	}
	if err != nil {
		t.Errorf("lab check failed: %v", err)
	}
	for _, want := range []string{"web-ubuntu-3-1", "svc/web-local", "IPv4 BGP status", "192.168.0.128/26"} {
		if !strings.Contains(checkOut, want) {
			t.Errorf("lab check output lacks %q", want)
		}
	}
	if out, err := kbgp("exec", "ubuntu-2", "--", "kbgp", "node", "status"); err != nil || !strings.Contains(out, "172.16.30.254") {
		t.Errorf("lab exec ubuntu-2 -- kbgp node status: %v", err)
	}
	if out, err := kbgp("exec", "router", "--", "vtysh", "-c", "show bgp summary"); err != nil || !strings.Contains(out, "ubuntu-2") {
		t.Errorf("lab exec router -- vtysh: %v", err)
	}
	// Scenarios that must lose nothing on the seed topology.
	for _, sc := range []string{"agent-restart", "masquerade", "ipvs-asymmetric"} {
		if out, err := kbgp("scenario", sc, "--before", "1s", "--after", "5s"); err != nil || !strings.Contains(out, "as expected") {
			t.Errorf("lab scenario %s: %v", sc, err)
		}
	}
	if _, err := kbgp("scenario", "no-such"); err == nil {
		t.Errorf("lab scenario no-such: no error")
	}
	s, err := LoadState(dir) // after agent-restart replaced an agent
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kbgp("down"); err != nil {
		t.Errorf("lab down: %v", err)
	}
	for _, p := range s.Processes {
		if p.alive() {
			t.Errorf("process %d (%s on %s) still runs after lab down", p.PID, p.Role, p.Host)
		}
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("lab down left %s: %v", dir, err)
	}
}

// leftovers fails the test for, and removes, namespaces named with prefix
// and processes whose command line mentions dir (the binary and the lab
// directory are under it).
func leftovers(t *testing.T, prefix, dir string) {
	ents, _ := os.ReadDir("/run/netns")
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), prefix) {
			t.Errorf("namespace %s left behind", e.Name())
			_ = exec.Command("ip", "netns", "delete", e.Name()).Run()
		}
	}
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil || !bytes.Contains(b, []byte(dir)) {
			continue
		}
		pid := strings.Split(p, "/")[2]
		t.Errorf("process %s left behind: %s", pid, bytes.ReplaceAll(b, []byte{0}, []byte{' '}))
		_ = exec.Command("kill", "-9", pid).Run()
	}
}
