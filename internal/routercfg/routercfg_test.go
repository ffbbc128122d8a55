package routercfg

import (
	"bytes"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kbgp/kbgp/internal/config"
	"github.com/kbgp/kbgp/internal/golden"
)

// loadInput decodes every YAML file in testdata/dir.
func loadInput(t testing.TB, dir string) *config.Input {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", dir, "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no input in testdata/%s: %v", dir, err)
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

type genCase struct {
	name  string
	input string
	opts  Options
	// secrets resolves BGPPeer passwords.
	secrets map[string]map[string]string
}

var genCases = []genCase{
	{name: "seed", input: "seed"},
	{name: "seed-all", input: "seed", opts: Options{NodePeering: PeerAll}},
	{name: "seed-ebgp", input: "seed-ebgp"},
	{name: "seed-ebgp-as", input: "seed", opts: Options{EBGPAS: 65000}},
	{name: "seed-ros720", input: "seed", opts: Options{RouterOSVersion: "7.20"}},
	{name: "seed-lab", input: "seed", opts: Options{NodePeering: PeerAll, RouterOSRRClientRole: true, ConnectRetry: time.Second, Hostname: "lab-router",
		LogFile: "/var/log/frr/kbgp-router.log"}},
	{name: "full", input: "full", secrets: map[string]map[string]string{"bgp-secrets": {"tor": "s3cret"}}},
	{name: "full-unresolved", input: "full", opts: Options{NodePeering: PeerAll, MaxPaths: 4}},
}

func generateCase(t *testing.T, tc genCase, v Vendor) []byte {
	t.Helper()
	in := loadInput(t, tc.input)
	in.Secrets = tc.secrets
	opts := tc.opts
	opts.Vendor = v
	out, err := Generate(in, opts)
	if err != nil {
		t.Fatalf("Generate(%s, %s): %v", tc.name, v, err)
	}
	return out
}

// TestGolden compares every vendor's output for every case with
// testdata/golden/<case>.<vendor>; run with -update to rewrite them.
func TestGolden(t *testing.T) {
	for _, tc := range genCases {
		for _, v := range Vendors {
			t.Run(tc.name+"/"+string(v), func(t *testing.T) {
				got := generateCase(t, tc, v)
				path := filepath.Join("testdata", "golden", tc.name+"."+string(v))
				golden.Check(t, path, got)
			})
		}
	}
}

// TestSeedRouterOS checks the generated RouterOS commands against the
// seed's hand-written ones (../shared/seed/calico-bgp-notes.en.md, "Router").
func TestSeedRouterOS(t *testing.T) {
	tests := []struct {
		name, input string
		opts        Options
		want        string
	}{
		{"iBGP", "seed", Options{},
			"/routing/bgp/connection/add name=k8s-peer-1 remote.address=172.16.30.102 remote.as=64513 local.role=ibgp as=64513"},
		{"eBGP", "seed-ebgp", Options{},
			"/routing/bgp/connection/add name=k8s-peer-1 remote.address=172.16.30.102 remote.as=64513 local.role=ebgp as=65000"},
		{"7.20 instance", "seed", Options{RouterOSVersion: "7.20.4"},
			"/routing/bgp/connection/add name=k8s-peer-1 remote.address=172.16.30.102 remote.as=64513 local.role=ibgp instance=kbgp"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.Vendor = RouterOS
			out, err := Generate(loadInput(t, tc.input), tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			var found bool
			for _, line := range strings.Split(string(out), "\n") {
				if strings.HasPrefix(line, tc.want+" ") {
					found = true
				}
			}
			if !found {
				t.Errorf("no line starts with %q in:\n%s", tc.want, out)
			}
			if strings.Count(string(out), "/routing/bgp/connection/add") != 1 {
				t.Errorf("want exactly one connection (the single reflector ubuntu-2):\n%s", out)
			}
		})
	}
}

func TestPlan(t *testing.T) {
	in := loadInput(t, "full")
	r, err := Plan(in, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if r.ASN != 65010 || r.RouterID != netip.MustParseAddr("10.0.0.1") {
		t.Errorf("router AS %s ID %s, want 65010 10.0.0.1", r.ASN, r.RouterID)
	}
	var got []string
	for _, s := range r.Sessions {
		got = append(got, s.Name+" "+s.Node+" "+s.Address.String()+" AS"+s.RemoteAS.String())
	}
	want := []string{"k8s-peer-1 node-1 10.0.0.11 AS64512", "k8s-peer-2 node-1 fd00::11 AS64512",
		"k8s-peer-3 node-2 10.0.0.12 AS64512", "k8s-peer-4 node-2 fd00::12 AS64512"}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("sessions (-want +got):\n%s", d)
	}
	var imports []string
	for _, ir := range r.Import {
		imports = append(imports, ir.Prefix.String())
	}
	// internal-only has disableBGPExport: the nodes never send it.
	wantImp := []string{"10.96.0.0/16", "10.244.0.0/16", "198.51.100.0/24", "fd00:96::/112", "fd00:244::/56"}
	if d := cmp.Diff(wantImp, imports); d != "" {
		t.Errorf("imports (-want +got):\n%s", d)
	}
	if !r.GracefulRestart || r.LLGRStaleTime.Hours() != 1 {
		t.Errorf("GR %v LLGR %v, want on and 1h", r.GracefulRestart, r.LLGRStaleTime)
	}
	if len(r.Warnings) != 1 || !strings.Contains(r.Warnings[0], "CHANGE-ME-bgp-secrets-tor") {
		t.Errorf("want one warning about the unresolved password, got %q", r.Warnings)
	}
}

func TestPlanErrors(t *testing.T) {
	tests := []struct {
		name, input string
		opts        Options
		want        string
	}{
		{"bad peering", "seed", Options{NodePeering: "some"}, "node peering"},
		{"two v4 router addresses", "seed", Options{RouterAddresses: []netip.Addr{netip.MustParseAddr("172.16.30.254"), netip.MustParseAddr("172.16.30.253")}}, "several possible router addresses"},
		{"v6-only router without ID", "full", Options{RouterAddresses: []netip.Addr{netip.MustParseAddr("fd00::1")}}, "IPv4 router ID"},
		{"bad RouterOS version", "seed", Options{Vendor: RouterOS, RouterOSVersion: "6.48"}, "RouterOS 6"},
		{"bad vendor", "seed", Options{Vendor: "juniper"}, "unknown vendor"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Generate(loadInput(t, tc.input), tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestPlanWarnings(t *testing.T) {
	r, err := Plan(loadInput(t, "seed"), Options{NodePeering: PeerAll})
	if err != nil {
		t.Fatal(err)
	}
	// Only ubuntu-2 has a BGPPeer to the router (rack == 'rack-1').
	var n int
	for _, w := range r.Warnings {
		if strings.Contains(w, "has no BGPPeer to 172.16.30.254") {
			n++
		}
	}
	if n != 2 || len(r.Sessions) != 3 {
		t.Errorf("want 3 sessions and 2 missing-BGPPeer warnings, got %d sessions, warnings %q", len(r.Sessions), r.Warnings)
	}
	r, err = Plan(loadInput(t, "seed"), Options{EBGPAS: 65000})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Warnings) == 0 || !strings.Contains(r.Warnings[0], "spec.asNumber: 65000") {
		t.Errorf("want the AS mismatch warning, got %q", r.Warnings)
	}
}

// frrDir returns a directory user frr can read.
func readableDir(t *testing.T) string {
	d := t.TempDir()
	if err := os.Chmod(d, 0o755); err != nil {
		t.Fatal(err)
	}
	for p := filepath.Dir(d); p != "/" && p != "."; p = filepath.Dir(p) {
		if fi, err := os.Stat(p); err == nil && fi.Mode().Perm()&0o001 == 0 {
			os.Chmod(p, fi.Mode().Perm()|0o111)
		}
	}
	return d
}

// daemonCheck runs a daemon's configuration checker on data.
type daemonCheck struct {
	vendor Vendor
	bin    string
	args   func(file string) []string
}

var daemonChecks = []daemonCheck{
	{FRR, "/usr/lib/frr/bgpd", func(f string) []string { return []string{"-C", "-f", f} }},
	{BIRD, "bird", func(f string) []string { return []string{"-p", "-c", f} }},
}

func (c daemonCheck) run(t *testing.T, data []byte) error {
	t.Helper()
	bin, err := exec.LookPath(c.bin)
	if err != nil {
		t.Skipf("%s not installed", c.bin)
	}
	if c.vendor == FRR && os.Geteuid() != 0 {
		t.Skip("bgpd -C needs root (it switches to user frr)")
	}
	f := filepath.Join(readableDir(t), "router.conf")
	if err := os.WriteFile(f, data, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, c.args(f)...)
	cmd.Dir = filepath.Dir(f)
	out, err := cmd.CombinedOutput()
	// bgpd -C exits 0 even on unknown commands; it logs them.
	bad := err != nil
	for _, m := range []string{"rror", "No such command", "Unknown command", "[EC ", "nvalid"} {
		bad = bad || bytes.Contains(out, []byte(m))
	}
	if bad {
		return fmt.Errorf("%s rejected the config: %v\n%s", c.bin, err, out)
	}
	return nil
}

// TestDaemonsAcceptConfig loads every generated FRR and BIRD config into
// the real daemons' configuration checkers.
func TestDaemonsAcceptConfig(t *testing.T) {
	for _, c := range daemonChecks {
		for _, tc := range genCases {
			t.Run(string(c.vendor)+"/"+tc.name, func(t *testing.T) {
				data := generateCase(t, tc, c.vendor)
				if err := c.run(t, data); err != nil {
					t.Fatalf("%v\nconfig:\n%s", err, data)
				}
			})
		}
	}
}

// TestDaemonsRejectBadConfig shows the checkers above can fail.
func TestDaemonsRejectBadConfig(t *testing.T) {
	bad := map[Vendor]string{
		FRR:  "router bgp 64513\n neighbor 10.0.0.1 remote-as 64513\n neighbor 10.0.0.1 no-such-option\n",
		BIRD: "router id 10.0.0.1;\nprotocol bgp x { no such option; }\n",
	}
	for _, c := range daemonChecks {
		t.Run(string(c.vendor), func(t *testing.T) {
			if err := c.run(t, []byte(bad[c.vendor])); err == nil {
				t.Errorf("%s accepted an invalid config", c.bin)
			}
		})
	}
}
