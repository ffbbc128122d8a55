package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestAgentCmdServicesDrain runs `kbgp agent --services FILE` in-process:
// the externalTrafficPolicy Local service's /32 is originated (kbgp node
// routes), then `kbgp node drain` and `--undo` go through the control
// socket and leave the kbgp.io/drain annotation in the store.
func TestAgentCmdServicesDrain(t *testing.T) {
	dir := t.TempDir()
	storeDir := filepath.Join(dir, "store")
	seed := `apiVersion: projectcalico.org/v3
kind: BGPConfiguration
metadata:
  name: default
spec:
  nodeToNodeMeshEnabled: false
  asNumber: 64513
  serviceClusterIPs:
  - cidr: 10.96.0.0/24
---
apiVersion: projectcalico.org/v3
kind: BGPPeer
metadata:
  name: rack1-tor
spec:
  peerIP: 192.0.2.254
  asNumber: 64513
`
	services := `[{"namespace": "default", "name": "web-local", "type": "LoadBalancer", "clusterIPs": ["10.96.0.11"],
  "externalTrafficPolicy": "Local", "endpoints": [{"addr": "192.168.0.1", "node": "n1", "ready": true}]}]`
	svcFile := filepath.Join(dir, "services.json")
	for name, content := range map[string]string{"seed.yaml": seed, "services.json": services} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if _, errOut, code := runCLI(t, "apply", "--store", storeDir, "-f", filepath.Join(dir, "seed.yaml")); code != 0 {
		t.Fatalf("apply: %s", errOut)
	}
	sock := filepath.Join(dir, "kbgp.sock")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	var logs bytes.Buffer
	go func() {
		root := newRootCmd()
		root.SetErr(&logs)
		root.SetArgs([]string{"agent", "--node-name", "n1", "--store", storeDir, "--socket", sock, "--no-fib",
			"--ip", "192.0.2.1/24", "--listen", "127.0.0.1:0", "--services", svcFile})
		done <- root.ExecuteContext(ctx)
	}()
	defer func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("agent: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("agent did not stop")
		}
	}()
	deadline := time.Now().Add(10 * time.Second)
	var out string
	for {
		out, _, _ = runCLI(t, "node", "routes", "--socket", sock)
		if strings.Contains(out, "10.96.0.11/32") || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.Contains(out, "10.96.0.11/32") || !strings.Contains(out, "10.96.0.0/24") {
		t.Fatalf("kbgp node routes lacks the service range and the Local /32:\n%s", out)
	}

	for _, tc := range []struct {
		name       string
		args       []string
		want       string
		annotation string
		code       int
	}{
		{"drain", []string{"--message", "kernel upgrade"}, `node n1 drained: routes withdrawn, sessions shut down ("kernel upgrade")`, `kbgp.io/drain: kernel upgrade`, 0},
		{"again", []string{"--message", "kernel upgrade"}, `node n1 was already drained ("kernel upgrade")`, `kbgp.io/drain: kernel upgrade`, 0},
		{"undo with message", []string{"--undo", "--message", "x"}, "--undo takes none", `kbgp.io/drain: kernel upgrade`, 1},
		{"undo", []string{"--undo"}, "node n1 undrained", "", 0},
		{"undo again", []string{"--undo"}, "node n1 was not drained", "", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, code := runCLI(t, append([]string{"node", "drain", "--socket", sock}, tc.args...)...)
			if code != tc.code || !strings.Contains(out+errOut, tc.want) {
				t.Errorf("kbgp node drain %v: exit %d, out %q, err %q; want exit %d and %q", tc.args, code, out, errOut, tc.code, tc.want)
			}
			nodes, _, _ := runCLI(t, "get", "nodes", "-o", "yaml", "--store", storeDir)
			if has := strings.Contains(nodes, "kbgp.io/drain"); has != (tc.annotation != "") || !strings.Contains(nodes, tc.annotation) {
				t.Errorf("node after drain %v:\n%s\nwant annotation %q", tc.args, nodes, tc.annotation)
			}
		})
	}
}

// TestNodeDrainNoSupport: an agent without the drain endpoint gives an
// error, not a silent success.
func TestNodeDrainNoSupport(t *testing.T) {
	sock := serveAgent(t, seedNode, seedRIB)
	_, errOut, code := runCLI(t, "node", "drain", "--socket", sock)
	if code != 1 || !strings.Contains(errOut, "cannot drain") {
		t.Errorf("exit %d, stderr %q; want 1 and 'cannot drain'", code, errOut)
	}
}
