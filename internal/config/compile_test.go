package config

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/kbgp/kbgp/api"
	"github.com/kbgp/kbgp/internal/golden"
	"sigs.k8s.io/yaml"
)

// loadCase reads every *.yaml resource file in dirs (services.yaml holds
// []Service instead) into an Input.
func loadCase(t *testing.T, dirs ...string) *Input {
	t.Helper()
	in := &Input{}
	for _, dir := range dirs {
		files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
		if err != nil || len(files) == 0 {
			t.Fatalf("no input files in %s", dir)
		}
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if filepath.Base(f) == "services.yaml" {
				var svcs []Service
				if err := yaml.UnmarshalStrict(data, &svcs); err != nil {
					t.Fatalf("%s: %v", f, err)
				}
				in.Services = append(in.Services, svcs...)
				continue
			}
			rs, err := Decode(f, data)
			if err != nil {
				t.Fatal(err)
			}
			in.Add(rs...)
		}
	}
	return in
}

var compileCases = []struct {
	name string
	dirs []string
}{
	{"seed", []string{"testdata/seed", "testdata/compile/seed"}},
	{"mesh", []string{"testdata/compile/mesh"}},
	{"rr-same-id", []string{"testdata/compile/rr-same-id"}},
	{"rr-different-id", []string{"testdata/compile/rr-different-id"}},
	{"ebgp", []string{"testdata/compile/ebgp"}},
	{"dual-stack", []string{"testdata/compile/dual-stack"}},
	{"filters", []string{"testdata/compile/filters"}},
}

// TestCompileGolden compiles every node of every case and compares with
// testdata/compile/<case>/<node>.golden.
func TestCompileGolden(t *testing.T) {
	for _, tc := range compileCases {
		t.Run(tc.name, func(t *testing.T) {
			in := loadCase(t, tc.dirs...)
			for _, n := range in.Nodes {
				s, err := Compile(in, n.Name())
				if err != nil {
					t.Fatalf("Compile %s: %v", n.Name(), err)
				}
				out, err := EncodeState(s, "yaml")
				if err != nil {
					t.Fatal(err)
				}
				golden.Check(t, filepath.Join("testdata", "compile", tc.name, n.Name()+".golden"), out)
				// Determinism: compiling again, with the input lists
				// reversed, gives the same bytes.
				rev := *in
				rev.Nodes, rev.Peers = slices.Clone(in.Nodes), slices.Clone(in.Peers)
				slices.Reverse(rev.Nodes)
				slices.Reverse(rev.Peers)
				s2, err := Compile(&rev, n.Name())
				if err != nil {
					t.Fatal(err)
				}
				if out2, _ := EncodeState(s2, "yaml"); !bytes.Equal(out, out2) {
					t.Errorf("%s: output depends on input order", n.Name())
				}
			}
		})
	}
}

type peerSummary struct {
	addr     string
	typ      PeerType
	rrClient bool
	cluster  string
}

func summarize(s *NodeState) []peerSummary {
	var out []peerSummary
	for _, p := range s.Peers {
		ps := peerSummary{addr: p.Address.String(), typ: p.Type, rrClient: p.RouteReflectorClient}
		if p.ClusterID.IsValid() {
			ps.cluster = p.ClusterID.String()
		}
		out = append(out, ps)
	}
	return out
}

// TestCompileSeed checks the seed's calicoctl node status by hand, not
// only through the golden files.
func TestCompileSeed(t *testing.T) {
	in := loadCase(t, "testdata/seed", "testdata/compile/seed")
	want := map[string][]peerSummary{
		"ubuntu-1": {{"172.16.30.102", PeerNodeSpecific, false, ""}},
		"ubuntu-2": {
			{"172.16.30.101", PeerNodeSpecific, true, "244.0.0.1"},
			{"172.16.30.103", PeerNodeSpecific, true, "244.0.0.1"},
			// Calico marks every iBGP peer without the RR's cluster ID as
			// a client, the iBGP router included.
			{"172.16.30.254", PeerNodeSpecific, true, "244.0.0.1"},
		},
		"ubuntu-3": {{"172.16.30.102", PeerNodeSpecific, false, ""}},
	}
	for node, w := range want {
		s, err := Compile(in, node)
		if err != nil {
			t.Fatal(err)
		}
		if got := summarize(s); !slices.Equal(got, w) {
			t.Errorf("%s peers:\n got %v\nwant %v", node, got, w)
		}
		if s.ASNumber != 64513 {
			t.Errorf("%s AS %d, want 64513", node, s.ASNumber)
		}
	}
}

func TestCompileErrors(t *testing.T) {
	in := loadCase(t, "testdata/seed", "testdata/compile/seed")
	if _, err := Compile(in, "nope"); err == nil || !strings.Contains(err.Error(), "Node/nope not found (known nodes: ubuntu-1, ubuntu-2, ubuntu-3)") {
		t.Errorf("unknown node: %v", err)
	}
	bad := *in
	bad.Peers = append(slices.Clone(in.Peers), &api.BGPPeer{Metadata: api.ObjectMeta{Name: "bad"},
		Spec: api.BGPPeerSpec{NodeSelector: "rack = 'x'", PeerIP: api.PeerAddress{Addr: mustAddr("10.0.0.1")}, ASNumber: 1}})
	if _, err := Compile(&bad, "ubuntu-1"); err == nil || !strings.Contains(err.Error(), `BGPPeer/bad: spec.nodeSelector: "rack = 'x'": expected == at column 6`) {
		t.Errorf("invalid peer: %v", err)
	}
}
