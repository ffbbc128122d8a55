package fsm

import (
	"net/netip"
	"testing"
	"time"
)

// TestTransportSecurity: TCP MD5 (RFC 2385) with matching keys and GTSM
// (RFC 5082) let the session come up over loopback; a wrong key keeps it
// from ever getting a TCP connection.
func TestTransportSecurity(t *testing.T) {
	checkLeaks(t)
	tests := []struct {
		name       string
		keyA, keyB string
		gtsm       bool
		wantUp     bool
	}{
		{name: "md5 matching keys", keyA: "s3cret", keyB: "s3cret", wantUp: true},
		{name: "md5 and gtsm", keyA: "s3cret", keyB: "s3cret", gtsm: true, wantUp: true},
		{name: "gtsm only", gtsm: true, wantUp: true},
		{name: "md5 key mismatch", keyA: "s3cret", keyB: "other", wantUp: false},
		{name: "md5 only on the listener", keyB: "s3cret", wantUp: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			lnB := listen(t, "127.0.0.2")
			ra, rb := newRecorder(), newRecorder()
			ca := baseConfig(65001, 65002, "10.0.0.1", "127.0.0.2")
			ca.LocalAddr, ca.PeerPort, ca.Password, ca.TTLSecurity = netip.MustParseAddr("127.0.0.1"), lnB.port(), tc.keyA, tc.gtsm
			ca.ConnectRetry = 2 * time.Second
			cb := baseConfig(65002, 65001, "10.0.0.2", "127.0.0.1")
			cb.Passive, cb.Password, cb.TTLSecurity = true, tc.keyB, tc.gtsm
			if tc.keyB != "" {
				if err := lnB.SetPassword(cb.PeerAddr, tc.keyB); err != nil {
					t.Fatal(err)
				}
			}
			if tc.gtsm {
				if err := lnB.EnableGTSM(); err != nil {
					t.Fatal(err)
				}
			}
			b := newSession(t, cb, rb)
			lnB.add(b)
			a := newSession(t, ca, ra)
			b.Start()
			a.Start()
			if tc.wantUp {
				ra.wait(t, "established", 5*time.Second)
				rb.wait(t, "established", 5*time.Second)
				return
			}
			time.Sleep(1500 * time.Millisecond)
			if st := a.Status(); st.State >= OpenSent || st.Established != 0 {
				t.Errorf("a reached %v (established %d) with mismatched keys", st.State, st.Established)
			}
			if st := b.Status(); st.State >= OpenSent {
				t.Errorf("b reached %v with mismatched keys", st.State)
			}
		})
	}
}
