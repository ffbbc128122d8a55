package interop

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/kbgp/kbgp/internal/bgp/speaker"
	"github.com/kbgp/kbgp/internal/netns/nstest"
)

// rrLab starts kbgp as a route reflector (AS 65001, cluster ID = router ID
// 192.168.100.1) with a BIRD client (peer 1, f.net(20, 1)) and an FRR
// client (peer 2, f.net(30, 2)), all iBGP sessions in family f with TCP
// MD5.
func rrLab(t *testing.T, tag string, f family) (l *lab, birdSock, frrDir string) {
	nstest.RequireBinaries(t, "bird", "birdc", "vtysh", "/usr/lib/frr/bgpd", "/usr/lib/frr/zebra")
	l = newLab(t, f.tag(tag), 2)
	l.startKBGP(65001, speaker.Config{})
	for i := 1; i <= 2; i++ {
		c := f.peerConfig(f.peer(i), 65001)
		c.RRClient = true
		l.addPeer(c)
	}
	birdSock = l.startBIRD(l.peers[0], "bird", fmt.Sprintf(`router id %[1]s;
log stderr all;
protocol device { }
protocol static s1 { %[5]s; route %[6]s blackhole; }
protocol bgp reflector {
  local %[2]s as 65001;
  neighbor %[3]s as 65001;
  password "%[4]s";
  connect delay time 1; connect retry time 1; error wait time 1, 2;
  hold time 9;
  %[5]s { import all; export where proto = "s1"; next hop self; };
}
`, peer4(1), f.peer(1), f.kbgp, password, f.bird, f.net(20, 1)))
	frrDir = l.startFRR(l.peers[1], "frr", fmt.Sprintf(`frr defaults traditional
hostname frr2
log stdout debugging
router bgp 65001
 bgp router-id %[1]s
 no bgp network import-check
 no bgp default ipv4-unicast
 neighbor %[2]s remote-as 65001
 neighbor %[2]s password %[3]s
 neighbor %[2]s timers connect 1
 neighbor %[2]s timers 3 9
 address-family %[4]s
  neighbor %[2]s activate
  network %[5]s
  neighbor %[2]s next-hop-self
 exit-address-family
`, peer4(2), f.kbgp, password, f.frr, f.net(30, 2)))
	l.waitEstablished(f.peer(1), 40*time.Second)
	l.waitEstablished(f.peer(2), 40*time.Second)
	return l, birdSock, frrDir
}

// TestInteropBIRD_RouteReflection: kbgp reflects the FRR client's route to
// the BIRD client with ORIGINATOR_ID (the FRR client's router ID) and
// CLUSTER_LIST (kbgp's cluster ID), as RFC 4456 §8 says, and keeps its
// next hop, over IPv4 and IPv6 sessions.
func TestInteropBIRD_RouteReflection(t *testing.T) {
	t.Parallel()
	forEachFamily(t, func(t *testing.T, f family) {
		_, sock, _ := rrLab(t, "rb", f)
		eventually(t, 30*time.Second, "BIRD has the FRR client's route reflected by kbgp", func() (bool, string) {
			out := output(nil, "birdc", "-s", sock, "show", "route", "all", f.net(30, 2))
			return containsAll(out, f.net(30, 2), "BGP.originator_id: "+peer4(2).String(), "BGP.cluster_list: "+kbgp4.String(),
				"BGP.next_hop: "+f.peer(2).String(), "BGP.local_pref: 100"), out
		})
	})
}

// TestInteropFRR_RouteReflection: the BIRD client's route arrives at the
// FRR client with ORIGINATOR_ID and CLUSTER_LIST, over IPv4 and IPv6
// sessions.
func TestInteropFRR_RouteReflection(t *testing.T) {
	t.Parallel()
	forEachFamily(t, func(t *testing.T, f family) {
		l, _, dir := rrLab(t, "rf", f)
		eventually(t, 30*time.Second, "FRR has the BIRD client's route reflected by kbgp", func() (bool, string) {
			out := vtysh(dir, "show bgp "+f.frrShow+" "+f.net(20, 1)+" json")
			return containsAll(out, `"originatorId":"`+peer4(1).String()+`"`, `"clusterList"`, `"`+kbgp4.String()+`"`,
				`"ip":"`+f.peer(1).String()+`"`, `"valid":true`), out
		})
		// kbgp itself sees both clients' routes.
		l.kbgpRoute(f.net(20, 1), 10*time.Second, func(b speaker.BestPath) bool { return !b.Withdrawn() })
		l.kbgpRoute(f.net(30, 2), 10*time.Second, func(b speaker.BestPath) bool { return !b.Withdrawn() })
	})
}

