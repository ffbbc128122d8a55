package doctor

import (
	"context"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/kbgp/kbgp/internal/netns"
	"github.com/kbgp/kbgp/internal/netns/nstest"
	"github.com/kbgp/kbgp/internal/status"
)

var addrCmp = cmp.Comparer(func(a, b netip.Addr) bool { return a == b })
var prefixCmp = cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })

func kr(prefix, typ string, gws ...string) KernelRoute {
	r := KernelRoute{Prefix: netip.MustParsePrefix(prefix), Type: typ}
	for _, g := range gws {
		r.Gateways = append(r.Gateways, netip.MustParseAddr(g))
	}
	return r
}

func TestParseIPRouteJSON(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     []KernelRoute
		wantErr  string
	}{
		{name: "ip -j output of a node (ECMP, host route, blackhole)",
			in: string(readFile(t, "testdata/routes/ubuntu-1-missing.json")),
			want: []KernelRoute{kr("10.96.0.0/24", "unicast", "172.16.30.102", "172.16.30.103"),
				kr("10.96.0.11/32", "unicast", "172.16.30.103"), kr("192.168.20.0/26", "unicast", "172.16.30.102"),
				kr("192.168.30.0/26", "unicast", "172.16.30.103")}},
		{name: "blackhole", in: `[{"type":"blackhole","dst":"192.168.10.0/26","flags":[]}]`,
			want: []KernelRoute{kr("192.168.10.0/26", "blackhole")}},
		{name: "IPv6 host route and default", in: `[{"dst":"fd00::5","gateway":"fe80::1","dev":"eth0"},{"dst":"default","gateway":"fd00::1"}]`,
			want: []KernelRoute{kr("fd00::5/128", "unicast", "fe80::1"), kr("::/0", "unicast", "fd00::1")}},
		{name: "IPv4 default without gateway", in: `[{"type":"unreachable","dst":"default"}]`,
			want: []KernelRoute{kr("0.0.0.0/0", "unreachable")}},
		{name: "IPv4 then IPv6 output", in: "[{\"dst\":\"10.0.0.0/8\",\"gateway\":\"192.0.2.1\"}]\n[{\"dst\":\"fd00::/8\",\"gateway\":\"fd00::1\"}]\n",
			want: []KernelRoute{kr("10.0.0.0/8", "unicast", "192.0.2.1"), kr("fd00::/8", "unicast", "fd00::1")}},
		{name: "no routes", in: "[]\n[]\n"},
		{name: "empty input", in: ""},
		{name: "text output", in: "192.168.20.0/26 via 172.16.30.102 dev eth0 proto 77", wantErr: "not `ip -j route` output"},
		{name: "bad dst", in: `[{"dst":"192.168.300.0/26"}]`, wantErr: `array 1 route 1: dst "192.168.300.0/26"`},
		{name: "bad gateway", in: `[{"dst":"10.0.0.0/8","gateway":"eth0"}]`, wantErr: `gateway "eth0"`},
		{name: "object instead of array", in: `{"dst":"10.0.0.0/8"}`, wantErr: "not `ip -j route` output"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseIPRouteJSON("routes.json", []byte(tc.in))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), "routes.json") {
					t.Fatalf("error %v, want one naming routes.json and containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tc.want, got, addrCmp, prefixCmp); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
}

func FuzzParseIPRouteJSON(f *testing.F) {
	fuzzSeeds(f, "testdata/routes/ubuntu-1.json", "testdata/routes/ubuntu-1-missing.json")
	f.Add([]byte(`[{"dst":"default","nexthops":[{"gateway":"fd00::1"}]}]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		rs, err := ParseIPRouteJSON("fuzz", b)
		if err != nil {
			return
		}
		for _, r := range rs {
			if !r.Prefix.IsValid() || r.Type == "" {
				t.Fatalf("parsed an invalid route %+v from %q", r, b)
			}
		}
	})
}

func established(node string, addrs ...string) map[string][]status.Peer {
	var ps []status.Peer
	for _, a := range addrs {
		state := status.Established
		if s, ok := strings.CutPrefix(a, "down:"); ok {
			a, state = s, status.Active
		}
		ps = append(ps, status.Peer{Name: "Node_" + strings.ReplaceAll(a, ".", "_"), Address: netip.MustParseAddr(a), State: state})
	}
	return map[string][]status.Peer{node: ps}
}

// TestKernelRoutes: the seed's ubuntu-1 (a client of the reflector
// ubuntu-2) with its kernel routes.
func TestKernelRoutes(t *testing.T) {
	ok, err := ParseIPRouteJSON("ubuntu-1.json", readFile(t, "testdata/routes/ubuntu-1.json"))
	if err != nil {
		t.Fatal(err)
	}
	missing, err := ParseIPRouteJSON("ubuntu-1-missing.json", readFile(t, "testdata/routes/ubuntu-1-missing.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		routes   []KernelRoute
		sessions map[string][]status.Peer
		want     map[string][]string // check -> evidence substrings
	}{
		{name: "every route present", routes: ok, sessions: established("ubuntu-1", "172.16.30.102")},
		{name: "block and blackhole missing, reflector session Established", routes: missing,
			sessions: established("ubuntu-1", "172.16.30.102"),
			want: map[string][]string{
				"kernel-route-missing": {"Node/ubuntu-1 has no kernel route for 192.168.30.64/26 (block of Node/ubuntu-3) although its session Node_172_16_30_102 (to ubuntu-2, reflector) is Established"},
				"blackhole-missing":    {"Node/ubuntu-1 has no blackhole route for its block 192.168.10.0/26 (protocol 77 routes: 10.96.0.0/24, 10.96.0.11/32, 192.168.20.0/26, 192.168.30.0/26)"},
			}},
		{name: "reflector session down: routes missing for a reason", routes: missing,
			sessions: established("ubuntu-1", "down:172.16.30.102"),
			want: map[string][]string{
				"session-down":      {"Node/ubuntu-1 session Node_172_16_30_102 to 172.16.30.102 is Active"},
				"blackhole-missing": {"its block 192.168.10.0/26"},
			}},
		{name: "sessions not read: only the blackholes are checked", routes: missing,
			want: map[string][]string{"blackhole-missing": {"its block 192.168.10.0/26"}}},
		{name: "no routes at all", routes: []KernelRoute{}, sessions: established("ubuntu-1", "172.16.30.102"),
			want: map[string][]string{
				"kernel-route-missing": {"192.168.20.0/26 (block of Node/ubuntu-2)", "192.168.30.0/26 (block of Node/ubuntu-3)", "192.168.30.64/26 (block of Node/ubuntu-3)"},
				"blackhole-missing":    {"(protocol 77 routes: none)"},
			}},
		{name: "a blackhole is no route to another node's block",
			routes:   append(slices.Clone(ok[:1]), kr("192.168.10.0/26", "blackhole"), kr("192.168.20.0/26", "blackhole"), ok[3], ok[4]),
			sessions: established("ubuntu-1", "172.16.30.102"),
			want:     map[string][]string{"kernel-route-missing": {"192.168.20.0/26 (block of Node/ubuntu-2)"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Run(Inputs{Resources: loadDir(t, "seed"), Routes: map[string][]KernelRoute{"ubuntu-1": tc.routes}, Sessions: tc.sessions})
			if err != nil {
				t.Fatal(err)
			}
			got := map[string][]string{}
			for _, f := range r.Findings {
				if f.Check == "kernel-route-missing" || f.Check == "blackhole-missing" || f.Check == "session-down" {
					got[f.Check] = f.Evidence
				}
			}
			for check, wants := range tc.want {
				ev := strings.Join(got[check], "\n")
				if ev == "" {
					t.Errorf("no %s finding; findings %q", check, checks(r))
				}
				for _, w := range wants {
					if !strings.Contains(ev, w) {
						t.Errorf("%s evidence lacks %q:\n%s", check, w, ev)
					}
				}
			}
			for check := range got {
				if _, ok := tc.want[check]; !ok {
					t.Errorf("unexpected %s finding: %q", check, got[check])
				}
			}
		})
	}
}

// TestKernelRoutesNamespace reads real kernel routes with protocol 77
// (and not others) from a namespace.
func TestKernelRoutesNamespace(t *testing.T) {
	ns := nstest.New(t, "doc")
	if err := netns.AddVeth(netns.Veth{NS: ns.NS, Name: "eth0", Addrs: []netip.Prefix{netip.MustParsePrefix("172.16.30.101/24")}},
		netns.Veth{NS: ns.NS, Name: "eth9"}); err != nil {
		t.Fatal(err)
	}
	for _, l := range []string{"lo", "eth0", "eth9"} {
		if err := ns.LinkUp(l); err != nil {
			t.Fatal(err)
		}
	}
	for _, args := range [][]string{
		{"route", "add", "blackhole", "192.168.10.0/26", "proto", "77"},
		{"route", "add", "192.168.20.0/26", "via", "172.16.30.102", "proto", "77"},
		{"route", "add", "10.96.0.0/24", "proto", "77", "nexthop", "via", "172.16.30.102", "nexthop", "via", "172.16.30.103"},
		{"route", "add", "10.96.0.11/32", "via", "172.16.30.103", "proto", "77"},
		{"route", "add", "192.168.99.0/24", "via", "172.16.30.1", "proto", "186"}, // BIRD's, not ours
	} {
		ns.Run("ip", args...)
	}
	got, err := KernelRoutes(context.Background(), ns.Name, 77)
	if err != nil {
		t.Fatal(err)
	}
	want := []KernelRoute{kr("10.96.0.0/24", "unicast", "172.16.30.102", "172.16.30.103"), kr("10.96.0.11/32", "unicast", "172.16.30.103"),
		kr("192.168.10.0/26", "blackhole"), kr("192.168.20.0/26", "unicast", "172.16.30.102")}
	if d := cmp.Diff(want, got, addrCmp, prefixCmp); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
	if _, err := KernelRoutes(context.Background(), filepath.Base(ns.Name)+"-absent", 77); err == nil {
		t.Error("no error for a namespace that does not exist")
	}
}
