package k8s

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"sigs.k8s.io/yaml"

	"github.com/kbgp/kbgp/internal/golden"
)

// repoRoot is the directory holding go.mod.
func repoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test directory")
		}
		dir = parent
	}
}

func crdDocs(t testing.TB) Docs {
	t.Helper()
	root := repoRoot(t)
	docs, err := ParseDocs(filepath.Join(root, "api"), filepath.Join(root, "internal", "k8s"))
	if err != nil {
		t.Fatal(err)
	}
	return docs
}

// TestCRDManifests is the golden test that keeps deploy/crds in step with
// the Go types: regenerate with -update.
func TestCRDManifests(t *testing.T) {
	docs := crdDocs(t)
	dir := filepath.Join(repoRoot(t), "deploy", "crds")
	for _, c := range CRDs {
		t.Run(c.Kind, func(t *testing.T) {
			got, err := c.Manifest(docs)
			if err != nil {
				t.Fatal(err)
			}
			file := filepath.Join(dir, Group+"_"+c.Plural+".yaml")
			golden.Check(t, file, got)
		})
	}
}

// TestCRDSchemaShape checks the generated schemas on points a golden file
// would silently carry along: every spec field of the Go type is in the
// schema, AS numbers accept asdot strings, required fields are required.
func TestCRDSchemaShape(t *testing.T) {
	docs := crdDocs(t)
	get := func(m any, path ...string) any {
		for _, p := range path {
			mm, ok := m.(map[string]any)
			if !ok {
				return nil
			}
			m = mm[p]
		}
		return m
	}
	for _, tt := range []struct {
		name string
		kind string
		path []string
		want any
	}{
		{"peer asNumber is int-or-string", "BGPPeer", []string{"spec", "properties", "asNumber", "x-kubernetes-int-or-string"}, true},
		{"peer peerIP is a string", "BGPPeer", []string{"spec", "properties", "peerIP", "type"}, "string"},
		{"peer holdTime (kbgp extension) is a string", "BGPPeer", []string{"spec", "properties", "holdTime", "type"}, "string"},
		{"ttlSecurity is 0-255", "BGPPeer", []string{"spec", "properties", "ttlSecurity", "maximum"}, float64(255)},
		{"serviceClusterIPs items require cidr", "BGPConfiguration", []string{"spec", "properties", "serviceClusterIPs", "items", "required"}, []any{"cidr"}},
		{"pool cidr is required", "IPPool", []string{"spec", "required"}, []any{"cidr"}},
		{"status peers are listed", "NodeBGPStatus", []string{"status", "properties", "peers", "type"}, "array"},
		{"descriptions come from the Go doc comments", "BGPPeer", []string{"spec", "properties", "peerSelector", "description"}, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var c CRD
			for _, x := range CRDs {
				if x.Kind == tt.kind {
					c = x
				}
			}
			b, err := c.Manifest(docs)
			if err != nil {
				t.Fatal(err)
			}
			var m map[string]any
			if err := yaml.Unmarshal(b, &m); err != nil {
				t.Fatal(err)
			}
			props := get(m, "spec", "versions")
			schema := get(props.([]any)[0], "schema", "openAPIV3Schema", "properties")
			got := get(schema, tt.path...)
			if tt.want == nil {
				if s, _ := got.(string); !strings.Contains(s, "remote peers") {
					t.Errorf("description = %v, want the field's doc comment", got)
				}
				return
			}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
}
