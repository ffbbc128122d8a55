package netns_test

import (
	"context"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kbgp/kbgp/internal/netns"
	"github.com/kbgp/kbgp/internal/netns/nstest"
)

func TestUnique(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		n := netns.Unique("fib")
		if seen[n] {
			t.Fatalf("Unique returned %q twice", n)
		}
		seen[n] = true
		if !strings.HasPrefix(n, "fib-") {
			t.Errorf("Unique(%q) = %q, want prefix %q", "fib", n, "fib-")
		}
		if len(n) > 15 {
			t.Errorf("Unique(%q) = %q is %d bytes, longer than IFNAMSIZ-1", "fib", n, len(n))
		}
	}
}

func TestInvalidNames(t *testing.T) {
	for _, name := range []string{"", ".", "..", "a/b", "x\x00"} {
		if _, err := netns.Add(name); err == nil {
			t.Errorf("Add(%q) succeeded, want error", name)
		}
		if _, err := netns.Open(name); err == nil {
			t.Errorf("Open(%q) succeeded, want error", name)
		}
	}
}

func TestSysctlRejectsHostKeys(t *testing.T) {
	ns := &netns.NS{Name: "unused"}
	for _, key := range []string{"kernel.hostname", "vm.swappiness", "net/../kernel/hostname"} {
		if err := ns.SetSysctl(key, "1"); err == nil {
			t.Errorf("SetSysctl(%q) succeeded, want error (not per-namespace)", key)
		}
	}
}

// TestTwoNamespaces builds a - veth - bridge(b) - veth - c, checks ip
// netns exec sees the namespace, pings across the bridge, and checks Do,
// sysctls and Pids.
func TestTwoNamespaces(t *testing.T) {
	nstest.RequireBinaries(t, "ping")
	a, b, c := nstest.New(t, "a"), nstest.New(t, "b"), nstest.New(t, "c")

	if _, err := netns.Open(a.Name); err != nil {
		t.Fatalf("Open(%q): %v", a.Name, err)
	}
	if _, err := netns.Add(a.Name); err == nil {
		t.Errorf("Add(%q) of an existing namespace succeeded", a.Name)
	}
	if err := b.AddBridge("br0"); err != nil {
		t.Fatal(err)
	}
	aAddr, cAddr := netip.MustParsePrefix("192.0.2.1/24"), netip.MustParsePrefix("192.0.2.2/24")
	a6 := netip.MustParsePrefix("2001:db8::1/64")
	c6 := netip.MustParsePrefix("2001:db8::2/64")
	if err := netns.AddVeth(netns.Veth{NS: a.NS, Name: "eth0", Addrs: []netip.Prefix{aAddr, a6}}, netns.Veth{NS: b.NS, Name: "pa"}); err != nil {
		t.Fatal(err)
	}
	if err := netns.AddVeth(netns.Veth{NS: c.NS, Name: "eth0", Addrs: []netip.Prefix{cAddr, c6}}, netns.Veth{NS: b.NS, Name: "pc"}); err != nil {
		t.Fatal(err)
	}
	for _, l := range []string{"pa", "pc"} {
		if err := b.SetMaster(l, "br0"); err != nil {
			t.Fatal(err)
		}
	}
	a.Run("ping", "-c", "1", "-W", "2", cAddr.Addr().String())
	a.Run("ping", "-6", "-c", "1", "-W", "2", c6.Addr().String())

	if idx, err := a.LinkIndex("eth0"); err != nil || idx <= 1 {
		t.Errorf("LinkIndex(eth0) = %d, %v; want > 1", idx, err)
	}
	if err := a.SetSysctl("net.ipv4.ip_forward", "1"); err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(a.Run("cat", "/proc/sys/net/ipv4/ip_forward")); got != "1" {
		t.Errorf("ip_forward in %s = %q after SetSysctl, want 1", a.Name, got)
	}
	if got := strings.TrimSpace(c.Run("cat", "/proc/sys/net/ipv4/ip_forward")); got != "0" {
		t.Errorf("ip_forward in %s = %q, want 0: SetSysctl leaked out of its namespace", c.Name, got)
	}

	// Do switches only its own thread: the host still has no eth0 with our address.
	var inside []byte
	if err := a.Do(func() error {
		var err error
		inside, err = os.ReadFile("/proc/net/dev")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(inside), "eth0") {
		t.Errorf("/proc/net/dev read inside Do has no eth0:\n%s", inside)
	}

	// A long-running process is found by Pids and killed on cleanup.
	cmd := a.Command(context.Background(), "sleep", "600")
	a.Start(cmd)
	// ip netns exec enters the namespace just after the fork: poll.
	var pids []int
	found := false
	for deadline := time.Now().Add(2 * time.Second); !found && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		var err error
		if pids, err = a.Pids(); err != nil {
			t.Fatal(err)
		}
		for _, p := range pids {
			found = found || p == cmd.Process.Pid
		}
	}
	if !found {
		t.Errorf("Pids() = %v, does not contain started sleep %d", pids, cmd.Process.Pid)
	}
}

// TestCleanupKillsDaemons checks that a process that forked away from the
// one nstest started (as bird and bgpd -d do) is killed and the namespace
// deleted.
func TestCleanupKillsDaemons(t *testing.T) {
	var name string
	var pids []int
	t.Run("inner", func(t *testing.T) {
		ns := nstest.New(t, "d")
		name = ns.Name
		// The shell backgrounds a sleep and exits at once: a daemon.
		ns.Run("sh", "-c", "sleep 600 >/dev/null 2>&1 &")
		var err error
		if pids, err = ns.Pids(); err != nil || len(pids) != 1 {
			t.Fatalf("Pids() = %v, %v; want the one daemonized sleep", pids, err)
		}
	})
	if _, err := os.Stat("/run/netns/" + name); !os.IsNotExist(err) {
		t.Errorf("namespace %s still exists after cleanup (stat: %v)", name, err)
	}
	for _, p := range pids {
		if _, err := os.Stat("/proc/" + strconv.Itoa(p) + "/ns/net"); err == nil {
			t.Errorf("daemonized process %d survived cleanup", p)
		}
	}
}
