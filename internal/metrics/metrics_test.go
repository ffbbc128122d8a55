package metrics

import (
	"context"
	"errors"
	"io"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/kbgp/kbgp/internal/status"
)

var now = time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)

var node = status.Node{
	Name: "ubuntu-1", Running: true,
	Peers: []status.Peer{
		{
			Address: netip.MustParseAddr("172.16.30.102"), Type: status.PeerNode, State: status.Established,
			Since:    now.Add(-90 * time.Second),
			Prefixes: []status.Prefixes{{Family: "ipv4-unicast", Received: 3, Accepted: 2, Advertised: 1}},
			Counters: status.Counters{MessagesIn: 120, MessagesOut: 118, UpdatesIn: 4, UpdatesOut: 2, EstablishedCount: 2,
				Notifications: []status.NotificationCount{{Code: 6, Subcode: 4, Count: 1}, {Sent: true, Code: 4, Count: 3}}},
		},
		{
			Name: "Mesh_fd00__103", Address: netip.MustParseAddr("fd00::103"), Type: status.PeerMesh, State: status.Active,
			Admin: status.AdminDown, Since: now.Add(-time.Hour),
		},
	},
	RIB: status.RIBStats{Prefixes4: 4, Prefixes6: 1, Paths: 6},
	FIB: status.FIBStats{Routes: 3, Adds: 7, Deletes: 4, Errors: 1},
}

