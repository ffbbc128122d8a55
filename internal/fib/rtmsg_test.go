package fib

import (
	"bytes"
	"encoding/hex"
	"net/netip"
	"strings"
	"syscall"
	"testing"
)

// unhex decodes hex with spaces, newlines and // comments.
func unhex(t testing.TB, s string) []byte {
	t.Helper()
	var clean strings.Builder
	for _, line := range strings.Split(s, "\n") {
		if i := strings.Index(line, "//"); i >= 0 {
			line = line[:i]
		}
		clean.WriteString(strings.Join(strings.Fields(line), ""))
	}
	b, err := hex.DecodeString(clean.String())
	if err != nil {
		t.Fatalf("bad hex in test: %v", err)
	}
	return b
}

func TestAppendRouteMsg(t *testing.T) {
	tests := []struct {
		name string
		op   Op
		seq  uint32
		want string
	}{
		{
			name: "replace ipv4 via gateway",
			op: Op{Kind: Replace, Protocol: 77, Route: Route{
				Prefix: netip.MustParsePrefix("10.0.1.0/24"), Table: 254, Metric: 20,
				NextHops: []NextHop{{Gateway: netip.MustParseAddr("192.0.2.1"), Weight: 1}},
			}},
			seq: 7,
			want: `
				3c000000 1800 0505 07000000 00000000 // nlmsghdr: len 60, RTM_NEWROUTE, REQUEST|ACK|REPLACE|CREATE, seq 7, pid 0
				02 18 00 00 fe 4d 00 01 00000000     // rtmsg: AF_INET /24, table 254, proto 77, scope universe, unicast
				0800 0f00 fe000000                   // RTA_TABLE 254
				0800 0100 0a000100                   // RTA_DST 10.0.1.0
				0800 0600 14000000                   // RTA_PRIORITY 20
				0800 0500 c0000201                   // RTA_GATEWAY 192.0.2.1`,
		},
		{
			name: "replace ipv4 ecmp weighted, table 1000",
			op: Op{Kind: Replace, Protocol: 77, Route: Route{
				Prefix: netip.MustParsePrefix("10.1.0.0/16"), Table: 1000,
				NextHops: []NextHop{
					{Gateway: netip.MustParseAddr("192.0.2.1"), LinkIndex: 3, Weight: 1},
					{Gateway: netip.MustParseAddr("192.0.2.2"), Weight: 4},
				},
			}},
			seq: 1,
			want: `
				58000000 1800 0505 01000000 00000000 // nlmsghdr: len 88
				02 10 00 00 00 4d 00 01 00000000     // rtmsg: table in RTA_TABLE only
				0800 0f00 e8030000                   // RTA_TABLE 1000
				0800 0100 0a010000                   // RTA_DST 10.1.0.0
				0800 0600 00000000                   // RTA_PRIORITY 0
				2400 0900                            // RTA_MULTIPATH, 36 bytes
				  1000 00 00 03000000 0800 0500 c0000201 // rtnexthop len 16, weight 1, oif 3, via 192.0.2.1
				  1000 00 03 00000000 0800 0500 c0000202 // rtnexthop weight 4, via 192.0.2.2`,
		},
		{
			name: "replace ipv6 blackhole",
			op: Op{Kind: Replace, Protocol: 77, Route: Route{
				Prefix: netip.MustParsePrefix("2001:db8::/32"), Type: Blackhole, Table: 254, Metric: 1024,
			}},
			seq: 2,
			want: `
				40000000 1800 0505 02000000 00000000
				0a 20 00 00 fe 4d 00 06 00000000     // AF_INET6 /32, blackhole
				0800 0f00 fe000000
				1400 0100 20010db8000000000000000000000000 // RTA_DST
				0800 0600 00040000                   // RTA_PRIORITY 1024`,
		},
		{
			name: "replace connected route out of a link",
			op: Op{Kind: Replace, Protocol: 77, Route: Route{
				Prefix: netip.MustParsePrefix("192.0.2.0/24"), Table: 254,
				NextHops: []NextHop{{LinkIndex: 5, Weight: 1}},
			}},
			seq: 3,
			want: `
				3c000000 1800 0505 03000000 00000000
				02 18 00 00 fe 4d fd 01 00000000     // scope link
				0800 0f00 fe000000
				0800 0100 c0000200
				0800 0600 00000000
				0800 0400 05000000                   // RTA_OIF 5`,
		},
		{
			name: "delete matches any scope, type and next hop",
			op: Op{Kind: Delete, Protocol: 77, Route: Route{
				Prefix: netip.MustParsePrefix("10.0.1.0/24"), Table: 254,
				NextHops: []NextHop{{Gateway: netip.MustParseAddr("192.0.2.1"), Weight: 1}},
			}},
			seq: 4,
			want: `
				34000000 1900 0500 04000000 00000000 // RTM_DELROUTE, REQUEST|ACK
				02 18 00 00 fe 4d ff 00 00000000     // scope nowhere, type unspec
				0800 0f00 fe000000
				0800 0100 0a000100
				0800 0600 00000000`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prefix := []byte{0xaa, 0xbb}
			got := appendRouteMsg(bytes.Clone(prefix), tt.op, tt.seq)
			if !bytes.Equal(got[:2], prefix) {
				t.Fatalf("appendRouteMsg overwrote the bytes before it")
			}
			if want := unhex(t, tt.want); !bytes.Equal(got[2:], want) {
				t.Errorf("appendRouteMsg:\n got %x\nwant %x", got[2:], want)
			}
		})
	}
}

