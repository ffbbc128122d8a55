package main

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/kbgp/kbgp/api"
	"github.com/kbgp/kbgp/internal/selector"
	"github.com/kbgp/kbgp/internal/store"
)

var updateStore = flag.Bool("update-store", false, "rewrite the golden files in testdata/store")

// runStore executes kbgp in-process with args against the store in dir and
// returns stdout, stderr and the exit status main would use.
func runStore(t *testing.T, dir, stdin string, args ...string) (string, string, int) {
	t.Helper()
	root := newRootCmd()
	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetIn(strings.NewReader(stdin))
	root.SetArgs(append(args, "--store", dir))
	code := 0
	if err := root.Execute(); err != nil {
		code = 1
		if ee, ok := err.(*exitError); ok {
			code = ee.code
		}
		if err.Error() != "" {
			errOut.WriteString("kbgp: " + err.Error() + "\n")
		}
	}
	return out.String(), errOut.String(), code
}

// storeGolden compares got with testdata/store/<name>, or rewrites it with
// -update-store.
func storeGolden(t *testing.T, name, got string) {
	t.Helper()
	p := filepath.Join("testdata", "store", name)
	if *updateStore {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run go test -run TestStoreCLIGolden -update-store to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from golden file\ngot:\n%s\nwant:\n%s", name, got, want)
	}
}

// volatile metadata the store sets differs on every run.
var storeVolatile = regexp.MustCompile(`(?m)^(\s*"?(uid|creationTimestamp)"?:).*$`)

func scrubStore(s string) string { return storeVolatile.ReplaceAllString(s, "$1 X") }

const storeManifests = `apiVersion: projectcalico.org/v3
kind: BGPConfiguration
metadata:
  name: default
spec:
  logSeverityScreen: Info
  nodeToNodeMeshEnabled: false
  asNumber: 64513
---
apiVersion: projectcalico.org/v3
kind: BGPPeer
metadata:
  name: rack1-tor
spec:
  peerIP: 172.16.30.254
  asNumber: 64513
  nodeSelector: rack == 'rack-1'
---
apiVersion: projectcalico.org/v3
kind: BGPPeer
metadata:
  name: peer-with-route-reflectors
spec:
  nodeSelector: all()
  peerSelector: route-reflector == 'true'
---
apiVersion: projectcalico.org/v3
kind: BGPPeer
metadata:
  name: global-tor
spec:
  peerIP: 172.16.30.253:1179
  asNumber: 65000
  filters: [only-pods]
---
apiVersion: projectcalico.org/v3
kind: BGPFilter
metadata:
  name: only-pods
spec:
  exportV4:
  - action: Accept
    matchOperator: In
    cidr: 192.168.0.0/16
  - action: Reject
  importV4:
  - action: Accept
---
apiVersion: projectcalico.org/v3
kind: IPPool
metadata:
  name: default-ipv4-ippool
spec:
  cidr: 192.168.0.0/16
  ipipMode: CrossSubnet
  natOutgoing: true
---
apiVersion: projectcalico.org/v3
kind: Node
metadata:
  name: ubuntu-1
spec:
  bgp:
    ipv4Address: 172.16.30.101/24
---
apiVersion: projectcalico.org/v3
kind: Node
metadata:
  name: ubuntu-2
spec:
  bgp:
    ipv4Address: 172.16.30.102/24
    asNumber: 64600
    routeReflectorClusterID: 244.0.0.1
`

