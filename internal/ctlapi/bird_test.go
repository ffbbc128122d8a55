package ctlapi

import (
	"bufio"
	"bytes"
	"context"
	"net"
	"net/netip"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kbgp/kbgp/internal/status"
)

// birdNode has one session of each kind calicoctl distinguishes.
var birdNode = status.Node{
	Name: "ubuntu-2", Running: true, RouterID: netip.MustParseAddr("172.16.30.102"),
	StartedAt: now.Add(-2 * time.Hour),
	Peers: []status.Peer{
		{Address: netip.MustParseAddr("172.16.30.254"), Type: status.PeerGlobal, State: status.Established, Since: now.Add(-25 * time.Hour)},
		{Address: netip.MustParseAddr("172.16.30.101"), Type: status.PeerNode, State: status.Established, Since: now.Add(-time.Hour)},
		{Address: netip.MustParseAddr("172.16.30.103"), Type: status.PeerNode, State: status.Active, Since: now.Add(-time.Minute),
			LastError: &status.PeerError{Class: status.ErrorSocket, Message: "Connection refused"}},
		{Address: netip.MustParseAddr("172.16.30.104"), Type: status.PeerMesh, State: status.Idle, Admin: status.AdminDown, Since: now.Add(-time.Minute),
			LastError: &status.PeerError{Class: status.ErrorReceived, Message: "Administrative shutdown"}},
		{Address: netip.MustParseAddr("172.16.30.105"), Type: status.PeerMesh, State: status.Active, Passive: true, Since: now},
		{Address: netip.MustParseAddr("fd00::101"), Type: status.PeerMesh, State: status.Established, Since: now.Add(-time.Hour)},
	},
}

func startBIRD(t *testing.T, n status.Node, opts BIRDOptions) string {
	t.Helper()
	opts.Now = func() time.Time { return now }
	opts.Location = time.UTC
	path := filepath.Join(t.TempDir(), "bird.ctl")
	l, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- NewBIRDServer(&status.Snapshot{State: n}, opts).Serve(ctx, l) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return path
}

