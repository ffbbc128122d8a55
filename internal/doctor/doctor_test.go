package doctor

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/kbgp/kbgp/internal/config"
	"github.com/kbgp/kbgp/internal/golden"
	"github.com/kbgp/kbgp/internal/status"
)

func loadDir(t testing.TB, dir string) *config.Input {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join("testdata", dir, "*.yaml"))
	if len(files) == 0 {
		t.Fatalf("no YAML in testdata/%s", dir)
	}
	in := &config.Input{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		rs, err := config.Decode(f, data)
		if err != nil {
			t.Fatal(err)
		}
		in.Add(rs...)
	}
	return in
}

func decodeYAML(t testing.TB, docs string) *config.Input {
	t.Helper()
	rs, err := config.Decode("test.yaml", []byte(docs))
	if err != nil {
		t.Fatal(err)
	}
	return config.NewInput(rs, nil)
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func checks(r *Report) []string {
	var out []string
	for _, f := range r.Findings {
		out = append(out, string(f.Severity)+" "+f.Check)
	}
	return out
}

// TestSeed runs the doctor on the seed's resources with the kernel state
// the seed describes (kube-proxy in IPVS mode, the MASQUERADE rule of
// problem 4) and wants problems 1, 3 and 5 reported with their fixes.
func TestSeed(t *testing.T) {
	r, err := Run(Inputs{Resources: loadDir(t, "seed"), Source: "node ubuntu-2",
		IPTablesSave: readFile(t, "testdata/seed/iptables-save.txt"), IPVS: readFile(t, "testdata/seed/ipvsadm.txt")})
	if err != nil {
		t.Fatal(err)
	}
	golden.Check(t, filepath.Join("testdata", "golden", "seed.txt"), r.AppendText(nil))
	j, err := r.AppendJSON(nil)
	if err != nil {
		t.Fatal(err)
	}
	golden.Check(t, filepath.Join("testdata", "golden", "seed.json"), j)
	for _, want := range []int{1, 3, 5} {
		found := false
		for _, f := range r.Findings {
			if slices.Contains(f.Seed, want) && f.Fix != "" && len(f.Evidence) > 0 {
				found = true
			}
		}
		if !found {
			t.Errorf("seed problem %d not reported (findings: %q)", want, checks(r))
		}
	}
	want := []string{"error asymmetric-service-return", "error blanket-masquerade", "error graceful-restart-too-short",
		"error single-route-reflector", "warning ecmp-lost-through-reflector"}
	if d := cmp.Diff(want, checks(r)); d != "" {
		t.Errorf("findings (-want +got):\n%s", d)
	}
	if r.Errors != 4 || r.Warnings != 1 {
		t.Errorf("counts %d errors %d warnings, want 4 and 1", r.Errors, r.Warnings)
	}
}

// TestSeedResourcesOnly: without kernel input, the resource checks still
// find the single reflector; IPVS given as a flag finds problem 1.
func TestSeedResourcesOnly(t *testing.T) {
	r, err := Run(Inputs{Resources: loadDir(t, "seed")})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"error graceful-restart-too-short", "error single-route-reflector", "warning ecmp-lost-through-reflector"}
	if d := cmp.Diff(want, checks(r)); d != "" {
		t.Errorf("findings (-want +got):\n%s", d)
	}
	r, err = Run(Inputs{Resources: loadDir(t, "seed"), KubeProxyMode: ProxyIPVS})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(checks(r), "error asymmetric-service-return") {
		t.Errorf("--kube-proxy-mode ipvs: want asymmetric-service-return, got %q", checks(r))
	}
}

func TestClean(t *testing.T) {
	r, err := Run(Inputs{Resources: loadDir(t, "clean"), KubeProxyMode: ProxyIPVS,
		IPTablesSave: readFile(t, "testdata/clean/iptables-save.txt")})
	if err != nil {
		t.Fatal(err)
	}
	golden.Check(t, filepath.Join("testdata", "golden", "clean.txt"), r.AppendText(nil))
	if len(r.Findings) != 0 {
		t.Errorf("clean config has findings: %q", checks(r))
	}
}

