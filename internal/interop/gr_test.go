package interop

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kbgp/kbgp/internal/bgp/fsm"
	"github.com/kbgp/kbgp/internal/bgp/speaker"
	"github.com/kbgp/kbgp/internal/bgp/wire"
	"github.com/kbgp/kbgp/internal/netns/nstest"
)

// grSpeakerd is kbgp (AS 65001) for the kbgp-restarts cases: a session
// in family f with peer i in AS as, graceful restart with a restart time
// of 60 s. The first run originates f.net(10, 0) and f.net(11, 0); the
// restarted one (restarting true: R and F bits, selection deferral) only
// f.net(10, 0), so the peer must sweep f.net(11, 0) at End-of-RIB.
func grSpeakerd(f family, i int, as uint32, restarting bool) speakerdConfig {
	c := speakerdConfig{
		AS: 65001, RouterID: kbgp4,
		Peers:     []speakerdPeer{{f.peer(i), as}},
		Originate: []netip.Prefix{netipPrefix(f.net(10, 0)), netipPrefix(f.net(11, 0))},
		GR:        fsm.GRConfig{RestartTime: 60 * time.Second},
	}
	if restarting {
		c.Originate = c.Originate[:1]
		c.GR.Restarting, c.GR.Forwarding = true, true
		c.SelectionDeferral = 20 * time.Second
	}
	return c
}

// TestInteropBIRD_GracefulRestart: graceful restart (RFC 4724) both ways
// with BIRD, and long-lived graceful restart (RFC 9494) when BIRD dies,
// over IPv4 and IPv6 sessions.
func TestInteropBIRD_GracefulRestart(t *testing.T) {
	nstest.RequireBinaries(t, "bird", "birdc")
	t.Parallel()
	forEachFamily(t, func(t *testing.T, f family) {
		t.Run("kbgp restarts", func(t *testing.T) {
			t.Parallel()
			grBIRDKbgpRestarts(t, f)
		})
		t.Run("BIRD dies", func(t *testing.T) {
			t.Parallel()
			grBIRDDies(t, f)
		})
	})
}

// grBIRDKbgpRestarts: kbgp is killed with SIGKILL and restarted: BIRD
// keeps kbgp's routes meanwhile (RFC 4724 §4.2: the receiving speaker
// "MUST retain the routes received from the peer") and at kbgp's
// End-of-RIB removes the one kbgp did not announce again ("MUST
// immediately remove any routes from the peer that are still marked as
// stale").
func grBIRDKbgpRestarts(t *testing.T, f family) {
	l := newLab(t, f.tag("bgk"), 1)
	sock := l.startBIRD(l.peers[0], "bird", birdConfig(1, 65002, "", f))
	first := l.startSpeakerd(l.k, "kbgp-1", grSpeakerd(f, 1, 65002, false))
	proto := "kbgp" + f.name[3:]
	birdRoutes := func() string { return output(nil, "birdc", "-s", sock, "show", "route", "protocol", proto) }
	birdState := func() string { return output(nil, "birdc", "-s", sock, "show", "protocols", "all", proto) }
	eventually(t, 40*time.Second, "BIRD has both of kbgp's routes", func() (bool, string) {
		out := birdRoutes()
		return containsAll(out, f.net(10, 0), f.net(11, 0)) && strings.Contains(birdState(), "Established"), out
	})
	kill9(t, first)
	// BIRD runs its restart timer with kbgp's restart time (60 s).
	eventually(t, 20*time.Second, "BIRD sees the session down and keeps kbgp's routes under graceful restart", func() (bool, string) {
		st, out := birdState(), birdRoutes()
		return !strings.Contains(st, "Established") && containsAll(st, "Neighbor graceful restart active", "Restart timer:") &&
			containsAll(out, f.net(10, 0), f.net(11, 0)), st + out
	})
	l.startSpeakerd(l.k, "kbgp-2", grSpeakerd(f, 1, 65002, true))
	eventually(t, 40*time.Second, "BIRD keeps the refreshed route and drops the stale one at End-of-RIB", func() (bool, string) {
		st, out := birdState(), birdRoutes()
		return strings.Contains(st, "Established") && !strings.Contains(st, "Neighbor graceful restart active") &&
			strings.Contains(out, f.net(10, 0)) && !strings.Contains(out, f.net(11, 0)), st + out
	})
}

