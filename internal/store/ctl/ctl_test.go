package ctl

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kbgp/kbgp/api"
	"github.com/kbgp/kbgp/internal/store"
)

const (
	peerYAML = `apiVersion: projectcalico.org/v3
kind: BGPPeer
metadata:
  name: rack1-tor
spec:
  peerIP: 172.16.30.254
  asNumber: 64513
  nodeSelector: rack == 'rack-1'
`
	nodesYAML = `apiVersion: projectcalico.org/v3
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
  labels:
    rack: rack-1
spec:
  bgp:
    ipv4Address: 172.16.30.102/24
    asNumber: 64513
`
	badYAML = `apiVersion: projectcalico.org/v3
kind: BGPPeer
metadata:
  name: bad
spec:
  peerIP: 172.16.30.254
  asNumber: 64513
  nodeSelector: rack = 'rack-1'
---
apiVersion: projectcalico.org/v3
kind: BGPPeer
metadata:
  name: good-but-same-file
spec:
  peerIP: 172.16.30.253
  asNumber: 64513
`
)

func write(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func newStore(t *testing.T) *store.File {
	t.Helper()
	f, err := store.Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestApplyFileIsAllOrNothing(t *testing.T) {
	ctx := context.Background()
	ds := newStore(t)
	dir := t.TempDir()
	bad := write(t, dir, "bad.yaml", badYAML)
	good := write(t, dir, "peer.yaml", peerYAML)
	var out, errOut bytes.Buffer
	err := Apply(ctx, ds, []string{bad, good}, false, nil, &out, &errOut)
	if !errors.Is(err, ErrReported) {
		t.Fatalf("Apply = %v, want ErrReported", err)
	}
	if got, want := out.String(), "bgppeer.projectcalico.org/rack1-tor created\n"; got != want {
		t.Errorf("stdout %q, want %q", got, want)
	}
	wantErr := bad + ":8:17: document 1: BGPPeer/bad: spec.nodeSelector: \"rack = 'rack-1'\": expected == at column 6"
	if !strings.Contains(errOut.String(), wantErr) || !strings.HasPrefix(errOut.String(), "error: ") {
		t.Errorf("stderr %q, want it to contain %q", errOut.String(), wantErr)
	}
	if _, err := ds.Get(ctx, api.KindBGPPeer, "good-but-same-file"); !store.IsNotFound(err) {
		t.Errorf("a valid resource from a file with errors was applied (%v)", err)
	}
}

func TestApplyDirAndStdin(t *testing.T) {
	ctx := context.Background()
	ds := newStore(t)
	dir := t.TempDir()
	write(t, dir, "b-nodes.yml", nodesYAML)
	write(t, dir, "a-peer.yaml", peerYAML)
	write(t, dir, "notes.txt", "ignored")
	write(t, dir, "sub/pool.json", `{"apiVersion":"projectcalico.org/v3","kind":"IPPool","metadata":{"name":"p"},"spec":{"cidr":"192.168.0.0/16"}}`)
	tests := []struct {
		name      string
		recursive bool
		want      string
	}{
		{"flat", false, "bgppeer.projectcalico.org/rack1-tor created\nnode.projectcalico.org/ubuntu-1 created\nnode.projectcalico.org/ubuntu-2 created\n"},
		{"recursive", true, "bgppeer.projectcalico.org/rack1-tor unchanged\nnode.projectcalico.org/ubuntu-1 unchanged\nnode.projectcalico.org/ubuntu-2 unchanged\nippool.projectcalico.org/p created\n"},
	}
	for _, tc := range tests {
		var out, errOut bytes.Buffer
		if err := Apply(ctx, ds, []string{dir}, tc.recursive, nil, &out, &errOut); err != nil {
			t.Fatalf("%s: %v\n%s", tc.name, err, errOut.String())
		}
		if out.String() != tc.want {
			t.Errorf("%s: got\n%s\nwant\n%s", tc.name, out.String(), tc.want)
		}
	}
	var out, errOut bytes.Buffer
	changed := strings.Replace(peerYAML, "64513", "65000", 1)
	if err := Apply(ctx, ds, []string{Stdin}, false, strings.NewReader(changed), &out, &errOut); err != nil {
		t.Fatal(err, errOut.String())
	}
	if out.String() != "bgppeer.projectcalico.org/rack1-tor configured\n" {
		t.Errorf("stdin apply: %q", out.String())
	}
	err := Apply(ctx, ds, []string{Stdin}, false, strings.NewReader(strings.Replace(peerYAML, "==", "=", 1)), &out, &errOut)
	if err == nil || !strings.Contains(errOut.String(), "<stdin>:8:17") {
		t.Errorf("stdin error does not name <stdin>:8:17: %q", errOut.String())
	}
}

func TestApplyInputErrors(t *testing.T) {
	ds := newStore(t)
	var out, errOut bytes.Buffer
	ctx := context.Background()
	if err := Apply(ctx, ds, nil, false, nil, &out, &errOut); err == nil {
		t.Error("Apply with no files succeeded")
	}
	if err := Apply(ctx, ds, []string{"/nonexistent/x.yaml"}, false, nil, &out, &errOut); err == nil || !strings.Contains(err.Error(), `"/nonexistent/x.yaml" does not exist`) {
		t.Errorf("missing file: %v", err)
	}
	empty := t.TempDir()
	if err := Apply(ctx, ds, []string{empty}, false, nil, &out, &errOut); err == nil || !strings.Contains(err.Error(), "no .yaml") {
		t.Errorf("empty dir: %v", err)
	}
	blank := write(t, t.TempDir(), "blank.yaml", "---\n")
	if err := Apply(ctx, ds, []string{blank}, false, nil, &out, &errOut); !errors.Is(err, ErrReported) || !strings.Contains(errOut.String(), "no resources found") {
		t.Errorf("empty file: %v %q", err, errOut.String())
	}
}

func TestDelete(t *testing.T) {
	ctx := context.Background()
	ds := newStore(t)
	dir := t.TempDir()
	peer := write(t, dir, "peer.yaml", peerYAML)
	nodes := write(t, dir, "nodes.yaml", nodesYAML)
	var out, errOut bytes.Buffer
	if err := Apply(ctx, ds, []string{peer, nodes}, false, nil, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if err := DeleteFiles(ctx, ds, []string{peer}, false, false, nil, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	if out.String() != "bgppeer.projectcalico.org \"rack1-tor\" deleted\n" {
		t.Errorf("delete -f: %q", out.String())
	}
	out.Reset()
	err := DeleteFiles(ctx, ds, []string{peer}, false, false, nil, &out, &errOut)
	if !errors.Is(err, ErrReported) || !strings.Contains(errOut.String(), peer+`: bgppeers "rack1-tor" not found`) {
		t.Errorf("second delete -f: %v %q", err, errOut.String())
	}
	if err := DeleteFiles(ctx, ds, []string{peer}, false, true, nil, &out, &errOut); err != nil {
		t.Errorf("--ignore-not-found: %v", err)
	}
	out.Reset()
	errOut.Reset()
	err = Delete(ctx, ds, "nodes", []string{"ubuntu-1", "nope", "ubuntu-2"}, false, &out, &errOut)
	if !errors.Is(err, ErrReported) {
		t.Errorf("delete with a missing name = %v", err)
	}
	if out.String() != "node.projectcalico.org \"ubuntu-1\" deleted\nnode.projectcalico.org \"ubuntu-2\" deleted\n" || errOut.String() != "error: nodes \"nope\" not found\n" {
		t.Errorf("delete nodes: out %q err %q", out.String(), errOut.String())
	}
	if err := Delete(ctx, ds, "pods", []string{"x"}, false, &out, &errOut); err == nil {
		t.Error("delete of an unknown kind succeeded")
	}
}

func TestParseChanges(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		want    []change
		wantErr string
	}{
		{"set", []string{"rack=rack-1"}, []change{{key: "rack", value: "rack-1"}}, ""},
		{"set empty value", []string{"x="}, []change{{key: "x", value: ""}}, ""},
		{"remove", []string{"rack-"}, []change{{key: "rack", remove: true}}, ""},
		{"prefixed", []string{"projectcalico.org/RouteReflectorClusterID=244.0.0.1"}, []change{{key: "projectcalico.org/RouteReflectorClusterID", value: "244.0.0.1"}}, ""},
		{"value with =", []string{"a=b=c"}, []change{{key: "a", value: "b=c"}}, ""},
		{"none", nil, nil, "at least one label update is required"},
		{"no operator", []string{"rack"}, nil, `invalid label spec "rack"`},
		{"bad key", []string{"-x=1"}, nil, `invalid label key "-x"`},
		{"bad prefix", []string{"Bad_Prefix/x=1"}, nil, "invalid label key"},
		{"name too long", []string{strings.Repeat("a", 64) + "=1"}, nil, "invalid label key"},
		{"set and remove", []string{"a=1", "a-"}, nil, "same command"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseChanges(Labels, tc.args)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("change %d = %+v, want %+v", i, got[i], tc.want[i])
				}
			}
		})
	}
}

