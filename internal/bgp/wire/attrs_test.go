package wire

import (
	"bytes"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestAttrRoundTrip encodes each attribute alone, checks its exact TLV and
// decodes it back.
func TestAttrRoundTrip(t *testing.T) {
	with := func(tp AttrType, f func(a *Attrs)) Attrs {
		var a Attrs
		f(&a)
		a.Set(tp)
		return a
	}
	long := make([]Community, 70) // 280 bytes: extended length
	for i := range long {
		long[i] = Community(65000<<16 | i)
	}
	longHex := "d0 08 0118"
	for i := range long {
		longHex += " fde8" + string("0123456789abcdef"[i>>12&15]) + string("0123456789abcdef"[i>>8&15]) + string("0123456789abcdef"[i>>4&15]) + string("0123456789abcdef"[i&15])
	}
	tests := []struct {
		name string
		a    Attrs
		o    Options
		hex  string
	}{
		{"origin egp", with(AttrOrigin, func(a *Attrs) { a.Origin = OriginEGP }), Options{AS4: true}, "40 01 01 01"},
		{"as_path 4-octet", with(AttrASPath, func(a *Attrs) {
			a.ASPath = []ASPathSegment{{ASSequence, []uint32{65001, 4200000000}}, {ASSet, []uint32{1, 2}}}
		}), Options{AS4: true}, "40 02 14 02 02 0000fde9 fa56ea00 01 02 00000001 00000002"},
		{"as_path 2-octet with AS4_PATH", with(AttrASPath, func(a *Attrs) {
			a.ASPath = []ASPathSegment{{ASConfedSequence, []uint32{64512}}, {ASSequence, []uint32{65001, 4200000000}}}
		}), Options{}, "40 02 0a 03 01 fc00 02 02 fde9 5ba0  c0 11 0a 02 02 0000fde9 fa56ea00"},
		{"as_path empty", with(AttrASPath, func(a *Attrs) {}), Options{AS4: true}, "40 02 00"},
		{"next_hop", with(AttrNextHop, func(a *Attrs) { a.NextHop = netip.MustParseAddr("10.0.0.1") }), Options{}, "40 03 04 0a000001"},
		{"med", with(AttrMED, func(a *Attrs) { a.MED = 0 }), Options{}, "80 04 04 00000000"},
		{"local_pref", with(AttrLocalPref, func(a *Attrs) { a.LocalPref = 200 }), Options{}, "40 05 04 000000c8"},
		{"atomic_aggregate", with(AttrAtomicAggregate, func(a *Attrs) {}), Options{}, "40 06 00"},
		{"aggregator 4-octet", with(AttrAggregator, func(a *Attrs) {
			a.Aggregator = Aggregator{4200000000, netip.MustParseAddr("10.0.0.2")}
		}), Options{AS4: true}, "c0 07 08 fa56ea00 0a000002"},
		{"aggregator 2-octet with AS4_AGGREGATOR", with(AttrAggregator, func(a *Attrs) {
			a.Aggregator = Aggregator{4200000000, netip.MustParseAddr("10.0.0.2")}
		}), Options{}, "c0 07 06 5ba0 0a000002  c0 12 08 fa56ea00 0a000002"},
		{"aggregator 2-octet small", with(AttrAggregator, func(a *Attrs) {
			a.Aggregator = Aggregator{65001, netip.MustParseAddr("10.0.0.2")}
		}), Options{}, "c0 07 06 fde9 0a000002"},
		{"communities", with(AttrCommunities, func(a *Attrs) {
			a.Communities = []Community{CommunityNoExport, 65001<<16 | 7}
		}), Options{}, "c0 08 08 ffffff01 fde90007"},
		{"communities extended length", with(AttrCommunities, func(a *Attrs) { a.Communities = long }), Options{}, longHex},
		{"originator_id", with(AttrOriginatorID, func(a *Attrs) { a.OriginatorID = netip.MustParseAddr("1.1.1.1") }), Options{}, "80 09 04 01010101"},
		{"cluster_list", with(AttrClusterList, func(a *Attrs) {
			a.ClusterList = []netip.Addr{netip.MustParseAddr("2.2.2.2"), netip.MustParseAddr("3.3.3.3")}
		}), Options{}, "80 0a 08 02020202 03030303"},
		{"ext_communities", with(AttrExtCommunities, func(a *Attrs) {
			a.ExtCommunities = []ExtCommunity{{0, 2, 0xfd, 0xe9, 0, 0, 0, 1}}
		}), Options{}, "c0 10 08 0002fde900000001"},
		{"large_communities", with(AttrLargeCommunities, func(a *Attrs) {
			a.LargeCommunities = []LargeCommunity{{4200000000, 1, 2}}
		}), Options{}, "c0 20 0c fa56ea00 00000001 00000002"},
		{"unknown transitive gets Partial", with(99, func(a *Attrs) {
			a.Unknown = []RawAttr{{Flags: FlagOptional | FlagTransitive | FlagPartial, Type: 99, Value: []byte{1}}}
		}), Options{}, "e0 63 01 01"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			enc, err := AppendAttrs(nil, &tc.a, &tc.o)
			if err != nil {
				t.Fatal(err)
			}
			if want := unhex(t, tc.hex); !bytes.Equal(enc, want) {
				t.Fatalf("encoded\n%x\nwant\n%x", enc, want)
			}
			msg := AppendHeader(nil, MsgUpdate, 4+len(enc))
			msg = append(msg, 0, 0, byte(len(enc)>>8), byte(len(enc)))
			msg = append(msg, enc...)
			var u Update
			if err := u.Decode(msg[HeaderLen:], &tc.o); err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tc.a, u.Attrs, cmpOpts...); d != "" {
				t.Fatalf("(-want +got)\n%s", d)
			}
		})
	}
}

