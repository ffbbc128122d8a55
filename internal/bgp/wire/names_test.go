package wire

import (
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

func TestStrings(t *testing.T) {
	tests := []struct {
		name string
		got  fmt.Stringer
		want string
	}{
		{"msg type", MsgRouteRefresh, "ROUTE-REFRESH"},
		{"msg type unknown", MsgType(40), "type(40)"},
		{"attr", AttrLargeCommunities, "LARGE_COMMUNITY"},
		{"attr unknown", AttrType(250), "attr(250)"},
		{"cap", CapLongLivedGR, "long-lived-graceful-restart"},
		{"cap unknown", CapCode(250), "capability(250)"},
		{"family", IPv6Unicast, "ipv6-unicast"},
		{"family other", Family{25, 70}, "l2vpn-evpn"},
		{"family unknown", Family{99, 99}, "afi(99)-safi(99)"},
		{"origin", OriginIncomplete, "INCOMPLETE"},
		{"origin bad", Origin(9), "origin(9)"},
		{"community", Community(65001<<16 | 100), "65001:100"},
		{"community no-export", CommunityNoExport, "no-export"},
		{"community no-advertise", CommunityNoAdvertise, "no-advertise"},
		{"community no-export-subconfed", CommunityNoExportSubconfed, "no-export-subconfed"},
		{"community llgr-stale", CommunityLLGRStale, "llgr-stale"},
		{"community graceful-shutdown", CommunityGracefulShutdown, "graceful-shutdown"},
		{"ext rt as2", ExtCommunity{0, 2, 0xfd, 0xe9, 0, 0, 0, 100}, "rt 65001:100"},
		{"ext soo ipv4", ExtCommunity{1, 3, 10, 0, 0, 1, 0, 5}, "soo 10.0.0.1:5"},
		{"ext rt as4", ExtCommunity{2, 2, 0xfa, 0x56, 0xea, 0, 0, 7}, "rt 4200000000:7"},
		{"ext other", ExtCommunity{0x80, 6, 0, 0, 0, 0, 0, 0}, "0x80:0x06:000000000000"},
		{"large", LargeCommunity{4200000000, 1, 2}, "4200000000:1:2"},
		{"nlri", NLRI{Prefix: pfx("10.0.0.0/8"), PathID: 3}, "10.0.0.0/8 path-id 3"},
		{"segment set", ASPathSegment{ASSet, []uint32{1, 2}}, "{1 2}"},
		{"segment confed", ASPathSegment{ASConfedSequence, []uint32{64512, 64513}}, "(64512 64513)"},
		{"segment confed set", ASPathSegment{ASConfedSet, []uint32{64512}}, "[64512]"},
		{"add-path mode", AddPathBoth, "send/receive"},
		{"action", ActionTreatAsWithdraw, "treat-as-withdraw"},
		{"notification", &Notification{Code: NotifFSM, Subcode: FSMUnexpectedInOpenConfirm}, "Finite State Machine Error / Receive Unexpected Message in OpenConfirm State"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if s := tc.got.String(); s != tc.want {
				t.Fatalf("String() = %q, want %q", s, tc.want)
			}
		})
	}
	if s := ASPathString([]ASPathSegment{{ASSequence, []uint32{64512}}, {ASSet, []uint32{1, 2}}}); s != "64512 {1 2}" {
		t.Fatalf("ASPathString = %q", s)
	}
	if n := (&Notification{Code: NotifCease, Subcode: CeaseBFDDown}); n.Error() != "notification: Cease / BFD Down" {
		t.Fatalf("Error() = %q", n.Error())
	}
}

func TestParseFamily(t *testing.T) {
	for in, want := range map[string]Family{"ipv4-unicast": IPv4Unicast, "IPv6-Unicast": IPv6Unicast, "ipv6": IPv6Unicast, "1/1": IPv4Unicast, "25/70": {25, 70}} {
		if got, err := ParseFamily(in); err != nil || got != want {
			t.Errorf("ParseFamily(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "ipx", "1/999", "x/1"} {
		if _, err := ParseFamily(in); err == nil {
			t.Errorf("ParseFamily(%q) accepted", in)
		}
	}
}

func TestCapabilityHelpers(t *testing.T) {
	var none Capabilities
	if !none.HasFamily(IPv4Unicast) || none.HasFamily(IPv6Unicast) {
		t.Fatal("without Multiprotocol only ipv4-unicast is supported (RFC 4760 §8)")
	}
	c := fullCaps()
	if !c.HasFamily(IPv6Unicast) || c.HasFamily(Family{25, 70}) {
		t.Fatal("HasFamily with Multiprotocol")
	}
	if c.AddPathFor(IPv4Unicast) != AddPathBoth || c.AddPathFor(Family{25, 70}) != 0 {
		t.Fatal("AddPathFor")
	}
	o := Open{MyAS: ASTrans, Caps: c}
	if o.ASN() != 4200000000 {
		t.Fatalf("ASN() = %d", o.ASN())
	}
	o.Caps = Capabilities{}
	o.MyAS = 65001
	if o.ASN() != 65001 {
		t.Fatalf("ASN() = %d", o.ASN())
	}
}

// TestWriteAllAttrsGolden keeps testdata/decode/update-all-attrs.hex in
// step with the encoder (written with -update).
func TestWriteAllAttrsGolden(t *testing.T) {
	msg, err := AppendUpdate(nil, genUpdateAll(), &Options{ExtendedMessage: true})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("testdata", "decode", "update-all-attrs.hex")
	text := "# every attribute kbgp interprets, MP_REACH and MP_UNREACH, on a 2-octet session\n# options: as4=false\n" + hex.EncodeToString(msg) + "\n"
	golden(t, path, text)
	if _, err := os.Stat(path); err != nil {
		t.Fatal(err)
	}
}
