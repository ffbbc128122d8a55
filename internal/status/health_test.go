package status

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestReadiness(t *testing.T) {
	started := now.Add(-10 * time.Second) // inside the 30 s window
	old := now.Add(-time.Hour)            // after it
	up := func(a string) Peer { return peer(a, PeerNode, Established, now) }
	down := func(a string) Peer { return peer(a, PeerNode, Active, now) }
	disabled := func(a string) Peer { p := down(a); p.Admin = AdminDown; return p }
	tests := []struct {
		name string
		node Node
		want Health
	}{
		{"no peers at start", Node{Running: true, StartedAt: started}, Health{OK: true}},
		{"no peers later", Node{Running: true, StartedAt: old}, Health{OK: true}},
		{"speaker stopped", Node{Running: false, StartedAt: old},
			Health{Reasons: []string{"BGP speaker is not running"}}},
		{"start: all established", Node{Running: true, StartedAt: started, Peers: []Peer{up("10.0.0.1"), up("10.0.0.2")}},
			Health{OK: true}},
		{"start: one down", Node{Running: true, StartedAt: started, Peers: []Peer{up("10.0.0.1"), down("172.16.30.102"), down("172.16.30.103")}},
			Health{Reasons: []string{"BGP not established with 172.16.30.102,172.16.30.103"}}},
		{"start: graceful restart in progress", Node{Running: true, StartedAt: started, GracefulRestart: true, Peers: []Peer{up("10.0.0.1"), up("fd00::1")}},
			Health{Reasons: []string{"graceful restart in progress"}}},
		{"later: one established is enough", Node{Running: true, StartedAt: old, GracefulRestart: true, Peers: []Peer{up("10.0.0.1"), down("10.0.0.2")}},
			Health{OK: true}},
		{"later: none established", Node{Running: true, StartedAt: old, Peers: []Peer{down("10.0.0.2"), down("10.0.0.1")}},
			Health{Reasons: []string{"BGP not established with 10.0.0.1,10.0.0.2"}}},
		{"exactly at the threshold counts as later", Node{Running: true, StartedAt: now.Add(-DefaultReadyThreshold), Peers: []Peer{up("10.0.0.1"), down("10.0.0.2")}},
			Health{OK: true}},
		{"zero start time counts as later", Node{Running: true, Peers: []Peer{up("10.0.0.1"), down("10.0.0.2")}},
			Health{OK: true}},
		{"families are judged separately", Node{Running: true, StartedAt: old, Peers: []Peer{up("10.0.0.1"), down("fd00::2"), down("fd00::1")}},
			Health{Reasons: []string{"BGP not established with fd00::1,fd00::2"}}},
		{"both families failing", Node{Running: true, StartedAt: started, Peers: []Peer{down("10.0.0.1"), down("fd00::1")}},
			Health{Reasons: []string{"BGP not established with 10.0.0.1", "BGP not established with fd00::1"}}},
		{"disabled peers are not counted", Node{Running: true, StartedAt: started, Peers: []Peer{up("10.0.0.1"), disabled("10.0.0.2")}},
			Health{OK: true}},
		{"only disabled peers", Node{Running: true, StartedAt: old, Peers: []Peer{disabled("10.0.0.2")}},
			Health{OK: true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Readiness(&tc.node, now, 0)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Readiness (-want +got):\n%s", diff)
			}
		})
	}
}

func TestReadinessThreshold(t *testing.T) {
	n := Node{Running: true, StartedAt: now.Add(-45 * time.Second), Peers: []Peer{
		peer("10.0.0.1", PeerNode, Established, now), peer("10.0.0.2", PeerNode, Idle, now)}}
	if h := Readiness(&n, now, time.Minute); h.OK {
		t.Errorf("45 s after start with a 1 min threshold: ready, want not ready")
	}
	if h := Readiness(&n, now, 30*time.Second); !h.OK {
		t.Errorf("45 s after start with a 30 s threshold: %v, want ready", h.Reasons)
	}
}

func TestLiveness(t *testing.T) {
	tests := []struct {
		name  string
		loops []Loop
		want  Health
	}{
		{"no loops", nil, Health{OK: true}},
		{"all fresh", []Loop{{Name: "speaker", LastProgress: now.Add(-time.Second)}, {Name: "fib", LastProgress: now, MaxSilence: Duration(time.Second)}}, Health{OK: true}},
		{"stuck beyond default", []Loop{{Name: "speaker", LastProgress: now.Add(-31 * time.Second)}},
			Health{Reasons: []string{`loop "speaker" made no progress for 31s (limit 30s)`}}},
		{"own limit", []Loop{{Name: "fib", LastProgress: now.Add(-3 * time.Second), MaxSilence: Duration(2 * time.Second)}},
			Health{Reasons: []string{`loop "fib" made no progress for 3s (limit 2s)`}}},
		{"never started", []Loop{{Name: "config"}}, Health{Reasons: []string{`loop "config" has not started`}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Liveness(&Node{Loops: tc.loops}, now)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Liveness (-want +got):\n%s", diff)
			}
		})
	}
}

func TestHealthMessage(t *testing.T) {
	tests := []struct {
		name string
		h    Health
		kind string
		want string
	}{
		{"ok", Health{OK: true}, "ready", "kbgp is ready"},
		{"one reason", Health{Reasons: []string{"BGP not established with 172.16.30.102"}}, "ready",
			"kbgp is not ready: BGP not established with 172.16.30.102"},
		{"two reasons", Health{Reasons: []string{"a", "b"}}, "live", "kbgp is not live: a; b"},
		{"no reason", Health{}, "live", "kbgp is not live"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.h.Message(tc.kind); got != tc.want {
				t.Errorf("Message = %q, want %q", got, tc.want)
			}
		})
	}
}
