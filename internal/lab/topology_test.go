package lab

import (
	"bytes"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/kbgp/kbgp/internal/golden"
)

var netipCmp = []cmp.Option{
	cmp.Comparer(func(a, b netip.Addr) bool { return a == b }),
	cmp.Comparer(func(a, b netip.Prefix) bool { return a == b }),
	cmp.Comparer(func(a, b netip.AddrPort) bool { return a == b }),
}

func examplesDir() string { return filepath.Join("..", "..", "examples") }

func TestDefaultIsExamplesSeedIBGP(t *testing.T) {
	ex, err := os.ReadFile(filepath.Join(examplesDir(), "seed-ibgp.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ex, DefaultYAML()) {
		t.Errorf("examples/seed-ibgp.yaml and internal/lab/topologies/seed-ibgp.yaml (the embedded default) differ; keep them identical")
	}
	d := Default()
	if d.Name != "seed" || len(d.Nodes) != 3 || d.Router.ASN != 64513 || len(d.Router.Peers) != 1 || d.Router.Peers[0] != "ubuntu-2" {
		t.Errorf("default topology is not the seed: %+v", d)
	}
}

// TestExamples loads every example and compares the normalized topology
// (defaults filled) with its golden file.
func TestExamples(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(examplesDir(), "*.yaml"))
	if err != nil || len(files) < 3 {
		t.Fatalf("want at least 3 examples, got %v %v", files, err)
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".yaml")
		t.Run(name, func(t *testing.T) {
			top, err := Load(f)
			if err != nil {
				t.Fatal(err)
			}
			b, err := top.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			golden.Check(t, filepath.Join("testdata", name+".normalized.yaml"), b)
			// The normalized form parses back to the same topology.
			again, err := Parse(b)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(top, again, netipCmp...); diff != "" {
				t.Errorf("round trip differs:\n%s", diff)
			}
			zebra, bgpd, err := RouterConfig(top, "/run/kbgp-lab/hosts/router")
			if err != nil {
				t.Fatal(err)
			}
			golden.Check(t, filepath.Join("testdata", name+".bgpd.conf"), bgpd)
			golden.Check(t, filepath.Join("testdata", name+".zebra.conf"), zebra)
			golden.Check(t, filepath.Join("testdata", name+".registration.yaml"), []byte(top.Registration()))
		})
	}
}

