package status

import (
	"bytes"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// now is the fixed clock of the rendering tests.
var now = time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)

func at(hms string) time.Time {
	t, err := time.Parse("2006-01-02 15:04:05", "2026-11-24 "+hms)
	if err != nil {
		panic(err)
	}
	return t
}

func peer(addr string, typ PeerType, state SessionState, since time.Time) Peer {
	return Peer{Address: netip.MustParseAddr(addr), Type: typ, State: state, Since: since}
}

// ubuntu1 and ubuntu2 are the seed lab's nodes in the state of the seed's
// status sample (../shared/seed/calico-bgp-notes.en.md).
var (
	ubuntu1 = Node{Name: "ubuntu-1", Running: true, Peers: []Peer{
		peer("172.16.30.102", PeerNode, Established, at("09:36:15")),
	}}
	ubuntu2 = Node{Name: "ubuntu-2", Running: true, Peers: []Peer{
		// Deliberately out of order: the table is sorted by session name.
		peer("172.16.30.254", PeerNode, Established, at("05:27:01")),
		peer("172.16.30.101", PeerNode, Established, at("09:36:19")),
		peer("172.16.30.103", PeerNode, Established, at("09:36:19")),
	}}
)

func errPeer(p Peer, class ErrorClass, msg string) Peer {
	p.LastError = &PeerError{Class: class, Message: msg}
	return p
}

var statusCases = []struct {
	name string
	node Node
}{
	{"seed-ubuntu-1", ubuntu1},
	{"seed-ubuntu-2", ubuntu2},
	// The sample in notes/calico.md §4.1.
	{"notes-mesh", Node{Running: true, Peers: []Peer{
		peer("172.17.8.102", PeerMesh, Established, at("23:30:04").Add(-24*time.Hour)),
	}}},
	// calicoctl#1883: a refused connection, INFO wrapped at 30.
	{"wrapped-refused", Node{Running: true, Peers: []Peer{
		errPeer(peer("192.168.63.204", PeerMesh, Active, at("17:19:38").Add(-24*time.Hour)), ErrorSocket, "Connection refused"),
	}}},
	// calico#2255: several unreachable mesh peers.
	{"wrapped-unreachable", Node{Running: true, Peers: []Peer{
		errPeer(peer("192.168.1.70", PeerMesh, Active, at("14:24:15").Add(-24*time.Hour)), ErrorSocket, "Host is unreachable"),
		errPeer(peer("192.168.1.71", PeerMesh, Active, at("14:24:15").Add(-24*time.Hour)), ErrorSocket, "Host is unreachable"),
		errPeer(peer("192.168.1.72", PeerMesh, Active, at("14:24:15").Add(-24*time.Hour)), ErrorSocket, "Host is unreachable"),
		errPeer(peer("192.168.1.73", PeerMesh, Active, at("14:24:15").Add(-24*time.Hour)), ErrorSocket, "Host is unreachable"),
		errPeer(peer("192.168.1.75", PeerMesh, Active, at("14:24:15").Add(-24*time.Hour)), ErrorSocket, "Host is unreachable"),
	}}},
	// Every state and error class, a date for a change 20 h or more ago.
	{"states", Node{Running: true, Peers: []Peer{
		errPeer(peer("10.0.0.1", PeerGlobal, Idle, now.Add(-20*time.Hour)), ErrorSent, "Hold timer expired"),
		errPeer(func() Peer {
			p := peer("10.0.0.2", PeerNode, Idle, now.Add(-19*time.Hour))
			p.Admin = AdminDown
			return p
		}(), ErrorReceived, "Administrative shutdown"),
		func() Peer {
			p := peer("10.0.0.3", PeerNode, Idle, now.Add(-time.Minute))
			p.Admin = AdminDown
			return p
		}(),
		func() Peer {
			p := peer("10.0.0.4", PeerMesh, Active, now.Add(-time.Minute))
			p.Passive = true
			return p
		}(),
		peer("10.0.0.5", PeerMesh, Connect, now.Add(-time.Second)),
		peer("10.0.0.6", PeerMesh, OpenSent, now),
		peer("10.0.0.7", PeerMesh, OpenConfirm, now),
		func() Peer { p := peer("10.0.0.8", PeerMesh, Established, now); p.Admin = AdminStopping; return p }(),
		errPeer(peer("10.0.0.9", PeerMesh, Active, now), ErrorSocket, "Connection reset by peer"),
		errPeer(peer("10.0.0.10", PeerMesh, Idle, now), ErrorAutoShutdown, "Route limit exceeded"),
		errPeer(peer("10.0.0.11", PeerMesh, Idle, now), ErrorMisc, "Neighbor  lost\tits  route"),
	}}},
	{"ipv6-peers", Node{Running: true, Peers: []Peer{
		peer("fd80:24e2:f998:72d7::2", PeerMesh, Established, at("08:00:00")),
		errPeer(peer("2001:db8:ffff:ffff:ffff:ffff:ffff:fffe", PeerGlobal, Connect, at("08:00:01")), ErrorSocket, "No route to host"),
		peer("172.16.30.102", PeerNode, Established, at("09:36:15")),
	}}},
	{"zero-peers", Node{Running: true}},
	{"backend-not-running", Node{Running: false, Peers: ubuntu1.Peers}},
}