const want = `
# HELP kbgp_bgp_graceful_restart_in_progress 1 while this node recovers from its own restart (RFC 4724), waiting for End-of-RIB.
# TYPE kbgp_bgp_graceful_restart_in_progress gauge
kbgp_bgp_graceful_restart_in_progress 0
# HELP kbgp_bgp_peer_admin_up 1 if the session is administratively enabled.
# TYPE kbgp_bgp_peer_admin_up gauge
kbgp_bgp_peer_admin_up{peer="172.16.30.102",session="Node_172_16_30_102"} 1
kbgp_bgp_peer_admin_up{peer="fd00::103",session="Mesh_fd00__103"} 0
# HELP kbgp_bgp_peer_established_total Transitions of the session into Established.
# TYPE kbgp_bgp_peer_established_total counter
kbgp_bgp_peer_established_total{peer="172.16.30.102",session="Node_172_16_30_102"} 2
kbgp_bgp_peer_established_total{peer="fd00::103",session="Mesh_fd00__103"} 0
# HELP kbgp_bgp_peer_messages_received_total BGP messages received from the peer.
# TYPE kbgp_bgp_peer_messages_received_total counter
kbgp_bgp_peer_messages_received_total{peer="172.16.30.102",session="Node_172_16_30_102"} 120
kbgp_bgp_peer_messages_received_total{peer="fd00::103",session="Mesh_fd00__103"} 0
# HELP kbgp_bgp_peer_messages_sent_total BGP messages sent to the peer.
# TYPE kbgp_bgp_peer_messages_sent_total counter
kbgp_bgp_peer_messages_sent_total{peer="172.16.30.102",session="Node_172_16_30_102"} 118
kbgp_bgp_peer_messages_sent_total{peer="fd00::103",session="Mesh_fd00__103"} 0
# HELP kbgp_bgp_peer_notifications_total NOTIFICATION messages by direction, code and subcode.
# TYPE kbgp_bgp_peer_notifications_total counter
kbgp_bgp_peer_notifications_total{code="4",direction="sent",peer="172.16.30.102",session="Node_172_16_30_102",subcode="0"} 3
kbgp_bgp_peer_notifications_total{code="6",direction="received",peer="172.16.30.102",session="Node_172_16_30_102",subcode="4"} 1
# HELP kbgp_bgp_peer_prefixes_accepted Prefixes from the peer accepted by import policy.
# TYPE kbgp_bgp_peer_prefixes_accepted gauge
kbgp_bgp_peer_prefixes_accepted{family="ipv4-unicast",peer="172.16.30.102",session="Node_172_16_30_102"} 2
# HELP kbgp_bgp_peer_prefixes_advertised Prefixes advertised to the peer (Adj-RIB-Out).
# TYPE kbgp_bgp_peer_prefixes_advertised gauge
kbgp_bgp_peer_prefixes_advertised{family="ipv4-unicast",peer="172.16.30.102",session="Node_172_16_30_102"} 1
# HELP kbgp_bgp_peer_prefixes_received Prefixes received from the peer (Adj-RIB-In before import policy).
# TYPE kbgp_bgp_peer_prefixes_received gauge
kbgp_bgp_peer_prefixes_received{family="ipv4-unicast",peer="172.16.30.102",session="Node_172_16_30_102"} 3
# HELP kbgp_bgp_peer_state 1 for the session's current BGP FSM state, 0 for the others.
# TYPE kbgp_bgp_peer_state gauge
kbgp_bgp_peer_state{peer="172.16.30.102",session="Node_172_16_30_102",state="Active",type="node specific"} 0
kbgp_bgp_peer_state{peer="172.16.30.102",session="Node_172_16_30_102",state="Connect",type="node specific"} 0
kbgp_bgp_peer_state{peer="172.16.30.102",session="Node_172_16_30_102",state="Established",type="node specific"} 1
kbgp_bgp_peer_state{peer="172.16.30.102",session="Node_172_16_30_102",state="Idle",type="node specific"} 0
kbgp_bgp_peer_state{peer="172.16.30.102",session="Node_172_16_30_102",state="OpenConfirm",type="node specific"} 0
kbgp_bgp_peer_state{peer="172.16.30.102",session="Node_172_16_30_102",state="OpenSent",type="node specific"} 0
kbgp_bgp_peer_state{peer="fd00::103",session="Mesh_fd00__103",state="Active",type="node-to-node mesh"} 1
kbgp_bgp_peer_state{peer="fd00::103",session="Mesh_fd00__103",state="Connect",type="node-to-node mesh"} 0
kbgp_bgp_peer_state{peer="fd00::103",session="Mesh_fd00__103",state="Established",type="node-to-node mesh"} 0
kbgp_bgp_peer_state{peer="fd00::103",session="Mesh_fd00__103",state="Idle",type="node-to-node mesh"} 0
kbgp_bgp_peer_state{peer="fd00::103",session="Mesh_fd00__103",state="OpenConfirm",type="node-to-node mesh"} 0
kbgp_bgp_peer_state{peer="fd00::103",session="Mesh_fd00__103",state="OpenSent",type="node-to-node mesh"} 0
# HELP kbgp_bgp_peer_updates_received_total UPDATE messages received from the peer.
# TYPE kbgp_bgp_peer_updates_received_total counter
kbgp_bgp_peer_updates_received_total{peer="172.16.30.102",session="Node_172_16_30_102"} 4
kbgp_bgp_peer_updates_received_total{peer="fd00::103",session="Mesh_fd00__103"} 0
# HELP kbgp_bgp_peer_updates_sent_total UPDATE messages sent to the peer.
# TYPE kbgp_bgp_peer_updates_sent_total counter
kbgp_bgp_peer_updates_sent_total{peer="172.16.30.102",session="Node_172_16_30_102"} 2
kbgp_bgp_peer_updates_sent_total{peer="fd00::103",session="Mesh_fd00__103"} 0
# HELP kbgp_bgp_peer_uptime_seconds Seconds the session has been Established; 0 when it is not.
# TYPE kbgp_bgp_peer_uptime_seconds gauge
kbgp_bgp_peer_uptime_seconds{peer="172.16.30.102",session="Node_172_16_30_102"} 90
kbgp_bgp_peer_uptime_seconds{peer="fd00::103",session="Mesh_fd00__103"} 0
# HELP kbgp_bgp_speaker_running 1 if the BGP speaker is running.
# TYPE kbgp_bgp_speaker_running gauge
kbgp_bgp_speaker_running 1
# HELP kbgp_fib_errors_total Kernel route operations that failed.
# TYPE kbgp_fib_errors_total counter
kbgp_fib_errors_total 1
# HELP kbgp_fib_operations_total Kernel route operations by kind.
# TYPE kbgp_fib_operations_total counter
kbgp_fib_operations_total{op="add"} 7
kbgp_fib_operations_total{op="delete"} 4
# HELP kbgp_fib_routes Routes kbgp currently has installed in the kernel.
# TYPE kbgp_fib_routes gauge
kbgp_fib_routes 3
# HELP kbgp_reconcile_duration_seconds Duration of the agent's reconcile passes (config compile and FIB sync).
# TYPE kbgp_reconcile_duration_seconds histogram
kbgp_reconcile_duration_seconds_bucket{le="0.01"} 1
kbgp_reconcile_duration_seconds_bucket{le="0.1"} 2
kbgp_reconcile_duration_seconds_bucket{le="1"} 2
kbgp_reconcile_duration_seconds_bucket{le="+Inf"} 3
kbgp_reconcile_duration_seconds_sum 2.055
kbgp_reconcile_duration_seconds_count 3
# HELP kbgp_rib_paths Paths in the Loc-RIB, all prefixes and families.
# TYPE kbgp_rib_paths gauge
kbgp_rib_paths 6
# HELP kbgp_rib_prefixes Prefixes in the Loc-RIB.
# TYPE kbgp_rib_prefixes gauge
kbgp_rib_prefixes{family="ipv4"} 4
kbgp_rib_prefixes{family="ipv6"} 1
# HELP kbgp_up 1 if the agent's status could be read for this scrape, 0 if not.
# TYPE kbgp_up gauge
kbgp_up 1
`

