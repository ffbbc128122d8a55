package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kbgp/kbgp/internal/config"
	"github.com/kbgp/kbgp/internal/store"
)

// runNodeConfig runs `node config` args against the store in dir.
func runNodeConfig(t *testing.T, dir string, args ...string) (string, string, error) {
	t.Helper()
	cmd := newNodeConfigCmd()
	var out, errOut bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SetArgs(append(args, "--store", dir))
	err := cmd.Execute()
	return out.String(), errOut.String(), err
}

// TestNodeConfigSeed loads the seed into a file store and checks that
// `kbgp node config` prints exactly internal/config's seed golden state.
func TestNodeConfigSeed(t *testing.T) {
	dir := t.TempDir()
	ds, err := store.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	cfgData := filepath.Join("..", "..", "internal", "config", "testdata")
	files, _ := filepath.Glob(filepath.Join(cfgData, "seed", "*.yaml"))
	files = append(files, filepath.Join(cfgData, "compile", "seed", "nodes.yaml"))
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		rs, err := config.Decode(f, data)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rs {
			if _, err := ds.Apply(context.Background(), r); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, node := range []string{"ubuntu-1", "ubuntu-2", "ubuntu-3"} {
		out, errOut, err := runNodeConfig(t, dir, node)
		if err != nil || errOut != "" {
			t.Fatalf("node config %s: %v %s", node, err, errOut)
		}
		want, err := os.ReadFile(filepath.Join(cfgData, "compile", "seed", node+".golden"))
		if err != nil {
			t.Fatal(err)
		}
		if out != string(want) {
			t.Errorf("node config %s differs from the compiled golden state:\n%s", node, out)
		}
	}
	out, _, err := runNodeConfig(t, dir, "ubuntu-1", "-o", "json")
	if err != nil || !strings.Contains(out, `"name": "Node_172_16_30_102"`) {
		t.Errorf("-o json: %v\n%s", err, out)
	}
	if _, _, err := runNodeConfig(t, dir, "ubuntu-9"); err == nil || !strings.Contains(err.Error(), "Node/ubuntu-9 not found") {
		t.Errorf("unknown node: %v", err)
	}
	if _, _, err := runNodeConfig(t, dir, "ubuntu-1", "-o", "table"); err == nil {
		t.Error("-o table accepted")
	}
}