// ask sends one command the way Calico's tools do and returns the raw
// reply up to the line that ends it.
func ask(t *testing.T, path, cmd string) string {
	t.Helper()
	c, err := net.DialTimeout("unix", path, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte(cmd + "\n")); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	sc := bufio.NewScanner(c)
	for sc.Scan() {
		line := sc.Text()
		b.WriteString(line + "\n")
		// The greeting is 0001; a reply ends at a "dddd " line.
		if len(line) >= 5 && line[4] == ' ' && !strings.HasPrefix(line, "0001") {
			break
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestBIRDShowProtocols(t *testing.T) {
	tests := []struct {
		name   string
		family int
		want   string
	}{
		{"ipv4 socket", 4, `0001 BIRD kbgp ready.
2002-name     proto    table    state  since       info
1002-Global_172_16_30_254 BGP      master   up     2026-11-23  Established   
 Mesh_172_16_30_104 BGP      master   down   11:59:00    Received: Administrative shutdown
 Mesh_172_16_30_105 BGP      master   start  12:00:00    Passive       
 Node_172_16_30_101 BGP      master   up     11:00:00    Established   
 Node_172_16_30_103 BGP      master   start  11:59:00    Active        Socket: Connection refused
0000 
`},
		{"ipv6 socket", 6, `0001 BIRD kbgp ready.
2002-name     proto    table    state  since       info
1002-Mesh_fd00__101 BGP      master   up     11:00:00    Established   
0000 
`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := ask(t, startBIRD(t, birdNode, BIRDOptions{Family: tc.family}), "show protocols")
			if got != tc.want {
				t.Errorf("got:\n%s\nwant:\n%s", got, tc.want)
			}
		})
	}
}

func TestBIRDShowStatus(t *testing.T) {
	n := birdNode
	n.GracefulRestart = true
	got := ask(t, startBIRD(t, n, BIRDOptions{}), "sh st")
	want := `0001 BIRD kbgp ready.
1000-BIRD kbgp
1011-Router ID is 172.16.30.102
 Current server time is 2026-11-24 12:00:00
 Last reboot on 2026-11-24 10:00:00
 Last reconfiguration on 2026-11-24 10:00:00
0024-Graceful restart recovery in progress
  Waiting for 2 protocols to recover
0013 Daemon is up and running
`
	if got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
	if got := ask(t, startBIRD(t, n, BIRDOptions{}), "show route"); !strings.Contains(got, "\n9001 syntax error") {
		t.Errorf("unknown command: %q", got)
	}
}

// calicoPeerName is calicoctl's peer-name pattern.
var calicoPeerName = regexp.MustCompile(`^(Global|Node|Mesh)_(.+)$`)

// calicoctlStatus renders a "show protocols" reply the way calicoctl's
// BIRD path does (calicoctl/commands/node/status.go, notes §4.2): BGP rows
// with a Global_/Node_/Mesh_ name and at least six fields, address from
// the name, INFO = BGP state + the rest of the fields joined by spaces.
func calicoctlStatus(t *testing.T, reply string, ipSep string) string {
	t.Helper()
	tbl := status.Table{Header: status.NodeStatusHeader}
	for _, line := range strings.Split(reply, "\n") {
		switch {
		case strings.HasPrefix(line, "1002-"):
			line = line[5:]
		case strings.HasPrefix(line, " "):
			line = line[1:]
		default:
			continue
		}
		f := strings.Fields(line)
		if len(f) < 6 || f[1] != "BGP" {
			continue
		}
		m := calicoPeerName.FindStringSubmatch(f[0])
		if m == nil {
			continue
		}
		typ := map[string]string{"Global": "global", "Mesh": "node-to-node mesh", "Node": "node specific"}[m[1]]
		info := f[5]
		if len(f) > 6 {
			info += " " + strings.Join(f[6:], " ")
		}
		tbl.Rows = append(tbl.Rows, []string{strings.ReplaceAll(m[2], "_", ipSep), typ, f[3], f[4], info})
	}
	var b bytes.Buffer
	if len(tbl.Rows) == 0 {
		return "No peers found.\n"
	}
	if err := tbl.Render(&b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// TestCalicoctlOnBIRDSocketMatchesNodeStatus checks that calicoctl reading
// kbgp's BIRD socket would print the same table as `kbgp node status`.
func TestCalicoctlOnBIRDSocketMatchesNodeStatus(t *testing.T) {
	sock := startBIRD(t, birdNode, BIRDOptions{Family: 4})
	got := calicoctlStatus(t, ask(t, sock, "show protocols"), ".")

	var b bytes.Buffer
	if err := status.WriteNodeStatus(&b, &birdNode, now, time.UTC); err != nil {
		t.Fatal(err)
	}
	full := b.String()
	start := strings.Index(full, "IPv4 BGP status\n") + len("IPv4 BGP status\n")
	end := strings.Index(full, "\nIPv6 BGP status")
	if want := full[start:end]; got != want {
		t.Errorf("calicoctl over the BIRD socket:\n%s\nkbgp node status:\n%s", got, want)
	}
}

// TestBIRDClients runs the real birdc and birdcl against the socket, as
// calico-node -bird-live does with birdcl.
func TestBIRDClients(t *testing.T) {
	sock := startBIRD(t, birdNode, BIRDOptions{})
	for _, bin := range []string{"birdc", "birdcl"} {
		path, err := exec.LookPath(bin)
		if err != nil {
			t.Logf("%s not installed; skipping it", bin)
			continue
		}
		t.Run(bin, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			out, err := exec.CommandContext(ctx, path, "-s", sock, "show", "status").CombinedOutput()
			if err != nil {
				t.Fatalf("%s show status: %v\n%s", bin, err, out)
			}
			// calico-node's bird-live check: the output starts with "BIRD"
			// (the clients print the greeting, then the reply).
			if !strings.HasPrefix(string(out), "BIRD kbgp ready.\nBIRD kbgp\nRouter ID is 172.16.30.102\n") {
				t.Errorf("%s show status:\n%s", bin, out)
			}
			out, err = exec.CommandContext(ctx, path, "-s", sock, "show", "protocols").CombinedOutput()
			if err != nil {
				t.Fatalf("%s show protocols: %v\n%s", bin, err, out)
			}
			if !strings.Contains(string(out), "Node_172_16_30_103 BGP      master   start  11:59:00    Active        Socket: Connection refused") {
				t.Errorf("%s show protocols:\n%s", bin, out)
			}
		})
	}
}

// FuzzBIRDReply feeds arbitrary command lines to the CLI: every reply must
// end with a final "dddd " line, as clients wait for one.
func FuzzBIRDReply(f *testing.F) {
	for _, s := range []string{"show protocols", "sh st", "show", "s p x", "", "show protocols all", "\x00\xff"} {
		f.Add(s)
	}
	s := NewBIRDServer(&status.Snapshot{State: birdNode}, BIRDOptions{Now: func() time.Time { return now }, Location: time.UTC})
	final := regexp.MustCompile(`(?m)^\d{4} .*\n\z`)
	f.Fuzz(func(t *testing.T, cmd string) {
		var b bytes.Buffer
		s.Reply(context.Background(), &b, cmd)
		if !final.Match(b.Bytes()) {
			t.Fatalf("reply to %q does not end with a final line:\n%s", cmd, b.String())
		}
	})
}
