package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kbgp/kbgp/api"
	"github.com/kbgp/kbgp/internal/config"
)

// decodeOne decodes a single resource from YAML text.
func decodeOne(t testing.TB, text string) api.Resource {
	t.Helper()
	rs, err := config.Decode("test.yaml", []byte(text))
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	if len(rs) != 1 {
		t.Fatalf("decoded %d resources, want 1", len(rs))
	}
	return rs[0]
}

func nodeYAML(name, ip string, labels ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "apiVersion: projectcalico.org/v3\nkind: Node\nmetadata:\n  name: %s\n", name)
	if len(labels) > 0 {
		b.WriteString("  labels:\n")
		for i := 0; i+1 < len(labels); i += 2 {
			fmt.Fprintf(&b, "    %s: %q\n", labels[i], labels[i+1])
		}
	}
	fmt.Fprintf(&b, "spec:\n  bgp:\n    ipv4Address: %s\n", ip)
	return b.String()
}

const peerYAML = `apiVersion: projectcalico.org/v3
kind: BGPPeer
metadata:
  name: rack1-tor
spec:
  peerIP: 172.16.30.254
  asNumber: 64513
  nodeSelector: rack == 'rack-1'
`

func openTemp(t testing.TB) *File {
	t.Helper()
	f, err := Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestApplyResults(t *testing.T) {
	ctx := context.Background()
	f := openTemp(t)
	steps := []struct {
		name string
		yaml string
		want Result
	}{
		{"create", peerYAML, Created},
		{"same again", peerYAML, Unchanged},
		{"quoting differs, same content", strings.Replace(peerYAML, "rack == 'rack-1'", `"rack == 'rack-1'"`, 1), Unchanged},
		{"change AS", strings.Replace(peerYAML, "64513", "64514", 1), Configured},
		{"change back", peerYAML, Configured},
		{"add label", strings.Replace(peerYAML, "  name: rack1-tor\n", "  name: rack1-tor\n  labels:\n    a: b\n", 1), Configured},
	}
	var uid, created string
	for i, s := range steps {
		r := decodeOne(t, s.yaml)
		got, err := f.Apply(ctx, r)
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if got != s.want {
			t.Errorf("%s: Apply = %v, want %v", s.name, got, s.want)
		}
		stored, err := f.Get(ctx, api.KindBGPPeer, "rack1-tor")
		if err != nil {
			t.Fatal(err)
		}
		m := stored.Meta()
		if i == 0 {
			uid, created = m.UID, m.CreationTimestamp.String()
			if uid == "" || m.CreationTimestamp.IsZero() || m.ResourceVersion == "" {
				t.Fatalf("store did not set uid/creationTimestamp/resourceVersion: %+v", m)
			}
		}
		if m.UID != uid || m.CreationTimestamp.String() != created {
			t.Errorf("%s: uid/creationTimestamp changed: %s %s, want %s %s", s.name, m.UID, m.CreationTimestamp, uid, created)
		}
		if r.Meta().ResourceVersion != m.ResourceVersion {
			t.Errorf("%s: Apply left resourceVersion %q on its argument, stored %q", s.name, r.Meta().ResourceVersion, m.ResourceVersion)
		}
	}
}

func TestResourceVersionIncreases(t *testing.T) {
	ctx := context.Background()
	f := openTemp(t)
	var last string
	for i, asn := range []string{"64513", "64514", "64515"} {
		r := decodeOne(t, strings.Replace(peerYAML, "64513", asn, 1))
		if _, err := f.Apply(ctx, r); err != nil {
			t.Fatal(err)
		}
		rv := r.Meta().ResourceVersion
		if rv == last {
			t.Errorf("step %d: resourceVersion %s did not change", i, rv)
		}
		last = rv
	}
	if last != "3" {
		t.Errorf("resourceVersion after three writes = %s, want 3", last)
	}
}

func TestFileLayout(t *testing.T) {
	ctx := context.Background()
	f := openTemp(t)
	if _, err := f.Apply(ctx, decodeOne(t, nodeYAML("ubuntu-1", "172.16.30.101/24"))); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(f.Path(), "node", "ubuntu-1.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"apiVersion: projectcalico.org/v3\n", "kind: Node\n", "  name: ubuntu-1\n", "    ipv4Address: 172.16.30.101/24\n", "  uid: "} {
		if !strings.Contains(string(data), want) {
			t.Errorf("stored file lacks %q:\n%s", want, data)
		}
	}
	ents, _ := os.ReadDir(filepath.Join(f.Path(), "node"))
	if len(ents) != 1 {
		t.Errorf("node dir holds %d entries, want 1 (no temporary files)", len(ents))
	}
}

func TestGetDeleteNotFound(t *testing.T) {
	ctx := context.Background()
	f := openTemp(t)
	_, err := f.Get(ctx, api.KindNode, "x")
	if err == nil || err.Error() != `nodes "x" not found` || !IsNotFound(err) {
		t.Errorf("Get missing = %v, want nodes \"x\" not found", err)
	}
	err = f.Delete(ctx, api.KindBGPPeer, "x")
	if err == nil || err.Error() != `bgppeers "x" not found` {
		t.Errorf("Delete missing = %v", err)
	}
	_, err = f.Update(ctx, api.KindNode, "x", func(api.Resource) error { return nil })
	if !IsNotFound(err) {
		t.Errorf("Update missing = %v, want not found", err)
	}
	if _, err := f.Apply(ctx, decodeOne(t, peerYAML)); err != nil {
		t.Fatal(err)
	}
	if err := f.Delete(ctx, api.KindBGPPeer, "rack1-tor"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Get(ctx, api.KindBGPPeer, "rack1-tor"); !IsNotFound(err) {
		t.Errorf("Get after Delete = %v, want not found", err)
	}
}

func TestInvalidNames(t *testing.T) {
	ctx := context.Background()
	f := openTemp(t)
	for _, name := range []string{"../etc/passwd", "a/b", "", ".hidden", "UPPER", strings.Repeat("a", 254)} {
		if _, err := f.Get(ctx, api.KindNode, name); err == nil || IsNotFound(err) {
			t.Errorf("Get(%q) = %v, want an invalid-name error", name, err)
		}
		if err := f.Delete(ctx, api.KindNode, name); err == nil || !strings.Contains(err.Error(), "invalid") {
			t.Errorf("Delete(%q) = %v, want an invalid-name error", name, err)
		}
	}
	if _, err := f.Get(ctx, "Pod", "x"); err == nil || !strings.Contains(err.Error(), "unknown kind") {
		t.Errorf("Get unknown kind = %v", err)
	}
}

func TestApplyValidates(t *testing.T) {
	f := openTemp(t)
	r := decodeOne(t, peerYAML)
	r.(*api.BGPPeer).Spec.NodeSelector = "rack = 'x'"
	_, err := f.Apply(context.Background(), r)
	if err == nil || !strings.Contains(err.Error(), "expected ==") || !strings.Contains(err.Error(), "spec.nodeSelector") {
		t.Fatalf("Apply with a bad selector = %v, want a validation error naming spec.nodeSelector", err)
	}
	if names, _ := f.names(api.KindBGPPeer); len(names) != 0 {
		t.Errorf("invalid resource was stored: %v", names)
	}
}

func TestUpdate(t *testing.T) {
	ctx := context.Background()
	f := openTemp(t)
	if _, err := f.Apply(ctx, decodeOne(t, nodeYAML("ubuntu-2", "172.16.30.102/24"))); err != nil {
		t.Fatal(err)
	}
	setLabel := func(k, v string) func(api.Resource) error {
		return func(r api.Resource) error {
			m := r.Meta()
			if m.Labels == nil {
				m.Labels = map[string]string{}
			}
			m.Labels[k] = v
			return nil
		}
	}
	tests := []struct {
		name    string
		edit    func(api.Resource) error
		want    Result
		wantErr string
	}{
		{"add label", setLabel("rack", "rack-1"), Configured, ""},
		{"same label", setLabel("rack", "rack-1"), Unchanged, ""},
		{"edit error", func(api.Resource) error { return errors.New("refused") }, 0, "refused"},
		{"invalid label value", setLabel("rack", "bad value!"), 0, "invalid label value"},
		{"rename", func(r api.Resource) error { r.Meta().Name = "other"; return nil }, 0, "may not change the kind or name"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := f.Update(ctx, api.KindNode, "ubuntu-2", tc.edit)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
			} else if err != nil || got != tc.want {
				t.Fatalf("Update = %v, %v; want %v", got, err, tc.want)
			}
			r, err := f.Get(ctx, api.KindNode, "ubuntu-2")
			if err != nil {
				t.Fatal(err)
			}
			if l := r.Meta().Labels["rack"]; l != "rack-1" {
				t.Errorf("stored label rack = %q, want rack-1 (failed updates must not write)", l)
			}
		})
	}
}