const nodesYAML = `
apiVersion: kbgp.io/v1
kind: Node
metadata: {name: a, labels: {rr: "true"}}
spec: {bgp: {ipv4Address: 10.0.0.1/24, routeReflectorClusterID: 1.1.1.1}, affineBlocks: [{cidr: 10.1.0.0/26}]}
---
apiVersion: kbgp.io/v1
kind: Node
metadata: {name: b, labels: {rr: "true"}}
spec: {bgp: {ipv4Address: 10.0.0.2/24, routeReflectorClusterID: 1.1.1.1}}
---
apiVersion: kbgp.io/v1
kind: Node
metadata: {name: c, labels: {pick: a}}
spec: {bgp: {ipv4Address: 10.0.0.3/24}}
---
apiVersion: kbgp.io/v1
kind: Node
metadata: {name: d, labels: {pick: b}}
spec: {bgp: {ipv4Address: 10.0.0.4/24, ipv6Address: fd00::4/64}}
---
apiVersion: projectcalico.org/v3
kind: IPPool
metadata: {name: pool}
spec: {cidr: 10.1.0.0/16}
`

func TestChecks(t *testing.T) {
	tests := []struct {
		name  string
		extra string // more YAML documents
		in    func(*Inputs)
		want  []string // checks that must be present
		not   []string // checks that must be absent
	}{
		{name: "partial reflector peering (Calico #2735)", extra: `
apiVersion: projectcalico.org/v3
kind: BGPConfiguration
metadata: {name: default}
spec: {nodeToNodeMeshEnabled: false}
---
apiVersion: projectcalico.org/v3
kind: BGPPeer
metadata: {name: to-a}
spec: {nodeSelector: pick == 'a', peerIP: 10.0.0.1, asNumber: 64512}
---
apiVersion: projectcalico.org/v3
kind: BGPPeer
metadata: {name: to-b}
spec: {nodeSelector: pick == 'b', peerIP: 10.0.0.2, asNumber: 64512}
`, want: []string{"partial-reflector-peering"}, not: []string{"single-route-reflector"}},
		{name: "isolated nodes", extra: `
apiVersion: projectcalico.org/v3
kind: BGPConfiguration
metadata: {name: default}
spec: {nodeToNodeMeshEnabled: false}
`, want: []string{"isolated-nodes"}},
		{name: "selector matches nothing", extra: `
apiVersion: projectcalico.org/v3
kind: BGPPeer
metadata: {name: tor}
spec: {nodeSelector: rack == 'nowhere', peerIP: 10.0.0.254, asNumber: 65000}
`, want: []string{"selector-matches-nothing"}},
		{name: "duplicate address", extra: `
apiVersion: kbgp.io/v1
kind: Node
metadata: {name: e}
spec: {bgp: {ipv4Address: 10.0.0.3/24}}
`, want: []string{"duplicate-node-address", "duplicate-router-ID"}},
		{name: "router AS mismatch and eBGP next hop self", extra: `
apiVersion: projectcalico.org/v3
kind: BGPPeer
metadata: {name: tor}
spec: {nodeSelector: "rr == 'true'", peerIP: 10.0.0.254, asNumber: 65000}
`, in: func(i *Inputs) { i.RouterAS = 65001 }, want: []string{"router-as-mismatch", "ebgp-next-hop-self", "ecmp-lost-through-reflector"}},
		{name: "next hop keep and router ADD-PATH", extra: `
apiVersion: projectcalico.org/v3
kind: BGPPeer
metadata: {name: tor}
spec: {nodeSelector: "rr == 'true'", peerIP: 10.0.0.254, asNumber: 65000, nextHopMode: Keep}
`, in: func(i *Inputs) { i.RouterAS, i.RouterAddPath = 65000, true },
			not: []string{"router-as-mismatch", "ebgp-next-hop-self", "ecmp-lost-through-reflector"}},
		{name: "peer off link", extra: `
apiVersion: projectcalico.org/v3
kind: BGPPeer
metadata: {name: far}
spec: {peerIP: 192.0.2.1, asNumber: 65000}
`, want: []string{"peer-not-on-link"}},
		{name: "service range overlaps pool", extra: `
apiVersion: projectcalico.org/v3
kind: BGPConfiguration
metadata: {name: default}
spec: {serviceClusterIPs: [{cidr: 10.1.128.0/24}]}
---
apiVersion: kbgp.io/v1
kind: Node
metadata: {name: f}
spec: {bgp: {ipv4Address: 10.0.0.6/24}, affineBlocks: [{cidr: 10.9.0.0/26}]}
`, want: []string{"service-range-overlaps-pool", "block-outside-pools", "partial-ipv6"}},
		{name: "GR disabled toward reflectors", extra: `
apiVersion: kbgp.io/v1
kind: BGPPeer
metadata: {name: rr}
spec: {nodeSelector: all(), peerSelector: rr == 'true', gracefulRestart: Disabled}
`, want: []string{"graceful-restart-too-short"}},
		{name: "live session down", in: func(i *Inputs) {
			i.Sessions = map[string][]status.Peer{"c": {{Name: "Node_10_0_0_1", State: status.SessionState("Active"),
				LastError: &status.PeerError{Message: "connection refused"}}}}
		}, want: []string{"session-down"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := Inputs{Resources: decodeYAML(t, nodesYAML+"---\n"+tc.extra)}
			if tc.in != nil {
				tc.in(&in)
			}
			r, err := Run(in)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, f := range r.Findings {
				got = append(got, f.Check)
				if f.Summary == "" || len(f.Evidence) == 0 || f.Fix == "" {
					t.Errorf("finding %s lacks summary, evidence or fix: %+v", f.Check, f)
				}
			}
			for _, w := range tc.want {
				if !slices.Contains(got, w) {
					t.Errorf("want finding %s, got %q", w, got)
				}
			}
			for _, w := range tc.not {
				if slices.Contains(got, w) {
					t.Errorf("unexpected finding %s in %q", w, got)
				}
			}
		})
	}
}