// TestInteropBIRD_ReflectorNonClient: kbgp reflects a client's route to a
// non-client (RFC 4456 §6: from a client, "Reflect to all the Non-Client
// peers and also to the Clients") and ignores a route from a client whose
// CLUSTER_LIST already holds kbgp's cluster ID (RFC 4456 §8: "If the local
// CLUSTER_ID is found in the CLUSTER_LIST, the advertisement received
// SHOULD be ignored."). Peer 1 is a BIRD client, peer 2 a BIRD non-client.
func TestInteropBIRD_ReflectorNonClient(t *testing.T) {
	nstest.RequireBinaries(t, "bird", "birdc")
	t.Parallel()
	forEachFamily(t, func(t *testing.T, f family) {
		l := newLab(t, f.tag("rn"), 2)
		l.startKBGP(65001, speaker.Config{})
		client := f.peerConfig(f.peer(1), 65001)
		client.RRClient = true
		l.addPeer(client)
		l.addPeer(f.peerConfig(f.peer(2), 65001))
		conf := func(i int, export string) string {
			return fmt.Sprintf(`router id %[1]s;
log stderr all;
protocol device { }
protocol static s1 { %[6]s; route %[7]s blackhole; route %[8]s blackhole; }
protocol bgp kbgp {
  local %[2]s as 65001;
  neighbor %[3]s as 65001;
  password "%[4]s";
  connect delay time 1; connect retry time 1; error wait time 1, 2;
  hold time 9;
  %[6]s { import all; export %[5]s; next hop self; };
}
`, peer4(i), f.peer(i), f.kbgp, password, export, f.bird, f.net(20, i), f.net(20, 90+i))
		}
		// The client sends f.net(20, 1) and f.net(20, 91), the latter with
		// kbgp's cluster ID already in its CLUSTER_LIST.
		l.startBIRD(l.peers[0], "client", conf(1, `filter {
    if proto != "s1" then reject;
    if net = `+f.net(20, 91)+` then bgp_cluster_list.add(`+kbgp4.String()+`);
    accept;
  }`))
		nonClient := l.startBIRD(l.peers[1], "nonclient", conf(2, `where proto = "s1" && net = `+f.net(20, 2)))
		l.waitEstablished(f.peer(1), 40*time.Second)
		l.waitEstablished(f.peer(2), 40*time.Second)

		eventually(t, 30*time.Second, "the non-client has the client's route reflected by kbgp", func() (bool, string) {
			out := output(nil, "birdc", "-s", nonClient, "show", "route", "all", f.net(20, 1))
			return containsAll(out, f.net(20, 1), "BGP.originator_id: "+peer4(1).String(), "BGP.cluster_list: "+kbgp4.String(),
				"BGP.next_hop: "+f.peer(1).String()), out
		})
		// The non-client's own route reaches kbgp.
		l.kbgpRoute(f.net(20, 2), 20*time.Second, func(b speaker.BestPath) bool { return !b.Withdrawn() })
		eventually(t, 20*time.Second, "kbgp rejects the client's looped route", func() (bool, string) {
			st, err := l.sp.PeerStatus(f.peer(1))
			if err != nil {
				return false, err.Error()
			}
			return st.Rejected >= 1, fmt.Sprintf("rejected %d accepted %v", st.Rejected, st.Accepted)
		})
		bs, err := l.sp.BestPaths(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range bs {
			if b.Prefix == netipPrefix(f.net(20, 91)) {
				t.Errorf("kbgp installed a route with its own cluster ID in CLUSTER_LIST: %+v", b)
			}
		}
		if out := output(nil, "birdc", "-s", nonClient, "show", "route", f.net(20, 91)); containsAll(out, f.net(20, 91)) {
			t.Errorf("the looped route reached the non-client:\n%s", out)
		}
	})
}