func TestStoreCLIGolden(t *testing.T) {
	dir := t.TempDir()
	steps := []struct {
		golden string
		stdin  string
		args   []string
		code   int
	}{
		{"apply-created.txt", storeManifests, []string{"apply", "-f", "-"}, 0},
		{"apply-unchanged.txt", storeManifests, []string{"apply", "-f", "-"}, 0},
		{"apply-configured.txt", strings.Replace(storeManifests, "64513", "64514", 2), []string{"apply", "-f", "-"}, 0},
		{"apply-invalid.txt", strings.Replace(strings.Replace(storeManifests, "rack == 'rack-1'", "rack = 'rack-1'", 1), "172.16.30.101/24", "172.16.30.101/33", 1), []string{"apply", "-f", "-"}, 1},
		{"get-bgppeers.txt", "", []string{"get", "bgppeers"}, 0},
		{"get-bgppeers-wide.txt", "", []string{"get", "bp", "-o", "wide"}, 0},
		{"get-bgpconfig.txt", "", []string{"get", "bgpconfig"}, 0},
		{"get-bgpfilters.txt", "", []string{"get", "bgpfilters"}, 0},
		{"get-bgpfilters-wide.txt", "", []string{"get", "bgpfilter", "-o", "wide"}, 0},
		{"get-nodes.txt", "", []string{"get", "nodes"}, 0},
		{"get-nodes-wide.txt", "", []string{"get", "node", "-o", "wide"}, 0},
		{"get-ippools.txt", "", []string{"get", "ippools"}, 0},
		{"get-ippools-wide.txt", "", []string{"get", "pool", "-o", "wide"}, 0},
		{"get-peer-yaml.txt", "", []string{"get", "bgppeer", "rack1-tor", "-o", "yaml"}, 0},
		{"get-peer-json.txt", "", []string{"get", "bgppeer", "rack1-tor", "-o", "json"}, 0},
		{"get-missing.txt", "", []string{"get", "node", "ubuntu-9"}, 1},
		{"get-unknown-kind.txt", "", []string{"get", "pods"}, 1},
		{"get-bad-format.txt", "", []string{"get", "nodes", "-o", "xml"}, 1},
		{"label.txt", "", []string{"label", "node", "ubuntu-1", "rack=rack-1", "zone=a"}, 0},
		{"label-conflict.txt", "", []string{"label", "node", "ubuntu-1", "rack=rack-2"}, 1},
		{"label-overwrite.txt", "", []string{"label", "node", "ubuntu-1", "rack=rack-2", "zone-", "--overwrite"}, 0},
		{"label-missing-node.txt", "", []string{"label", "node", "x", "rack=rack-1"}, 1},
		{"annotate.txt", "", []string{"annotate", "node", "ubuntu-1", "projectcalico.org/RouteReflectorClusterID=244.0.0.9"}, 0},
		{"apply-drops-labels.txt", strings.Replace(storeManifests, "64513", "64514", 2), []string{"apply", "-f", "-"}, 0},
		{"delete-by-name.txt", "", []string{"delete", "bgppeer", "global-tor", "nope"}, 1},
		{"delete-usage.txt", "", []string{"delete", "bgppeer"}, 1},
		{"get-bgppeers-after.txt", "", []string{"get", "bgppeers"}, 0},
		{"delete-by-file.txt", storeManifests, []string{"delete", "-f", "-", "--ignore-not-found"}, 0},
		{"get-empty.txt", "", []string{"get", "nodes"}, 0},
	}
	for _, s := range steps {
		out, errOut, code := runStore(t, dir, s.stdin, s.args...)
		if code != s.code {
			t.Errorf("kbgp %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(s.args, " "), code, s.code, out, errOut)
		}
		storeGolden(t, s.golden, "$ kbgp "+strings.Join(s.args, " ")+"\n"+scrubStore(out)+"--- stderr\n"+errOut)
	}
}

// seedNotesPath is the user's notes, ../shared/seed from the repository root.
func seedNotesPath(t *testing.T) string {
	p := filepath.Join("..", "..", "..", "shared", "seed", "calico-bgp-notes.en.md")
	if _, err := os.Stat(p); err != nil {
		t.Skipf("shared seed notes not present at %s (CI clones ../shared beside the repo): %v", p, err)
	}
	return p
}

var (
	seedYAMLBlock   = regexp.MustCompile("(?s)```yaml\n(.*?)```")
	seedKubectlLine = regexp.MustCompile("kubectl ((?:label|annotate) node [^`\n]+)")
)

// TestStoreSeed applies the seed's YAML documents and runs its kubectl label
// and annotate commands verbatim as kbgp commands, on a store holding the
// seed's three nodes, then checks the stored state and the selectors.
func TestStoreSeed(t *testing.T) {
	notes, err := os.ReadFile(seedNotesPath(t))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var nodes strings.Builder
	for i, n := range []string{"ubuntu-1", "ubuntu-2", "ubuntu-3"} {
		nodes.WriteString("---\napiVersion: projectcalico.org/v3\nkind: Node\nmetadata:\n  name: " + n +
			"\n  labels:\n    kubernetes.io/hostname: " + n + "\nspec:\n  bgp:\n    ipv4Address: 172.16.30.10" + string(rune('1'+i)) + "/24\n")
	}
	if out, errOut, code := runStore(t, dir, nodes.String(), "apply", "-f", "-"); code != 0 {
		t.Fatalf("applying nodes: %s%s", out, errOut)
	}

	blocks := seedYAMLBlock.FindAllSubmatch(notes, -1)
	if len(blocks) != 3 {
		t.Fatalf("seed has %d yaml blocks, want 3", len(blocks))
	}
	files := []string{"peer-1.yaml", "rr-peer.yaml", "bgpconfig.yaml"}
	wantOut := []string{
		"bgppeer.projectcalico.org/rack1-tor created\n",
		"bgppeer.projectcalico.org/peer-with-route-reflectors created\n",
		"bgpconfiguration.projectcalico.org/default created\n",
	}
	for i, b := range blocks {
		p := filepath.Join(t.TempDir(), files[i])
		if err := os.WriteFile(p, b[1], 0o644); err != nil {
			t.Fatal(err)
		}
		out, errOut, code := runStore(t, dir, "", "apply", "-f", p)
		if code != 0 || out != wantOut[i] {
			t.Errorf("kbgp apply -f %s: exit %d, stdout %q, stderr %q; want %q", files[i], code, out, errOut, wantOut[i])
		}
	}

	cmds := seedKubectlLine.FindAllSubmatch(notes, -1)
	if len(cmds) != 3 {
		t.Fatalf("seed has %d kubectl label/annotate commands, want 3", len(cmds))
	}
	for _, c := range cmds {
		args := strings.Fields(string(c[1]))
		out, errOut, code := runStore(t, dir, "", args...)
		verb := "labeled"
		if args[0] == "annotate" {
			verb = "annotated"
		}
		if want := "node.projectcalico.org/ubuntu-2 " + verb + "\n"; code != 0 || out != want {
			t.Errorf("kbgp %s: exit %d, stdout %q, stderr %q; want %q", c[1], code, out, errOut, want)
		}
	}

	ds, err := store.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	all, err := ds.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 6 {
		t.Errorf("store holds %d resources, want 6 (3 nodes, 2 peers, 1 configuration)", len(all))
	}
	n2, err := ds.Get(ctx, api.KindNode, "ubuntu-2")
	if err != nil {
		t.Fatal(err)
	}
	m := n2.Meta()
	if m.Labels["rack"] != "rack-1" || m.Labels["route-reflector"] != "true" {
		t.Errorf("ubuntu-2 labels %v", m.Labels)
	}
	if m.Annotations["projectcalico.org/RouteReflectorClusterID"] != "244.0.0.1" {
		t.Errorf("ubuntu-2 annotations %v", m.Annotations)
	}
	cfg, err := ds.Get(ctx, api.KindBGPConfiguration, "default")
	if err != nil {
		t.Fatal(err)
	}
	if s := cfg.(*api.BGPConfiguration).Spec; s.ASNumber == nil || *s.ASNumber != 64513 || s.NodeToNodeMeshEnabled == nil || *s.NodeToNodeMeshEnabled {
		t.Errorf("default BGPConfiguration spec %+v", s)
	}

	// The seed's selectors pick ubuntu-2 alone: the ToR peering and the
	// route-reflector peering.
	for _, c := range []struct {
		peer, field string
		want        []string
	}{
		{"rack1-tor", "nodeSelector", []string{"ubuntu-2"}},
		{"peer-with-route-reflectors", "peerSelector", []string{"ubuntu-2"}},
		{"peer-with-route-reflectors", "nodeSelector", []string{"ubuntu-1", "ubuntu-2", "ubuntu-3"}},
	} {
		r, err := ds.Get(ctx, api.KindBGPPeer, c.peer)
		if err != nil {
			t.Fatal(err)
		}
		spec := r.(*api.BGPPeer).Spec
		text := spec.NodeSelector
		if c.field == "peerSelector" {
			text = spec.PeerSelector
		}
		sel, err := selector.Parse(text)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, n := range all {
			if n.Kind() == api.KindNode && sel.Matches(n.Meta().Labels) {
				got = append(got, n.Name())
			}
		}
		if strings.Join(got, ",") != strings.Join(c.want, ",") {
			t.Errorf("%s %s %q matches %v, want %v", c.peer, c.field, text, got, c.want)
		}
	}

	// Re-running the seed commands is idempotent, as with kubectl.
	out, _, code := runStore(t, dir, "", "label", "node", "ubuntu-2", "rack=rack-1")
	if code != 0 || out != "node.projectcalico.org/ubuntu-2 not labeled\n" {
		t.Errorf("repeated label: exit %d %q", code, out)
	}
}
