package mrt

import (
	"bytes"
	"io"
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"github.com/kbgp/kbgp/internal/bgp/wire"
)

func testAttrs(nh netip.Addr, asns ...uint32) *wire.Attrs {
	a := &wire.Attrs{
		Origin:      wire.OriginIGP,
		ASPath:      []wire.ASPathSegment{{Type: wire.ASSequence, ASNs: asns}},
		LocalPref:   100,
		Communities: []wire.Community{65000<<16 | 1, wire.CommunityNoExport},
	}
	a.Set(wire.AttrOrigin)
	a.Set(wire.AttrASPath)
	a.Set(wire.AttrLocalPref)
	a.Set(wire.AttrCommunities)
	if nh.IsValid() {
		a.NextHop = nh
		a.Set(wire.AttrNextHop)
	}
	return a
}

// TestWriterRoundTrip writes a TABLE_DUMP_V2 dump and a BGP4MP(_ET) stream,
// reads them back, and checks records, wire decoding and `bgpdump -m` text.
func TestWriterRoundTrip(t *testing.T) {
	mustAddr := netip.MustParseAddr
	v4attrs, err := AppendRIBAttrs(nil, testAttrs(mustAddr("192.0.2.1"), 64512, 4200000000), netip.Addr{}, netip.Addr{})
	if err != nil {
		t.Fatal(err)
	}
	v6attrs, err := AppendRIBAttrs(nil, testAttrs(netip.Addr{}, 64513), mustAddr("2001:db8::1"), mustAddr("fe80::1"))
	if err != nil {
		t.Fatal(err)
	}
	pit := &PeerIndexTable{
		CollectorBGPID: mustAddr("10.0.0.1"),
		ViewName:       "kbgp",
		Peers: []Peer{
			{BGPID: mustAddr("10.0.0.2"), Addr: mustAddr("192.0.2.1"), AS: 64512},
			{BGPID: mustAddr("10.0.0.3"), Addr: mustAddr("2001:db8::1"), AS: 4200000000, AS4: true},
		},
	}
	ribs := []*RIB{
		{Sequence: 0, Prefix: netip.MustParsePrefix("198.51.100.0/24"), Entries: []RIBEntry{{PeerIndex: 0, OriginatedTime: 1700000000, Attrs: v4attrs}}},
		{Sequence: 1, Prefix: netip.MustParsePrefix("2001:db8:1::/48"), Entries: []RIBEntry{{PeerIndex: 1, OriginatedTime: 1700000001, Attrs: v6attrs}}},
		{Sequence: 2, Prefix: netip.MustParsePrefix("203.0.113.0/25"), Entries: []RIBEntry{
			{PeerIndex: 0, OriginatedTime: 1700000002, PathID: 7, Attrs: v4attrs},
			{PeerIndex: 0, OriginatedTime: 1700000003, PathID: 9, Attrs: v4attrs},
		}},
	}
	u := &wire.Update{Attrs: *testAttrs(mustAddr("192.0.2.1"), 64512, 4200000000)}
	u.NLRI = []wire.NLRI{{Prefix: netip.MustParsePrefix("198.51.100.0/24")}, {Prefix: netip.MustParsePrefix("198.51.101.0/24")}}
	u.Withdrawn = []wire.NLRI{{Prefix: netip.MustParsePrefix("10.1.0.0/16")}}
	msg, err := wire.AppendUpdate(nil, u, &wire.Options{AS4: true})
	if err != nil {
		t.Fatal(err)
	}
	mp := &BGP4MP{Subtype: SubtypeMessageAS4, PeerAS: 4200000000, LocalAS: 64500, PeerAddr: mustAddr("192.0.2.1"), LocalAddr: mustAddr("192.0.2.254"), Message: msg}
	state := &BGP4MP{Subtype: SubtypeStateChangeAS4, PeerAS: 4200000000, LocalAS: 64500, PeerAddr: mustAddr("2001:db8::2"), LocalAddr: mustAddr("2001:db8::fe"), OldState: 5, NewState: 6}

	var buf bytes.Buffer
	w := NewWriter(&buf)
	steps := []error{w.WritePeerIndexTable(1700000100, pit)}
	for _, r := range ribs {
		steps = append(steps, w.WriteRIB(1700000100, r))
	}
	steps = append(steps,
		w.WriteBGP4MP(1700000200, 0, false, mp),
		w.WriteBGP4MP(1700000201, 42, true, mp),
		w.WriteBGP4MP(1700000202, 0, false, state),
	)
	for i, err := range steps {
		if err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
	}

	r := NewReader(bytes.NewReader(buf.Bytes()))
	var (
		gotPIT PeerIndexTable
		gotRIB RIB
		gotMP  BGP4MP
		d      RouteDecoder
		gu     wire.Update
	)
	rec, err := r.Next()
	if err != nil || rec.PeerIndexTable(&gotPIT) != nil || !reflect.DeepEqual(&gotPIT, pit) {
		t.Fatalf("PEER_INDEX_TABLE: %v\n got  %+v\n want %+v", err, gotPIT, pit)
	}
	for i, want := range ribs {
		rec, err := r.Next()
		if err != nil {
			t.Fatal(err)
		}
		if err := rec.RIB(&gotRIB); err != nil {
			t.Fatal(err)
		}
		want.Subtype = gotRIB.Subtype
		if !reflect.DeepEqual(&gotRIB, want) {
			t.Errorf("RIB %d:\n got  %+v\n want %+v", i, gotRIB, *want)
		}
		if err := d.RIBEntry(&gu, &gotRIB, 0); err != nil {
			t.Fatalf("RIB %d entry 0: %v", i, err)
		}
		path := gu.Attrs.ASPath[0].ASNs
		switch {
		case want.Prefix.Addr().Is6():
			if gu.MPReach == nil || gu.MPReach.NextHop != mustAddr("2001:db8::1") || gu.MPReach.LinkLocal != mustAddr("fe80::1") ||
				len(gu.MPReach.NLRI) != 1 || gu.MPReach.NLRI[0].Prefix != want.Prefix {
				t.Errorf("RIB %d: MP_REACH %+v", i, gu.MPReach)
			}
		default:
			if gu.Attrs.NextHop != mustAddr("192.0.2.1") || len(gu.NLRI) != 1 || gu.NLRI[0].Prefix != want.Prefix ||
				gu.NLRI[0].PathID != want.Entries[0].PathID || path[len(path)-1] != 4200000000 {
				t.Errorf("RIB %d: decoded %+v", i, gu)
			}
		}
	}
	wantSub := []uint16{SubtypeRIBIPv4Unicast, SubtypeRIBIPv6Unicast, SubtypeRIBIPv4UnicastAddPath}
	for i, r := range ribs {
		if r.Subtype != wantSub[i] {
			t.Errorf("RIB %d written with subtype %d, want %d", i, r.Subtype, wantSub[i])
		}
	}
	for i, et := range []bool{false, true} {
		rec, err := r.Next()
		if err != nil {
			t.Fatal(err)
		}
		if (rec.Type == TypeBGP4MPET) != et || (et && rec.Microseconds != 42) {
			t.Errorf("message %d: type %v micros %d", i, rec.Type, rec.Microseconds)
		}
		if err := rec.BGP4MP(&gotMP); err != nil || !reflect.DeepEqual(&gotMP, mp) {
			t.Fatalf("message %d: %v\n got  %+v\n want %+v", i, err, gotMP, mp)
		}
		if err := d.Update(&gu, &gotMP); err != nil {
			t.Fatal(err)
		}
		if len(gu.NLRI) != 2 || len(gu.Withdrawn) != 1 || gu.Attrs.ASPath[0].ASNs[1] != 4200000000 {
			t.Errorf("message %d decoded as %+v", i, gu)
		}
	}
	rec, err = r.Next()
	if err != nil || rec.BGP4MP(&gotMP) != nil || !reflect.DeepEqual(&gotMP, state) {
		t.Fatalf("state change: %v %+v", err, gotMP)
	}
	if _, err := r.Next(); err != io.EOF {
		t.Fatalf("after the last record: %v, want io.EOF", err)
	}

	var out bytes.Buffer
	if err := WriteBGPDump(&out, bytes.NewReader(buf.Bytes()), func(err error) { t.Error(err) }); err != nil {
		t.Fatal(err)
	}
	want := strings.Join([]string{
		"TABLE_DUMP2|1700000100|B|192.0.2.1|64512|198.51.100.0/24|64512 4200000000|IGP|192.0.2.1|100|0|65000:1 no-export|NAG||",
		"TABLE_DUMP2|1700000100|B|2001:db8::1|4200000000|2001:db8:1::/48|64513|IGP|2001:db8::1|100|0|65000:1 no-export|NAG||",
		"TABLE_DUMP2_AP|1700000100|B|192.0.2.1|64512|203.0.113.0/25|7|64512 4200000000|IGP|192.0.2.1|100|0|65000:1 no-export|NAG||",
		"TABLE_DUMP2_AP|1700000100|B|192.0.2.1|64512|203.0.113.0/25|9|64512 4200000000|IGP|192.0.2.1|100|0|65000:1 no-export|NAG||",
		"BGP4MP|1700000200|W|192.0.2.1|4200000000|10.1.0.0/16",
		"BGP4MP|1700000200|A|192.0.2.1|4200000000|198.51.100.0/24|64512 4200000000|IGP|192.0.2.1|100|0|65000:1 no-export|NAG||",
		"BGP4MP|1700000200|A|192.0.2.1|4200000000|198.51.101.0/24|64512 4200000000|IGP|192.0.2.1|100|0|65000:1 no-export|NAG||",
		"BGP4MP_ET|1700000201.000042|W|192.0.2.1|4200000000|10.1.0.0/16",
		"BGP4MP_ET|1700000201.000042|A|192.0.2.1|4200000000|198.51.100.0/24|64512 4200000000|IGP|192.0.2.1|100|0|65000:1 no-export|NAG||",
		"BGP4MP_ET|1700000201.000042|A|192.0.2.1|4200000000|198.51.101.0/24|64512 4200000000|IGP|192.0.2.1|100|0|65000:1 no-export|NAG||",
		"BGP4MP|1700000202|STATE|2001:db8::2|4200000000|5|6",
	}, "\n") + "\n"
	if out.String() != want {
		t.Errorf("bgpdump text:\n%s\nwant:\n%s", out.String(), want)
	}
}

