package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kbgp/kbgp/internal/ctlapi"
	"github.com/kbgp/kbgp/internal/status"
)

var cliNow = time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)

// seedNode is ubuntu-1 of the seed lab (../shared/seed) in the state of
// the seed's calicoctl sample, freshly started with its session to the
// reflector up and one to a third node still connecting.
var seedNode = status.Node{
	Name: "ubuntu-1", Running: true, StartedAt: cliNow.Add(-5 * time.Second),
	Peers: []status.Peer{{
		Address: netip.MustParseAddr("172.16.30.102"), Type: status.PeerNode, State: status.Established,
		Since: time.Date(2026, 11, 24, 9, 36, 15, 0, time.UTC), PeerASN: 64513,
	}},
	Loops: []status.Loop{{Name: "speaker", LastProgress: cliNow}},
}

var seedRIB = status.RIB{Routes: []status.Route{
	{Prefix: netip.MustParsePrefix("10.244.2.0/26"), Paths: []status.Path{{
		Peer: netip.MustParseAddr("172.16.30.102"), PeerName: "Node_172_16_30_102", Best: true,
		NextHop: netip.MustParseAddr("172.16.30.103"), Origin: "IGP"}}},
}}

// serveAgent serves n and rib on a socket in a temp dir, the way the agent
// will, and returns the socket path.
func serveAgent(t *testing.T, n status.Node, rib status.RIB) string {
	t.Helper()
	old, oldLoc := nodeClock, nodeLocation
	nodeClock, nodeLocation = func() time.Time { return cliNow }, time.UTC
	t.Cleanup(func() { nodeClock, nodeLocation = old, oldLoc })

	path := filepath.Join(t.TempDir(), "kbgp.sock")
	l, err := ctlapi.Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	srv := ctlapi.NewServer(&status.Snapshot{State: n, Table: rib}, ctlapi.Options{Now: func() time.Time { return cliNow }})
	go func() { done <- srv.Serve(ctx, l) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return path
}

// runCLI runs kbgp in-process and returns stdout, stderr (with main's
// "kbgp: " error line) and the exit code main would use.
func runCLI(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	root := newRootCmd()
	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetArgs(args)
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

func TestNodeStatusMatchesSeed(t *testing.T) {
	sock := serveAgent(t, seedNode, seedRIB)
	out, errOut, code := runCLI(t, "node", "status", "--socket", sock)
	if code != 0 || errOut != "" {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	seedPath := filepath.Join("..", "..", "..", "shared", "seed", "calico-bgp-notes.en.md")
	raw, err := os.ReadFile(seedPath)
	if os.IsNotExist(err) {
		t.Skipf("shared seed notes not found at %s (CI clones ../shared beside the repo)", seedPath)
	}
	if err != nil {
		t.Fatal(err)
	}
	seed := string(raw)
	start := strings.Index(seed, "Calico process is running.")
	end := strings.Index(seed, "No IPv6 peers found.\n")
	if start < 0 || end < 0 {
		t.Fatalf("%s: calicoctl sample not found", seedPath)
	}
	if want := seed[start:end+len("No IPv6 peers found.\n")] + "\n"; out != want {
		t.Errorf("kbgp node status:\n%s\nwant (the seed's sample):\n%s", out, want)
	}
}

func TestNodeStatusJSONAndEnv(t *testing.T) {
	sock := serveAgent(t, seedNode, seedRIB)
	t.Setenv(ctlapi.SocketEnv, sock)
	out, errOut, code := runCLI(t, "node", "status", "-o", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var n status.Node
	if err := json.Unmarshal([]byte(out), &n); err != nil {
		t.Fatalf("-o json output does not decode: %v\n%s", err, out)
	}
	if n.Name != "ubuntu-1" || len(n.Peers) != 1 || n.Peers[0].State != status.Established {
		t.Errorf("decoded %+v", n)
	}
	if _, errOut, code := runCLI(t, "node", "status", "-o", "yaml"); code != 1 || !strings.Contains(errOut, `unknown output format "yaml"`) {
		t.Errorf("-o yaml: exit %d, %q", code, errOut)
	}
}

func TestNodeStatusAgentDown(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "kbgp.sock")
	out, errOut, code := runCLI(t, "node", "status", "--socket", sock)
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	if out != "Calico process is not running.\n" {
		t.Errorf("stdout %q", out)
	}
	want := "kbgp: cannot reach kbgp agent at " + sock + ": no such file or directory — is kbgp agent running?\n"
	if errOut != want {
		t.Errorf("stderr %q\nwant   %q", errOut, want)
	}
}

func TestNodePeersAndRoutes(t *testing.T) {
	sock := serveAgent(t, seedNode, seedRIB)
	tests := []struct {
		name     string
		args     []string
		code     int
		contains string
	}{
		{"list", []string{"node", "peers"}, 0, "| Node_172_16_30_102 | 172.16.30.102 | node specific |   64513 | up    | 09:36:15 | 0/0/0        | Established |"},
		{"detail by address", []string{"node", "peers", "172.16.30.102"}, 0, "Node_172_16_30_102 (172.16.30.102, node specific)\n  State:                  up, Established since 2026-11-24 09:36:15\n"},
		{"detail by session", []string{"node", "peers", "Node_172_16_30_102", "-o", "json"}, 0, `"address": "172.16.30.102"`},
		{"unknown peer", []string{"node", "peers", "10.1.1.1"}, 1, `kbgp: kbgp agent: node ubuntu-1 has no BGP peer "10.1.1.1"`},
		{"routes", []string{"node", "routes"}, 0, "10.244.2.0/26\n  >   via 172.16.30.103 from 172.16.30.102 (Node_172_16_30_102)\n"},
		{"routes longest match", []string{"node", "routes", "10.244.2.9", "-o", "json"}, 0, `"prefix": "10.244.2.0/26"`},
		{"routes none", []string{"node", "routes", "10.96.0.0/12"}, 0, "No routes found.\n"},
		{"routes bad query", []string{"node", "routes", "10.0.0.0/40"}, 1, `kbgp: route query "10.0.0.0/40": not a prefix`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, code := runCLI(t, append(tc.args, "--socket", sock)...)
			if code != tc.code {
				t.Errorf("exit %d, want %d (stderr %q)", code, tc.code, errOut)
			}
			if !strings.Contains(out+errOut, tc.contains) {
				t.Errorf("output lacks %q:\nstdout:\n%s\nstderr:\n%s", tc.contains, out, errOut)
			}
		})
	}
}

func TestHealth(t *testing.T) {
	notReady := seedNode
	notReady.Peers = append([]status.Peer{}, seedNode.Peers...)
	notReady.Peers = append(notReady.Peers, status.Peer{Address: netip.MustParseAddr("172.16.30.103"), Type: status.PeerNode, State: status.Connect})
	stuck := seedNode
	stuck.Loops = []status.Loop{{Name: "fib", LastProgress: cliNow.Add(-time.Minute)}}

	readySock := serveAgent(t, seedNode, seedRIB)
	notReadySock := serveAgent(t, notReady, seedRIB)
	stuckSock := serveAgent(t, stuck, seedRIB)
	missing := filepath.Join(t.TempDir(), "none.sock")

	tests := []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"ready", []string{"--ready", "--socket", readySock}, 0, ""},
		{"live", []string{"--live", "--socket", readySock}, 0, ""},
		{"not ready", []string{"--ready", "--socket", notReadySock}, 1, "kbgp is not ready: BGP not established with 172.16.30.103\n"},
		{"not live", []string{"--live", "--socket", stuckSock}, 1, "kbgp is not live: loop \"fib\" made no progress for 1m0s (limit 30s)\n"},
		{"agent down", []string{"--live", "--socket", missing}, 1,
			"kbgp is not live: cannot reach kbgp agent at " + missing + ": no such file or directory — is kbgp agent running?\n"},
		{"no mode", []string{"--socket", readySock}, 1, "kbgp: at least one of the flags in the group [live ready] is required\n"},
		{"both modes", []string{"--live", "--ready", "--socket", readySock}, 1,
			"kbgp: if any flags in the group [live ready] are set none of the others can be; [live ready] were all set\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, code := runCLI(t, append([]string{"health"}, tc.args...)...)
			if code != tc.code || errOut != tc.stderr || out != "" {
				t.Errorf("exit %d, stdout %q, stderr %q\nwant exit %d, stderr %q", code, out, errOut, tc.code, tc.stderr)
			}
		})
	}
}