// caseClock overrides the clock for cases reproducing a sample taken at
// another time of day.
var caseClock = map[string]time.Time{
	"wrapped-unreachable": at("15:00:00").Add(-24 * time.Hour),
}

func TestWriteNodeStatusGolden(t *testing.T) {
	for _, tc := range statusCases {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			clock := now
			if c, ok := caseClock[tc.name]; ok {
				clock = c
			}
			if err := WriteNodeStatus(&b, &tc.node, clock, time.UTC); err != nil {
				t.Fatal(err)
			}
			checkGolden(t, "node-status-"+tc.name, b.Bytes())
		})
	}
}

// TestWriteNodeStatusMatchesSeed checks the output against the seed's
// calicoctl sample itself, not only against our golden files.
func TestWriteNodeStatusMatchesSeed(t *testing.T) {
	seedPath := filepath.Join("..", "..", "..", "shared", "seed", "calico-bgp-notes.en.md")
	raw, err := os.ReadFile(seedPath)
	if os.IsNotExist(err) {
		t.Skipf("shared seed notes not found at %s (CI clones ../shared beside the repo)", seedPath)
	}
	if err != nil {
		t.Fatal(err)
	}
	seed := string(raw)
	// The ubuntu-1 block runs from the preamble to "No IPv6 peers found."
	start := strings.Index(seed, ProcessRunning)
	end := strings.Index(seed, "No IPv6 peers found.")
	if start < 0 || end < 0 {
		t.Fatalf("%s: the calicoctl sample is missing", seedPath)
	}
	wantU1 := seed[start:end+len("No IPv6 peers found.\n")] + "\n"

	var b bytes.Buffer
	if err := WriteNodeStatus(&b, &ubuntu1, now, time.UTC); err != nil {
		t.Fatal(err)
	}
	if got := b.String(); got != wantU1 {
		t.Errorf("ubuntu-1 output differs from the seed sample\n got:\n%s\nwant:\n%s", got, wantU1)
	}

	// The seed gives only the ubuntu-2 rows; each must appear verbatim.
	b.Reset()
	if err := WriteNodeStatus(&b, &ubuntu2, now, time.UTC); err != nil {
		t.Fatal(err)
	}
	rows := 0
	u2 := strings.Index(seed, "# on ubuntu-2")
	if u2 < 0 {
		t.Fatalf("%s: the ubuntu-2 sample is missing", seedPath)
	}
	block, _, _ := strings.Cut(seed[u2:], "```")
	for _, line := range strings.Split(block, "\n") {
		if strings.HasPrefix(line, "| ") {
			rows++
			if !strings.Contains(b.String(), line+"\n") {
				t.Errorf("ubuntu-2 output lacks the seed row %q:\n%s", line, b.String())
			}
		}
	}
	if rows != 3 {
		t.Errorf("found %d ubuntu-2 rows in the seed, want 3", rows)
	}
}
