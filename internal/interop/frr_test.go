package interop

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kbgp/kbgp/internal/bgp/fsm"
	"github.com/kbgp/kbgp/internal/bgp/speaker"
	"github.com/kbgp/kbgp/internal/bgp/wire"
	"github.com/kbgp/kbgp/internal/netns/nstest"
)

// startFRR runs zebra and bgpd in the foreground in ns, each instance with
// its own directory (config, pid files, zserv and vty sockets), and returns
// the directory for vtysh --vty_socket.
func (l *lab) startFRR(ns *nstest.NS, name, bgpdConf string) string {
	l.t.Helper()
	dir := filepath.Join(l.dir, name)
	l.write(name+"/zebra.conf", "hostname "+name+"\n")
	l.write(name+"/bgpd.conf", bgpdConf)
	// The daemons drop privileges to user frr: the directory and files
	// must be theirs.
	if out, err := exec.Command("chown", "-R", "frr:frr", dir).CombinedOutput(); err != nil {
		l.t.Fatalf("chown %s: %v\n%s", dir, err, out)
	}
	os.Chmod(l.dir, 0o755)
	os.Chmod(filepath.Dir(l.dir), 0o755)
	common := []string{"-u", "frr", "-g", "frr", "-z", filepath.Join(dir, "zserv.api"), "--vty_socket", dir, "-A", "127.0.0.1"}
	zebra := ns.Command(context.Background(), "/usr/lib/frr/zebra", append([]string{"-f", filepath.Join(dir, "zebra.conf"), "-i", filepath.Join(dir, "zebra.pid")}, common...)...)
	ns.Start(zebra)
	eventually(l.t, 10*time.Second, "zebra's zserv socket", func() (bool, string) {
		_, err := os.Stat(filepath.Join(dir, "zserv.api"))
		return err == nil, fmt.Sprint(err)
	})
	bgpd := ns.Command(context.Background(), "/usr/lib/frr/bgpd", append([]string{"-f", filepath.Join(dir, "bgpd.conf"), "-i", filepath.Join(dir, "bgpd.pid")}, common...)...)
	ns.Start(bgpd)
	return dir
}

func vtysh(dir string, cmds ...string) string {
	args := []string{"--vty_socket", dir}
	for _, c := range cmds {
		args = append(args, "-c", c)
	}
	return output(nil, "vtysh", args...)
}

func frrConfig(i int, as uint32, extra, af4, af6 string) string {
	return fmt.Sprintf(`frr defaults traditional
hostname frr%[5]d
log stdout debugging
router bgp %[3]d
 bgp router-id %[1]s
 no bgp ebgp-requires-policy
 no bgp network import-check
 no bgp default ipv4-unicast
 neighbor %[6]s remote-as 65001
 neighbor %[6]s password %[4]s
 neighbor %[6]s timers connect 1
 neighbor %[6]s timers 3 9
 neighbor %[7]s remote-as 65001
 neighbor %[7]s password %[4]s
 neighbor %[7]s timers connect 1
 neighbor %[7]s timers 3 9
%[8]s
 address-family ipv4 unicast
  neighbor %[6]s activate
  network 10.30.%[5]d.0/24
%[9]s
 exit-address-family
 address-family ipv6 unicast
  neighbor %[7]s activate
  network fd30:%[5]d::/48
%[10]s
 exit-address-family
`, peer4(i), peer6(i), as, password, i, kbgp4, kbgp6, extra, af4, af6)
}

