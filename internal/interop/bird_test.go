package interop

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/kbgp/kbgp/internal/bgp/speaker"
	"github.com/kbgp/kbgp/internal/bgp/wire"
	"github.com/kbgp/kbgp/internal/netns/nstest"
)

// startBIRD runs BIRD in the foreground in ns with config conf and returns
// its control socket.
func (l *lab) startBIRD(ns *nstest.NS, name, conf string) string {
	l.t.Helper()
	sock, _ := l.startBIRDCmd(ns, name, conf)
	return sock
}

// startBIRDCmd is startBIRD that also returns BIRD's process.
func (l *lab) startBIRDCmd(ns *nstest.NS, name, conf string) (string, *exec.Cmd) {
	l.t.Helper()
	cf := l.write(name+"/bird.conf", conf)
	sock := filepath.Join(l.dir, name, "bird.ctl")
	if out := output(nil, "bird", "-p", "-c", cf); out != "" {
		l.t.Fatalf("bird rejects its config:\n%s\n%s", out, conf)
	}
	cmd := ns.Command(context.Background(), "bird", "-f", "-c", cf, "-s", sock)
	ns.Start(cmd)
	return sock, cmd
}

// birdPeer is a BIRD config peering with kbgp (AS 65001) over IPv4 and
// IPv6 with TCP MD5, exporting a static IPv4 and IPv6 route.
func birdConfig(i int, as uint32, extra string) string {
	return fmt.Sprintf(`router id %[1]s;
log stderr all;
protocol device { }
protocol static s4 { ipv4; route 10.20.%[5]d.0/24 blackhole; }
protocol static s6 { ipv6; route fd20:%[5]d::/48 blackhole; }
template bgp kbgp {
  local as %[3]d;
  password "%[4]s";
  connect delay time 1; connect retry time 1; error wait time 1, 2;
  hold time 9;
%[6]s
}
protocol bgp kbgp4 from kbgp {
  neighbor %[7]s as 65001;
  source address %[1]s;
  ipv4 { import all; export where proto = "s4"; };
}
protocol bgp kbgp6 from kbgp {
  neighbor %[8]s as 65001;
  source address %[2]s;
  ipv6 { import all; export where proto = "s6"; };
}
`, peer4(i), peer6(i), as, password, i, extra, kbgp4, kbgp6)
}

// TestInteropBIRD_Session: kbgp and BIRD 2 (eBGP) come up over IPv4 and
// IPv6 with TCP MD5 and exchange routes with their attributes intact.
func TestInteropBIRD_Session(t *testing.T) {
	nstest.RequireBinaries(t, "bird", "birdc")
	t.Parallel()
	l := newLab(t, "b", 1)
	l.startKBGP(65001, speaker.Config{})
	l.addPeer(kbgpPeer(peer4(1), 65002, wire.IPv4Unicast))
	l.addPeer(kbgpPeer(peer6(1), 65002, wire.IPv6Unicast))
	l.originate("10.10.0.0/24")
	l.originate("fd10::/48")
	sock := l.startBIRD(l.peers[0], "bird", birdConfig(1, 65002, ""))

	st4 := l.waitEstablished(peer4(1), 30*time.Second)
	st6 := l.waitEstablished(peer6(1), 30*time.Second)
	for _, st := range []speaker.PeerStatus{st4, st6} {
		if st.Negotiated.PeerAS != 65002 || !st.Negotiated.AS4 {
			t.Errorf("%v: negotiated %+v", st.Peer, st.Negotiated)
		}
	}
	// kbgp → BIRD, checked in BIRD.
	eventually(t, 20*time.Second, "BIRD has kbgp's IPv4 route with its attributes", func() (bool, string) {
		out := output(nil, "birdc", "-s", sock, "show", "route", "all", "10.10.0.0/24")
		return containsAll(out, "10.10.0.0/24", "BGP.as_path: 65001", "BGP.next_hop: "+kbgp4.String(), "BGP.med: 50", "BGP.community: (65001,100)"), out
	})
	eventually(t, 20*time.Second, "BIRD has kbgp's IPv6 route", func() (bool, string) {
		out := output(nil, "birdc", "-s", sock, "show", "route", "all", "fd10::/48")
		return containsAll(out, "fd10::/48", "BGP.as_path: 65001", "BGP.next_hop: "+kbgp6.String(), "BGP.med: 50"), out
	})
	// BIRD → kbgp.
	b4 := l.kbgpRoute("10.20.1.0/24", 20*time.Second, func(b speaker.BestPath) bool { return !b.Withdrawn() })
	if !asPathIs(b4, 65002) || b4.NextHops[0] != peer4(1) || b4.Attrs.Origin != wire.OriginIGP {
		t.Errorf("kbgp's route from BIRD: AS_PATH %v next hops %v origin %v", b4.Attrs.ASPath, b4.NextHops, b4.Attrs.Origin)
	}
	b6 := l.kbgpRoute("fd20:1::/48", 20*time.Second, func(b speaker.BestPath) bool { return !b.Withdrawn() })
	if !asPathIs(b6, 65002) || b6.NextHops[0] != peer6(1) {
		t.Errorf("kbgp's IPv6 route from BIRD: AS_PATH %v next hops %v", b6.Attrs.ASPath, b6.NextHops)
	}
	// Withdraw on kbgp's side reaches BIRD.
	if err := l.sp.Withdraw(context.Background(), netipPrefix("10.10.0.0/24")); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "BIRD drops the withdrawn route", func() (bool, string) {
		out := output(nil, "birdc", "-s", sock, "show", "route", "10.10.0.0/24")
		return !containsAll(out, "10.10.0.0/24"), out
	})
	// BIRD's protocol state confirms both sessions.
	out := output(nil, "birdc", "-s", sock, "show", "protocols")
	if !containsAll(out, "kbgp4", "kbgp6") || countOf(out, "Established") != 2 {
		t.Errorf("BIRD protocols:\n%s", out)
	}
}

// TestInteropBIRD_ActiveConnect: kbgp makes the connection (from its
// namespace, with a configured source address and TCP MD5) to a passive
// BIRD.
func TestInteropBIRD_ActiveConnect(t *testing.T) {
	nstest.RequireBinaries(t, "bird", "birdc")
	t.Parallel()
	l := newLab(t, "ba", 1)
	l.startKBGP(65001, speaker.Config{})
	c := kbgpPeer(peer4(1), 65002, wire.IPv4Unicast)
	c.Session.Passive = false
	c.Session.LocalAddr = kbgp4
	c.Session.ConnectRetry = time.Second
	c.Session.Dial = l.dialInKBGP
	l.addPeer(c)
	l.originate("10.10.0.0/24")
	sock := l.startBIRD(l.peers[0], "bird", fmt.Sprintf(`router id %[1]s;
log stderr all;
protocol device { }
protocol bgp kbgp {
  local %[1]s as 65002;
  neighbor %[2]s as 65001;
  password "%[3]s";
  passive on;
  hold time 9;
  ipv4 { import all; export none; };
}
`, peer4(1), kbgp4, password))
	st := l.waitEstablished(peer4(1), 30*time.Second)
	if st.Local.Addr() != kbgp4 || st.Remote.Port() != 179 {
		t.Errorf("kbgp's connection %v -> %v, want from %v to port 179", st.Local, st.Remote, kbgp4)
	}
	eventually(t, 20*time.Second, "BIRD has kbgp's route", func() (bool, string) {
		out := output(nil, "birdc", "-s", sock, "show", "route", "all", "10.10.0.0/24")
		return containsAll(out, "10.10.0.0/24", "BGP.as_path: 65001"), out
	})
}
