package agent

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/kbgp/kbgp/internal/status"
	"github.com/kbgp/kbgp/internal/store"
)

func writeSecret(t *testing.T, dir, name, key, value string) {
	t.Helper()
	d := filepath.Join(dir, name)
	if err := os.MkdirAll(d, 0o700); err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(d, "."+key+".tmp")
	if err := os.WriteFile(tmp, []byte(value), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(d, key)); err != nil {
		t.Fatal(err)
	}
}

func TestReadSecretsDir(t *testing.T) {
	dir := t.TempDir()
	writeSecret(t, dir, "bgp", "rack1-tor", "s3cret\n") // echo adds a newline
	writeSecret(t, dir, "bgp", "mesh", "two\nlines")
	writeSecret(t, dir, "other", "k", "")
	// A Kubernetes secret volume: keys are symlinks into ..data.
	kdir := filepath.Join(dir, "kube")
	if err := os.MkdirAll(filepath.Join(kdir, "..2026_11_25"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(kdir, "..2026_11_25", "password"), []byte("from-volume"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("..2026_11_25", filepath.Join(kdir, "..data")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("..data/password", filepath.Join(kdir, "password")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "README"), []byte("not a secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := ReadSecretsDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]map[string]string{
		"bgp":   {"rack1-tor": "s3cret", "mesh": "two\nlines"},
		"other": {"k": ""},
		"kube":  {"password": "from-volume"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q\nwant %q", got, want)
	}

	if got, err := ReadSecretsDir(filepath.Join(dir, "absent")); err != nil || len(got) != 0 {
		t.Errorf("missing directory: %v %v, want an empty set", got, err)
	}
	writeSecret(t, dir, "big", "k", strings.Repeat("x", maxSecretSize+1))
	if _, err := ReadSecretsDir(dir); err == nil || !strings.Contains(err.Error(), "secret big key k") {
		t.Errorf("oversized value: %v, want an error naming the secret and key", err)
	}
}

// meshWithPassword is two nodes meshing over loopback with the mesh
// password from secret bgp, key mesh.
func meshWithPassword(port uint16) string {
	node := func(name string, ip netip.Addr) string {
		return fmt.Sprintf(`---
apiVersion: projectcalico.org/v3
kind: Node
metadata:
  name: %s
spec:
  bgp:
    ipv4Address: %s/8
`, name, ip)
	}
	return fmt.Sprintf(`apiVersion: projectcalico.org/v3
kind: BGPConfiguration
metadata:
  name: default
spec:
  asNumber: 64512
  listenPort: %d
  nodeToNodeMeshEnabled: true
  nodeMeshPassword:
    secretKeyRef:
      name: bgp
      key: mesh
`, port) + node("m1", loopIP(21)) + node("m2", loopIP(22))
}

// TestAgentMeshPasswordFromSecrets runs two agents whose mesh session
// uses TCP MD5 with the password from each node's secrets directory: the
// session comes up with matching passwords, a rotation on one side only
// takes it down and keeps it down (the kernel drops the other side's
// segments), and rotating the other side too brings it back.
func TestAgentMeshPasswordFromSecrets(t *testing.T) {
	port := freePort(t)
	ds, err := store.Open(t.TempDir(), &store.Options{PollInterval: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	applyYAML(t, ds, "mesh.yaml", meshWithPassword(port))
	dirs := []string{t.TempDir(), t.TempDir()}
	for _, d := range dirs {
		writeSecret(t, d, "bgp", "mesh", "s3cret")
	}
	var agents []*runningAgent
	for i, d := range dirs {
		agents = append(agents, startAgent(t, Options{
			Node:     fmt.Sprintf("m%d", i+1),
			Store:    ds,
			NoFIB:    true,
			IPv4:     Address{Mode: "none"},
			Listen:   []netip.AddrPort{netip.AddrPortFrom(loopIP(21+i), port)},
			NextHop4: nextHop(21 + i),
			Secrets:  FileSecrets{Dir: d, Poll: 50 * time.Millisecond},
		}))
	}
	for _, ra := range agents {
		waitFor(t, 20*time.Second, "the mesh session with matching passwords", allEstablished(ra, 1))
		st := ra.State()
		if len(st.Peers) != 1 || st.Peers[0].Password == nil || !st.Peers[0].Password.Resolved || st.Peers[0].Password.Value != "s3cret" {
			t.Fatalf("%s: peer password %+v, want resolved from the secrets directory", ra.opts.Node, st.Peers[0].Password)
		}
	}
	since, _ := peerByAddr(agents[0].node(t), loopIP(22))

	writeSecret(t, dirs[1], "bgp", "mesh", "rotated")
	waitFor(t, 10*time.Second, "m2's session reset by its new password", func() string {
		p, _ := peerByAddr(agents[0].node(t), loopIP(22))
		if p.State == status.Established && p.Since.Equal(since.Since) {
			return "still the old session"
		}
		return ""
	})
	// With different keys no segment is accepted: the session must stay
	// down for several connect-retry periods (300 ms in tests).
	for range 20 {
		time.Sleep(100 * time.Millisecond)
		for _, ra := range agents {
			for _, p := range ra.node(t).Peers {
				if p.State == status.Established {
					t.Fatalf("%s: session Established with mismatched TCP MD5 passwords", ra.opts.Node)
				}
			}
		}
	}

	writeSecret(t, dirs[0], "bgp", "mesh", "rotated")
	for _, ra := range agents {
		waitFor(t, 20*time.Second, "the mesh session with the rotated password", allEstablished(ra, 1))
	}
}

// TestAgentSecretsUnreadable: a secrets directory that cannot be read is
// reported in the node status and the last good passwords are kept.
func TestAgentSecretsUnreadable(t *testing.T) {
	port := freePort(t)
	ds, err := store.Open(t.TempDir(), &store.Options{PollInterval: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	applyYAML(t, ds, "mesh.yaml", meshWithPassword(port))
	dir := t.TempDir()
	writeSecret(t, dir, "bgp", "mesh", "s3cret")
	ra := startAgent(t, Options{Node: "m1", Store: ds, NoFIB: true, IPv4: Address{Mode: "none"},
		Listen:  []netip.AddrPort{netip.AddrPortFrom(loopIP(21), port)},
		Secrets: FileSecrets{Dir: dir, Poll: 50 * time.Millisecond}})
	waitFor(t, 10*time.Second, "the password resolved", func() string {
		if st := ra.State(); st == nil || len(st.Peers) != 1 || st.Peers[0].Password == nil || !st.Peers[0].Password.Resolved {
			return "not resolved"
		}
		return ""
	})
	// A value too large to be a password makes the directory unreadable.
	writeSecret(t, dir, "junk", "k", strings.Repeat("x", maxSecretSize+1))
	waitFor(t, 5*time.Second, "the secrets error in node status", func() string {
		if e := ra.node(t).Reconcile.Error; !strings.Contains(e, "secret junk key k") {
			return fmt.Sprintf("reconcile error %q", e)
		}
		return ""
	})
	if p := ra.State().Peers[0].Password; p == nil || p.Value != "s3cret" {
		t.Errorf("password after the error: %+v, want the last good one kept", p)
	}
	if err := os.RemoveAll(filepath.Join(dir, "junk")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "the error cleared", func() string {
		if e := ra.node(t).Reconcile.Error; e != "" {
			return fmt.Sprintf("reconcile error %q", e)
		}
		return ""
	})
	_ = context.Background
}
