package interop

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
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

// birdConfig is a BIRD (peer i, AS as) peering with kbgp (AS 65001) with
// TCP MD5, one session per family in fams (all families if none): for
// family f a protocol "kbgp4"/"kbgp6" from f.peer(i) to f.kbgp that
// exports the static route f.net(20, i) (protocol "s4"/"s6"). extra is
// added to every session.
func birdConfig(i int, as uint32, extra string, fams ...family) string {
	if len(fams) == 0 {
		fams = families
	}
	var b strings.Builder
	fmt.Fprintf(&b, `router id %[1]s;
log stderr all;
protocol device { }
template bgp kbgp {
  local as %[2]d;
  password "%[3]s";
  connect delay time 1; connect retry time 1; error wait time 1, 2;
  hold time 9;
%[4]s
}
`, peer4(i), as, password, extra)
	for _, f := range fams {
		n := f.name[3:]
		fmt.Fprintf(&b, `protocol static s%[1]s { %[2]s; route %[3]s blackhole; }
protocol bgp kbgp%[1]s from kbgp {
  neighbor %[4]s as 65001;
  source address %[5]s;
  %[2]s { import all; export where proto = "s%[1]s"; };
}
`, n, f.bird, f.net(20, i), f.kbgp, f.peer(i))
	}
	return b.String()
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
// BIRD, over IPv4 and IPv6.
func TestInteropBIRD_ActiveConnect(t *testing.T) {
	nstest.RequireBinaries(t, "bird", "birdc")
	t.Parallel()
	forEachFamily(t, func(t *testing.T, f family) {
		l := newLab(t, f.tag("ba"), 1)
		l.startKBGP(65001, speaker.Config{})
		c := f.peerConfig(f.peer(1), 65002)
		c.Session.Passive = false
		c.Session.LocalAddr = f.kbgp
		c.Session.ConnectRetry = time.Second
		c.Session.Dial = l.dialInKBGP
		l.addPeer(c)
		l.originate(f.net(10, 0))
		sock := l.startBIRD(l.peers[0], "bird", fmt.Sprintf(`router id %[1]s;
log stderr all;
protocol device { }
protocol bgp kbgp {
  local %[2]s as 65002;
  neighbor %[3]s as 65001;
  password "%[4]s";
  passive on;
  hold time 9;
  %[5]s { import all; export none; };
}
`, peer4(1), f.peer(1), f.kbgp, password, f.bird))
		st := l.waitEstablished(f.peer(1), 30*time.Second)
		if st.Local.Addr() != f.kbgp || st.Remote.Port() != 179 {
			t.Errorf("kbgp's connection %v -> %v, want from %v to port 179", st.Local, st.Remote, f.kbgp)
		}
		eventually(t, 20*time.Second, "BIRD has kbgp's route", func() (bool, string) {
			out := output(nil, "birdc", "-s", sock, "show", "route", "all", f.net(10, 0))
			return containsAll(out, f.net(10, 0), "BGP.as_path: 65001"), out
		})
	})
}
