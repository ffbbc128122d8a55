package routercfg

import (
	"context"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kbgp/kbgp/internal/netns"
	"github.com/kbgp/kbgp/internal/netns/nstest"
)

// nodeBIRD is a Calico-like node (ubuntu-2 of the seed): it originates
// its pod block, the service range and, to test the router's import
// filter, a prefix outside every pool.
const nodeBIRD = `router id 172.16.30.102;
protocol device { }
protocol static k8s { ipv4;
  route 192.168.20.0/26 blackhole;
  route 10.96.0.0/24 blackhole;
  route 203.0.113.0/24 blackhole;
}
protocol bgp tor {
  local 172.16.30.102 as 64513;
  neighbor 172.16.30.254 as 64513;
  direct;
  connect delay time 1; connect retry time 1; error wait time 1, 2;
  ipv4 { import all; export where proto = "k8s"; next hop self; };
}
`

// pair makes the seed's router and ubuntu-2 in two namespaces joined by a
// veth, and starts ubuntu-2's BIRD.
func pair(t *testing.T) (router *nstest.NS) {
	nstest.RequireRoot(t)
	nstest.RequireBinaries(t, "bird", "birdc")
	router = nstest.New(t, "rcr")
	node := nstest.New(t, "rcn")
	err := netns.AddVeth(netns.Veth{NS: router.NS, Name: "r-seg", Addrs: []netip.Prefix{netip.MustParsePrefix("172.16.30.254/24")}},
		netns.Veth{NS: node.NS, Name: "eth0", Addrs: []netip.Prefix{netip.MustParsePrefix("172.16.30.102/24")}})
	if err != nil {
		t.Fatal(err)
	}
	for _, ns := range []*nstest.NS{router, node} {
		if err := ns.LinkUp("lo"); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	conf := filepath.Join(dir, "node.conf")
	if err := os.WriteFile(conf, []byte(nodeBIRD), 0o644); err != nil {
		t.Fatal(err)
	}
	node.Start(node.Command(context.Background(), "bird", "-f", "-c", conf, "-s", filepath.Join(dir, "node.ctl")))
	return router
}

// waitFor polls f for up to 30 s.
func waitFor(t *testing.T, what string, f func() (bool, string)) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ok, last := f()
		if ok {
			return last
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s; last output:\n%s", what, last)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// TestFRRSessionUp starts the generated FRR router config for the seed
// (zebra + bgpd in the router namespace) against a BIRD node and checks
// the session comes up, the pod block and service range are accepted and
// the foreign prefix is filtered.
func TestFRRSessionUp(t *testing.T) {
	nstest.RequireRoot(t)
	nstest.RequireBinaries(t, "/usr/lib/frr/bgpd", "/usr/lib/frr/zebra", "vtysh", "bird")
	router := pair(t)
	d := readableDir(t)
	conf, err := Generate(loadInput(t, "seed"), Options{Vendor: FRR})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(d, "bgpd.conf"), conf, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(d, "zebra.conf"), []byte("hostname router\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("chown", "-R", "frr:frr", d).CombinedOutput(); err != nil {
		t.Skipf("skipping: chown to user frr: %v %s", err, out)
	}
	ctx := context.Background()
	zserv := filepath.Join(d, "zserv.api")
	router.Start(router.Command(ctx, "/usr/lib/frr/zebra", "-u", "frr", "-g", "frr", "-f", filepath.Join(d, "zebra.conf"),
		"-i", filepath.Join(d, "zebra.pid"), "-z", zserv, "--vty_socket", d, "-A", "127.0.0.1"))
	waitFor(t, "zebra's socket", func() (bool, string) { _, err := os.Stat(zserv); return err == nil, "" })
	router.Start(router.Command(ctx, "/usr/lib/frr/bgpd", "-u", "frr", "-g", "frr", "-f", filepath.Join(d, "bgpd.conf"),
		"-i", filepath.Join(d, "bgpd.pid"), "-z", zserv, "--vty_socket", d, "-A", "127.0.0.1"))
	vtysh := func(cmd string) string {
		out, _ := exec.Command("vtysh", "--vty_socket", d, "-c", cmd).CombinedOutput()
		return string(out)
	}
	waitFor(t, "the FRR session to ubuntu-2", func() (bool, string) {
		out := vtysh("show bgp neighbor 172.16.30.102 json")
		return strings.Contains(out, `"bgpState":"Established"`), out
	})
	out := waitFor(t, "the node's routes at the router", func() (bool, string) {
		out := vtysh("show bgp ipv4 unicast")
		return strings.Contains(out, "192.168.20.0/26") && strings.Contains(out, "10.96.0.0/24"), out
	})
	if strings.Contains(out, "203.0.113.0") {
		t.Errorf("the import filter let 203.0.113.0/24 (no pool, no service range) through:\n%s", out)
	}
}

// TestBIRDSessionUp does the same with the generated BIRD router config.
func TestBIRDSessionUp(t *testing.T) {
	router := pair(t)
	d := t.TempDir()
	conf, err := Generate(loadInput(t, "seed"), Options{Vendor: BIRD})
	if err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(d, "router.conf")
	if err := os.WriteFile(f, conf, 0o644); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(d, "router.ctl")
	router.Start(router.Command(context.Background(), "bird", "-f", "-c", f, "-s", sock))
	birdc := func(cmd ...string) string {
		out, _ := exec.Command("birdc", append([]string{"-s", sock}, cmd...)...).CombinedOutput()
		return string(out)
	}
	waitFor(t, "the BIRD session to ubuntu-2", func() (bool, string) {
		out := birdc("show", "protocols", "k8s_peer_1")
		return strings.Contains(out, "Established"), out
	})
	out := waitFor(t, "the node's routes at the router", func() (bool, string) {
		out := birdc("show", "route", "protocol", "k8s_peer_1")
		return strings.Contains(out, "192.168.20.0/26") && strings.Contains(out, "10.96.0.0/24"), out
	})
	if strings.Contains(out, "203.0.113.0") {
		t.Errorf("the import filter let 203.0.113.0/24 through:\n%s", out)
	}
	// The router installs the accepted routes in its kernel (export
	// where source = RTS_BGP).
	waitFor(t, "the kernel route at the router", func() (bool, string) {
		out := router.Run("ip", "route", "show", "192.168.20.0/26")
		return strings.Contains(out, "via 172.16.30.102"), out
	})
}
