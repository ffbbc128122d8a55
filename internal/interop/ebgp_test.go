package interop

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kbgp/kbgp/internal/bgp/speaker"
	"github.com/kbgp/kbgp/internal/bgp/wire"
	"github.com/kbgp/kbgp/internal/netns/nstest"
)

// TestInteropBIRD_EBGP checks kbgp's eBGP rules against BIRD. kbgp (AS
// 65001) has an eBGP BIRD (peer 1, AS 65002) and an iBGP BIRD (peer 2)
// whose routes it passes on to the eBGP one:
//   - next hop self and the local AS prepended toward eBGP;
//   - LOCAL_PREF neither sent to nor honoured from an eBGP peer (BIRD's
//     "allow bgp_local_pref" makes it send one anyway);
//   - a route whose AS_PATH holds kbgp's AS is rejected;
//   - a route with NO_EXPORT is not sent to the eBGP peer.
func TestInteropBIRD_EBGP(t *testing.T) {
	nstest.RequireBinaries(t, "bird", "birdc")
	t.Parallel()
	l := newLab(t, "be", 2)
	l.startKBGP(65001, speaker.Config{})
	l.addPeer(kbgpPeer(peer4(1), 65002, wire.IPv4Unicast))
	l.addPeer(kbgpPeer(peer4(2), 65001, wire.IPv4Unicast))
	conf := func(i int, as uint32, statics, extra, export string) string {
		return fmt.Sprintf(`router id %[1]s;
log stderr all;
protocol device { }
protocol static s4 { ipv4; %[5]s }
protocol bgp kbgp {
  local %[1]s as %[4]d;
  neighbor %[2]s as 65001;
  password "%[3]s";
  connect delay time 1; connect retry time 1; error wait time 1, 2;
  hold time 9;
  %[6]s
  ipv4 { import all; export %[7]s; };
}
`, peer4(i), kbgp4, password, as, statics, extra, export)
	}
	// eBGP peer: 10.20.5.0/24 with LOCAL_PREF 500 (must be ignored),
	// 10.20.8.0/24 with kbgp's AS in its AS_PATH (must be rejected).
	ebgp := l.startBIRD(l.peers[0], "ebgp", conf(1, 65002,
		`route 10.20.5.0/24 blackhole; route 10.20.8.0/24 blackhole;`,
		`allow bgp_local_pref on;`,
		`filter {
    if proto != "s4" then reject;
    bgp_local_pref = 500;
    if net = 10.20.8.0/24 then bgp_path.prepend(65001);
    accept;
  }`))
	// iBGP peer: 10.20.5.0/24 with LOCAL_PREF 200 (wins over the eBGP
	// path only if the eBGP LOCAL_PREF 500 is ignored), 10.21.2.0/24 with
	// AS_PATH 64999 and LOCAL_PREF 200, 10.21.7.0/24 with NO_EXPORT.
	l.startBIRD(l.peers[1], "ibgp", conf(2, 65001,
		`route 10.20.5.0/24 blackhole; route 10.21.2.0/24 blackhole; route 10.21.7.0/24 blackhole;`,
		``,
		`filter {
    if proto != "s4" then reject;
    bgp_local_pref = 200;
    bgp_next_hop = `+peer4(2).String()+`;
    if net = 10.21.2.0/24 then bgp_path.prepend(64999);
    if net = 10.21.7.0/24 then bgp_community.add((65535,65281));
    accept;
  }`))
	l.waitEstablished(peer4(1), 40*time.Second)
	l.waitEstablished(peer4(2), 40*time.Second)

	// Next hop self and AS_PATH prepend toward eBGP; no LOCAL_PREF sent
	// (RFC 4271 §5.1.5: LOCAL_PREF "MUST NOT be included in UPDATE
	// messages sent to BGP speakers located in a neighboring AS"; BIRD
	// then attaches its default 100).
	eventually(t, 30*time.Second, "the eBGP peer has the iBGP route with next hop self and kbgp's AS prepended", func() (bool, string) {
		out := output(nil, "birdc", "-s", ebgp, "show", "route", "all", "10.21.2.0/24")
		return containsAll(out, "10.21.2.0/24", "BGP.as_path: 65001 64999", "BGP.next_hop: "+kbgp4.String()) &&
			!strings.Contains(out, "BGP.local_pref: 200"), out
	})
	// RFC 4271 §5.1.5: "If it is contained in an UPDATE message that is
	// received from an external peer, then this attribute MUST be ignored
	// by the receiving speaker": the iBGP path (200) beats the eBGP one
	// (500 ignored, so the default 100).
	b := l.kbgpRoute("10.20.5.0/24", 30*time.Second, func(b speaker.BestPath) bool {
		return !b.Withdrawn() && len(b.NextHops) > 0 && b.NextHops[0] == peer4(2)
	})
	if b.Attrs.LocalPref != 200 {
		t.Errorf("best path for 10.20.5.0/24: LOCAL_PREF %d, want the iBGP path's 200", b.Attrs.LocalPref)
	}
	// RFC 4271 §9.1.2: "If the AS_PATH attribute of a BGP route contains
	// an AS loop, the BGP route should be excluded".
	eventually(t, 20*time.Second, "kbgp rejects the route with its own AS in the AS_PATH", func() (bool, string) {
		st, err := l.sp.PeerStatus(peer4(1))
		if err != nil {
			return false, err.Error()
		}
		return st.Rejected >= 1 && st.Accepted[wire.IPv4Unicast] >= 1, fmt.Sprintf("rejected %d accepted %v", st.Rejected, st.Accepted)
	})
	// NO_EXPORT (RFC 1997: "MUST NOT be advertised outside a BGP
	// confederation boundary"): kbgp has the route but keeps it from the
	// eBGP peer.
	l.kbgpRoute("10.21.7.0/24", 20*time.Second, func(b speaker.BestPath) bool { return !b.Withdrawn() })
	bs, err := l.sp.BestPaths(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range bs {
		if b.Prefix == netipPrefix("10.20.8.0/24") {
			t.Errorf("kbgp installed a route with its own AS in the AS_PATH: %+v", b)
		}
	}
	// kbgp exports in order: once a route originated after the NO_EXPORT
	// route arrived has reached the eBGP peer, the NO_EXPORT route's
	// export decision has been made.
	l.originate("10.10.0.0/24")
	eventually(t, 20*time.Second, "the eBGP peer has kbgp's later route", func() (bool, string) {
		out := output(nil, "birdc", "-s", ebgp, "show", "route", "10.10.0.0/24")
		return containsAll(out, "10.10.0.0/24"), out
	})
	out := output(nil, "birdc", "-s", ebgp, "show", "route", "protocol", "kbgp")
	if strings.Contains(out, "10.21.7.0/24") {
		t.Errorf("the eBGP peer has the NO_EXPORT route:\n%s", out)
	}
	if !strings.Contains(out, "10.21.2.0/24") {
		t.Errorf("the eBGP peer lacks 10.21.2.0/24:\n%s", out)
	}
}
