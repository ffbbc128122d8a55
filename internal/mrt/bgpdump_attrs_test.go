package mrt

import (
	"encoding/binary"
	"net/netip"
	"strconv"
	"testing"
)

func TestAppendIPv6(t *testing.T) {
	cases := []struct{ in, want string }{
		{"2001:7f8:30:0:2:1:0:8447", "2001:7f8:30::2:1:0:8447"}, // a single zero group is compressed (first of equal runs)
		{"2001:db8::1", "2001:db8::1"},
		{"fe80::", "fe80::"},
		{"::", "::"},
		{"::1", "::1"},
		{"1:0:0:2:0:0:0:3", "1:0:0:2::3"}, // the longest run wins
		{"1:0:0:2:3:0:0:4", "1::2:3:0:0:4"},
		{"1:2:3:4:5:6:7:0", "1:2:3:4:5:6:7::"},
		{"::ffff:192.0.2.1", "::ffff:192.0.2.1"},
		{"::192.0.2.1", "::192.0.2.1"},
		{"2001:db8:abcd:12:ff:1:2:3", "2001:db8:abcd:12:ff:1:2:3"},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			if got := string(appendIPv6(nil, netip.MustParseAddr(tc.in).As16())); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// seg encodes an AS_PATH segment with asnLen-octet AS numbers.
func seg(typ uint8, asnLen int, asns ...uint32) []byte {
	b := []byte{typ, byte(len(asns))}
	for _, as := range asns {
		if asnLen == 4 {
			b = binary.BigEndian.AppendUint32(b, as)
		} else {
			b = binary.BigEndian.AppendUint16(b, uint16(as))
		}
	}
	return b
}

func attr(flags, typ uint8, v ...[]byte) []byte {
	var val []byte
	for _, p := range v {
		val = append(val, p...)
	}
	return append([]byte{flags, typ, byte(len(val))}, val...)
}

func TestBGPDumpAttrs(t *testing.T) {
	cat := func(parts ...[]byte) []byte {
		var b []byte
		for _, p := range parts {
			b = append(b, p...)
		}
		return b
	}
	cases := []struct {
		name   string
		attrs  []byte
		asnLen int
		path   string
		agg    string
		comm   string
	}{
		{"sequence and set", attr(0x40, 2, seg(2, 2, 1853, 1239), seg(1, 2, 13659, 701)), 2, "1853 1239 {13659,701}", "", ""},
		{"set then sequence", attr(0x40, 2, seg(1, 4, 1, 2), seg(2, 4, 3)), 4, "{1,2} 3", "", ""},
		{"confederations", attr(0x40, 2, seg(3, 4, 65001, 65002), seg(4, 4, 65003, 65004), seg(2, 4, 10)), 4, "(65001 65002) [65003,65004] 10", "", ""},
		{"bad segment type", attr(0x40, 2, seg(7, 2, 1)), 2, "! Error !", "", ""},
		{"AS4_PATH merge", cat(
			attr(0x40, 2, seg(2, 2, 701, 23456, 23456)),
			attr(0xc0, 17, seg(2, 4, 4200000000, 4200000001))), 2, "701 4200000000 4200000001", "", ""},
		{"AS4_PATH longer than AS_PATH is ignored", cat(
			attr(0x40, 2, seg(2, 2, 23456)),
			attr(0xc0, 17, seg(2, 4, 1, 4200000000))), 2, "23456", "", ""},
		{"AS4_PATH ignored on 4-octet sessions", cat(
			attr(0x40, 2, seg(2, 4, 701)),
			attr(0xc0, 17, seg(2, 4, 9))), 4, "701", "", ""},
		{"AS4_AGGREGATOR replaces AS_TRANS", cat(
			attr(0xc0, 7, []byte{0x5b, 0xa0, 10, 0, 0, 1}),
			attr(0xc0, 18, []byte{0xfa, 0x56, 0xea, 0x00, 10, 0, 0, 2})), 2, "", "4200000000 10.0.0.2", ""},
		{"AGGREGATOR not AS_TRANS keeps AS_PATH unmerged", cat(
			attr(0x40, 2, seg(2, 2, 701, 23456)),
			attr(0xc0, 17, seg(2, 4, 4200000000)),
			attr(0xc0, 7, []byte{0, 5, 10, 0, 0, 1}),
			attr(0xc0, 18, []byte{0, 0, 0, 6, 10, 0, 0, 2})), 2, "701 23456", "5 10.0.0.1", ""},
		{"well-known communities", attr(0xc0, 8, []byte{0xff, 0xff, 0xff, 0x01, 0xff, 0xff, 0xff, 0x02, 0xff, 0xff, 0xff, 0x03, 0xfd, 0xe8, 0, 1}), 4, "", "", "no-export no-advertise local-AS 65000:1"},
		{"truncated attribute is dropped", cat(attr(0x40, 2, seg(2, 4, 5)), []byte{0x40, 8, 200, 1, 2}), 4, "5", "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var a bdAttrs
			a.parse(tc.attrs, tc.asnLen, false)
			path := ""
			if a.hasPath {
				path = string(a.path.str)
			}
			if path != tc.path {
				t.Errorf("path %q, want %q", path, tc.path)
			}
			agg := ""
			if a.aggAddr != [4]byte{255, 255, 255, 255} {
				agg = string(appendAddr4(append(strconv.AppendUint(nil, uint64(a.aggAS), 10), ' '), a.aggAddr))
			}
			if agg != tc.agg {
				t.Errorf("aggregator %q, want %q", agg, tc.agg)
			}
			if string(a.comm) != tc.comm {
				t.Errorf("communities %q, want %q", a.comm, tc.comm)
			}
		})
	}
}