func TestParseIPTablesSave(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		blanket []int // lines of blanket rules
		err     string
	}{
		{"seed problem 2 rule", "*nat\n-A POSTROUTING -j MASQUERADE\nCOMMIT\n", []int{2}, ""},
		{"seed problem 4 rule", "*nat\n-A POSTROUTING ! -d 127.0.0.1/32 -j MASQUERADE\nCOMMIT\n", []int{2}, ""},
		{"scoped by source", "*nat\n-A POSTROUTING -s 192.168.0.0/16 ! -d 192.168.0.0/16 -j MASQUERADE\nCOMMIT\n", nil, ""},
		{"negated source is still blanket", "*nat\n-A POSTROUTING ! -s 10.0.0.0/8 -j MASQUERADE\nCOMMIT\n", []int{2}, ""},
		{"SNAT", "*nat\n-A POSTROUTING -o eth0 -j SNAT --to-source 1.2.3.4\nCOMMIT\n", []int{2}, ""},
		{"ipset (Calico natOutgoing)", "*nat\n-A POSTROUTING -m set --match-set cali40masq-ipam-pools src -j MASQUERADE\nCOMMIT\n", nil, ""},
		{"kube-proxy mark", "*nat\n-A KUBE-POSTROUTING -j MASQUERADE --random-fully\n-A POSTROUTING -m mark --mark 0x4000/0x4000 -j MASQUERADE\nCOMMIT\n", nil, ""},
		{"not nat postrouting", "*filter\n-A FORWARD -j ACCEPT\nCOMMIT\n", nil, ""},
		{"quoted comment", "*nat\n-A POSTROUTING -m comment --comment \"say \\\"hi\\\" -j x\" -j MASQUERADE\nCOMMIT\n", []int{2}, ""},
		{"unterminated quote", "*nat\n-A POSTROUTING -m comment --comment \"x -j MASQUERADE\nCOMMIT\n", nil, "line 2: unterminated quote"},
		{"rule outside table", "-A POSTROUTING -j MASQUERADE\n", nil, "line 1: rule outside a table"},
		{"not a rule", "*nat\niptables -t nat -A POSTROUTING -j MASQUERADE\n", nil, "line 2: want"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rs, err := ParseIPTablesSave([]byte(tc.in))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []int
			for _, r := range rs.Rules {
				if r.Blanket() {
					got = append(got, r.Line)
				}
			}
			if d := cmp.Diff(tc.blanket, got); d != "" {
				t.Errorf("blanket rules (-want +got):\n%s", d)
			}
		})
	}
}