// TestInteropFRR_Session: kbgp and FRR bgpd (eBGP) come up over IPv4 and
// IPv6 with TCP MD5 and exchange routes with their attributes intact.
func TestInteropFRR_Session(t *testing.T) {
	nstest.RequireBinaries(t, "vtysh", "/usr/lib/frr/bgpd", "/usr/lib/frr/zebra")
	t.Parallel()
	l := newLab(t, "f", 1)
	l.startKBGP(65001, speaker.Config{})
	l.addPeer(kbgpPeer(peer4(1), 65003, wire.IPv4Unicast))
	l.addPeer(kbgpPeer(peer6(1), 65003, wire.IPv6Unicast))
	l.originate("10.10.0.0/24")
	l.originate("fd10::/48")
	dir := l.startFRR(l.peers[0], "frr", frrConfig(1, 65003, "", "", ""))

	st4 := l.waitEstablished(peer4(1), 40*time.Second)
	l.waitEstablished(peer6(1), 40*time.Second)
	if st4.Negotiated.PeerAS != 65003 || !st4.Negotiated.RouteRefresh {
		t.Errorf("negotiated with FRR: %+v", st4.Negotiated)
	}
	eventually(t, 20*time.Second, "FRR has kbgp's IPv4 route with its attributes", func() (bool, string) {
		out := vtysh(dir, "show bgp ipv4 unicast 10.10.0.0/24 json")
		return containsAll(out, `"string":"65001"`, `"metric":50`, `"string":"65001:100"`, `"ip":"`+kbgp4.String()+`"`, `"valid":true`), out
	})
	eventually(t, 20*time.Second, "FRR has kbgp's IPv6 route", func() (bool, string) {
		out := vtysh(dir, "show bgp ipv6 unicast fd10::/48 json")
		return containsAll(out, `"string":"65001"`, `"metric":50`, `"ip":"`+kbgp6.String()+`"`, `"valid":true`), out
	})
	b4 := l.kbgpRoute("10.30.1.0/24", 20*time.Second, func(b speaker.BestPath) bool { return !b.Withdrawn() })
	if !asPathIs(b4, 65003) || b4.NextHops[0] != peer4(1) {
		t.Errorf("kbgp's route from FRR: AS_PATH %v next hops %v", b4.Attrs.ASPath, b4.NextHops)
	}
	b6 := l.kbgpRoute("fd30:1::/48", 20*time.Second, func(b speaker.BestPath) bool { return !b.Withdrawn() })
	if !asPathIs(b6, 65003) || b6.NextHops[0] != peer6(1) {
		t.Errorf("kbgp's IPv6 route from FRR: AS_PATH %v next hops %v", b6.Attrs.ASPath, b6.NextHops)
	}
	if err := l.sp.Withdraw(context.Background(), netipPrefix("10.10.0.0/24")); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "FRR drops the withdrawn route", func() (bool, string) {
		out := vtysh(dir, "show bgp ipv4 unicast json")
		return !strings.Contains(out, "10.10.0.0/24"), out
	})
	// FRR's view of the session: MD5 in use, Established.
	out := vtysh(dir, "show bgp neighbors "+kbgp4.String()+" json")
	if !containsAll(out, `"bgpState":"Established"`) {
		t.Errorf("FRR neighbor state:\n%s", out)
	}
}

// TestInteropFRR_GTSM: with GTSM on both sides (RFC 5082; FRR's
// "ttl-security hops 1") the session comes up; without GTSM on kbgp's side
// kbgp sends with the default TTL (hop limit) and FRR's kernel drops its
// segments (TcpExt TCPMinTTLDrop in FRR's namespace), so the first case
// proves kbgp sends with TTL 255. RFC 5082 §3: "If the TTL value in the
// received packet is less than 255, the packet is discarded." Over IPv4
// and IPv6 (the hop limit; RFC 5082 §3 applies GTSM to IPv6 alike).
func TestInteropFRR_GTSM(t *testing.T) {
	nstest.RequireBinaries(t, "vtysh", "/usr/lib/frr/bgpd", "/usr/lib/frr/zebra")
	t.Parallel()
	forEachFamily(t, func(t *testing.T, f family) {
		for _, gtsm := range []bool{true, false} {
			t.Run(map[bool]string{true: "both sides", false: "FRR only"}[gtsm], func(t *testing.T) {
				t.Parallel()
				l := newLab(t, f.tag("ft"), 1)
				l.startKBGP(65001, speaker.Config{})
				c := f.peerConfig(f.peer(1), 65003)
				c.Session.TTLSecurity = gtsm
				l.addPeer(c)
				l.originate(f.net(10, 0))
				extra := " neighbor " + f.kbgp.String() + " ttl-security hops 1\n"
				dir := l.startFRR(l.peers[0], "frr", frrConfig(1, 65003, extra, "", ""))
				if !gtsm {
					eventually(t, 30*time.Second, "FRR's kernel drops kbgp's segments sent with a low TTL (TCPMinTTLDrop ≥ 3)", func() (bool, string) {
						n := tcpExt(t, l.peers[0])["TCPMinTTLDrop"]
						return n >= 3, fmt.Sprintf("TCPMinTTLDrop %d", n)
					})
					if st, _ := l.sp.PeerStatus(f.peer(1)); st.State == fsm.Established || st.Established > 0 {
						t.Errorf("session came up although kbgp does not send TTL 255: %v", st.State)
					}
					return
				}
				l.waitEstablished(f.peer(1), 40*time.Second)
				eventually(t, 20*time.Second, "FRR has kbgp's route over the GTSM session", func() (bool, string) {
					out := vtysh(dir, "show bgp "+f.frrShow+" "+f.net(10, 0)+" json")
					return containsAll(out, `"string":"65001"`, `"valid":true`), out
				})
				out := vtysh(dir, "show bgp neighbors "+f.kbgp.String()+" json")
				if !containsAll(out, `"bgpState":"Established"`, `"externalBgpNbrMaxHopsAway":1`) {
					t.Errorf("FRR neighbor:\n%s", out)
				}
			})
		}
	})
}
