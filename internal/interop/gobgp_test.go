package interop

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kbgp/kbgp/internal/bgp/speaker"
	"github.com/kbgp/kbgp/internal/bgp/wire"
	"github.com/kbgp/kbgp/internal/netns/nstest"
)

func gobgpConfig(i int, as uint32) string {
	return fmt.Sprintf(`[global.config]
  as = %[3]d
  router-id = "%[1]s"
  local-address-list = ["%[1]s", "%[2]s"]

[[neighbors]]
  [neighbors.config]
    neighbor-address = "%[5]s"
    peer-as = 65001
    auth-password = "%[4]s"
  [neighbors.timers.config]
    connect-retry = 1
    hold-time = 9
    keepalive-interval = 3
  [neighbors.transport.config]
    local-address = "%[1]s"
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "ipv4-unicast"

[[neighbors]]
  [neighbors.config]
    neighbor-address = "%[6]s"
    peer-as = 65001
    auth-password = "%[4]s"
  [neighbors.timers.config]
    connect-retry = 1
    hold-time = 9
    keepalive-interval = 3
  [neighbors.transport.config]
    local-address = "%[2]s"
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "ipv6-unicast"
`, peer4(i), peer6(i), as, password, kbgp4, kbgp6)
}

// gobgp runs the gobgp CLI in ns (it talks gRPC to gobgpd on localhost).
func gobgp(ns *nstest.NS, args ...string) string { return output(ns, "gobgp", args...) }

// TestInteropGoBGP_Session: kbgp and gobgpd (eBGP) come up over IPv4 and
// IPv6 with TCP MD5 and exchange routes with their attributes intact.
func TestInteropGoBGP_Session(t *testing.T) {
	nstest.RequireBinaries(t, "gobgpd", "gobgp")
	t.Parallel()
	l := newLab(t, "g", 1)
	l.startKBGP(65001, speaker.Config{})
	l.addPeer(kbgpPeer(peer4(1), 65004, wire.IPv4Unicast))
	l.addPeer(kbgpPeer(peer6(1), 65004, wire.IPv6Unicast))
	l.originate("10.10.0.0/24")
	l.originate("fd10::/48")
	ns := l.peers[0]
	conf := l.write("gobgp/gobgpd.toml", gobgpConfig(1, 65004))
	ns.Start(ns.Command(context.Background(), "gobgpd", "-f", conf, "-p", "--api-hosts", "127.0.0.1:50051", "--pprof-disable"))
	eventually(t, 20*time.Second, "gobgp API up and route added", func() (bool, string) {
		out := gobgp(ns, "global", "rib", "add", "10.40.1.0/24", "origin", "igp", "-a", "ipv4")
		return !strings.Contains(out, "error"), out
	})
	eventually(t, 20*time.Second, "gobgp IPv6 route added", func() (bool, string) {
		out := gobgp(ns, "global", "rib", "add", "fd40:1::/48", "origin", "igp", "-a", "ipv6")
		return !strings.Contains(out, "error"), out
	})

	// Debian's gobgpd 3.10 waits about 5 s before its first connect.
	l.waitEstablished(peer4(1), 40*time.Second)
	l.waitEstablished(peer6(1), 40*time.Second)
	eventually(t, 20*time.Second, "gobgp has kbgp's IPv4 route with its attributes", func() (bool, string) {
		out := gobgp(ns, "global", "rib", "-a", "ipv4", "-j")
		return containsAll(out, `"10.10.0.0/24"`, `"asns":[65001]`, `"nexthop":"`+kbgp4.String()+`"`, `"metric":50`, `"communities":[4259905636]`), out
	})
	eventually(t, 20*time.Second, "gobgp has kbgp's IPv6 route", func() (bool, string) {
		out := gobgp(ns, "global", "rib", "-a", "ipv6", "-j")
		return containsAll(out, `"fd10::/48"`, `"asns":[65001]`, `"nexthop":"`+kbgp6.String()+`"`, `"metric":50`), out
	})
	b4 := l.kbgpRoute("10.40.1.0/24", 20*time.Second, func(b speaker.BestPath) bool { return !b.Withdrawn() })
	if !asPathIs(b4, 65004) || b4.NextHops[0] != peer4(1) {
		t.Errorf("kbgp's route from gobgp: AS_PATH %v next hops %v", b4.Attrs.ASPath, b4.NextHops)
	}
	b6 := l.kbgpRoute("fd40:1::/48", 20*time.Second, func(b speaker.BestPath) bool { return !b.Withdrawn() })
	if !asPathIs(b6, 65004) || b6.NextHops[0] != peer6(1) {
		t.Errorf("kbgp's IPv6 route from gobgp: AS_PATH %v next hops %v", b6.Attrs.ASPath, b6.NextHops)
	}
	// A withdrawal on gobgp's side reaches kbgp.
	gobgp(ns, "global", "rib", "del", "10.40.1.0/24", "-a", "ipv4")
	l.kbgpRoute("10.40.1.0/24", 20*time.Second, func(b speaker.BestPath) bool { return b.Withdrawn() })
	_ = filepath.Join
}