func TestParseNFTRuleset(t *testing.T) {
	const ruleset = `table ip nat {
	chain POSTROUTING {
		type nat hook postrouting priority srcnat; policy accept;
		ip saddr 192.168.0.0/16 ip daddr != 192.168.0.0/16 masquerade
		oifname "eth0" masquerade
	}
	chain PREROUTING {
		type nat hook prerouting priority dstnat; policy accept;
		tcp dport 80 dnat to 10.0.0.1
	}
	set pods {
		type ipv4_addr
		elements = { 10.0.0.1 }
	}
}
table inet filter {
	chain forward {
		type filter hook forward priority filter; policy accept;
		masquerade
	}
}
`
	rs, err := ParseNFTRuleset([]byte(ruleset))
	if err != nil {
		t.Fatal(err)
	}
	var got []int
	for _, r := range rs.Rules {
		if r.Blanket() {
			got = append(got, r.Line)
		}
	}
	if d := cmp.Diff([]int{5}, got); d != "" {
		t.Errorf("blanket rules (-want +got):\n%s", d)
	}
	for _, bad := range []string{"table ip nat {\n chain x {\n", "}\n", "chain x {\n}\n"} {
		if _, err := ParseNFTRuleset([]byte(bad)); err == nil {
			t.Errorf("ParseNFTRuleset(%q) succeeded", bad)
		}
	}
}

func fuzzSeeds(f *testing.F, files ...string) {
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

func FuzzParseIPTablesSave(f *testing.F) {
	fuzzSeeds(f, "testdata/seed/iptables-save.txt", "testdata/clean/iptables-save.txt")
	f.Add([]byte("*nat\n-A POSTROUTING -m comment --comment \"a \\\" b\" -j MASQUERADE\nCOMMIT\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		rs, err := ParseIPTablesSave(b)
		if err != nil {
			return
		}
		for _, r := range rs.Rules {
			r.Blanket()
			if r.Line < 1 || r.Table == "" {
				t.Fatalf("rule %+v without line or table", r)
			}
		}
		rs.kubeProxyMasqueradesExternal()
	})
}

func FuzzParseNFTRuleset(f *testing.F) {
	f.Add([]byte("table ip nat {\n chain POSTROUTING {\n  type nat hook postrouting priority srcnat;\n  masquerade\n }\n}\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		rs, err := ParseNFTRuleset(b)
		if err != nil {
			return
		}
		for _, r := range rs.Rules {
			r.Blanket()
			if r.Chain == "" || !strings.HasPrefix(r.Table, "nft ") {
				t.Fatalf("rule %+v outside a table/chain", r)
			}
		}
	})
}

// TestAsymmetricFixOptions: the asymmetric-service-return fix lists the
// issue's three remedies (ETP Local /32, every node peering with the
// router plus multipath, ADD-PATH toward the router) and kube-proxy SNAT,
// each saying whether it fixes the return path.
func TestAsymmetricFixOptions(t *testing.T) {
	r, err := Run(Inputs{Resources: loadDir(t, "seed"), KubeProxyMode: ProxyIPVS})
	if err != nil {
		t.Fatal(err)
	}
	var fix string
	for _, f := range r.Findings {
		if f.Check == "asymmetric-service-return" {
			fix = f.Fix
		}
	}
	if fix == "" {
		t.Fatalf("no asymmetric-service-return finding: %q", checks(r))
	}
	for _, tc := range []struct{ name, want string }{
		{"ETP Local /32", "1. externalTrafficPolicy: Local, advertised as a /32"},
		{"ETP Local fixes the return path", "Fixes the return path."},
		{"every node peers with the router", "2. Every node peering with the router plus router multipath"},
		{"the command for it", "kbgp router-config --vendor VENDOR --node-peering all"},
		{"which does not fix the return path", "Does not fix the return path"},
		{"ADD-PATH toward the router", "3. ADD-PATH toward the router (RFC 7911"},
		{"which does not either", "the return path is broken as in 2"},
		{"kube-proxy SNAT", "4. kube-proxy SNAT for external sources (kube-proxy --cluster-cidr=192.168.0.0/16"},
		{"the recommendation", "Use 1 (or 4 where the client address does not matter)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(fix, tc.want) {
				t.Errorf("fix lacks %q:\n%s", tc.want, fix)
			}
		})
	}
}