func TestEdit(t *testing.T) {
	ctx := context.Background()
	ds := newStore(t)
	var out, errOut bytes.Buffer
	if err := Apply(ctx, ds, []string{write(t, t.TempDir(), "n.yaml", nodesYAML)}, false, nil, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name      string
		field     Field
		args      []string
		overwrite bool
		want      string // stdout
		wantErr   string
		labels    string // rack label afterwards
	}{
		{"same value needs no overwrite", Labels, []string{"rack=rack-1"}, false, "node.projectcalico.org/ubuntu-2 not labeled\n", "", "rack-1"},
		{"change without overwrite", Labels, []string{"rack=rack-2"}, false, "", "'rack' already has a value (rack-1), and --overwrite is false", "rack-1"},
		{"change with overwrite", Labels, []string{"rack=rack-2"}, true, "node.projectcalico.org/ubuntu-2 labeled\n", "", "rack-2"},
		{"remove", Labels, []string{"rack-"}, false, "node.projectcalico.org/ubuntu-2 labeled\n", "", ""},
		{"remove absent", Labels, []string{"rack-"}, false, "label \"rack\" not found.\nnode.projectcalico.org/ubuntu-2 not labeled\n", "", ""},
		{"invalid value", Labels, []string{"rack=not ok"}, false, "", "invalid label value", ""},
		{"annotate cluster ID", Annotations, []string{"projectcalico.org/RouteReflectorClusterID=244.0.0.1"}, false, "node.projectcalico.org/ubuntu-2 annotated\n", "", ""},
		{"annotate bad cluster ID", Annotations, []string{"projectcalico.org/RouteReflectorClusterID=nope"}, true, "", "RouteReflectorClusterID", ""},
		{"annotate again", Annotations, []string{"projectcalico.org/RouteReflectorClusterID=244.0.0.2"}, false, "", "--overwrite is false", ""},
	}
	for _, s := range steps {
		out.Reset()
		err := Edit(ctx, ds, s.field, "node", "ubuntu-2", s.args, s.overwrite, &out)
		if s.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), s.wantErr) {
				t.Fatalf("%s: err = %v, want %q", s.name, err, s.wantErr)
			}
		} else if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if out.String() != s.want {
			t.Errorf("%s: stdout %q, want %q", s.name, out.String(), s.want)
		}
		r, _ := ds.Get(ctx, api.KindNode, "ubuntu-2")
		if got := r.Meta().Labels["rack"]; got != s.labels {
			t.Errorf("%s: rack label %q, want %q", s.name, got, s.labels)
		}
	}
	r, _ := ds.Get(ctx, api.KindNode, "ubuntu-2")
	if got := r.Meta().Annotations["projectcalico.org/RouteReflectorClusterID"]; got != "244.0.0.1" {
		t.Errorf("annotation = %q", got)
	}
	if err := Edit(ctx, ds, Labels, "node", "x", []string{"a=b"}, false, &out); err == nil || err.Error() != `nodes "x" not found` {
		t.Errorf("label of a missing node = %v", err)
	}
}

// FuzzParseChanges checks that label/annotate arguments never panic the
// parser, that accepted keys are valid, and that rendering the parsed
// changes back to arguments parses to the same changes.
func FuzzParseChanges(f *testing.F) {
	for _, s := range []string{"rack=rack-1", "rack-", "projectcalico.org/RouteReflectorClusterID=244.0.0.1", "a=b=c", "=x", "-", "a/b/c=d"} {
		f.Add(s, "x=1")
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		cs, err := parseChanges(Labels, []string{a, b})
		if err != nil {
			return
		}
		var args []string
		for _, c := range cs {
			if !validKey(c.key) {
				t.Fatalf("accepted invalid key %q", c.key)
			}
			if c.remove {
				args = append(args, c.key+"-")
			} else {
				args = append(args, c.key+"="+c.value)
			}
		}
		again, err := parseChanges(Labels, args)
		if err != nil || len(again) != len(cs) {
			t.Fatalf("%q parsed to %v, rendered %q, reparsed %v %v", []string{a, b}, cs, args, again, err)
		}
		for i := range cs {
			if again[i] != cs[i] {
				t.Fatalf("round trip changed %+v to %+v", cs[i], again[i])
			}
		}
	})
}