func TestParseErrors(t *testing.T) {
	base := string(DefaultYAML())
	for _, tc := range []struct {
		name, old, new, want string
	}{
		{"unknown field", "podsPerNode: 2", "podsPerNode: 2\n  pods: 3", `unknown field "pods"`},
		{"client off subnet", "172.16.81.199/24", "10.1.1.1/24", "client.addresses[0]: 10.1.1.1/24 is in no subnet"},
		{"node off subnet", "172.16.30.103/24", "172.16.31.103/24", "nodes[2].addresses[0]: 172.16.31.103/24 is in no subnet"},
		{"duplicate host", "- name: ubuntu-3", "- name: ubuntu-1", `host name "ubuntu-1" is already used`},
		{"bad host name", "- name: ubuntu-3", "- name: Ubuntu_3", `"Ubuntu_3" must be 1-40 characters`},
		{"unknown router peer", "peers: [ubuntu-2]", "peers: [ubuntu-9]", `router.peers[0]: "ubuntu-9" is not a node`},
		{"missing router asn", "  asn: 64513\n  clientAddresses", "  clientAddresses", "router.asn: missing"},
		{"block size", "blockSize: 26", "blockSize: 8", "cluster.blockSize: 8 must be between"},
		{"too many pods", "podsPerNode: 2", "podsPerNode: 99", "cluster.podsPerNode: 99"},
		{"bad policy", "externalTrafficPolicy: Local", "externalTrafficPolicy: local", `"local" must be Cluster or Local`},
		{"service node", "nodes: [ubuntu-3]", "nodes: [ubuntu-7]", `services[1].nodes[0]: "ubuntu-7" is not a node`},
		{"setup file", "apply -f peer-2.yaml", "apply -f peer-9.yaml", "refers to peer-9.yaml, which is not in files"},
		{"setup verb", "- label node ubuntu-2 rack=rack-1", "- rm -rf /", `"rm -rf /" must start with apply`},
		{"bad address", "172.16.30.101/24", "172.16.30.301/24", "172.16.30.301/24"},
		{"v6 pods", "podCIDR: 192.168.0.0/16", "podCIDR: fd00:10::/48", "IPv4 only"},
		{"v6 service", "ip: 10.96.0.11", "ip: fd00::11", "want an IPv4 cluster IP"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := strings.Replace(base, tc.old, tc.new, 1)
			if in == base {
				t.Fatalf("test case does not change the input: %q not found", tc.old)
			}
			_, err := Parse([]byte(in))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestAllPeers(t *testing.T) {
	in := strings.Replace(string(DefaultYAML()), "peers: [ubuntu-2]", "peers: [all]", 1)
	top, err := Parse([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"ubuntu-1", "ubuntu-2", "ubuntu-3"}, top.Router.Peers); diff != "" {
		t.Error(diff)
	}
}

func TestPodsAndBlocks(t *testing.T) {
	top := Default()
	pods := top.Pods()
	want := []struct{ name, node, addr string }{
		{"web-ubuntu-1-0", "ubuntu-1", "192.168.0.1"},
		{"web-ubuntu-1-1", "ubuntu-1", "192.168.0.2"},
		{"web-ubuntu-2-0", "ubuntu-2", "192.168.0.65"},
		{"web-ubuntu-2-1", "ubuntu-2", "192.168.0.66"},
		{"web-ubuntu-3-0", "ubuntu-3", "192.168.0.129"},
		{"web-ubuntu-3-1", "ubuntu-3", "192.168.0.130"},
	}
	if len(pods) != len(want) {
		t.Fatalf("%d pods, want %d", len(pods), len(want))
	}
	for i, w := range want {
		if p := pods[i]; p.Name != w.name || p.Node != w.node || p.Addr.String() != w.addr {
			t.Errorf("pod %d = %+v, want %+v", i, p, w)
		}
	}
	if got := top.Block(2).String(); got != "192.168.0.128/26" {
		t.Errorf("block 2 = %s", got)
	}
	// Blocks carry into the next byte, and IPv6 pools work too.
	top.Cluster.PodCIDR = netip.MustParsePrefix("fd00:10::/48")
	top.Cluster.BlockSize = 122
	if got := top.Block(5).String(); got != "fd00:10::140/122" {
		t.Errorf("v6 block 5 = %s", got)
	}
	if got := addN(netip.MustParseAddr("10.0.0.255"), 258).String(); got != "10.0.2.1" {
		t.Errorf("addN carry = %s", got)
	}
}

func TestTargetsAndEndpoints(t *testing.T) {
	top := Default()
	ts := top.Targets(true)
	got := map[string]Expect{}
	for _, tg := range ts {
		got[tg.Name] = tg.Expect
	}
	want := map[string]Expect{
		"web-ubuntu-1-0": MustWork, "web-ubuntu-1-1": MustWork, "web-ubuntu-2-0": MustWork,
		"web-ubuntu-2-1": MustWork, "web-ubuntu-3-0": MustWork, "web-ubuntu-3-1": MustWork,
		"svc/web": PartialFailure, "svc/web-local": MustWork,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Error(diff)
	}
	if e := top.Targets(false)[7]; e.Expect != PartialFailure {
		t.Errorf("Local service without agent service input: %v", e.Expect)
	}
	local := top.Services[1]
	for _, tc := range []struct {
		node string
		want int
	}{{"ubuntu-3", 2}, {"ubuntu-1", 2}} {
		eps := top.nodeEndpoints(local, tc.node)
		if len(eps) != tc.want || eps[0].Node != "ubuntu-3" {
			t.Errorf("%s: endpoints %+v", tc.node, eps)
		}
	}
	if n := len(top.nodeEndpoints(top.Services[0], "ubuntu-1")); n != 6 {
		t.Errorf("Cluster service: %d endpoints, want 6", n)
	}
}

func TestResultVerdict(t *testing.T) {
	for _, tc := range []struct {
		name string
		r    Result
		pass bool
		want string
	}{
		{"must work ok", Result{Target: Target{Expect: MustWork}, OK: 5}, true, "ok"},
		{"must work failed", Result{Target: Target{Expect: MustWork}, OK: 4, Failed: 1}, false, "FAIL"},
		{"must work nothing", Result{Target: Target{Expect: MustWork}}, false, "FAIL"},
		{"partial", Result{Target: Target{Expect: PartialFailure}, OK: 3, Failed: 2}, true, "expected failure"},
		{"partial all failed", Result{Target: Target{Expect: PartialFailure}, Failed: 2}, true, "expected failure (all failed)"},
		{"partial none failed", Result{Target: Target{Expect: PartialFailure}, OK: 2}, true, "ok (expected failures did not happen)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.r.Pass() != tc.pass || tc.r.Verdict() != tc.want {
				t.Errorf("Pass %v Verdict %q, want %v %q", tc.r.Pass(), tc.r.Verdict(), tc.pass, tc.want)
			}
		})
	}
}

func TestPictureGolden(t *testing.T) {
	top := Default()
	ss := []Session{
		{A: "router", B: "ubuntu-2", State: "Established"},
		{A: "ubuntu-1", B: "ubuntu-2", State: "Established"},
		{A: "ubuntu-2", B: "ubuntu-3", State: "Active"},
	}
	golden.Check(t, filepath.Join("testdata", "seed.svg"), Picture(top, ss))
}

func TestMergeSessions(t *testing.T) {
	got := mergeSessions([]Session{
		{A: "router", B: "ubuntu-2", State: "Established"},
		{A: "ubuntu-1", B: "ubuntu-2", State: "Established"},
		{A: "ubuntu-2", B: "ubuntu-1", State: "Established"},
		{A: "ubuntu-2", B: "router", State: "Connect"},
		{A: "ubuntu-3", State: "agent unreachable"},
	})
	want := []Session{
		{A: "router", B: "ubuntu-2", State: "Established/Connect"},
		{A: "ubuntu-1", B: "ubuntu-2", State: "Established"},
		{A: "ubuntu-3", State: "agent unreachable"},
	}
	if diff := cmp.Diff(want, got, netipCmp...); diff != "" {
		t.Error(diff)
	}
}

func FuzzParse(f *testing.F) {
	f.Add(DefaultYAML())
	for _, n := range []string{"seed-ebgp.yaml", "two-reflectors.yaml"} {
		if b, err := os.ReadFile(filepath.Join(examplesDir(), n)); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		top, err := Parse(b)
		if err != nil {
			return
		}
		// A valid topology has everything the lab derives from it.
		_ = top.Pods()
		_ = top.Registration()
		_, _, _ = RouterConfig(top, "/d")
		_ = Picture(top, nil)
		out, err := top.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Parse(out); err != nil {
			t.Fatalf("normalized topology does not parse again: %v\n%s", err, out)
		}
	})
}