func newCollector(src NodeSource) *Collector {
	return New(src, Options{Now: func() time.Time { return now }, Timeout: 200 * time.Millisecond,
		ReconcileBuckets: []float64{0.01, 0.1, 1}})
}

func TestCollect(t *testing.T) {
	c := newCollector(&status.Snapshot{State: node})
	c.ObserveReconcile(5 * time.Millisecond)
	c.ObserveReconcile(50 * time.Millisecond)
	c.ObserveReconcile(2 * time.Second)
	if err := testutil.CollectAndCompare(c, strings.NewReader(want)); err != nil {
		t.Error(err)
	}
	if problems, err := testutil.CollectAndLint(c); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %+v", err, problems)
	}
}

type broken struct{}

func (broken) Node(context.Context) (status.Node, error) {
	return status.Node{}, errors.New("speaker gone")
}

// wedged never answers and ignores its context.
type wedged struct{ release chan struct{} }

func (w wedged) Node(context.Context) (status.Node, error) { <-w.release; return status.Node{}, nil }

func TestCollectSourceDown(t *testing.T) {
	const down = `
# HELP kbgp_up 1 if the agent's status could be read for this scrape, 0 if not.
# TYPE kbgp_up gauge
kbgp_up 0
`
	w := wedged{release: make(chan struct{})}
	defer close(w.release)
	for name, src := range map[string]NodeSource{"error": broken{}, "wedged": w} {
		t.Run(name, func(t *testing.T) {
			begin := time.Now()
			if err := testutil.CollectAndCompare(newCollector(src), strings.NewReader(down), "kbgp_up", "kbgp_bgp_peer_state"); err != nil {
				t.Error(err)
			}
			if d := time.Since(begin); d > 2*time.Second {
				t.Errorf("scrape took %v", d)
			}
		})
	}
}

func TestInvalidLabelDoesNotPanic(t *testing.T) {
	n := node
	n.Peers = []status.Peer{{Name: "bad\xff", Address: netip.MustParseAddr("10.0.0.1"), State: status.Idle}}
	if got := testutil.CollectAndCount(newCollector(&status.Snapshot{State: n}), "kbgp_bgp_peer_admin_up"); got != 1 {
		t.Errorf("kbgp_bgp_peer_admin_up series = %d, want 1", got)
	}
	srv := httptest.NewServer(Handler(newCollector(&status.Snapshot{State: n})))
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if !strings.Contains(string(b), "session=\"bad\uFFFD\"") {
		t.Errorf("handler output lacks the sanitised session label:\n%s", b)
	}
}

func TestHandler(t *testing.T) {
	srv := httptest.NewServer(Handler(newCollector(&status.Snapshot{State: node})))
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, s := range []string{`kbgp_bgp_peer_state{peer="172.16.30.102",session="Node_172_16_30_102",state="Established",type="node specific"} 1`, "go_goroutines", "kbgp_up 1"} {
		if !strings.Contains(string(b), s) {
			t.Errorf("/metrics lacks %q", s)
		}
	}
}
