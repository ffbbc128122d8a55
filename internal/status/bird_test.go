package status

import (
	"net/netip"
	"testing"
	"time"
)

func TestSessionName(t *testing.T) {
	tests := []struct {
		name string
		typ  PeerType
		addr string
		port uint16
		want string
	}{
		{"mesh v4", PeerMesh, "172.16.30.102", 0, "Mesh_172_16_30_102"},
		{"node v4 default port", PeerNode, "172.16.30.254", 179, "Node_172_16_30_254"},
		{"global with port", PeerGlobal, "10.0.0.1", 1179, "Global_10_0_0_1_port_1179"},
		{"mesh v6", PeerMesh, "fd80:24e2:f998:72d7::2", 0, "Mesh_fd80_24e2_f998_72d7__2"},
		{"v4-mapped is unmapped", PeerNode, "::ffff:10.1.2.3", 0, "Node_10_1_2_3"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := SessionName(tc.typ, netip.MustParseAddr(tc.addr), tc.port); got != tc.want {
				t.Errorf("SessionName = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestPeerStateAndInfo(t *testing.T) {
	tests := []struct {
		name      string
		p         Peer
		wantState string
		wantInfo  string
	}{
		{"established", Peer{State: Established}, "up", "Established"},
		{"connecting", Peer{State: Connect}, "start", "Connect"},
		{"empty state is Idle", Peer{}, "start", "Idle"},
		{"passive active", Peer{State: Active, Passive: true}, "start", "Passive"},
		{"passive idle with error", Peer{State: Idle, Passive: true, LastError: &PeerError{Class: ErrorReceived, Message: "Administrative reset"}},
			"start", "Passive Received: Administrative reset"},
		{"passive established", Peer{State: Established, Passive: true}, "up", "Established"},
		{"socket error", Peer{State: Active, LastError: &PeerError{Class: ErrorSocket, Message: "Connection refused"}},
			"start", "Active Socket: Connection refused"},
		{"error without class", Peer{State: Idle, LastError: &PeerError{Message: "odd"}}, "start", "Idle odd"},
		{"empty error", Peer{State: Idle, LastError: &PeerError{}}, "start", "Idle"},
		{"admin down with error", Peer{State: Idle, Admin: AdminDown, LastError: &PeerError{Class: ErrorReceived, Message: "Administrative shutdown"}},
			"down", "Received: Administrative shutdown"},
		{"admin down", Peer{State: Idle, Admin: AdminDown}, "down", "Down"},
		{"stopping", Peer{State: Established, Admin: AdminStopping}, "stop", "Established"},
		{"whitespace collapses", Peer{State: Active, LastError: &PeerError{Class: ErrorMisc, Message: " a \t b\n"}}, "start", "Active Error: a b"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.p.ProtocolState(); got != tc.wantState {
				t.Errorf("ProtocolState = %q, want %q", got, tc.wantState)
			}
			if got := tc.p.Info(); got != tc.wantInfo {
				t.Errorf("Info = %q, want %q", got, tc.wantInfo)
			}
		})
	}
}

func TestSinceText(t *testing.T) {
	berlin := time.FixedZone("CET", 3600)
	tests := []struct {
		name  string
		since time.Time
		loc   *time.Location
		want  string
	}{
		{"just now", now, time.UTC, "12:00:00"},
		{"just under 20 h", now.Add(-20*time.Hour + time.Second), time.UTC, "16:00:01"},
		{"exactly 20 h", now.Add(-20 * time.Hour), time.UTC, "2026-11-23"},
		{"days ago", now.Add(-72 * time.Hour), time.UTC, "2026-11-21"},
		{"local zone", now.Add(-time.Hour), berlin, "12:00:00"},
		{"date in local zone", time.Date(2026, 11, 20, 23, 30, 0, 0, time.UTC), berlin, "2026-11-21"},
		{"future (clock skew)", now.Add(time.Hour), time.UTC, "13:00:00"},
		{"zero is now", time.Time{}, time.UTC, "12:00:00"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := SinceText(tc.since, now, tc.loc); got != tc.want {
				t.Errorf("SinceText = %q, want %q", got, tc.want)
			}
		})
	}
}
