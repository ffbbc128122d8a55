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

func TestAgentCmdFlagErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"log format", []string{"--log-format", "xml"}, `--log-format "xml": want text or json`},
		{"log level", []string{"--log-level", "loud"}, `--log-level "loud": want debug, info, warning or error`},
		{"listen", []string{"--listen", "0.0.0.0"}, `--listen "0.0.0.0": want address:port`},
		{"address", []string{"--ip", "bogus"}, `IPv4 address "bogus": want autodetect, none or a CIDR`},
		{"autodetection", []string{"--ip-autodetection-method", "magic"}, `unknown autodetection method "magic"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"agent", "--node-name", "n1", "--store", filepath.Join(dir, tc.name), "--socket", filepath.Join(dir, "s.sock"), "--no-fib"}, tc.args...)
			_, errOut, code := runCLI(t, args...)
			if code != 1 || !strings.Contains(errOut, tc.want) {
				t.Errorf("exit %d, stderr %q; want exit 1 and %q", code, errOut, tc.want)
			}
		})
	}
}

// TestAgentCmdServesStatus runs `kbgp agent` in-process on loopback (no
// kernel routes) and reads its status with `kbgp node status`.
func TestAgentCmdServesStatus(t *testing.T) {
	dir := t.TempDir()
	storeDir := filepath.Join(dir, "store")
	seed := `apiVersion: projectcalico.org/v3
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
  peerIP: 192.0.2.254
  asNumber: 64513
`
	if err := os.WriteFile(filepath.Join(dir, "seed.yaml"), []byte(seed), 0o644); err != nil {
		t.Fatal(err)
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
			"--ip", "192.0.2.1/24", "--listen", "127.0.0.1:0", "--log-format", "json"})
		done <- root.ExecuteContext(ctx)
	}()
	deadline := time.Now().Add(10 * time.Second)
	var out string
	for {
		out, _, _ = runCLI(t, "node", "status", "--socket", sock)
		if strings.Contains(out, "192.0.2.254") || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.HasPrefix(out, "Calico process is running.") || !strings.Contains(out, "| 192.0.2.254  | global    |") {
		t.Errorf("kbgp node status:\n%s", out)
	}
	// The agent registered its Node with the given address.
	nodes, _, _ := runCLI(t, "get", "nodes", "-o", "yaml", "--store", storeDir)
	if !strings.Contains(nodes, "ipv4Address: 192.0.2.1/24") {
		t.Errorf("registered node:\n%s", nodes)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("agent: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("agent did not stop")
	}
	if !strings.Contains(logs.String(), `"msg":"node registered"`) {
		t.Errorf("JSON logs lack the registration:\n%s", logs.String())
	}
}
