// Package netns creates and uses named Linux network namespaces from Go.
//
// A namespace made by [Add] is the same object `ip netns add NAME` makes: a
// file under /run/netns bind-mounted onto a namespace, so other tools (`ip
// netns exec NAME`, `ip -n NAME`, BIRD, FRR, GoBGP started through
// [NS.Command]) see it too. The package creates namespaces with the ip(8)
// binary rather than by unsharing a Go thread: iproute2 also makes
// /run/netns a shared mount point so the namespace survives in other mount
// namespaces, and no Go thread is ever left in a foreign namespace.
//
// Code that must run inside the namespace in-process (opening a netlink
// socket, writing /proc/sys) uses [NS.Do], which runs a function on a locked
// OS thread switched into the namespace and switches it back afterwards.
//
// Used by the fib tests, the speaker interop tests and the lab; tests should
// prefer the nstest subpackage, which also cleans up.
package netns

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/vishvananda/netlink"
	vnetns "github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Dir is where named network namespaces are bind-mounted (iproute2's
// NETNS_RUN_DIR).
const Dir = "/run/netns"

// NS is a named network namespace under [Dir]. The zero value is not usable;
// get one from [Add] or [Open].
type NS struct {
	// Name is the namespace name, as used by `ip netns exec NAME`.
	Name string
}

var counter atomic.Uint64

// Unique returns a namespace or link name that is unique across processes
// and calls: prefix, then the process ID and a per-process counter, both in
// base 36 ("fib-2n9c-1"). With a prefix of up to 6 bytes the result stays
// within IFNAMSIZ (15 bytes) for any PID below 36^5 and the first 36^2
// calls, so it is also usable as a link name.
func Unique(prefix string) string {
	n := counter.Add(1)
	return prefix + "-" + strconv.FormatInt(int64(os.Getpid()), 36) + "-" + strconv.FormatUint(n, 36)
}

// Add creates the named network namespace name, exactly as `ip netns add
// name` does, and brings its loopback interface up. It fails if the
// namespace already exists.
func Add(name string) (*NS, error) {
	if err := validName(name); err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(Dir, name)); err == nil {
		return nil, fmt.Errorf("netns: add %q: %s already exists", name, filepath.Join(Dir, name))
	}
	if err := run("ip", "netns", "add", name); err != nil {
		return nil, fmt.Errorf("netns: add %q: %w", name, err)
	}
	ns := &NS{Name: name}
	if err := run("ip", "-n", name, "link", "set", "lo", "up"); err != nil {
		// Do not leave a half-made namespace behind; report both failures.
		return nil, errors.Join(fmt.Errorf("netns: add %q: bring lo up: %w", name, err), ns.Delete())
	}
	return ns, nil
}

// Open returns the existing named namespace name.
func Open(name string) (*NS, error) {
	if err := validName(name); err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(Dir, name)); err != nil {
		return nil, fmt.Errorf("netns: open %q: %w", name, err)
	}
	return &NS{Name: name}, nil
}

func validName(name string) error {
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\x00") {
		return fmt.Errorf("netns: invalid namespace name %q (must be non-empty, no '/')", name)
	}
	return nil
}

// Path is the bind-mounted namespace file, e.g. /run/netns/NAME.
func (n *NS) Path() string { return filepath.Join(Dir, n.Name) }

// Delete removes the namespace name (`ip netns delete`). The kernel destroys
// the namespace, and every interface in it, once no process is left in it;
// use [NS.Pids] to find processes that keep it alive.
func (n *NS) Delete() error {
	if err := run("ip", "netns", "delete", n.Name); err != nil {
		return fmt.Errorf("netns: delete %q: %w", n.Name, err)
	}
	return nil
}

// Command returns a command that runs name with args inside the namespace,
// via `ip netns exec`. The caller starts it and owns the process.
func (n *NS) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", n.Name, name}, args...)...)
}

// Do runs fn on a locked OS thread switched into the namespace, then
// switches the thread back. File descriptors fn opens (netlink sockets,
// /proc/sys files) stay bound to the namespace after Do returns. fn must not
// start goroutines that expect to run in the namespace: only the calling
// thread is switched.
func (n *NS) Do(fn func() error) error {
	target, err := vnetns.GetFromPath(n.Path())
	if err != nil {
		return fmt.Errorf("netns: open %s: %w", n.Path(), err)
	}
	defer target.Close()

	runtime.LockOSThread()
	orig, err := vnetns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("netns: open current namespace: %w", err)
	}
	defer orig.Close()
	if err := vnetns.Set(target); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("netns: enter %q: %w", n.Name, err)
	}
	ferr := fn()
	if err := vnetns.Set(orig); err != nil {
		// The thread is stuck in the wrong namespace: keep it locked so the
		// runtime terminates it when this goroutine exits.
		return errors.Join(ferr, fmt.Errorf("netns: leave %q: %w", n.Name, err))
	}
	runtime.UnlockOSThread()
	return ferr
}

// Handle returns a netlink handle whose sockets live in the namespace. The
// caller must Close it.
func (n *NS) Handle() (*netlink.Handle, error) {
	target, err := vnetns.GetFromPath(n.Path())
	if err != nil {
		return nil, fmt.Errorf("netns: open %s: %w", n.Path(), err)
	}
	defer target.Close()
	h, err := netlink.NewHandleAt(target)
	if err != nil {
		return nil, fmt.Errorf("netns: netlink handle in %q: %w", n.Name, err)
	}
	return h, nil
}

// Inode identifies the namespace: the device and inode numbers of its nsfs
// file, which equal those of /proc/PID/ns/net for every process inside it.
func (n *NS) inode() (dev, ino uint64, err error) {
	var st unix.Stat_t
	if err := unix.Stat(n.Path(), &st); err != nil {
		return 0, 0, fmt.Errorf("netns: stat %s: %w", n.Path(), err)
	}
	return uint64(st.Dev), uint64(st.Ino), nil
}

// Pids returns the IDs of the processes whose network namespace is this one
// (what `ip netns pids` prints), including daemons that forked away from the
// process that started them.
func (n *NS) Pids() ([]int, error) {
	dev, ino, err := n.inode()
	if err != nil {
		return nil, err
	}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("netns: pids in %q: %w", n.Name, err)
	}
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		var st unix.Stat_t
		if unix.Stat("/proc/"+e.Name()+"/ns/net", &st) != nil {
			continue // exited, or a kernel thread
		}
		if uint64(st.Dev) == dev && uint64(st.Ino) == ino {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

// SetSysctl writes value to the sysctl key (dotted, "net.ipv4.ip_forward",
// or slashed) inside the namespace. Only per-namespace keys (net.*) are
// namespaced; writing another key changes the host.
func (n *NS) SetSysctl(key, value string) error {
	if strings.Contains(key, "..") || !strings.HasPrefix(key, "net.") && !strings.HasPrefix(key, "net/") {
		return fmt.Errorf("netns: sysctl %q in %q: only net.* keys are per-namespace", key, n.Name)
	}
	p := "/proc/sys/" + strings.ReplaceAll(key, ".", "/")
	err := n.Do(func() error { return os.WriteFile(p, []byte(value), 0) })
	if err != nil {
		return fmt.Errorf("netns: sysctl %s=%s in %q: %w", key, value, n.Name, err)
	}
	return nil
}

func run(name string, args ...string) error {
	var out bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Stdout = &out
	cmd.Stderr = &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(out.String()))
	}
	return nil
}