// TestRouterConfigFRRAccepts runs FRR's own config check (bgpd -C) on the
// generated configuration of every example.
func TestRouterConfigFRRAccepts(t *testing.T) {
	if _, err := os.Stat(frrBGPd); err != nil {
		t.Skipf("skipping: %s not installed (apt-get install frr)", frrBGPd)
	}
	if os.Geteuid() != 0 {
		t.Skip("skipping: bgpd -C needs root (it drops to user frr)")
	}
	files, _ := filepath.Glob(filepath.Join(examplesDir(), "*.yaml"))
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			top, err := Load(f)
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			// bgpd drops to user frr: it must reach the file and the log.
			for _, d := range []string{filepath.Dir(dir), dir} {
				if err := os.Chmod(d, 0o777); err != nil {
					t.Fatal(err)
				}
			}
			_, bgpd, err := RouterConfig(top, dir)
			if err != nil {
				t.Fatal(err)
			}
			conf := filepath.Join(dir, "bgpd.conf")
			if err := os.WriteFile(conf, bgpd, 0o644); err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command(frrBGPd, "-C", "-f", conf).CombinedOutput()
			if err != nil || bytes.Contains(out, []byte("Config Failed")) || bytes.Contains(out, []byte("No such command")) || bytes.Contains(out, []byte("[EC ")) {
				t.Errorf("bgpd -C rejects the config: %v\n%s\n%s", err, out, bgpd)
			}
		})
	}
}