func TestWriterErrors(t *testing.T) {
	a4, a6 := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("2001:db8::1")
	cases := []struct {
		name  string
		write func(w *Writer) error
		want  string
	}{
		{"collector ID not IPv4", func(w *Writer) error {
			return w.WritePeerIndexTable(0, &PeerIndexTable{CollectorBGPID: a6})
		}, "collector BGP ID"},
		{"peer without address", func(w *Writer) error {
			return w.WritePeerIndexTable(0, &PeerIndexTable{CollectorBGPID: a4, Peers: []Peer{{BGPID: a4}}})
		}, "peer 0"},
		{"invalid prefix", func(w *Writer) error { return w.WriteRIB(0, &RIB{}) }, "not valid"},
		{"subtype family mismatch", func(w *Writer) error {
			return w.WriteRIB(0, &RIB{Subtype: SubtypeRIBIPv6Unicast, Prefix: netip.MustParsePrefix("10.0.0.0/8")})
		}, "IPv6 but the prefix"},
		{"path ID without ADD-PATH", func(w *Writer) error {
			return w.WriteRIB(0, &RIB{Subtype: SubtypeRIBIPv4Unicast, Prefix: netip.MustParsePrefix("10.0.0.0/8"), Entries: []RIBEntry{{PathID: 1}}})
		}, "no ADD-PATH"},
		{"4-octet AS in 2-octet subtype", func(w *Writer) error {
			return w.WriteBGP4MP(0, 0, false, &BGP4MP{Subtype: SubtypeMessage, PeerAS: 70000, PeerAddr: a4, LocalAddr: a4})
		}, "_AS4 subtype"},
		{"mixed families", func(w *Writer) error {
			return w.WriteBGP4MP(0, 0, false, &BGP4MP{Subtype: SubtypeMessageAS4, PeerAddr: a4, LocalAddr: a6})
		}, "one family"},
		{"deprecated subtype", func(w *Writer) error {
			return w.WriteBGP4MP(0, 0, false, &BGP4MP{Subtype: SubtypeEntry, PeerAddr: a4, LocalAddr: a4})
		}, "cannot write"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			err := tc.write(NewWriter(&buf))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
			if buf.Len() != 0 {
				t.Errorf("%d bytes written despite the error", buf.Len())
			}
		})
	}
}

