package lab

import (
	"strings"
	"testing"
)

// TestRouterConfigFromResources: the router's bgpd.conf follows the
// resources the setup commands apply, and disagreements between them and
// router.peers are errors naming the topology.
func TestRouterConfigFromResources(t *testing.T) {
	for _, tc := range []struct {
		name     string
		old, new string // edit of the default (seed) topology
		want     []string
		wantErr  string
	}{
		{name: "seed", want: []string{"neighbor 172.16.30.102 remote-as 64513", "to the route reflectors", "timers connect 1",
			"log file /r/bgpd.log", "route-map KBGP-OUT deny 10", "bgp graceful-restart restart-time 120"}},
		{name: "all nodes peer with the router",
			old: "  peers: [ubuntu-2]\n", new: "  peers: [all]\n",
			// routercfg warns (as a comment) that two nodes have no BGPPeer
			// to the router: the seed's BGPPeer selects rack-1 only.
			want: []string{"to every node", "neighbor 172.16.30.101 remote-as 64513", "neighbor 172.16.30.103 remote-as 64513",
				"WARNING: Node/ubuntu-1 has no BGPPeer to 172.16.30.254"}},
		{name: "router peers disagree with the reflectors",
			old: "  peers: [ubuntu-2]\n", new: "  peers: [ubuntu-3]\n",
			wantErr: `router.peers is [ubuntu-3] but the resources its setup applies give the router sessions to [ubuntu-2]`},
		{name: "router AS differs from the BGPPeer",
			old: "  asn: 64513\n  clientAddresses", new: "  asn: 65001\n  clientAddresses",
			want: []string{"router bgp 65001", "WARNING: BGPPeer/rack1-tor asNumber 64513: the nodes expect the router at 172.16.30.254 to be AS 64513"}},
		{name: "setup command fails",
			old: "- label node ubuntu-2 rack=rack-1\n", new: "- label node ubuntu-9 rack=rack-1\n",
			wantErr: `kbgp label node ubuntu-9 rack=rack-1: nodes "ubuntu-9" not found`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			y := string(DefaultYAML())
			if tc.old != "" {
				if !strings.Contains(y, tc.old) {
					t.Fatalf("the default topology has no %q", tc.old)
				}
				y = strings.Replace(y, tc.old, tc.new, 1)
			}
			top, err := Parse([]byte(y))
			if err != nil {
				t.Fatal(err)
			}
			_, bgpd, err := RouterConfig(top, "/r")
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got error %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tc.want {
				if !strings.Contains(string(bgpd), w) {
					t.Errorf("bgpd.conf lacks %q:\n%s", w, bgpd)
				}
			}
		})
	}
}

// TestResourcesReplaySetup: the replayed store holds what the seed's
// commands make: ubuntu-2 labelled and annotated as the reflector.
func TestResourcesReplaySetup(t *testing.T) {
	rs, err := Default().Resources()
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	found := false
	for _, r := range rs {
		kinds = append(kinds, r.Kind()+"/"+r.Name())
		if r.Kind() == "Node" && r.Name() == "ubuntu-2" {
			m := r.Meta()
			found = m.Labels["rack"] == "rack-1" && m.Labels["route-reflector"] == "true" &&
				m.Annotations["projectcalico.org/RouteReflectorClusterID"] == "244.0.0.1"
		}
	}
	if !found {
		t.Errorf("Node/ubuntu-2 lacks the setup's labels and annotation; resources: %v", kinds)
	}
	if len(rs) != 7 { // 3 Nodes, 1 IPPool, 2 BGPPeers, 1 BGPConfiguration
		t.Errorf("got %d resources %v, want 7", len(rs), kinds)
	}
}
