package config

import (
	"net/netip"
	"reflect"
	"slices"
	"testing"

	"github.com/kbgp/kbgp/api"
)

func seedState(t *testing.T, node string, edit func(in *Input)) *NodeState {
	t.Helper()
	in := loadCase(t, "testdata/seed", "testdata/compile/seed")
	if edit != nil {
		edit(in)
	}
	s, err := Compile(in, node)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func peerNamed(in *Input, name string) *api.BGPPeer {
	for _, p := range in.Peers {
		if p.Name() == name {
			return p
		}
	}
	return nil
}

func nodeNamed(in *Input, name string) *api.Node {
	for _, n := range in.Nodes {
		if n.Name() == name {
			return n
		}
	}
	return nil
}

func TestDiff(t *testing.T) {
	base := seedState(t, "ubuntu-2", nil)
	tests := []struct {
		name string
		node string
		edit func(in *Input)
		want Changes
	}{
		{name: "no change", node: "ubuntu-2", want: Changes{}},
		{
			name: "router AS changes: new sessions",
			edit: func(in *Input) { peerNamed(in, "rack1-tor").Spec.ASNumber = 65000 },
			want: Changes{Changed: []PeerChange{{Name: "Node_172_16_30_254",
				// eBGP now: the iBGP-only export rules go too.
				Fields: []string{"remoteAS", "internal", "routeReflectorClient", "clusterID", "export"}, Reset: true, Reexport: true}}},
		},
		{
			name: "keepalive only: no reset",
			edit: func(in *Input) {
				peerNamed(in, "rack1-tor").Spec.KeepaliveTime = &api.Duration{Duration: 10e9}
			},
			want: Changes{Changed: []PeerChange{{Name: "Node_172_16_30_254", Fields: []string{"keepaliveTime"}}}},
		},
		{
			name: "filter added: refresh and re-export, no reset",
			edit: func(in *Input) {
				in.Filters = append(in.Filters, &api.BGPFilter{Metadata: api.ObjectMeta{Name: "f"},
					Spec: api.BGPFilterSpec{ImportV4: []api.BGPFilterRule{{Action: "Reject"}}}})
				peerNamed(in, "rack1-tor").Spec.Filters = []string{"f"}
			},
			want: Changes{Changed: []PeerChange{{Name: "Node_172_16_30_254", Fields: []string{"filters", "import"},
				RouteRefresh: true, Reexport: true}}},
		},
		{
			name: "password rotated: reset",
			edit: func(in *Input) {
				peerNamed(in, "rack1-tor").Spec.Password = &api.BGPPassword{SecretKeyRef: &api.SecretKeySelector{Name: "s", Key: "k"}}
				in.Secrets = map[string]map[string]string{"s": {"k": "new"}}
			},
			want: Changes{Changed: []PeerChange{{Name: "Node_172_16_30_254", Fields: []string{"password"}, Reset: true}}},
		},
		{
			name: "node leaves the rack: peer removed",
			edit: func(in *Input) { delete(nodeNamed(in, "ubuntu-2").Metadata.Labels, "rack") },
			want: Changes{Removed: []string{"Node_172_16_30_254"}},
		},
		{
			name: "new node joins: added peer and nothing else",
			edit: func(in *Input) {
				in.Nodes = append(in.Nodes, &api.Node{Metadata: api.ObjectMeta{Name: "ubuntu-4"},
					Spec: api.NodeSpec{BGP: &api.NodeBGPSpec{IPv4Address: netip.MustParsePrefix("172.16.30.104/24")}}})
			},
			want: Changes{Added: []string{"Node_172_16_30_104"}},
		},
		{
			name: "AS change: everything resets, blocks change",
			edit: func(in *Input) {
				a := api.ASNumber(64999)
				in.Configurations[0].Spec.ASNumber = &a
				nodeNamed(in, "ubuntu-2").Spec.AffineBlocks = nil
			},
			want: Changes{ResetAll: true, Global: []string{"asNumber"},
				OriginateRemoved: []netip.Prefix{netip.MustParsePrefix("192.168.20.0/26")},
				Changed: []PeerChange{
					{Name: "Node_172_16_30_101", Fields: []string{"remoteAS", "localAS", "export"}, Reset: true, Reexport: true},
					{Name: "Node_172_16_30_103", Fields: []string{"remoteAS", "localAS", "export"}, Reset: true, Reexport: true},
					{Name: "Node_172_16_30_254", Fields: []string{"localAS", "internal", "routeReflectorClient", "clusterID", "export"}, Reset: true, Reexport: true},
				}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Diff(base, seedState(t, "ubuntu-2", tc.edit))
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Diff:\n got %+v\nwant %+v", got, tc.want)
			}
			if got.IsEmpty() != reflect.DeepEqual(tc.want, Changes{}) {
				t.Errorf("IsEmpty = %v", got.IsEmpty())
			}
		})
	}
	// From nothing: every peer and route is new.
	d := Diff(nil, base)
	if len(d.Added) != 3 || len(d.OriginateAdded) != len(base.Originate) {
		t.Errorf("Diff(nil, state) = %+v", d)
	}
	if !slices.Equal(Diff(base, nil).Removed, d.Added) {
		t.Errorf("Diff(state, nil) does not remove every peer")
	}
}
