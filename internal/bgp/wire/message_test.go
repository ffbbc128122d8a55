package wire

import (
	"bytes"
	"strings"
	"testing"
)

func TestParseHeader(t *testing.T) {
	tests := []struct {
		name      string
		hex       string
		max       int
		wantLen   int
		wantType  MsgType
		code, sub uint8
		data      string
	}{
		{name: "keepalive", hex: "ffffffffffffffffffffffffffffffff 0013 04", max: 4096, wantLen: 19, wantType: MsgKeepalive},
		{name: "bad marker", hex: "ffffffffffffffffffffffffffffff00 0013 04", max: 4096, code: 1, sub: 1},
		{name: "unknown type 40", hex: "ffffffffffffffffffffffffffffffff 0013 28", max: 4096, code: 1, sub: 3, data: "28"},
		{name: "length 18", hex: "ffffffffffffffffffffffffffffffff 0012 04", max: 4096, code: 1, sub: 2, data: "0012"},
		{name: "keepalive length 20", hex: "ffffffffffffffffffffffffffffffff 0014 04", max: 4096, code: 1, sub: 2, data: "0014"},
		{name: "update over 4096", hex: "ffffffffffffffffffffffffffffffff 1001 02", max: 4096, code: 1, sub: 2, data: "1001"},
		{name: "update 65535 with extended message", hex: "ffffffffffffffffffffffffffffffff ffff 02", max: 65535, wantLen: 65535, wantType: MsgUpdate},
		{name: "open over 4096 even with extended message", hex: "ffffffffffffffffffffffffffffffff 1001 01", max: 65535, code: 1, sub: 2, data: "1001"},
		{name: "open shorter than 29", hex: "ffffffffffffffffffffffffffffffff 001c 01", max: 4096, code: 1, sub: 2, data: "001c"},
		{name: "notification shorter than 21", hex: "ffffffffffffffffffffffffffffffff 0014 03", max: 4096, code: 1, sub: 2, data: "0014"},
		{name: "route refresh 23", hex: "ffffffffffffffffffffffffffffffff 0017 05", max: 4096, wantLen: 23, wantType: MsgRouteRefresh},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n, typ, err := ParseHeader(unhex(t, tc.hex), tc.max)
			if tc.code == 0 {
				if err != nil || n != tc.wantLen || typ != tc.wantType {
					t.Fatalf("got %d %v %v, want %d %v", n, typ, err, tc.wantLen, tc.wantType)
				}
				return
			}
			e := asError(t, err)
			if e.Code != tc.code || e.Subcode != tc.sub || !bytes.Equal(e.Data, unhex(t, tc.data)) {
				t.Fatalf("got %v data %x, want %d/%d data %s", e, e.Data, tc.code, tc.sub, tc.data)
			}
		})
	}
}

func TestKeepaliveAndSplit(t *testing.T) {
	b := AppendKeepalive(nil)
	if want := unhex(t, "ffffffffffffffffffffffffffffffff 0013 04"); !bytes.Equal(b, want) {
		t.Fatalf("keepalive %x", b)
	}
	stream := AppendKeepalive(AppendKeepalive(nil))
	stream = append(stream, 0xff, 0xff) // partial third message
	var got int
	for {
		msg, rest, ok, err := Split(stream, MaxMessageLen)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			if len(rest) != 2 {
				t.Fatalf("left %d bytes, want 2", len(rest))
			}
			break
		}
		got++
		if len(msg) != 19 {
			t.Fatalf("message %x", msg)
		}
		stream = rest
	}
	if got != 2 {
		t.Fatalf("split %d messages, want 2", got)
	}
}

func TestNotification(t *testing.T) {
	tests := []struct {
		name     string
		n        Notification
		hex      string
		str      string
		shutdown string
	}{
		{"hold timer", Notification{Code: NotifHoldTimerExpired}, "ffffffffffffffffffffffffffffffff 0015 03 04 00", "Hold Timer Expired", ""},
		{"bad peer as", Notification{Code: NotifOpen, Subcode: OpenBadPeerAS, Data: []byte{0xfd, 0xe9}},
			"ffffffffffffffffffffffffffffffff 0017 03 02 02 fde9", "OPEN Message Error / Bad Peer AS data fde9", ""},
		{"shutdown communication", Notification{Code: NotifCease, Subcode: CeaseAdminShutdown, Data: append([]byte{5}, "maint"...)},
			"ffffffffffffffffffffffffffffffff 001b 03 06 02 05 6d61696e74", `Cease / Administrative Shutdown: "maint"`, "maint"},
		{"hard reset wrapping hold timer", Notification{Code: NotifCease, Subcode: CeaseHardReset, Data: []byte{4, 0}},
			"ffffffffffffffffffffffffffffffff 0017 03 06 09 0400", "Cease / Hard Reset (Hold Timer Expired)", ""},
		{"unknown subcode", Notification{Code: NotifCease, Subcode: 77}, "ffffffffffffffffffffffffffffffff 0015 03 06 4d", "Cease / subcode 77", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			enc, err := AppendNotification(nil, &tc.n)
			if err != nil {
				t.Fatal(err)
			}
			if want := unhex(t, tc.hex); !bytes.Equal(enc, want) {
				t.Fatalf("encoded %x want %x", enc, want)
			}
			var n Notification
			if err := n.Decode(body(t, enc, MsgNotification)); err != nil {
				t.Fatal(err)
			}
			if n.Code != tc.n.Code || n.Subcode != tc.n.Subcode || !bytes.Equal(n.Data, tc.n.Data) {
				t.Fatalf("decoded %+v want %+v", n, tc.n)
			}
			if s := n.String(); s != tc.str {
				t.Fatalf("String %q want %q", s, tc.str)
			}
			m, ok := n.ShutdownMessage()
			if ok != (tc.shutdown != "") || m != tc.shutdown {
				t.Fatalf("ShutdownMessage %q %v want %q", m, ok, tc.shutdown)
			}
		})
	}
}

