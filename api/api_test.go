package api

import (
	"encoding/json"
	"net/netip"
	"testing"
	"time"
)

func TestParseASNumber(t *testing.T) {
	tests := []struct {
		name, in string
		want     ASNumber
		ok       bool
	}{
		{"asplain", "64512", 64512, true},
		{"4-byte max", "4294967295", 4294967295, true},
		{"asdot", "1.10", 65546, true},
		{"asdot zero high", "0.64513", 64513, true},
		{"asdot max", "65535.65535", 4294967295, true},
		{"too big", "4294967296", 0, false},
		{"asdot part too big", "65536.1", 0, false},
		{"negative", "-1", 0, false},
		{"empty", "", 0, false},
		{"three parts", "1.2.3", 0, false},
		{"word", "AS64512", 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseASNumber(tc.in)
			if (err == nil) != tc.ok || got != tc.want {
				t.Errorf("ParseASNumber(%q) = %d, %v; want %d, ok=%v", tc.in, got, err, tc.want, tc.ok)
			}
		})
	}
}

func TestPeerAddress(t *testing.T) {
	tests := []struct {
		name, in string
		addr     string
		port     uint16
		ok       bool
	}{
		{"v4", "172.16.30.254", "172.16.30.254", 0, true},
		{"v4 port", "172.16.30.254:1179", "172.16.30.254", 1179, true},
		{"v6", "fd00::1", "fd00::1", 0, true},
		{"v6 port", "[fd00::1]:1179", "fd00::1", 1179, true},
		{"v4-mapped", "::ffff:10.0.0.1", "10.0.0.1", 0, true},
		{"port 0", "10.0.0.1:0", "", 0, false},
		{"bad port", "10.0.0.1:70000", "", 0, false},
		{"v6 without brackets and port", "fd00::1:179x", "", 0, false},
		{"zone", "fe80::1%eth0", "", 0, false},
		{"hostname", "router:179", "", 0, false},
		{"empty", "", "", 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParsePeerAddress(tc.in)
			if (err == nil) != tc.ok {
				t.Fatalf("ParsePeerAddress(%q) error %v, want ok=%v", tc.in, err, tc.ok)
			}
			if !tc.ok {
				return
			}
			if got.Addr != netip.MustParseAddr(tc.addr) || got.Port != tc.port {
				t.Errorf("got %v, want %s port %d", got, tc.addr, tc.port)
			}
			again, err := ParsePeerAddress(got.String())
			if err != nil || again != got {
				t.Errorf("String round trip: %q -> %v, %v", got.String(), again, err)
			}
		})
	}
}

func TestDurationJSON(t *testing.T) {
	var d Duration
	if err := json.Unmarshal([]byte(`"4m"`), &d); err != nil || d.Duration != 4*time.Minute {
		t.Fatalf("got %v, %v", d, err)
	}
	b, _ := json.Marshal(d)
	if string(b) != `"4m0s"` {
		t.Errorf("marshal: %s", b)
	}
	for _, bad := range []string{`"-1s"`, `"4 minutes"`, `240`} {
		if err := json.Unmarshal([]byte(bad), &d); err == nil {
			t.Errorf("Unmarshal(%s) succeeded", bad)
		}
	}
	var a ASNumber
	if err := json.Unmarshal([]byte(`"1.10"`), &a); err != nil || a != 65546 {
		t.Errorf("ASNumber from JSON string: %d, %v", a, err)
	}
	if b, _ := json.Marshal(a); string(b) != "65546" {
		t.Errorf("ASNumber JSON: %s", b)
	}
}

func FuzzParsePeerAddress(f *testing.F) {
	for _, s := range []string{"10.0.0.1", "10.0.0.1:179", "[fd00::1]:179", "fd00::1", "::ffff:1.2.3.4"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParsePeerAddress(s)
		if err != nil {
			return
		}
		again, err := ParsePeerAddress(p.String())
		if err != nil || again != p {
			t.Fatalf("%q -> %v -> %q -> %v, %v", s, p, p.String(), again, err)
		}
	})
}

func FuzzParseASNumber(f *testing.F) {
	for _, s := range []string{"64512", "1.10", "4294967295", "65535.65535"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := ParseASNumber(s)
		if err != nil {
			return
		}
		again, err := ParseASNumber(a.String())
		if err != nil || again != a {
			t.Fatalf("%q -> %d -> %v, %v", s, a, again, err)
		}
	})
}