// TestCapabilityEncoding checks the exact TLV of each capability.
func TestCapabilityEncoding(t *testing.T) {
	tests := []struct {
		name string
		c    Capabilities
		hex  string
	}{
		{"multiprotocol", Capabilities{Multiprotocol: []Family{IPv6Unicast}}, "01 04 0002 00 01"},
		{"route refresh", Capabilities{RouteRefresh: true}, "02 00"},
		{"extended next hop", Capabilities{ExtendedNextHop: []ExtNextHopFamily{{IPv4Unicast, AFIIPv6}}}, "05 06 0001 0001 0002"},
		{"extended message", Capabilities{ExtendedMessage: true}, "06 00"},
		{"graceful restart R N 300s", Capabilities{GracefulRestart: &GracefulRestart{Restarting: true, Notification: true, Time: 300,
			Families: []GRFamily{{IPv4Unicast, true}, {IPv6Unicast, false}}}}, "40 0a c12c 0001 01 80 0002 01 00"},
		{"4-octet AS", Capabilities{HasFourOctetAS: true, FourOctetAS: 4200000000}, "41 04 fa56ea00"},
		{"add-path", Capabilities{AddPath: []AddPathFamily{{IPv4Unicast, AddPathBoth}}}, "45 04 0001 01 03"},
		{"enhanced route refresh", Capabilities{EnhancedRouteRefresh: true}, "46 00"},
		{"llgr", Capabilities{HasLongLivedGR: true, LongLivedGR: []LLGRFamily{{IPv4Unicast, true, 3600}}}, "47 07 0001 01 80 000e10"},
		{"llgr empty", Capabilities{HasLongLivedGR: true}, "47 00"},
		{"fqdn", Capabilities{HasFQDN: true, Hostname: "n1", DomainName: "lab"}, "49 07 02 6e31 03 6c6162"},
		{"unknown", Capabilities{Unknown: []RawCapability{{Code: 9, Value: []byte{1}}}}, "09 01 01"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			enc := AppendCapabilities(nil, &tc.c)
			if want := unhex(t, tc.hex); !bytes.Equal(enc, want) {
				t.Fatalf("encoded %x want %x", enc, want)
			}
			var c Capabilities
			if err := c.decode(enc); err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tc.c, c, cmpOpts...); d != "" {
				t.Fatalf("(-want +got)\n%s", d)
			}
		})
	}
}
