package k8s

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kbgp/kbgp/api"
	"github.com/kbgp/kbgp/internal/config"
	"github.com/kbgp/kbgp/internal/netns"
	"github.com/kbgp/kbgp/internal/netns/nstest"
)

// TestE2EKubernetesAgent runs the seed network (shared/seed) with the
// Kubernetes datastore: the Nodes, the seed's BGPConfiguration and
// BGPPeers (kbgp.io/v1 CRs) and a Service live in a real API server;
// `kbgp agent --datastore kubernetes` runs in each node's namespace with
// the agent ServiceAccount's permissions (deploy/rbac.yaml, through
// impersonation); FRR plays the seed's router (AS 64513, 172.16.30.254)
// and must learn the three pod blocks, the service range and the
// externalTrafficPolicy Local /32 from ubuntu-3 only, and lose the /32
// when the Service is deleted. The agents write NodeBGPStatus objects
// that kubectl shows.
//
// The API server listens on 127.0.0.1 in the root namespace; each node
// namespace gets a TCP forwarder on its own 127.0.0.1 at the same port,
// opened inside the namespace by the test process, so the agents' one
// kubeconfig works everywhere and nothing is added to the root namespace.
func TestE2EKubernetesAgent(t *testing.T) {
	if testing.Short() {
		t.Skip("e2e test: skipped with -short")
	}
	nstest.RequireRoot(t)
	nstest.RequireBinaries(t, "go", "ip", "vtysh", "/usr/lib/frr/bgpd", "/usr/lib/frr/zebra")
	f := newFixture(t) // skips when the cached kube binaries are absent

	dir, err := os.MkdirTemp("", "kbgp-k8s-e2e-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	bin := buildKBGP(t, dir)

	// 1. The cluster's objects, created by the admin as kubelet,
	// kube-controller-manager and `kbgp apply` would. Registered before
	// the namespaces, so these cleanups run after the agents are gone.
	t.Cleanup(func() {
		for i := range 3 {
			_ = f.dyn.Resource(nodeStatusGVR).Delete(context.Background(), e2eNodeName(i), metav1.DeleteOptions{})
		}
	})
	for i := range 3 {
		var lbl, ann map[string]string
		if i == 1 {
			lbl = map[string]string{"rack": "rack-1", "route-reflector": "true"}
			ann = map[string]string{config.AnnotationRouteReflectorClusterID: "244.0.0.1"}
		}
		f.node(seedNode(e2eNodeName(i), e2eNodeIP(i).String(), lbl, ann, e2eBlock(i).String()))
	}
	admin := adminDatastore(t, f, ModeKBGP)
	var rs []api.Resource
	for _, r := range seedResources(t) {
		if r.Kind() != api.KindNode {
			rs = append(rs, r)
		}
	}
	// The cluster's IP pool (Calico's installation creates it): the
	// blocks are exported to the router only inside a pool.
	pool, err := config.Decode("ippool.yaml", []byte(`apiVersion: kbgp.io/v1
kind: IPPool
metadata: {name: default-ipv4-ippool}
spec: {cidr: 192.168.0.0/16, ipipMode: Never, natOutgoing: true}
`))
	if err != nil {
		t.Fatal(err)
	}
	f.apply(admin, append(rs, pool...)...)
	f.service(&corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "web-local"},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort, ClusterIP: "10.96.0.11", ClusterIPs: []string{"10.96.0.11"},
			ExternalTrafficPolicy: corev1.ServiceExternalTrafficPolicyLocal,
			Ports:                 []corev1.ServicePort{{Port: 80}}}},
		discoveryv1.Endpoint{Addresses: []string{"192.168.3.10"}, NodeName: ptr("ubuntu-3"), Conditions: discoveryv1.EndpointConditions{Ready: ptr(true)}})

	// 2. The network: a bridge, the router and three nodes.
	sw := nstest.New(t, "ksw")
	if err := sw.AddBridge("br0"); err != nil {
		t.Fatal(err)
	}
	veth := func(ns *nstest.NS, name string, addr netip.Prefix, swName string) {
		t.Helper()
		if err := netns.AddVeth(netns.Veth{NS: ns.NS, Name: name, Addrs: []netip.Prefix{addr}}, netns.Veth{NS: sw.NS, Name: swName}); err != nil {
			t.Fatal(err)
		}
		if err := sw.SetMaster(swName, "br0"); err != nil {
			t.Fatal(err)
		}
	}
	router := nstest.New(t, "krt")
	veth(router, "r-seg", netip.PrefixFrom(e2eRouterIP, 24), "sw-r")
	var nodes [3]*nstest.NS
	for i := range nodes {
		nodes[i] = nstest.New(t, fmt.Sprintf("kn%d", i+1))
		veth(nodes[i], "eth0", netip.PrefixFrom(e2eNodeIP(i), 24), fmt.Sprintf("sw-%d", i+1))
	}

	// 3. The API server inside each node namespace, and the agents'
	// kubeconfig: the admin token impersonating the agent's ServiceAccount.
	u, err := url.Parse(f.s.admin.Host)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes {
		forwardInto(t, n.NS, u.Host)
	}
	kubeconfig := filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(kubeconfig, []byte(fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: test
  cluster: {server: %q, insecure-skip-tls-verify: true}
users:
- name: kbgp-agent
  user:
    token: %q
    as: system:serviceaccount:kbgp-system:kbgp
    as-groups: [system:serviceaccounts, system:serviceaccounts:kbgp-system, system:authenticated]
contexts:
- name: test
  context: {cluster: test, user: kbgp-agent}
current-context: test
`, f.s.admin.Host, adminToken)), 0o600); err != nil {
		t.Fatal(err)
	}

	// 4. FRR, peering with ubuntu-2 as the seed's MikroTik does.
	frrDir := startFRR(t, router, dir)
	vtysh := func(cmds ...string) string {
		args := []string{"--vty_socket", frrDir}
		for _, c := range cmds {
			args = append(args, "-c", c)
		}
		out, _ := exec.Command("vtysh", args...).CombinedOutput()
		return string(out)
	}

	// 5. The agents, with the Kubernetes datastore, programming the FIB.
	started := time.Now()
	var socks [3]string
	for i := range nodes {
		socks[i] = filepath.Join(dir, fmt.Sprintf("kbgp-%d.sock", i+1))
		log, err := os.Create(filepath.Join(dir, fmt.Sprintf("agent-%d.log", i+1)))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			log.Close()
			if t.Failed() {
				b, _ := os.ReadFile(log.Name())
				if len(b) > 6000 {
					b = b[len(b)-6000:]
				}
				t.Logf("agent %s log (tail):\n%s", e2eNodeName(i), b)
			}
		})
		cmd := nodes[i].Command(context.Background(), bin, "agent",
			"--datastore", "kubernetes", "--kubeconfig", kubeconfig, "--kube-resources", "kbgp",
			"--node-name", e2eNodeName(i), "--socket", socks[i],
			"--ip-autodetection-method", "interface=eth0", "--connect-retry", "1s")
		cmd.Stdout, cmd.Stderr = log, log
		nodes[i].Start(cmd)
	}
	kbgp := func(args ...string) (string, error) {
		out, err := exec.Command(bin, args...).CombinedOutput()
		return string(out), err
	}

	// Sessions: ubuntu-1 and ubuntu-3 with the reflector; ubuntu-2 with
	// both and the router.
	wantPeers := [][]netip.Addr{{e2eNodeIP(1)}, {e2eNodeIP(0), e2eNodeIP(2), e2eRouterIP}, {e2eNodeIP(1)}}
	for i, peers := range wantPeers {
		e2eWait(t, 90*time.Second, e2eNodeName(i)+"'s sessions Established", func() string {
			out, err := kbgp("node", "status", "--socket", socks[i])
			if err != nil {
				return fmt.Sprintf("%v: %s", err, out)
			}
			for _, a := range peers {
				if !rowEstablished(out, a) {
					return "no Established row for " + a.String() + ":\n" + out
				}
			}
			if n := strings.Count(out, "Established"); n != len(peers) {
				return fmt.Sprintf("want %d Established rows:\n%s", len(peers), out)
			}
			return ""
		})
	}
	t.Logf("all seed sessions Established %v after the agents started", time.Since(started).Round(time.Millisecond))

	// The router's kernel: the three pod blocks via their nodes, the
	// service range, and the Local service's /32 via ubuntu-3 only.
	routerRoutes := func() string {
		out, _ := router.Command(context.Background(), "ip", "-4", "route", "show", "proto", "bgp").CombinedOutput()
		return string(out)
	}
	svc := netip.MustParsePrefix("10.96.0.11/32")
	e2eWait(t, 60*time.Second, "the router's kernel routes", func() string {
		rt := routerRoutes()
		var missing []string
		for i := range 3 {
			if !routeVia(rt, e2eBlock(i).String(), e2eNodeIP(i)) {
				missing = append(missing, fmt.Sprintf("%s via %s", e2eBlock(i), e2eNodeIP(i)))
			}
		}
		if !routeVia(rt, "10.96.0.0/24", netip.Addr{}) {
			missing = append(missing, "10.96.0.0/24")
		}
		if !routeVia(rt, svc.Addr().String(), e2eNodeIP(2)) {
			missing = append(missing, svc.Addr().String()+" via "+e2eNodeIP(2).String())
		}
		if missing != nil {
			return fmt.Sprintf("missing %q in:\n%s", missing, rt)
		}
		return ""
	})
	t.Logf("router has every block, the service range and the Local /32 %v after the agents started", time.Since(started).Round(time.Millisecond))
	rt := routerRoutes()
	t.Logf("router: ip route show proto bgp\n%s", rt)
	// Only ubuntu-3 has a ready endpoint: the router has one path for
	// the /32, from ubuntu-3.
	if line := routeLine(rt, svc.Addr().String()); strings.Contains(line, e2eNodeIP(0).String()) || strings.Contains(line, e2eNodeIP(1).String()) {
		t.Errorf("the Local service's /32 has a path via a node without an endpoint: %q", line)
	}
	bgp := vtysh("show bgp ipv4 unicast " + svc.String())
	if strings.Count(bgp, "from ") != 1 || !strings.Contains(bgp, e2eNodeIP(2).String()) {
		t.Errorf("FRR: want exactly one path for %s, with next hop %s:\n%s", svc, e2eNodeIP(2), bgp)
	}

	// The agents program their kernels: each node has the other nodes'
	// blocks via their addresses (kbgp's default protocol 77).
	for i, n := range nodes {
		e2eWait(t, 30*time.Second, e2eNodeName(i)+"'s kernel routes", func() string {
			out, _ := n.Command(context.Background(), "ip", "-4", "route", "show", "proto", "77").CombinedOutput()
			for j := range 3 {
				if j != i && !routeVia(string(out), e2eBlock(j).String(), e2eNodeIP(j)) {
					return fmt.Sprintf("no %s via %s in:\n%s", e2eBlock(j), e2eNodeIP(j), out)
				}
			}
			return ""
		})
	}

	// NodeBGPStatus, written by the agents through the API (every 10 s).
	e2eWait(t, 60*time.Second, "kubectl get nodebgpstatuses", func() string {
		out, err := f.s.run("get", "nodebgpstatuses.kbgp.io", "--no-headers", "-o", "custom-columns=N:.metadata.name,E:.status.established,P:.status.peerCount")
		if err != nil {
			return fmt.Sprintf("%v: %s", err, out)
		}
		want := map[string]string{"ubuntu-1": "1 1", "ubuntu-2": "3 3", "ubuntu-3": "1 1"}
		for _, line := range strings.Split(out, "\n") {
			if fs := strings.Fields(line); len(fs) == 3 && want[fs[0]] == fs[1]+" "+fs[2] {
				delete(want, fs[0])
			}
		}
		if len(want) > 0 {
			return fmt.Sprintf("missing or not all Established: %v in:\n%s", want, out)
		}
		return ""
	})
	out, _ := f.s.run("get", "nodebgpstatuses.kbgp.io")
	t.Logf("kubectl get nodebgpstatuses:\n%s", out)

	// Deleting the Service withdraws the /32 at the router; the rest stays.
	deleted := time.Now()
	if err := f.kube.CoreV1().Services("default").Delete(f.ctx, "web-local", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	e2eWait(t, 30*time.Second, "the router to withdraw "+svc.String(), func() string {
		if l := routeLine(routerRoutes(), svc.Addr().String()); l != "" {
			return "still there: " + l
		}
		return ""
	})
	t.Logf("the router withdrew %s %v after the Service was deleted", svc, time.Since(deleted).Round(time.Millisecond))
	rt = routerRoutes()
	for i := range 3 {
		if !routeVia(rt, e2eBlock(i).String(), e2eNodeIP(i)) {
			t.Errorf("after the Service was deleted the router lost %s:\n%s", e2eBlock(i), rt)
		}
	}
}

var e2eRouterIP = netip.MustParseAddr("172.16.30.254")

func e2eNodeName(i int) string   { return fmt.Sprintf("ubuntu-%d", i+1) }
func e2eNodeIP(i int) netip.Addr { return netip.AddrFrom4([4]byte{172, 16, 30, byte(101 + i)}) }
func e2eBlock(i int) netip.Prefix {
	return netip.PrefixFrom(netip.AddrFrom4([4]byte{192, 168, byte(1 + i), 0}), 24)
}

// rowEstablished reports whether `kbgp node status` has an Established
// row for a.
func rowEstablished(out string, a netip.Addr) bool {
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, "| "+a.String()+" ") && strings.Contains(line, "Established") {
			return true
		}
	}
	return false
}

// routeLine returns the `ip route` entry for dst (a prefix, or an address
// for a /32), with its nexthop lines for a multipath route.
func routeLine(rt, dst string) string {
	lines := strings.Split(rt, "\n")
	for i, l := range lines {
		if f := strings.Fields(l); len(f) > 0 && f[0] == dst {
			out := l
			for _, n := range lines[i+1:] {
				if !strings.HasPrefix(n, "\t") && !strings.HasPrefix(n, " ") {
					break
				}
				out += "\n" + n
			}
			return out
		}
	}
	return ""
}

// routeVia reports whether rt has dst, via nh unless nh is zero.
func routeVia(rt, dst string, nh netip.Addr) bool {
	l := routeLine(rt, dst)
	return l != "" && (!nh.IsValid() || strings.Contains(l, "via "+nh.String()+" "))
}

// forwardInto listens on target's address inside ns and forwards each
// connection to target in the test's own namespace, until the test ends.
func forwardInto(t *testing.T, ns *netns.NS, target string) {
	t.Helper()
	var l net.Listener
	if err := ns.Do(func() error {
		var err error
		l, err = net.Listen("tcp", target)
		return err
	}); err != nil {
		t.Fatalf("forwarder in %s: %v", ns.Name, err)
	}
	var (
		mu    sync.Mutex
		conns []net.Conn
		wg    sync.WaitGroup
	)
	track := func(c net.Conn) {
		mu.Lock()
		conns = append(conns, c)
		mu.Unlock()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			in, err := l.Accept()
			if err != nil {
				return
			}
			out, err := net.DialTimeout("tcp", target, 5*time.Second)
			if err != nil {
				in.Close()
				continue
			}
			track(in)
			track(out)
			wg.Add(2)
			go func() { defer wg.Done(); pipe(out, in) }()
			go func() { defer wg.Done(); pipe(in, out) }()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
}

func pipe(dst, src net.Conn) {
	_, err := io.Copy(dst, src)
	if err == nil || errors.Is(err, net.ErrClosed) {
		if tc, ok := dst.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
			return
		}
	}
	dst.Close()
}

// startFRR runs zebra and bgpd in ns with the seed router's
// configuration: AS 64513, one iBGP neighbor, ubuntu-2.
func startFRR(t *testing.T, ns *nstest.NS, dir string) string {
	t.Helper()
	d := filepath.Join(dir, "frr")
	if err := os.MkdirAll(d, 0o755); err != nil {
		t.Fatal(err)
	}
	conf := fmt.Sprintf(`frr defaults traditional
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
`, e2eRouterIP, e2eNodeIP(1))
	for name, s := range map[string]string{"zebra.conf": "hostname router\n", "bgpd.conf": conf} {
		if err := os.WriteFile(filepath.Join(d, name), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if out, err := exec.Command("chown", "-R", "frr:frr", d).CombinedOutput(); err != nil {
		t.Fatalf("chown %s: %v\n%s", d, err, out)
	}
	common := []string{"-u", "frr", "-g", "frr", "-z", filepath.Join(d, "zserv.api"), "--vty_socket", d, "-A", "127.0.0.1"}
	ns.Start(ns.Command(context.Background(), "/usr/lib/frr/zebra", append([]string{"-f", filepath.Join(d, "zebra.conf"), "-i", filepath.Join(d, "zebra.pid")}, common...)...))
	e2eWait(t, 10*time.Second, "zebra's zserv socket", func() string {
		if _, err := os.Stat(filepath.Join(d, "zserv.api")); err != nil {
			return err.Error()
		}
		return ""
	})
	ns.Start(ns.Command(context.Background(), "/usr/lib/frr/bgpd", append([]string{"-f", filepath.Join(d, "bgpd.conf"), "-i", filepath.Join(d, "bgpd.pid")}, common...)...))
	return d
}

// buildKBGP builds cmd/kbgp into dir.
func buildKBGP(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "kbgp")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/kbgp")
	cmd.Dir = repoRootDir()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/kbgp: %v\n%s", err, out)
	}
	return bin
}

// e2eWait polls cond (which returns "" when satisfied, else what is
// wrong) every 200 ms until it holds, failing the test after within.
func e2eWait(t *testing.T, within time.Duration, what string, cond func() string) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		msg := cond()
		if msg == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v: %s", what, within, msg)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
