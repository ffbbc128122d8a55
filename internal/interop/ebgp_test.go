package interop

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kbgp/kbgp/internal/bgp/speaker"
	"github.com/kbgp/kbgp/internal/netns/nstest"
)

// TestInteropBIRD_EBGP checks kbgp's eBGP rules against BIRD. kbgp (AS
// 65001) has an eBGP BIRD (peer 1, AS 65002) and an iBGP BIRD (peer 2)
// whose routes it passes on to the eBGP one, over IPv4 and IPv6 sessions:
//   - next hop self and the local AS prepended toward eBGP;
//   - LOCAL_PREF neither sent to nor honoured from an eBGP peer (BIRD's
//     "allow bgp_local_pref" makes it send one anyway);
//   - a route whose AS_PATH holds kbgp's AS is rejected;
//   - a route with NO_EXPORT is not sent to the eBGP peer.
func TestInteropBIRD_EBGP(t *testing.T) {
	nstest.RequireBinaries(t, "bird", "birdc")
	t.Parallel()
	forEachFamily(t, func(t *testing.T, f family) {
		l := newLab(t, f.tag("be"), 2)
		l.startKBGP(65001, speaker.Config{})
		l.addPeer(f.peerConfig(f.peer(1), 65002))
		l.addPeer(f.peerConfig(f.peer(2), 65001))
		conf := func(i int, as uint32, statics, extra, export string) string {
			return fmt.Sprintf(`router id %[1]s;
log stderr all;
protocol device { }
protocol static s1 { %[8]s; %[5]s }
protocol bgp kbgp {
  local %[9]s as %[4]d;
  neighbor %[2]s as 65001;
  password "%[3]s";
  connect delay time 1; connect retry time 1; error wait time 1, 2;
  hold time 9;
  %[6]s
  %[8]s { import all; export %[7]s; };
}
`, peer4(i), f.kbgp, password, as, statics, extra, export, f.bird, f.peer(i))
		}
		// eBGP peer: 10.20.5.0/24 with LOCAL_PREF 500 (must be ignored),
		// 10.20.8.0/24 with kbgp's AS in its AS_PATH (must be rejected).
		ebgp := l.startBIRD(l.peers[0], "ebgp", conf(1, 65002,
			"route "+f.net(20, 5)+" blackhole; route "+f.net(20, 8)+" blackhole;",
			`allow bgp_local_pref on;`,
			`filter {
    if proto != "s1" then reject;
    bgp_local_pref = 500;
    if net = `+f.net(20, 8)+` then bgp_path.prepend(65001);
    accept;
  }`))
		// iBGP peer: 10.20.5.0/24 with LOCAL_PREF 200 (wins over the eBGP
		// path only if the eBGP LOCAL_PREF 500 is ignored), 10.21.2.0/24 with
		// AS_PATH 64999 and LOCAL_PREF 200, 10.21.7.0/24 with NO_EXPORT.
		l.startBIRD(l.peers[1], "ibgp", conf(2, 65001,
			"route "+f.net(20, 5)+" blackhole; route "+f.net(21, 2)+" blackhole; route "+f.net(21, 7)+" blackhole;",
			``,
			`filter {
    if proto != "s1" then reject;
    bgp_local_pref = 200;
    bgp_next_hop = `+f.peer(2).String()+`;
    if net = `+f.net(21, 2)+` then bgp_path.prepend(64999);
    if net = `+f.net(21, 7)+` then bgp_community.add((65535,65281));
    accept;
  }`))
		l.waitEstablished(f.peer(1), 40*time.Second)
		l.waitEstablished(f.peer(2), 40*time.Second)

		// Next hop self and AS_PATH prepend toward eBGP; no LOCAL_PREF sent
		// (RFC 4271 §5.1.5: LOCAL_PREF "MUST NOT be included in UPDATE
		// messages sent to BGP speakers located in a neighboring AS"; BIRD
		// then attaches its default 100).
		eventually(t, 30*time.Second, "the eBGP peer has the iBGP route with next hop self and kbgp's AS prepended", func() (bool, string) {
			out := output(nil, "birdc", "-s", ebgp, "show", "route", "all", f.net(21, 2))
			return containsAll(out, f.net(21, 2), "BGP.as_path: 65001 64999", "BGP.next_hop: "+f.kbgp.String()) &&
				!strings.Contains(out, "BGP.local_pref: 200"), out
		})
		// RFC 4271 §5.1.5: "If it is contained in an UPDATE message that is
		// received from an external peer, then this attribute MUST be ignored
		// by the receiving speaker": the iBGP path (200) beats the eBGP one
		// (500 ignored, so the default 100).
		b := l.kbgpRoute(f.net(20, 5), 30*time.Second, func(b speaker.BestPath) bool {
			return !b.Withdrawn() && len(b.NextHops) > 0 && b.NextHops[0] == f.peer(2)
		})
		if b.Attrs.LocalPref != 200 {
			t.Errorf("best path for %s: LOCAL_PREF %d, want the iBGP path's 200", f.net(20, 5), b.Attrs.LocalPref)
		}
		// RFC 4271 §9.1.2: "If the AS_PATH attribute of a BGP route contains
		// an AS loop, the BGP route should be excluded".
		eventually(t, 20*time.Second, "kbgp rejects the route with its own AS in the AS_PATH", func() (bool, string) {
			st, err := l.sp.PeerStatus(f.peer(1))
			if err != nil {
				return false, err.Error()
			}
			return st.Rejected >= 1 && st.Accepted[f.wire] >= 1, fmt.Sprintf("rejected %d accepted %v", st.Rejected, st.Accepted)
		})
		// NO_EXPORT (RFC 1997: "MUST NOT be advertised outside a BGP
		// confederation boundary"): kbgp has the route but keeps it from the
		// eBGP peer.
		l.kbgpRoute(f.net(21, 7), 20*time.Second, func(b speaker.BestPath) bool { return !b.Withdrawn() })
		bs, err := l.sp.BestPaths(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range bs {
			if b.Prefix == netipPrefix(f.net(20, 8)) {
				t.Errorf("kbgp installed a route with its own AS in the AS_PATH: %+v", b)
			}
		}
		// kbgp exports in order: once a route originated after the NO_EXPORT
		// route arrived has reached the eBGP peer, the NO_EXPORT route's
		// export decision has been made.
		l.originate(f.net(10, 0))
		eventually(t, 20*time.Second, "the eBGP peer has kbgp's later route", func() (bool, string) {
			out := output(nil, "birdc", "-s", ebgp, "show", "route", f.net(10, 0))
			return containsAll(out, f.net(10, 0)), out
		})
		out := output(nil, "birdc", "-s", ebgp, "show", "route", "protocol", "kbgp")
		if strings.Contains(out, f.net(21, 7)) {
			t.Errorf("the eBGP peer has the NO_EXPORT route:\n%s", out)
		}
		if !strings.Contains(out, f.net(21, 2)) {
			t.Errorf("the eBGP peer lacks %s:\n%s", f.net(21, 2), out)
		}
	})
}