// ackMsg builds an NLMSG_ERROR as the kernel sends it with NETLINK_CAP_ACK
// and NETLINK_EXT_ACK.
func ackMsg(seq uint32, errno syscall.Errno, msg string) []byte {
	var tlv []byte
	flags := uint16(nlmFCapped)
	if msg != "" {
		flags |= nlmFAckTLVs
		tlv = appendAttr(nil, nlmsgerrAttrMsg, append([]byte(msg), 0))
	}
	b := ne.AppendUint32(nil, uint32(nlmsgHdrLen+4+nlmsgHdrLen+len(tlv)))
	b = ne.AppendUint16(b, nlmsgError)
	b = ne.AppendUint16(b, flags)
	b = ne.AppendUint32(b, seq)
	b = ne.AppendUint32(b, 1234)
	b = ne.AppendUint32(b, negErrno(errno))
	// The request's header.
	b = ne.AppendUint32(b, 60)
	b = ne.AppendUint16(b, rtmNewRoute)
	b = ne.AppendUint16(b, nlmFRequest|nlmFAck)
	b = ne.AppendUint32(b, seq)
	b = ne.AppendUint32(b, 0)
	return append(b, tlv...)
}

func TestParseAcks(t *testing.T) {
	uncapped := ackMsg(9, syscall.EINVAL, "")
	// Without NETLINK_CAP_ACK the request is echoed: header len 20 with 4
	// payload bytes, then the TLVs.
	{
		tlv := appendAttr(nil, nlmsgerrAttrMsg, []byte("bad\x00"))
		uncapped = ne.AppendUint32(nil, uint32(nlmsgHdrLen+4+20+len(tlv)))
		uncapped = ne.AppendUint16(uncapped, nlmsgError)
		uncapped = ne.AppendUint16(uncapped, nlmFAckTLVs)
		uncapped = ne.AppendUint32(uncapped, 9)
		uncapped = ne.AppendUint32(uncapped, 0)
		uncapped = ne.AppendUint32(uncapped, negErrno(syscall.EINVAL))
		uncapped = ne.AppendUint32(uncapped, 20)
		uncapped = append(uncapped, make([]byte, 16)...)
		uncapped = append(uncapped, tlv...)
	}
	done := ne.AppendUint32(nil, 20)
	done = ne.AppendUint16(done, nlmsgDone)
	done = append(done, make([]byte, 14)...)

	tests := []struct {
		name    string
		in      []byte
		want    []ack
		wantErr bool
	}{
		{"success", ackMsg(1, 0, ""), []ack{{Seq: 1}}, false},
		{"error with message", ackMsg(2, syscall.ENETUNREACH, "Nexthop has invalid gateway"), []ack{{Seq: 2, Errno: syscall.ENETUNREACH, Msg: "Nexthop has invalid gateway"}}, false},
		{"several, done skipped", append(append(ackMsg(3, 0, ""), done...), ackMsg(4, syscall.ESRCH, "")...), []ack{{Seq: 3}, {Seq: 4, Errno: syscall.ESRCH}}, false},
		{"uncapped echo", uncapped, []ack{{Seq: 9, Errno: syscall.EINVAL, Msg: "bad"}}, false},
		{"empty", nil, nil, false},
		{"short header", []byte{1, 2, 3}, nil, true},
		{"length past end", ackMsg(5, 0, "")[:30], nil, true},
		{"length below header", append([]byte{8, 0, 0, 0}, make([]byte, 12)...), nil, true},
		{"error body too short", append(ne.AppendUint32(nil, 20), append([]byte{2, 0, 0, 0}, make([]byte, 12)...)...), nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []ack
			err := parseAcks(tt.in, func(a ack) { got = append(got, a) })
			if (err != nil) != tt.wantErr {
				t.Fatalf("parseAcks error = %v, wantErr %v", err, tt.wantErr)
			}
			if tt.wantErr {
				return
			}
			if len(got) != len(tt.want) {
				t.Fatalf("parseAcks = %+v, want %+v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("ack %d = %+v, want %+v", i, got[i], tt.want[i])
				}
			}
		})
	}
}

