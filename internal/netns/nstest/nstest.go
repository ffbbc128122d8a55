// Package nstest gives tests throw-away network namespaces that are always
// cleaned up: every process started in one is killed by PID and the
// namespace is deleted in t.Cleanup, also when the test fails.
//
//	func TestX(t *testing.T) {
//		ns := nstest.New(t, "fib") // skips unless root with ip(8)
//		ns.Start(ns.Command(ctx, "bird", "-f", "-c", conf))
//		...
//	}
package nstest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kbgp/kbgp/internal/netns"
)

// Prefix starts the name of every namespace nstest creates, so leftovers
// from a crashed test run are recognisable (`ip netns list | grep kbgpt-`).
const Prefix = "kbgpt-"

// NS is a namespace owned by one test.
type NS struct {
	*netns.NS
	t testing.TB

	mu   sync.Mutex // guards cmds
	cmds []*exec.Cmd
	// waited closes when the i-th cmd's Wait returned.
	waited []chan struct{}
}

// RequireRoot skips the test unless it runs as root and ip(8) is installed,
// which every namespace test needs.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("skipping: needs root to create network namespaces (run the tests as root, e.g. `make test`)")
	}
	RequireBinaries(t, "ip")
}

// RequireBinaries skips the test unless every named binary is on $PATH.
func RequireBinaries(t testing.TB, names ...string) {
	t.Helper()
	var missing []string
	for _, n := range names {
		if _, err := exec.LookPath(n); err != nil {
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 {
		t.Skipf("skipping: needs %s on $PATH (Debian: apt-get install iproute2 bird2 frr gobgpd)", strings.Join(missing, ", "))
	}
}

// New creates a namespace named Prefix+prefix-PID-N, skipping the test
// unless it runs as root (see [RequireRoot]). Cleanup kills the processes
// started through [NS.Start] and then every other process still inside the
// namespace (daemons that forked), each by PID, and deletes the namespace.
func New(t testing.TB, prefix string) *NS {
	t.Helper()
	RequireRoot(t)
	ns, err := netns.Add(netns.Unique(Prefix + prefix))
	if err != nil {
		t.Fatalf("nstest: %v", err)
	}
	n := &NS{NS: ns, t: t}
	t.Cleanup(n.cleanup)
	return n
}

// Command is [netns.NS.Command] with the test's context; start it with
// [NS.Start] so it is killed on cleanup.
func (n *NS) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	if ctx == nil {
		ctx = context.Background()
	}
	return n.NS.Command(ctx, name, args...)
}

// Start starts cmd (normally from [NS.Command]) and tracks it: cleanup
// kills it by PID and waits for it. It fails the test if cmd cannot start.
func (n *NS) Start(cmd *exec.Cmd) {
	n.t.Helper()
	// Own process group, so a kill also reaches children that did not fork
	// away (ip netns exec execs the target directly, so the PID is the
	// target's).
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
	if err := cmd.Start(); err != nil {
		n.t.Fatalf("nstest: start %s in %q: %v", strings.Join(cmd.Args, " "), n.Name, err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait() // reaps; the exit status is the test's business via cmd.ProcessState
		close(done)
	}()
	n.mu.Lock()
	n.cmds = append(n.cmds, cmd)
	n.waited = append(n.waited, done)
	n.mu.Unlock()
}

// Run runs name with args in the namespace, fails the test with the
// combined output if it fails, and returns the output.
func (n *NS) Run(name string, args ...string) string {
	n.t.Helper()
	out, err := n.NS.Command(context.Background(), name, args...).CombinedOutput()
	if err != nil {
		n.t.Fatalf("nstest: %s %s in %q: %v\n%s", name, strings.Join(args, " "), n.Name, err, out)
	}
	return string(out)
}

func (n *NS) cleanup() {
	n.mu.Lock()
	cmds, waited := n.cmds, n.waited
	n.cmds, n.waited = nil, nil
	n.mu.Unlock()

	for i, c := range cmds {
		select {
		case <-waited[i]:
			continue // already exited and reaped
		default:
		}
		pid := c.Process.Pid
		_ = syscall.Kill(-pid, syscall.SIGKILL) // its process group (Setpgid above)
		_ = c.Process.Kill()
		select {
		case <-waited[i]:
		case <-time.After(5 * time.Second):
			n.t.Errorf("nstest: process %d (%s) in %q did not exit after SIGKILL", pid, c.Path, n.Name)
		}
	}
	// Daemons that forked away (bird, bgpd -d) are still in the namespace.
	if err := n.killRemaining(); err != nil {
		n.t.Errorf("nstest: %v", err)
	}
	if err := n.Delete(); err != nil {
		n.t.Errorf("nstest: %v", err)
	}
}

// killRemaining kills, by PID, every process left in the namespace and
// waits up to 5 s for them to be gone.
func (n *NS) killRemaining() error {
	deadline := time.Now().Add(5 * time.Second)
	for {
		pids, err := n.Pids()
		if err != nil {
			return err
		}
		if len(pids) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("processes %v still in namespace %q 5s after SIGKILL", pids, n.Name)
		}
		for _, p := range pids {
			if p != os.Getpid() {
				_ = syscall.Kill(p, syscall.SIGKILL)
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
}
