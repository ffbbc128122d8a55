package config

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/kbgp/kbgp/api"
)

// cluster builds n nodes, each with one /26 block; mesh on or the
// documented two-RR setup.
func cluster(n int, mesh bool) *Input {
	in := &Input{}
	on := mesh
	in.Configurations = []*api.BGPConfiguration{{Metadata: api.ObjectMeta{Name: "default"},
		Spec: api.BGPConfigurationSpec{NodeToNodeMeshEnabled: &on,
			ServiceClusterIPs: []api.ServiceCIDR{{CIDR: netip.MustParsePrefix("10.96.0.0/12")}}}}}
	in.Pools = []*api.IPPool{{Metadata: api.ObjectMeta{Name: "p"}, Spec: api.IPPoolSpec{CIDR: netip.MustParsePrefix("10.128.0.0/9")}}}
	if !mesh {
		in.Peers = []*api.BGPPeer{{Metadata: api.ObjectMeta{Name: "rr"},
			Spec: api.BGPPeerSpec{NodeSelector: "all()", PeerSelector: "route-reflector == 'true'"}}}
	}
	for i := range n {
		nd := &api.Node{Metadata: api.ObjectMeta{Name: fmt.Sprintf("node-%04d", i), Labels: map[string]string{}},
			Spec: api.NodeSpec{BGP: &api.NodeBGPSpec{IPv4Address: netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}), 16)},
				AffineBlocks: []api.AffineBlock{{CIDR: netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 128 + byte(i>>10), byte(i >> 2), byte(i&3) << 6}), 26)}}}}
		if !mesh && i < 2 {
			nd.Metadata.Labels["route-reflector"] = "true"
			nd.Spec.BGP.RouteReflectorClusterID = netip.MustParseAddr("244.0.0.1")
		}
		in.Nodes = append(in.Nodes, nd)
	}
	return in
}

func BenchmarkCompile(b *testing.B) {
	for _, bc := range []struct {
		name string
		n    int
		mesh bool
		node string
	}{
		{"mesh-100/node", 100, true, "node-0050"},
		{"rr-1000/client", 1000, false, "node-0500"},
		{"rr-1000/reflector", 1000, false, "node-0000"},
	} {
		in := cluster(bc.n, bc.mesh)
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := Compile(in, bc.node); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkDecode(b *testing.B) {
	data, err := os.ReadFile(filepath.Join("testdata", "decode", "all-kinds.yaml"))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := Decode("all-kinds.yaml", data); err != nil {
			b.Fatal(err)
		}
	}
}