func TestListOrderAndCorruptFiles(t *testing.T) {
	ctx := context.Background()
	f := openTemp(t)
	for _, y := range []string{nodeYAML("b", "10.0.0.2/24"), peerYAML, nodeYAML("a", "10.0.0.1/24")} {
		if _, err := f.Apply(ctx, decodeOne(t, y)); err != nil {
			t.Fatal(err)
		}
	}
	rs, err := f.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range rs {
		got = append(got, r.Kind()+"/"+r.Name())
	}
	if want := "BGPPeer/rack1-tor Node/a Node/b"; strings.Join(got, " ") != want {
		t.Errorf("List order %v, want %s", got, want)
	}

	// A hand-edited file that no longer decodes: List names it, Apply
	// replaces it (configured), files of other names are ignored.
	bad := filepath.Join(f.Path(), "node", "a.yaml")
	if err := os.WriteFile(bad, []byte("kind: Node\nspec: [\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(f.Path(), "node", "README.txt"), []byte("ignored"), 0o644)
	_, err = f.List(ctx)
	if err == nil || !strings.Contains(err.Error(), bad) {
		t.Fatalf("List with a corrupt file = %v, want an error naming %s", err, bad)
	}
	res, err := f.Apply(ctx, decodeOne(t, nodeYAML("a", "10.0.0.1/24")))
	if err != nil || res != Configured {
		t.Fatalf("Apply over a corrupt file = %v, %v; want configured", res, err)
	}
	// A file whose content names another resource.
	other := filepath.Join(f.Path(), "node", "c.yaml")
	data, _ := os.ReadFile(filepath.Join(f.Path(), "node", "b.yaml"))
	os.WriteFile(other, data, 0o644)
	if _, err := f.Get(ctx, api.KindNode, "c"); err == nil || !strings.Contains(err.Error(), `expected exactly one Node named "c"`) {
		t.Errorf("Get of a misplaced resource = %v", err)
	}
}

func TestOpenRemovesStaleTempFiles(t *testing.T) {
	dir := t.TempDir()
	if _, err := Open(dir, nil); err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(dir, "node", ".x.yaml.tmp-123")
	os.WriteFile(stale, []byte("partial"), 0o644)
	if _, err := Open(dir, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("stale temporary file survived Open: %v", err)
	}
}

func TestOpenError(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	os.WriteFile(file, nil, 0o644)
	_, err := Open(file, nil)
	if err == nil || !strings.Contains(err.Error(), "--store") {
		t.Errorf("Open on a file = %v, want an error suggesting --store", err)
	}
}

func TestDir(t *testing.T) {
	t.Setenv(EnvDir, "")
	if d := Dir(""); d != DefaultDir {
		t.Errorf("Dir() = %s, want %s", d, DefaultDir)
	}
	t.Setenv(EnvDir, "/env")
	if d := Dir(""); d != "/env" {
		t.Errorf("Dir() with env = %s", d)
	}
	if d := Dir("/flag"); d != "/flag" {
		t.Errorf("Dir(flag) = %s", d)
	}
}

func TestResolveKind(t *testing.T) {
	tests := []struct{ in, want string }{
		{"bgppeer", api.KindBGPPeer}, {"BGPPeers", api.KindBGPPeer}, {"bp", api.KindBGPPeer},
		{"bgppeer.projectcalico.org", api.KindBGPPeer},
		{"bgpconfig", api.KindBGPConfiguration}, {"bgpconfigurations", api.KindBGPConfiguration},
		{"node", api.KindNode}, {"nodes", api.KindNode}, {"no", api.KindNode},
		{"ippool", api.KindIPPool}, {"pools", api.KindIPPool},
		{"bgpfilter", api.KindBGPFilter}, {"bgpfilters", api.KindBGPFilter}, {"bf", api.KindBGPFilter},
	}
	for _, tc := range tests {
		got, err := ResolveKind(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ResolveKind(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	if _, err := ResolveKind("pods"); err == nil || !strings.Contains(err.Error(), `"pods"`) {
		t.Errorf("ResolveKind(pods) = %v", err)
	}
}

func BenchmarkApplyConfigured(b *testing.B) {
	f := openTemp(b)
	ctx := context.Background()
	rs := []api.Resource{decodeOne(b, peerYAML), decodeOne(b, strings.Replace(peerYAML, "64513", "64514", 1))}
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if _, err := f.Apply(ctx, rs[i%2]); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkApplyUnchanged(b *testing.B) {
	f := openTemp(b)
	ctx := context.Background()
	r := decodeOne(b, peerYAML)
	f.Apply(ctx, r)
	for b.Loop() {
		if _, err := f.Apply(ctx, r); err != nil {
			b.Fatal(err)
		}
	}
}

func TestLockHonoursContext(t *testing.T) {
	f := openTemp(t)
	held, err := f.lock(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	other, err := Open(t.TempDir(), nil) // a different store is not blocked
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.Apply(context.Background(), decodeOne(t, peerYAML)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err = f.Apply(ctx, decodeOne(t, peerYAML))
	if err == nil || !strings.Contains(err.Error(), "waiting for the lock") {
		t.Fatalf("Apply while the lock is held = %v, want a lock timeout", err)
	}
	held.Close()
	if res, err := f.Apply(context.Background(), decodeOne(t, peerYAML)); err != nil || res != Created {
		t.Fatalf("Apply after release = %v, %v", res, err)
	}
}
