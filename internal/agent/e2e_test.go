package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kbgp/kbgp/api"
	"github.com/kbgp/kbgp/internal/netns"
	"github.com/kbgp/kbgp/internal/netns/nstest"
	"github.com/kbgp/kbgp/internal/status"
	"github.com/kbgp/kbgp/internal/store"
)

// e2eLab is the seed network in namespaces: a bridge, the FRR router
// (AS 64513, 172.16.30.254/24) and three nodes running the kbgp binary.
type e2eLab struct {
	t      *testing.T
	dir    string
	bin    string
	sw     *nstest.NS
	router *nstest.NS
	frrDir string
	nodes  [3]*nstest.NS
	agents [3]*exec.Cmd
	stores [3]string
	socks  [3]string
	logs   [3]*os.File
}

func nodeIP(i int) netip.Addr { return netip.AddrFrom4([4]byte{172, 16, 30, byte(101 + i)}) }

var routerIP = netip.MustParseAddr("172.16.30.254")

// buildKBGP builds cmd/kbgp into dir.
func buildKBGP(t *testing.T, dir string) string {
	t.Helper()
	wd, _ := os.Getwd()
	root := wd
	for {
		if _, err := os.Stat(filepath.Join(root, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(root)
		if parent == root {
			t.Fatalf("no go.mod above %s", wd)
		}
		root = parent
	}
	bin := filepath.Join(dir, "kbgp")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/kbgp")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/kbgp: %v\n%s", err, out)
	}
	return bin
}