// TestLargeRecord round-trips a RIB record longer than 64 KiB (the MRT length
// field is 32 bits, RFC 6396 §2), through the Reader's buffer growth.
func TestLargeRecord(t *testing.T) {
	attrs, err := AppendRIBAttrs(nil, testAttrs(netip.MustParseAddr("192.0.2.1"), 64512), netip.Addr{}, netip.Addr{})
	if err != nil {
		t.Fatal(err)
	}
	rib := &RIB{Prefix: netip.MustParsePrefix("10.0.0.0/8")}
	for i := range 3000 {
		rib.Entries = append(rib.Entries, RIBEntry{PeerIndex: uint16(i), OriginatedTime: uint32(i), Attrs: attrs})
	}
	var buf bytes.Buffer
	w := NewWriter(&buf)
	for range 2 {
		if err := w.WriteRIB(1, rib); err != nil {
			t.Fatal(err)
		}
	}
	if buf.Len() < 2*(1<<16) {
		t.Fatalf("records are only %d bytes", buf.Len())
	}
	r := NewReader(&buf)
	var got RIB
	for i := range 2 {
		rec, err := r.Next()
		if err != nil {
			t.Fatal(err)
		}
		if len(rec.Body) <= 1<<16 {
			t.Fatalf("record %d body is %d bytes", i, len(rec.Body))
		}
		if err := rec.RIB(&got); err != nil || len(got.Entries) != 3000 || got.Entries[2999].PeerIndex != 2999 {
			t.Fatalf("record %d: %v, %d entries", i, err, len(got.Entries))
		}
	}
	if _, err := r.Next(); err != io.EOF {
		t.Fatalf("got %v, want io.EOF", err)
	}
}
