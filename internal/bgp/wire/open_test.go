package wire

import (
	"bytes"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func fullCaps() Capabilities {
	return Capabilities{
		Multiprotocol:        []Family{IPv4Unicast, IPv6Unicast},
		RouteRefresh:         true,
		EnhancedRouteRefresh: true,
		ExtendedMessage:      true,
		HasFourOctetAS:       true,
		FourOctetAS:          4200000000,
		AddPath:              []AddPathFamily{{IPv4Unicast, AddPathBoth}, {IPv6Unicast, AddPathReceive}},
		GracefulRestart: &GracefulRestart{Restarting: true, Notification: true, Time: 120,
			Families: []GRFamily{{IPv4Unicast, true}, {IPv6Unicast, false}}},
		LongLivedGR:     []LLGRFamily{{IPv4Unicast, true, 86400}, {IPv6Unicast, false, 0xffffff}},
		HasLongLivedGR:  true,
		ExtendedNextHop: []ExtNextHopFamily{{IPv4Unicast, AFIIPv6}},
		HasFQDN:         true,
		Hostname:        "node-1",
		DomainName:      "cluster.local",
		Unknown:         []RawCapability{{Code: 200, Value: []byte{1, 2, 3}}},
	}
}

func TestOpenVector(t *testing.T) {
	// RFC 4271 §4.2 OPEN with capabilities (RFC 5492), annotated per field.
	msg := unhex(t, `ffffffffffffffffffffffffffffffff 0033 01   # length 51, OPEN
		04 fde9 005a c0000201                    # version 4, AS 65001, hold 90, id 192.0.2.1
		16                                       # optional parameters length 22
		02 14                                    # capabilities parameter, 20 bytes
		01 04 0001 00 01                         # multiprotocol ipv4-unicast
		01 04 0002 00 01                         # multiprotocol ipv6-unicast
		02 00                                    # route refresh
		41 04 0000fde9                           # 4-octet AS 65001
		`)
	var m Open
	if err := m.Decode(body(t, msg, MsgOpen)); err != nil {
		t.Fatal(err)
	}
	want := Open{Version: 4, MyAS: 65001, HoldTime: 90, BGPID: addr("192.0.2.1"), Caps: Capabilities{
		Multiprotocol: []Family{IPv4Unicast, IPv6Unicast}, RouteRefresh: true, HasFourOctetAS: true, FourOctetAS: 65001}}
	if d := cmp.Diff(want, m, cmpOpts...); d != "" {
		t.Fatalf("(-want +got)\n%s", d)
	}
	enc, err := AppendOpen(nil, &m)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(enc, msg) {
		t.Fatalf("encoded %x\nwant    %x", enc, msg)
	}
}

func TestOpenRoundTrip(t *testing.T) {
	big := fullCaps()
	for i := range 60 {
		big.Unknown = append(big.Unknown, RawCapability{Code: CapCode(200 + i%50), Value: []byte{byte(i), 1, 2}})
	}
	tests := []struct {
		name string
		m    Open
	}{
		{"no capabilities", Open{Version: 4, MyAS: 1, HoldTime: 0, BGPID: addr("1.1.1.1")}},
		{"all capabilities", Open{Version: 4, MyAS: ASTrans, HoldTime: 180, BGPID: addr("10.0.0.1"), Caps: fullCaps()}},
		{"forced rfc9072", Open{Version: 4, MyAS: 65000, HoldTime: 3, BGPID: addr("10.0.0.1"), Caps: fullCaps(), ExtendedParams: true}},
		{"over 255 bytes switches to rfc9072", Open{Version: 4, MyAS: 65000, HoldTime: 3, BGPID: addr("10.0.0.1"), Caps: big, ExtendedParams: true}},
		{"gr with no families", Open{Version: 4, MyAS: 65000, HoldTime: 90, BGPID: addr("10.0.0.1"),
			Caps: Capabilities{GracefulRestart: &GracefulRestart{Time: 4095}, HasLongLivedGR: true}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			enc, err := AppendOpen(nil, &tc.m)
			if err != nil {
				t.Fatal(err)
			}
			var m Open
			if err := m.Decode(body(t, enc, MsgOpen)); err != nil {
				t.Fatalf("Decode: %v\n%x", err, enc)
			}
			if d := cmp.Diff(tc.m, m, cmpOpts...); d != "" {
				t.Fatalf("(-want +got)\n%s", d)
			}
		})
	}
}

func TestOpenErrors(t *testing.T) {
	tests := []struct {
		name         string
		hex          string // whole message
		code, sub    uint8
		data         []byte
		headerFailed bool
	}{
		{name: "version 3", hex: "ffffffffffffffffffffffffffffffff 001d 01 03 fde9 005a c0000201 00", code: 2, sub: 1, data: []byte{0, 4}},
		{name: "hold time 1", hex: "ffffffffffffffffffffffffffffffff 001d 01 04 fde9 0001 c0000201 00", code: 2, sub: 6},
		{name: "hold time 2", hex: "ffffffffffffffffffffffffffffffff 001d 01 04 fde9 0002 c0000201 00", code: 2, sub: 6},
		{name: "bgp id zero", hex: "ffffffffffffffffffffffffffffffff 001d 01 04 fde9 005a 00000000 00", code: 2, sub: 3},
		{name: "unknown optional parameter", hex: "ffffffffffffffffffffffffffffffff 0021 01 04 fde9 005a c0000201 04 01 02 0000", code: 2, sub: 4},
		{name: "param length overruns", hex: "ffffffffffffffffffffffffffffffff 0021 01 04 fde9 005a c0000201 04 02 05 0200", code: 2, sub: 0},
		{name: "capability length overruns", hex: "ffffffffffffffffffffffffffffffff 0021 01 04 fde9 005a c0000201 04 02 02 4104", code: 2, sub: 0},
		{name: "as4 capability short", hex: "ffffffffffffffffffffffffffffffff 0022 01 04 fde9 005a c0000201 05 02 03 41 01 00", code: 2, sub: 0},
		{name: "llgr not multiple of 7 (CVE-2023-31489)", hex: "ffffffffffffffffffffffffffffffff 0024 01 04 fde9 005a c0000201 07 02 05 47 03 000101", code: 2, sub: 0},
		// Forescout PoCs: RFC 9072 header with truncated parameter, and
		// Opt Param Len 255 with nothing after it.
		{name: "CVE-2022-40302 truncated rfc9072 parameter", hex: "ffffffffffffffffffffffffffffffff 0022 01 04 dead 0005 c0a83901 ff ff 0002 0001", code: 2, sub: 0},
		{name: "CVE-2022-43681 opt param len 255 with no bytes", hex: "ffffffffffffffffffffffffffffffff 001e 01 04 dead 00de adbeef6b ff", code: 2, sub: 0},
		{name: "short OPEN", hex: "ffffffffffffffffffffffffffffffff 001c 01 04 fde9 005a c0000201", code: 1, sub: 2, headerFailed: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			msg := unhex(t, tc.hex)
			_, _, err := ParseHeader(msg, MaxMessageLen)
			if tc.headerFailed {
				e := asError(t, err)
				if e.Code != tc.code || e.Subcode != tc.sub {
					t.Fatalf("got %v, want %d/%d", e, tc.code, tc.sub)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseHeader: %v", err)
			}
			var m Open
			e := asError(t, m.Decode(msg[HeaderLen:]))
			if e.Code != tc.code || e.Subcode != tc.sub || e.Action != ActionSessionReset {
				t.Fatalf("got %v (%d/%d %v), want %d/%d", e, e.Code, e.Subcode, e.Action, tc.code, tc.sub)
			}
			if tc.data != nil && !bytes.Equal(e.Data, tc.data) {
				t.Fatalf("data %x, want %x", e.Data, tc.data)
			}
		})
	}
}

func TestOpenGoBGP2730SoftwareVersion(t *testing.T) {
	// GoBGP #2730: a malformed Software Version capability (75) must not
	// crash; kbgp keeps unknown capabilities raw.
	msg := unhex(t, "ffffffffffffffffffffffffffffffff00280104fc00005ac0a80a050b02094b070a000000000000")
	var m Open
	err := m.Decode(msg[HeaderLen:])
	if err != nil {
		asError(t, err)
		return
	}
	if len(m.Caps.Unknown) != 1 || m.Caps.Unknown[0].Code != 75 {
		t.Fatalf("want the software-version capability kept raw, got %+v", m.Caps)
	}
}

func TestCapabilityDuplicatesMerge(t *testing.T) {
	// Two ADD-PATH and two GR capabilities in separate optional parameters
	// (RFC 5492 §4 allows several instances): tuples accumulate.
	msg := unhex(t, `ffffffffffffffffffffffffffffffff 003d 01 04 fde9 005a c0000201 20
		02 06 45 04 0001 01 03       # add-path ipv4 both
		02 06 45 04 0002 01 01       # add-path ipv6 receive
		02 08 40 06 0078 0001 01 80  # GR 120 s, ipv4 F
		02 04 80 00 02 00            # cisco route refresh (128), then route refresh`)
	var m Open
	if err := m.Decode(msg[HeaderLen:]); err != nil {
		t.Fatal(err)
	}
	want := Capabilities{
		AddPath:         []AddPathFamily{{IPv4Unicast, AddPathBoth}, {IPv6Unicast, AddPathReceive}},
		GracefulRestart: &GracefulRestart{Time: 120, Families: []GRFamily{{IPv4Unicast, true}}},
		RouteRefresh:    true,
	}
	if d := cmp.Diff(want, m.Caps, cmpOpts...); d != "" {
		t.Fatalf("(-want +got)\n%s", d)
	}
}

// TestFQDNTruncation: the FQDN capability value is one octet long, so
// hostname and domain name are cut to fit 255 octets together with their
// two length octets; a long host name must not panic the encoder.
func TestFQDNTruncation(t *testing.T) {
	tests := []struct {
		name             string
		host, domain     string
		wantHost, wantDm int
	}{
		{"short", "n1", "lab", 2, 3},
		{"host 253 fills the value", strings.Repeat("h", 253), "lab", 253, 0},
		{"host 254", strings.Repeat("h", 254), "lab", 253, 0},
		{"host 300", strings.Repeat("h", 300), "x", 253, 0},
		{"domain cut", strings.Repeat("h", 200), strings.Repeat("d", 100), 200, 53},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := Capabilities{HasFQDN: true, Hostname: tc.host, DomainName: tc.domain}
			b := AppendCapabilities(nil, &c)
			if int(b[1]) != len(b)-2 {
				t.Fatalf("capability length %d, value is %d bytes", b[1], len(b)-2)
			}
			var got Capabilities
			if err := got.decode(b); err != nil {
				t.Fatalf("re-decode: %v", err)
			}
			if len(got.Hostname) != tc.wantHost || len(got.DomainName) != tc.wantDm {
				t.Fatalf("hostname %d bytes, domain %d bytes; want %d and %d", len(got.Hostname), len(got.DomainName), tc.wantHost, tc.wantDm)
			}
		})
	}
}