func newE2ELab(t *testing.T) *e2eLab {
	nstest.RequireRoot(t)
	nstest.RequireBinaries(t, "go", "vtysh", "/usr/lib/frr/bgpd", "/usr/lib/frr/zebra")
	dir, err := os.MkdirTemp("", "kbgp-e2e-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	l := &e2eLab{t: t, dir: dir, bin: buildKBGP(t, dir)}
	l.sw = nstest.New(t, "sw")
	if err := l.sw.AddBridge("br0"); err != nil {
		t.Fatal(err)
	}
	l.router = nstest.New(t, "rt")
	l.veth(l.router, "r-seg", netip.PrefixFrom(routerIP, 24), "sw-r")
	for i := range l.nodes {
		l.nodes[i] = nstest.New(t, fmt.Sprintf("n%d", i+1))
		l.veth(l.nodes[i], "eth0", netip.PrefixFrom(nodeIP(i), 24), fmt.Sprintf("sw-%d", i+1))
	}
	return l
}

// veth connects ns to the bridge with a veth pair.
func (l *e2eLab) veth(ns *nstest.NS, name string, addr netip.Prefix, swName string) {
	l.t.Helper()
	err := netns.AddVeth(netns.Veth{NS: ns.NS, Name: name, Addrs: []netip.Prefix{addr}}, netns.Veth{NS: l.sw.NS, Name: swName})
	if err != nil {
		l.t.Fatal(err)
	}
	if err := l.sw.SetMaster(swName, "br0"); err != nil {
		l.t.Fatal(err)
	}
}

// startRouter runs FRR (zebra and bgpd) in the router namespace, peering
// with ubuntu-2 as the seed's MikroTik does.
func (l *e2eLab) startRouter() {
	t := l.t
	d := filepath.Join(l.dir, "frr")
	if err := os.MkdirAll(d, 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(d, "zebra.conf"), []byte("hostname router\n"), 0o644)
	os.WriteFile(filepath.Join(d, "bgpd.conf"), []byte(fmt.Sprintf(`frr defaults traditional
hostname router
log stdout informational
router bgp 64513
 bgp router-id %[1]s
 no bgp default ipv4-unicast
 no bgp ebgp-requires-policy
 neighbor %[2]s remote-as 64513
 neighbor %[2]s timers connect 1
 address-family ipv4 unicast
  neighbor %[2]s activate
  maximum-paths ibgp 8
 exit-address-family
`, routerIP, nodeIP(1))), 0o644)
	if out, err := exec.Command("chown", "-R", "frr:frr", d).CombinedOutput(); err != nil {
		t.Fatalf("chown %s: %v\n%s", d, err, out)
	}
	common := []string{"-u", "frr", "-g", "frr", "-z", filepath.Join(d, "zserv.api"), "--vty_socket", d, "-A", "127.0.0.1"}
	zebra := l.router.Command(context.Background(), "/usr/lib/frr/zebra", append([]string{"-f", filepath.Join(d, "zebra.conf"), "-i", filepath.Join(d, "zebra.pid")}, common...)...)
	l.router.Start(zebra)
	waitFor(t, 10*time.Second, "zebra's zserv socket", func() string {
		if _, err := os.Stat(filepath.Join(d, "zserv.api")); err != nil {
			return err.Error()
		}
		return ""
	})
	bgpd := l.router.Command(context.Background(), "/usr/lib/frr/bgpd", append([]string{"-f", filepath.Join(d, "bgpd.conf"), "-i", filepath.Join(d, "bgpd.pid")}, common...)...)
	l.router.Start(bgpd)
	l.frrDir = d
}

func (l *e2eLab) vtysh(cmds ...string) string {
	args := []string{"--vty_socket", l.frrDir}
	for _, c := range cmds {
		args = append(args, "-c", c)
	}
	out, _ := exec.Command("vtysh", args...).CombinedOutput()
	return string(out)
}

// seedStores writes each node's own file store: the seed resources, and
// the three Node resources, where the node's own Node has no BGP address
// (its agent autodetects and registers it, as calico-node does).
func (l *e2eLab) seedStores() {
	t := l.t
	var addrs [3]netip.Prefix
	for i := range addrs {
		addrs[i] = netip.PrefixFrom(nodeIP(i), 24)
	}
	for i := range l.stores {
		l.stores[i] = filepath.Join(l.dir, fmt.Sprintf("store-%d", i+1))
		ds, err := store.Open(l.stores[i], nil)
		if err != nil {
			t.Fatal(err)
		}
		yaml := seedResources(0, netip.AddrPortFrom(routerIP, 0), addrs)
		own := fmt.Sprintf("    ipv4Address: %s\n", addrs[i])
		// Drop the node's own address: ubuntu-N's block follows it.
		yaml = strings.Replace(yaml, "  bgp:\n"+own, "", 1)
		applyYAML(t, ds, "seed.yaml", yaml)
		l.socks[i] = filepath.Join(l.dir, fmt.Sprintf("kbgp-%d.sock", i+1))
	}
}

// startAgent starts `kbgp agent` for node i in its namespace.
func (l *e2eLab) startAgent(i int) {
	t := l.t
	if l.logs[i] == nil {
		f, err := os.Create(filepath.Join(l.dir, fmt.Sprintf("agent-%d.log", i+1)))
		if err != nil {
			t.Fatal(err)
		}
		l.logs[i] = f
		t.Cleanup(func() {
			f.Close()
			if t.Failed() {
				b, _ := os.ReadFile(f.Name())
				t.Logf("agent ubuntu-%d log (last 6000 bytes):\n%s", i+1, tail(string(b), 6000))
			}
		})
	}
	cmd := l.nodes[i].Command(context.Background(), l.bin, "agent",
		"--node-name", fmt.Sprintf("ubuntu-%d", i+1), "--store", l.stores[i], "--socket", l.socks[i],
		"--ip-autodetection-method", "interface=eth0", "--metrics-addr", "127.0.0.1:9900", "--connect-retry", "1s")
	cmd.Stdout, cmd.Stderr = l.logs[i], l.logs[i]
	l.nodes[i].Start(cmd)
	l.agents[i] = cmd
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

// kbgp runs the kbgp CLI (outside any namespace: it talks to the unix
// socket).
func (l *e2eLab) kbgp(args ...string) (string, error) {
	out, err := exec.Command(l.bin, args...).CombinedOutput()
	return string(out), err
}

// nodeJSON returns node i's status from `kbgp node status -o json`.
func (l *e2eLab) nodeJSON(i int) (status.Node, error) {
	out, err := l.kbgp("node", "status", "-o", "json", "--socket", l.socks[i])
	if err != nil {
		return status.Node{}, fmt.Errorf("%v: %s", err, out)
	}
	var n status.Node
	if err := json.Unmarshal([]byte(out), &n); err != nil {
		return status.Node{}, fmt.Errorf("%v: %s", err, out)
	}
	return n, nil
}

// routes lists a namespace's routes of one protocol as `ip route` prints
// them, one per line.
func routes(ns *nstest.NS, proto string) string {
	out, _ := ns.Command(context.Background(), "ip", "-4", "route", "show", "proto", proto).CombinedOutput()
	return string(out)
}

// hasLines returns "" if out has a line starting with each want.
func hasLines(out string, want ...string) string {
	var missing []string
	for _, w := range want {
		found := false
		for _, line := range strings.Split(out, "\n") {
			found = found || strings.HasPrefix(strings.TrimSpace(line), w)
		}
		if !found {
			missing = append(missing, w)
		}
	}
	if missing == nil {
		return ""
	}
	return fmt.Sprintf("missing %q in:\n%s", missing, out)
}

// nodeRoutes is what node i's kernel must hold: the other nodes' blocks
// via their addresses.
func nodeRoutes(i int) []string {
	var want []string
	for j := range 3 {
		if j != i {
			want = append(want, fmt.Sprintf("%s via %s", blockOf(j), nodeIP(j)))
		}
	}
	return append(want, "blackhole "+blockOf(i).String(), "blackhole 10.96.0.0/24")
}

// TestE2ESeed brings up the seed network (shared/seed) with FRR as the
// router and three `kbgp agent` processes, and checks what the user's
// notes show plus what they lacked: calicoctl-style status with the seed's
// rows; the router has the pod blocks and the service range; each node's
// kernel has the other blocks via the right next hop; a kill -9 and
// restart of an agent loses no kernel route and no route at the router
// (graceful restart); a changed BGPPeer resets only its session.
func TestE2ESeed(t *testing.T) {
	if testing.Short() {
		t.Skip("e2e test: skipped with -short")
	}
	l := newE2ELab(t)
	l.seedStores()
	l.startRouter()
	started := time.Now()
	for i := range l.agents {
		l.startAgent(i)
	}

	// 1. kbgp node status: the seed's rows, Established.
	wantRows := [][]netip.Addr{{nodeIP(1)}, {nodeIP(0), nodeIP(2), routerIP}, {nodeIP(1)}}
	for i, rows := range wantRows {
		waitFor(t, 60*time.Second, fmt.Sprintf("ubuntu-%d's sessions", i+1), func() string {
			out, err := l.kbgp("node", "status", "--socket", l.socks[i])
			if err != nil {
				return fmt.Sprintf("%v: %s", err, out)
			}
			for _, a := range rows {
				if !strings.Contains(out, fmt.Sprintf("| %-13s | node specific | up    |", a)) || !strings.Contains(out, "Established") {
					return "want an Established node specific row for " + a.String() + ":\n" + out
				}
			}
			if n := strings.Count(out, "Established"); n != len(rows) {
				return fmt.Sprintf("want %d Established rows:\n%s", len(rows), out)
			}
			return ""
		})
	}
	t.Logf("all seed sessions Established %v after the agents started", time.Since(started).Round(time.Millisecond))
	out, _ := l.kbgp("node", "status", "--socket", l.socks[1])
	t.Logf("ubuntu-2: kbgp node status\n%s", out)
	if !strings.HasPrefix(out, "Calico process is running.") {
		t.Errorf("kbgp node status does not start like calicoctl's:\n%s", out)
	}
	// The node registered its autodetected address.
	for i := range l.stores {
		ds, _ := store.Open(l.stores[i], nil)
		r, err := ds.Get(context.Background(), "Node", fmt.Sprintf("ubuntu-%d", i+1))
		if err != nil {
			t.Fatal(err)
		}
		n := r.(*api.Node)
		if n.Spec.BGP == nil || n.Spec.BGP.IPv4Address != netip.PrefixFrom(nodeIP(i), 24) || n.Metadata.Annotations[AnnotationAutodetectedIPv4] == "" {
			t.Errorf("ubuntu-%d's Node after registration: bgp %+v annotations %v", i+1, n.Spec.BGP, n.Metadata.Annotations)
		}
	}

	// 2. The router has the pod blocks and the service range.
	waitFor(t, 30*time.Second, "the router's kernel routes", func() string {
		return hasLines(routes(l.router, "bgp"), "10.96.0.0/24", fmt.Sprintf("%s nhid", blockOf(0)), fmt.Sprintf("%s nhid", blockOf(1)),
			fmt.Sprintf("%s nhid", blockOf(2)))
	})
	t.Logf("the router has every block and the service range %v after the agents started", time.Since(started).Round(time.Millisecond))
	rt := routes(l.router, "bgp")
	for j := range 3 {
		if !strings.Contains(rt, fmt.Sprintf("%s nhid", blockOf(j))) || !strings.Contains(rt, "via "+nodeIP(j).String()) {
			t.Errorf("router: %s not via %s:\n%s", blockOf(j), nodeIP(j), rt)
		}
	}
	t.Logf("router: ip route show proto bgp\n%s", rt)

	// 3. Each node's kernel has the other nodes' blocks via the right next
	// hop, and blackholes for its own block and the service range.
	for i := range l.nodes {
		waitFor(t, 30*time.Second, fmt.Sprintf("ubuntu-%d's kernel routes", i+1), func() string {
			return hasLines(routes(l.nodes[i], "77"), nodeRoutes(i)...)
		})
	}
	t.Logf("ubuntu-1: ip route show proto 77\n%s", routes(l.nodes[0], "77"))

	// 4. kill -9 ubuntu-1's agent and restart it: no route is lost in its
	// kernel or at the router at any point.
	t.Run("kill -9 restart keeps routes", func(t *testing.T) {
		var mu sync.Mutex
		var lost []string
		stop, done := make(chan struct{}), make(chan struct{})
		checks := 0
		go func() {
			defer close(done)
			for {
				select {
				case <-stop:
					return
				case <-time.After(100 * time.Millisecond):
				}
				m1 := hasLines(routes(l.nodes[0], "77"), nodeRoutes(0)...)
				m2 := hasLines(routes(l.router, "bgp"), blockOf(0).String())
				mu.Lock()
				checks++
				if m1 != "" {
					lost = append(lost, time.Now().Format("15:04:05.000")+" ubuntu-1: "+m1)
				}
				if m2 != "" {
					lost = append(lost, time.Now().Format("15:04:05.000")+" router: "+m2)
				}
				mu.Unlock()
			}
		}()
		if err := l.agents[0].Process.Kill(); err != nil {
			t.Fatal(err)
		}
		pid := l.agents[0].Process.Pid
		waitFor(t, 10*time.Second, "the killed agent to be reaped", func() string {
			if err := syscall.Kill(pid, 0); err == nil {
				return fmt.Sprintf("pid %d still exists", pid)
			}
			return ""
		})
		time.Sleep(2 * time.Second) // the router and the reflector notice
		restarted := time.Now()
		l.startAgent(0)
		defer func() {
			t.Logf("restarted agent Established and out of graceful restart %v after start", time.Since(restarted).Round(time.Millisecond))
		}()
		waitFor(t, 60*time.Second, "ubuntu-1 back and out of graceful restart", func() string {
			n, err := l.nodeJSON(0)
			if err != nil {
				return err.Error()
			}
			if len(n.Peers) != 1 || n.Peers[0].State != status.Established || n.GracefulRestart {
				return fmt.Sprintf("peers %s, graceful restart %v", peerStates(n), n.GracefulRestart)
			}
			return ""
		})
		time.Sleep(time.Second)
		close(stop)
		<-done
		mu.Lock()
		defer mu.Unlock()
		if len(lost) > 0 {
			t.Errorf("routes lost during the restart (%d of %d checks):\n%s", len(lost), checks, strings.Join(lost, "\n"))
		}
		t.Logf("%d route checks during the restart, none lost", checks)
		b, _ := os.ReadFile(l.logs[0].Name())
		if !strings.Contains(string(b), "adopted kernel routes") {
			t.Errorf("the restarted agent did not adopt its kernel routes")
		}
	})

	// 5. A changed BGPPeer resets only the session it configures.
	t.Run("BGPPeer change resets only its session", func(t *testing.T) {
		before, err := l.nodeJSON(1)
		if err != nil {
			t.Fatal(err)
		}
		frrBefore := frrNeighbor(l, nodeIP(1))
		for i := range l.stores {
			ds, _ := store.Open(l.stores[i], nil)
			applyYAML(t, ds, "rack1-tor.yaml", fmt.Sprintf(`apiVersion: projectcalico.org/v3
kind: BGPPeer
metadata:
  name: rack1-tor
spec:
  peerIP: %s
  asNumber: 64513
  nodeSelector: rack == 'rack-1'
  keepaliveTime: 20s
`, routerIP))
		}
		waitFor(t, 60*time.Second, "the router session to be re-established", func() string {
			f := frrNeighbor(l, nodeIP(1))
			if f.State != "Established" || f.Established <= frrBefore.Established {
				return fmt.Sprintf("FRR: state %s, established %d times (before %d)", f.State, f.Established, frrBefore.Established)
			}
			return ""
		})
		after, err := l.nodeJSON(1)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range []netip.Addr{nodeIP(0), nodeIP(2)} {
			b, _ := peerByAddr(before, a)
			n, _ := peerByAddr(after, a)
			if !n.Since.Equal(b.Since) || n.State != status.Established {
				t.Errorf("ubuntu-2's session with %s was touched: since %v -> %v, state %s", a, b.Since, n.Since, n.State)
			}
		}
		if p, _ := peerByAddr(after, routerIP); p.Timers.KeepaliveTime != status.Duration(20*time.Second) {
			t.Errorf("router session keepalive %v, want 20s", p.Timers.KeepaliveTime)
		}
	})
}

// frrState is FRR's view of one neighbor.
type frrState struct {
	State       string
	Established int
}

func frrNeighbor(l *e2eLab, a netip.Addr) frrState {
	out := l.vtysh("show bgp neighbors " + a.String() + " json")
	var m map[string]struct {
		BGPState               string `json:"bgpState"`
		ConnectionsEstablished int    `json:"connectionsEstablished"`
	}
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		return frrState{State: "unparsable: " + out}
	}
	n := m[a.String()]
	return frrState{State: n.BGPState, Established: n.ConnectionsEstablished}
}