func TestNewShutdown(t *testing.T) {
	n, err := NewShutdown(CeaseAdminReset, "upgrading to kbgp ✓")
	if err != nil {
		t.Fatal(err)
	}
	if m, ok := n.ShutdownMessage(); !ok || m != "upgrading to kbgp ✓" {
		t.Fatalf("got %q %v", m, ok)
	}
	if _, err := NewShutdown(CeaseAdminShutdown, strings.Repeat("x", 129)); err == nil {
		t.Fatal("129-byte message accepted; kbgp sends at most 128 (RFC 9003 §6)")
	}
	if _, err := NewShutdown(CeaseAdminShutdown, "\xff"); err == nil {
		t.Fatal("invalid UTF-8 accepted")
	}
	if _, err := NewShutdown(CeaseMaxPrefix, "x"); err == nil {
		t.Fatal("subcode 1 accepted")
	}
	// A length byte beyond the data is ignored, not an error (RFC 9003 §4).
	bad := Notification{Code: NotifCease, Subcode: CeaseAdminShutdown, Data: []byte{9, 'a'}}
	if _, ok := bad.ShutdownMessage(); ok {
		t.Fatal("overlong shutdown length accepted")
	}
}

func TestRouteRefresh(t *testing.T) {
	for _, tc := range []struct {
		name string
		r    RouteRefresh
		hex  string
	}{
		{"normal ipv4", RouteRefresh{IPv4Unicast, RefreshNormal}, "ffffffffffffffffffffffffffffffff 0017 05 0001 00 01"},
		{"borr ipv6", RouteRefresh{IPv6Unicast, RefreshBoRR}, "ffffffffffffffffffffffffffffffff 0017 05 0002 01 01"},
		{"eorr ipv6", RouteRefresh{IPv6Unicast, RefreshEoRR}, "ffffffffffffffffffffffffffffffff 0017 05 0002 02 01"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			enc := AppendRouteRefresh(nil, &tc.r)
			if want := unhex(t, tc.hex); !bytes.Equal(enc, want) {
				t.Fatalf("encoded %x want %x", enc, want)
			}
			var r RouteRefresh
			if err := r.Decode(body(t, enc, MsgRouteRefresh)); err != nil || r != tc.r {
				t.Fatalf("decoded %+v %v", r, err)
			}
		})
	}
	for _, tc := range []struct {
		name string
		body []byte
		bad  bool // Invalid Message Length, else decoded for the caller to act on or ignore
	}{
		{"short", []byte{0, 1, 0}, true},
		{"normal with ORF entries", []byte{0, 1, 0, 1, 9}, true},
		{"BoRR too long", []byte{0, 1, 1, 1, 0}, true},
		{"EoRR too long", []byte{0, 2, 2, 1, 0, 0}, true},
		// RFC 7313 §5: any other subtype "MUST" be ignored, whatever follows.
		{"unknown subtype with trailing bytes", []byte{0, 1, 7, 1, 1, 2, 3}, false},
		{"unknown subtype", []byte{0, 1, 255, 1}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var r RouteRefresh
			err := r.Decode(tc.body)
			if !tc.bad {
				if err != nil || r.Subtype != tc.body[2] {
					t.Fatalf("decoded %+v, %v; want subtype %d and no error", r, err, tc.body[2])
				}
				return
			}
			e := asError(t, err)
			if e.Code != NotifRouteRefresh || e.Subcode != RouteRefreshInvalidLength {
				t.Fatalf("got %v", e)
			}
		})
	}
}

func TestEndOfRIB(t *testing.T) {
	for _, f := range []Family{IPv4Unicast, IPv6Unicast} {
		enc := AppendEndOfRIB(nil, f)
		var u Update
		if err := u.Decode(body(t, enc, MsgUpdate), nil); err != nil {
			t.Fatal(err)
		}
		got, ok := IsEndOfRIB(&u)
		if !ok || got != f {
			t.Fatalf("%v: IsEndOfRIB = %v %v", f, got, ok)
		}
	}
	if want := unhex(t, "ffffffffffffffffffffffffffffffff 0017 02 0000 0000"); !bytes.Equal(AppendEndOfRIB(nil, IPv4Unicast), want) {
		t.Fatal("ipv4 End-of-RIB is not the minimum UPDATE")
	}
	u := Update{NLRI: nlris("10.0.0.0/8")}
	if _, ok := IsEndOfRIB(&u); ok {
		t.Fatal("UPDATE with NLRI reported as End-of-RIB")
	}
}

// TestShutdownMessageReceiveLimit: RFC 9003 §2 raised the Shutdown
// Communication to "up to 255 octets"; RFC 9003 §6 only advises senders
// to keep to RFC 8203's 128 when the peer's support is unknown. A receiver
// must accept the longer message.
func TestShutdownMessageReceiveLimit(t *testing.T) {
	for _, n := range []int{1, 128, 129, 200, 255} {
		msg := strings.Repeat("m", n)
		d := append([]byte{byte(n)}, msg...)
		nf := Notification{Code: NotifCease, Subcode: CeaseAdminShutdown, Data: d}
		if got, ok := nf.ShutdownMessage(); !ok || got != msg {
			t.Errorf("%d-byte communication: got %d bytes, ok=%v", n, len(got), ok)
		}
	}
}
