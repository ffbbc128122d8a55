package wire

import (
	"bytes"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func baseAttrs() Attrs {
	var a Attrs
	a.Origin = OriginIGP
	a.Set(AttrOrigin)
	a.ASPath = []ASPathSegment{{Type: ASSequence, ASNs: []uint32{65001, 65002}}}
	a.Set(AttrASPath)
	a.NextHop = addr("192.0.2.1")
	a.Set(AttrNextHop)
	return a
}

func TestUpdateVectors(t *testing.T) {
	tests := []struct {
		name string
		hex  string
		o    Options
		want Update
	}{
		{
			name: "ipv4 4-octet",
			hex: `ffffffffffffffffffffffffffffffff 004d 02   # marker, length 77, UPDATE
				0004 18 0a0101                             # withdrawn: 10.1.1.0/24
				002a                                       # path attribute length 42
				40 01 01 00                                # ORIGIN IGP
				40 02 0e 02 03 0000fde9 0000fdea fa56ea00  # AS_PATH SEQ 65001 65002 4200000000
				40 03 04 c0000201                          # NEXT_HOP 192.0.2.1
				80 04 04 00000064                          # MED 100
				c0 08 04 ffffff01                          # COMMUNITIES no-export
				10 0a00 19 c0a80080                        # NLRI 10.0.0.0/16 192.168.0.128/25`,
			o: Options{AS4: true},
			want: func() Update {
				u := Update{Withdrawn: nlris("10.1.1.0/24"), NLRI: nlris("10.0.0.0/16", "192.168.0.128/25")}
				u.Attrs = baseAttrs()
				u.Attrs.ASPath[0].ASNs = append(u.Attrs.ASPath[0].ASNs, 4200000000)
				u.Attrs.MED = 100
				u.Attrs.Set(AttrMED)
				u.Attrs.Communities = []Community{CommunityNoExport}
				u.Attrs.Set(AttrCommunities)
				return u
			}(),
		},
		{
			name: "ipv6 mp_reach with link-local, add-path",
			hex: `ffffffffffffffffffffffffffffffff 0058 02   # length 88
				0000 0041                                  # no withdrawn; attrs 65
				40 01 01 02                                # ORIGIN INCOMPLETE
				40 02 00                                   # AS_PATH empty (iBGP)
				40 05 04 00000064                          # LOCAL_PREF 100
				80 0e 30 0002 01 20                        # MP_REACH ipv6 unicast, NH len 32
				20010db8000000000000000000000001           # global 2001:db8::1
				fe800000000000000000000000000001 00        # link-local fe80::1, reserved
				00000007 30 20010db80001                   # path-id 7, 2001:db8:1::/48
				`,
			o: Options{AS4: true, AddPath: []Family{IPv6Unicast}},
			want: func() Update {
				var u Update
				u.Attrs.Origin = OriginIncomplete
				u.Attrs.Set(AttrOrigin)
				u.Attrs.Set(AttrASPath)
				u.Attrs.LocalPref = 100
				u.Attrs.Set(AttrLocalPref)
				u.MPReach = &MPReach{Family: IPv6Unicast, NextHop: addr("2001:db8::1"), LinkLocal: addr("fe80::1"),
					NLRI: []NLRI{{Prefix: pfx("2001:db8:1::/48"), PathID: 7}}}
				return u
			}(),
		},
		{
			name: "ipv6 mp_unreach only",
			hex: `ffffffffffffffffffffffffffffffff 0027 02 0000 0010
				80 0f 0d 0002 01 40 20010db800000001 00   # withdraw 2001:db8:0:1::/64 and ::/0`,
			o:    Options{AS4: true},
			want: Update{MPUnreach: &MPUnreach{Family: IPv6Unicast, NLRI: nlris("2001:db8:0:1::/64", "::/0")}},
		},
		{
			name: "rfc8950 ipv4 nlri with ipv6 next hop",
			hex: `ffffffffffffffffffffffffffffffff 0040 02 0000 0029
				40 01 01 00 40 02 06 02 01 0000fde9
				80 0e 19 0001 01 10 20010db8000000000000000000000002 00 18 0a0001   # 10.0.1.0/24 via 2001:db8::2`,
			o: Options{AS4: true},
			want: func() Update {
				var u Update
				u.Attrs.Set(AttrOrigin)
				u.Attrs.ASPath = []ASPathSegment{{Type: ASSequence, ASNs: []uint32{65001}}}
				u.Attrs.Set(AttrASPath)
				u.MPReach = &MPReach{Family: IPv4Unicast, NextHop: addr("2001:db8::2"), NLRI: nlris("10.0.1.0/24")}
				return u
			}(),
		},
		{
			name: "2-octet session merges AS4_PATH and AS4_AGGREGATOR",
			hex: `ffffffffffffffffffffffffffffffff 0057 02 0000 0040
				40 01 01 00
				40 02 0a 02 04 fde9 5ba0 5ba0 fdea        # SEQ 65001 AS_TRANS AS_TRANS 65002
				40 03 04 c0000201
				40 06 00                                  # ATOMIC_AGGREGATE
				c0 07 06 5ba0 c0000202                    # AGGREGATOR AS_TRANS 192.0.2.2
				c0 11 0e 02 03 fa56ea00 fa56ea01 0000fdea # AS4_PATH SEQ 4200000000 4200000001 65002
				c0 12 08 fa56ea01 c0000202                # AS4_AGGREGATOR 4200000001`,
			o: Options{},
			want: func() Update {
				u := Update{}
				u.Attrs = baseAttrs()
				u.Attrs.ASPath[0].ASNs = []uint32{65001, 4200000000, 4200000001, 65002}
				u.Attrs.Set(AttrAtomicAggregate)
				u.Attrs.Aggregator = Aggregator{AS: 4200000001, Addr: addr("192.0.2.2")}
				u.Attrs.Set(AttrAggregator)
				return u
			}(),
		},
		{
			name: "unknown optional transitive kept, non-transitive dropped, host bits masked",
			hex: `ffffffffffffffffffffffffffffffff 0031 02 0000 0017
				40 01 01 00 40 02 00 40 03 04 c0000201
				e0 fe 02 abcd                              # attr 254 optional transitive partial
				80 fd 01 ee                                # attr 253 optional non-transitive
				0d 0b0d                                    # 11.13.0.0/13 -> 11.8.0.0/13`,
			o: Options{AS4: true},
			want: func() Update {
				u := Update{NLRI: nlris("11.8.0.0/13")}
				u.Attrs = baseAttrs()
				u.Attrs.ASPath = nil
				u.Attrs.Unknown = []RawAttr{{Flags: 0xe0, Type: 254, Value: []byte{0xab, 0xcd}}}
				u.Attrs.Set(254)
				return u
			}(),
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			msg := unhex(t, tc.hex)
			var u Update
			if err := u.Decode(body(t, msg, MsgUpdate), &tc.o); err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if d := cmp.Diff(&tc.want, &u, cmpOpts...); d != "" {
				t.Fatalf("decoded UPDATE mismatch (-want +got):\n%s", d)
			}
			// Re-encode and decode again: must be the same value.
			enc, err := AppendUpdate(nil, &u, &tc.o)
			if err != nil {
				t.Fatalf("AppendUpdate: %v", err)
			}
			var u2 Update
			if err := u2.Decode(body(t, enc, MsgUpdate), &tc.o); err != nil {
				t.Fatalf("Decode(re-encoded): %v", err)
			}
			if d := cmp.Diff(&u, &u2, cmpOpts...); d != "" {
				t.Fatalf("round trip mismatch (-first +second):\n%s", d)
			}
		})
	}
}

func TestUpdateEncodeExact(t *testing.T) {
	// The encoder reproduces the canonical hand-written vector byte for byte.
	msg := unhex(t, `ffffffffffffffffffffffffffffffff 004d 02 0004 180a0101 002a
		40010100 40020e020300 00fde90000fdeafa56ea00 400304c0000201 80040400000064 c00804ffffff01
		100a00 19c0a80080`)
	var u Update
	o := &Options{AS4: true}
	if err := u.Decode(msg[HeaderLen:], o); err != nil {
		t.Fatal(err)
	}
	enc, err := AppendUpdate(nil, &u, o)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(enc, msg) {
		t.Fatalf("encoded\n%x\nwant\n%x", enc, msg)
	}
}