// grBIRDDies: BIRD is killed and stays down: kbgp keeps its routes as
// stale for BIRD's restart time, then as LLGR-stale (with the LLGR_STALE
// community, least preferred: the other BIRD's longer path wins) for
// BIRD's long-lived stale time, then removes them.
func grBIRDDies(t *testing.T, f family) {
	l := newLab(t, f.tag("bgd"), 2)
	l.startKBGP(65001, speaker.Config{})
	c := f.peerConfig(f.peer(1), 65002)
	c.Session.GracefulRestart = &fsm.GRConfig{RestartTime: 60 * time.Second, LLGRStaleTime: 60 * time.Second}
	l.addPeer(c)
	l.addPeer(f.peerConfig(f.peer(2), 65003))
	conf := func(i int, as uint32, extra, export string) string {
		return fmt.Sprintf(`router id %[1]s;
log stderr all;
protocol device { }
protocol static s1 { %[7]s; route %[8]s blackhole; }
protocol bgp kbgp {
  local %[9]s as %[4]d;
  neighbor %[2]s as 65001;
  password "%[3]s";
  connect delay time 1; connect retry time 1; error wait time 1, 2;
  hold time 9;
  %[5]s
  %[7]s { import all; export %[6]s; };
}
`, peer4(i), f.kbgp, password, as, extra, export, f.bird, f.net(20, 0), f.peer(i))
	}
	_, bird1 := l.startBIRDCmd(l.peers[0], "bird1", conf(1, 65002,
		`graceful restart on; graceful restart time 8; long lived graceful restart on; long lived stale time 6;`,
		`where proto = "s1"`))
	l.startBIRD(l.peers[1], "bird2", conf(2, 65003, ``,
		`filter { if proto != "s1" then reject; bgp_path.prepend(65003); accept; }`))
	l.waitEstablished(f.peer(1), 40*time.Second)
	l.waitEstablished(f.peer(2), 40*time.Second)
	prefix := netipPrefix(f.net(20, 0))
	// routes waits until kbgp's paths for the prefix satisfy ok.
	routes := func(what string, d time.Duration, ok func(p1, p2 *speaker.Route) bool) {
		t.Helper()
		eventually(t, d, what, func() (bool, string) {
			rs, err := l.sp.Routes(t.Context(), prefix)
			if err != nil {
				return false, err.Error()
			}
			var p1, p2 *speaker.Route
			for i := range rs {
				switch rs[i].Peer {
				case f.peer(1):
					p1 = &rs[i]
				case f.peer(2):
					p2 = &rs[i]
				}
			}
			return ok(p1, p2), fmt.Sprintf("%+v", rs)
		})
	}
	routes("kbgp prefers BIRD 1's shorter path", 30*time.Second, func(p1, p2 *speaker.Route) bool {
		return p1 != nil && p2 != nil && p1.Best && !p1.Stale
	})
	st, _ := l.sp.PeerStatus(f.peer(1))
	if st.Negotiated == nil || st.Negotiated.PeerGR == nil || st.Negotiated.PeerGR.Time != 8 || len(st.Negotiated.PeerLLGR) == 0 {
		t.Fatalf("GR/LLGR not negotiated with BIRD 1: %+v", st.Negotiated)
	}
	killed := time.Now()
	kill9(t, bird1)
	// RFC 4724 §4.2: stale routes are kept and used unchanged.
	routes("BIRD 1's path stale and still best", 6*time.Second, func(p1, p2 *speaker.Route) bool {
		return p1 != nil && p1.Stale && !p1.LLGRStale && p1.Best
	})
	// RFC 9494 §4.2/§4.3: after the restart time the routes are
	// "long-lived stale", carry LLGR_STALE and are "treated as the least
	// preferred".
	routes("BIRD 1's path LLGR-stale, least preferred", 20*time.Second, func(p1, p2 *speaker.Route) bool {
		return p1 != nil && p1.LLGRStale && !p1.Best && slices.Contains(p1.Attrs.Communities, wire.CommunityLLGRStale) &&
			p2 != nil && p2.Best
	})
	if d := time.Since(killed); d < 7*time.Second {
		t.Errorf("routes LLGR-stale %v after the kill, before BIRD's restart time of 8 s", d)
	}
	routes("BIRD 1's path removed after the long-lived stale time", 30*time.Second, func(p1, p2 *speaker.Route) bool {
		return p1 == nil && p2 != nil && p2.Best
	})
	if d := time.Since(killed); d < 13*time.Second {
		t.Errorf("routes removed %v after the kill, before restart time + long-lived stale time (14 s)", d)
	}
}

// TestInteropFRR_GracefulRestart: kbgp is killed with SIGKILL and
// restarted; FRR marks kbgp's routes stale meanwhile and at kbgp's
// End-of-RIB keeps the re-announced one (no longer stale) and removes the
// other (RFC 4724 §4.2); over IPv4 and IPv6 sessions.
func TestInteropFRR_GracefulRestart(t *testing.T) {
	nstest.RequireBinaries(t, "vtysh", "/usr/lib/frr/bgpd", "/usr/lib/frr/zebra")
	t.Parallel()
	forEachFamily(t, func(t *testing.T, f family) {
		l := newLab(t, f.tag("fg"), 1)
		dir := l.startFRR(l.peers[0], "frr", frrConfig(1, 65003, "", "", ""))
		first := l.startSpeakerd(l.k, "kbgp-1", grSpeakerd(f, 1, 65003, false))
		route := func(p string) string { return vtysh(dir, "show bgp "+f.frrShow+" "+p+" json") }
		state := func() string { return vtysh(dir, "show bgp neighbors "+f.kbgp.String()+" json") }
		kept, swept := f.net(10, 0), f.net(11, 0)
		eventually(t, 40*time.Second, "FRR has both of kbgp's routes", func() (bool, string) {
			a, b := route(kept), route(swept)
			return containsAll(a, `"valid":true`) && containsAll(b, `"valid":true`) && !strings.Contains(a, `"stale":true`), a + b
		})
		if out := state(); !containsAll(out, `"bgpState":"Established"`, `"gracefulRestartInfo"`) {
			t.Logf("FRR's neighbor (GR info expected):\n%s", out)
		}
		kill9(t, first)
		eventually(t, 20*time.Second, "FRR keeps kbgp's routes marked stale", func() (bool, string) {
			a, b := route(kept), route(swept)
			return containsAll(a, `"stale":true`) && containsAll(b, `"stale":true`), a + b + state()
		})
		l.startSpeakerd(l.k, "kbgp-2", grSpeakerd(f, 1, 65003, true))
		eventually(t, 40*time.Second, "FRR clears the stale mark at End-of-RIB and drops the route not re-announced", func() (bool, string) {
			a, b := route(kept), route(swept)
			return containsAll(a, `"valid":true`) && !strings.Contains(a, `"stale":true`) && !strings.Contains(b, `"valid":true`) &&
				strings.Contains(state(), `"bgpState":"Established"`), a + b
		})
	})
}