func FuzzParseAcks(f *testing.F) {
	f.Add(ackMsg(1, 0, ""))
	f.Add(ackMsg(2, syscall.ENETUNREACH, "Nexthop has invalid gateway"))
	f.Add(append(ackMsg(3, 0, ""), ackMsg(4, syscall.ESRCH, "x")...))
	f.Fuzz(func(t *testing.T, b []byte) {
		n := 0
		err := parseAcks(b, func(a ack) {
			n++
			if len(a.Msg) > len(b) {
				t.Fatalf("ack message longer than the input")
			}
		})
		if err == nil && n*(2*nlmsgHdrLen+4) > len(b) {
			t.Fatalf("%d acks from %d bytes", n, len(b))
		}
	})
}

// FuzzAppendRouteMsg checks that every encodable op produces a message
// whose framing parses: lengths add up and attributes stay inside it.
func FuzzAppendRouteMsg(f *testing.F) {
	f.Add([]byte{10, 0, 1, 0}, uint8(24), uint8(0), uint8(2), uint32(254), uint32(20), uint8(1), false)
	f.Add([]byte{0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, uint8(32), uint8(1), uint8(0), uint32(1000), uint32(1024), uint8(4), true)
	f.Fuzz(func(t *testing.T, a []byte, bits, typ, nhops uint8, table, metric uint32, w uint8, del bool) {
		ip, ok := netip.AddrFromSlice(a)
		if !ok {
			return
		}
		p, err := ip.Prefix(int(bits) % (ip.BitLen() + 1))
		if err != nil {
			return
		}
		r := Route{Prefix: p, Type: Type(typ % 3), Table: int(table), Metric: int(metric)}
		if r.Type == Unicast {
			for i := range int(nhops%8) + 1 {
				gw := ip.Next()
				for range i {
					gw = gw.Next()
				}
				r.NextHops = append(r.NextHops, NextHop{Gateway: gw, LinkIndex: i, Weight: int(w) + 1})
			}
		}
		op := Op{Kind: Replace, Route: r, Protocol: 77}
		if del {
			op.Kind = Delete
		}
		b := appendRouteMsg(nil, op, 1)
		if int(ne.Uint32(b)) != len(b) || len(b)%4 != 0 {
			t.Fatalf("nlmsg_len %d, encoded %d bytes", ne.Uint32(b), len(b))
		}
		attrs := b[nlmsgHdrLen+rtmsgLen:]
		for len(attrs) > 0 {
			l := int(ne.Uint16(attrs))
			if l < rtaHdrLen || (l+3)&^3 > len(attrs) {
				t.Fatalf("attribute length %d with %d bytes left", l, len(attrs))
			}
			attrs = attrs[(l+3)&^3:]
		}
	})
}

func negErrno(e syscall.Errno) uint32 {
	v := -int32(e)
	return uint32(v)
}
