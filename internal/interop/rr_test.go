package interop

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/kbgp/kbgp/internal/bgp/speaker"
	"github.com/kbgp/kbgp/internal/bgp/wire"
	"github.com/kbgp/kbgp/internal/netns/nstest"
)

// rrLab starts kbgp as a route reflector (AS 65001, cluster ID = router ID
// 192.168.100.1) with a BIRD client (peer 1, 10.20.1.0/24) and an FRR
// client (peer 2, 10.30.2.0/24), all iBGP over IPv4 with TCP MD5.
func rrLab(t *testing.T, tag string) (l *lab, birdSock, frrDir string) {
	nstest.RequireBinaries(t, "bird", "birdc", "vtysh", "/usr/lib/frr/bgpd", "/usr/lib/frr/zebra")
	l = newLab(t, tag, 2)
	l.startKBGP(65001, speaker.Config{})
	for i := 1; i <= 2; i++ {
		c := kbgpPeer(peer4(i), 65001, wire.IPv4Unicast)
		c.RRClient = true
		l.addPeer(c)
	}
	birdSock = l.startBIRD(l.peers[0], "bird", fmt.Sprintf(`router id %[1]s;
log stderr all;
protocol device { }
protocol direct { ipv4; }
protocol static s4 { ipv4; route 10.20.1.0/24 blackhole; }
protocol bgp reflector {
  local %[1]s as 65001;
  neighbor %[2]s as 65001;
  password "%[3]s";
  connect delay time 1; connect retry time 1; error wait time 1, 2;
  hold time 9;
  ipv4 { import all; export where proto = "s4"; next hop self; };
}
`, peer4(1), kbgp4, password))
	frrDir = l.startFRR(l.peers[1], "frr", fmt.Sprintf(`frr defaults traditional
hostname frr2
log stdout debugging
router bgp 65001
 bgp router-id %[1]s
 no bgp network import-check
 neighbor %[2]s remote-as 65001
 neighbor %[2]s password %[3]s
 neighbor %[2]s timers connect 1
 neighbor %[2]s timers 3 9
 address-family ipv4 unicast
  network 10.30.2.0/24
  neighbor %[2]s next-hop-self
 exit-address-family
`, peer4(2), kbgp4, password))
	l.waitEstablished(peer4(1), 40*time.Second)
	l.waitEstablished(peer4(2), 40*time.Second)
	return l, birdSock, frrDir
}

// TestInteropBIRD_RouteReflection: kbgp reflects the FRR client's route to
// the BIRD client with ORIGINATOR_ID (the FRR client's router ID) and
// CLUSTER_LIST (kbgp's cluster ID), as RFC 4456 §8 says, and keeps its
// next hop.
func TestInteropBIRD_RouteReflection(t *testing.T) {
	t.Parallel()
	l, sock, _ := rrLab(t, "rb")
	eventually(t, 30*time.Second, "BIRD has the FRR client's route reflected by kbgp", func() (bool, string) {
		out := output(nil, "birdc", "-s", sock, "show", "route", "all", "10.30.2.0/24")
		return containsAll(out, "10.30.2.0/24", "BGP.originator_id: "+peer4(2).String(), "BGP.cluster_list: "+kbgp4.String(),
			"BGP.next_hop: "+peer4(2).String(), "BGP.local_pref: 100"), out
	})
	_ = l
}

// TestInteropFRR_RouteReflection: the BIRD client's route arrives at the
// FRR client with ORIGINATOR_ID and CLUSTER_LIST.
func TestInteropFRR_RouteReflection(t *testing.T) {
	t.Parallel()
	l, _, dir := rrLab(t, "rf")
	eventually(t, 30*time.Second, "FRR has the BIRD client's route reflected by kbgp", func() (bool, string) {
		out := vtysh(dir, "show bgp ipv4 unicast 10.20.1.0/24 json")
		return containsAll(out, `"originatorId":"`+peer4(1).String()+`"`, `"clusterList"`, `"`+kbgp4.String()+`"`,
			`"ip":"`+peer4(1).String()+`"`, `"valid":true`), out
	})
	// kbgp itself sees both clients' routes.
	l.kbgpRoute("10.20.1.0/24", 10*time.Second, func(b speaker.BestPath) bool { return !b.Withdrawn() })
	l.kbgpRoute("10.30.2.0/24", 10*time.Second, func(b speaker.BestPath) bool { return !b.Withdrawn() })
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
	l := newLab(t, "rn", 2)
	l.startKBGP(65001, speaker.Config{})
	client := kbgpPeer(peer4(1), 65001, wire.IPv4Unicast)
	client.RRClient = true
	l.addPeer(client)
	l.addPeer(kbgpPeer(peer4(2), 65001, wire.IPv4Unicast))
	conf := func(i int, export string) string {
		return fmt.Sprintf(`router id %[1]s;
log stderr all;
protocol device { }
protocol static s4 { ipv4; route 10.20.%[4]d.0/24 blackhole; route 10.20.9%[4]d.0/24 blackhole; }
protocol bgp kbgp {
  local %[1]s as 65001;
  neighbor %[2]s as 65001;
  password "%[3]s";
  connect delay time 1; connect retry time 1; error wait time 1, 2;
  hold time 9;
  ipv4 { import all; export %[5]s; next hop self; };
}
`, peer4(i), kbgp4, password, i, export)
	}
	// The client sends 10.20.1.0/24 and 10.20.91.0/24, the latter with
	// kbgp's cluster ID already in its CLUSTER_LIST.
	l.startBIRD(l.peers[0], "client", conf(1, `filter {
    if proto != "s4" then reject;
    if net = 10.20.91.0/24 then bgp_cluster_list.add(`+kbgp4.String()+`);
    accept;
  }`))
	nonClient := l.startBIRD(l.peers[1], "nonclient", conf(2, `where proto = "s4" && net = 10.20.2.0/24`))
	l.waitEstablished(peer4(1), 40*time.Second)
	l.waitEstablished(peer4(2), 40*time.Second)

	eventually(t, 30*time.Second, "the non-client has the client's route reflected by kbgp", func() (bool, string) {
		out := output(nil, "birdc", "-s", nonClient, "show", "route", "all", "10.20.1.0/24")
		return containsAll(out, "10.20.1.0/24", "BGP.originator_id: "+peer4(1).String(), "BGP.cluster_list: "+kbgp4.String(),
			"BGP.next_hop: "+peer4(1).String()), out
	})
	// The non-client's own route reaches kbgp.
	l.kbgpRoute("10.20.2.0/24", 20*time.Second, func(b speaker.BestPath) bool { return !b.Withdrawn() })
	eventually(t, 20*time.Second, "kbgp rejects the client's looped route", func() (bool, string) {
		st, err := l.sp.PeerStatus(peer4(1))
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
		if b.Prefix == netipPrefix("10.20.91.0/24") {
			t.Errorf("kbgp installed a route with its own cluster ID in CLUSTER_LIST: %+v", b)
		}
	}
	if out := output(nil, "birdc", "-s", nonClient, "show", "route", "10.20.91.0/24"); containsAll(out, "10.20.91.0/24") {
		t.Errorf("the looped route reached the non-client:\n%s", out)
	}
}
