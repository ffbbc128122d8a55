package wire

import (
	"net/netip"
	"testing"
)

// update1000 is an UPDATE with 1,000 IPv4 /24s and typical attributes.
func update1000() *Update {
	u := &Update{Attrs: baseAttrs()}
	u.Attrs.MED = 10
	u.Attrs.Set(AttrMED)
	u.Attrs.Communities = []Community{65001<<16 | 100, CommunityNoExport}
	u.Attrs.Set(AttrCommunities)
	for i := range 1000 {
		u.NLRI = append(u.NLRI, NLRI{Prefix: netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i >> 8), byte(i), 0}), 24)})
	}
	return u
}

var extOpts = &Options{AS4: true, ExtendedMessage: true}

func TestDecodeAllocs(t *testing.T) {
	msg, err := AppendUpdate(nil, update1000(), extOpts)
	if err != nil {
		t.Fatal(err)
	}
	b := msg[HeaderLen:]
	var u Update
	if err := u.Decode(b, extOpts); err != nil { // warm-up grows u's slices
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(100, func() {
		if err := u.Decode(b, extOpts); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("Decode of 1,000 prefixes into a reused Update: %v allocs, want 0", allocs)
	}
	if len(u.NLRI) != 1000 {
		t.Fatalf("decoded %d prefixes", len(u.NLRI))
	}
	// IPv6 MP_REACH and a 2-octet session with an AS4_PATH merge, too.
	u6 := genUpdateAll()
	o2 := &Options{ExtendedMessage: true}
	msg6, err := AppendUpdate(nil, u6, o2)
	if err != nil {
		t.Fatal(err)
	}
	b6 := msg6[HeaderLen:]
	if err := u.Decode(b6, o2); err != nil {
		t.Fatal(err)
	}
	if err := u.Decode(b6, o2); err != nil {
		t.Fatal(err)
	}
	allocs = testing.AllocsPerRun(100, func() {
		if err := u.Decode(b6, o2); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("Decode of an MP/AS4 UPDATE into a reused Update: %v allocs, want 0", allocs)
	}
}

// genUpdateAll has every attribute, MP_REACH and MP_UNREACH, and 4-octet
// ASNs (so a 2-octet session carries AS4_PATH and AS4_AGGREGATOR).
func genUpdateAll() *Update {
	u := update1000()
	u.NLRI = u.NLRI[:10]
	a := &u.Attrs
	a.ASPath = []ASPathSegment{{Type: ASSequence, ASNs: []uint32{65001, 4200000000, 65002}}, {Type: ASSet, ASNs: []uint32{4200000001, 7}}}
	a.LocalPref = 100
	a.Set(AttrLocalPref)
	a.Set(AttrAtomicAggregate)
	a.Aggregator = Aggregator{AS: 4200000002, Addr: netip.MustParseAddr("192.0.2.9")}
	a.Set(AttrAggregator)
	a.OriginatorID = netip.MustParseAddr("192.0.2.10")
	a.Set(AttrOriginatorID)
	a.ClusterList = []netip.Addr{netip.MustParseAddr("192.0.2.11")}
	a.Set(AttrClusterList)
	a.ExtCommunities = []ExtCommunity{{0, 2, 0xfd, 0xe9, 0, 0, 0, 1}}
	a.Set(AttrExtCommunities)
	a.LargeCommunities = []LargeCommunity{{4200000000, 1, 2}}
	a.Set(AttrLargeCommunities)
	a.Unknown = []RawAttr{{Flags: 0xe0, Type: 99, Value: []byte{1, 2, 3}}}
	a.Set(99)
	u.MPReach = &MPReach{Family: IPv6Unicast, NextHop: netip.MustParseAddr("2001:db8::1"), LinkLocal: netip.MustParseAddr("fe80::1"),
		NLRI: []NLRI{{Prefix: netip.MustParsePrefix("2001:db8:1::/48")}, {Prefix: netip.MustParsePrefix("2001:db8:2::/48")}}}
	u.MPUnreach = &MPUnreach{Family: IPv6Unicast, NLRI: []NLRI{{Prefix: netip.MustParsePrefix("2001:db8:3::/48")}}}
	return u
}

func TestAppendAllocs(t *testing.T) {
	u := update1000()
	buf := make([]byte, 0, 8192)
	allocs := testing.AllocsPerRun(100, func() {
		var err error
		if buf, err = AppendUpdate(buf[:0], u, extOpts); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("AppendUpdate into a buffer with capacity: %v allocs, want 0", allocs)
	}
	all := genUpdateAll()
	o2 := &Options{ExtendedMessage: true}
	allocs = testing.AllocsPerRun(100, func() {
		var err error
		if buf, err = AppendUpdate(buf[:0], all, o2); err != nil {
			t.Fatal(err)
		}
		buf = AppendKeepalive(buf)
		buf = AppendEndOfRIB(buf, IPv6Unicast)
		buf = AppendRouteRefresh(buf, &RouteRefresh{Family: IPv4Unicast})
	})
	if allocs != 0 {
		t.Fatalf("AppendUpdate (all attributes, 2-octet session) and friends: %v allocs, want 0", allocs)
	}
	m := Open{Version: 4, MyAS: 1, HoldTime: 90, BGPID: netip.MustParseAddr("1.2.3.4"), Caps: fullCaps()}
	allocs = testing.AllocsPerRun(100, func() {
		var err error
		if buf, err = AppendOpen(buf[:0], &m); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("AppendOpen: %v allocs, want 0", allocs)
	}
}

func BenchmarkDecodeUpdate1000(b *testing.B) {
	msg, err := AppendUpdate(nil, update1000(), extOpts)
	if err != nil {
		b.Fatal(err)
	}
	body := msg[HeaderLen:]
	var u Update
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if err := u.Decode(body, extOpts); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)*1000/b.Elapsed().Seconds(), "prefixes/s")
}

// BenchmarkDecodeUpdateTable decodes an UPDATE shaped like most of a
// full table's: ORIGIN, a 5-AS AS_PATH, NEXT_HOP, MED, LOCAL_PREF, two
// communities and 3 prefixes, so that the attributes, not the NLRI, are
// most of the work.
func BenchmarkDecodeUpdateTable(b *testing.B) {
	var u Update
	a := &u.Attrs
	a.Origin = OriginIGP
	a.ASPath = []ASPathSegment{{Type: ASSequence, ASNs: []uint32{3356, 1299, 174, 6939, 64500}}}
	a.NextHop = netip.MustParseAddr("10.100.0.2")
	a.MED, a.LocalPref = 10, 100
	a.Communities = []Community{3356<<16 | 100, 3356<<16 | 2001}
	for _, t := range []AttrType{AttrOrigin, AttrASPath, AttrNextHop, AttrMED, AttrLocalPref, AttrCommunities} {
		a.Set(t)
	}
	for _, p := range []string{"1.0.4.0/24", "1.0.5.0/24", "1.0.6.0/23"} {
		u.NLRI = append(u.NLRI, NLRI{Prefix: netip.MustParsePrefix(p)})
	}
	opts := &Options{AS4: true}
	msg, err := AppendUpdate(nil, &u, opts)
	if err != nil {
		b.Fatal(err)
	}
	body := msg[HeaderLen:]
	var d Update
	b.ReportAllocs()
	for b.Loop() {
		if err := d.Decode(body, opts); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendUpdate1000(b *testing.B) {
	u := update1000()
	buf := make([]byte, 0, 8192)
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if buf, err = AppendUpdate(buf[:0], u, extOpts); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(len(buf)))
	b.ReportMetric(float64(b.N)*1000/b.Elapsed().Seconds(), "prefixes/s")
}

// TestSplitAllocs: framing runs on every received message, so a valid
// header must parse without allocating.
func TestSplitAllocs(t *testing.T) {
	stream := AppendKeepalive(nil)
	stream = AppendEndOfRIB(stream, IPv4Unicast)
	allocs := testing.AllocsPerRun(100, func() {
		rest := stream
		for len(rest) > 0 {
			msg, r, ok, err := Split(rest, MaxMessageLen)
			if err != nil || !ok || len(msg) == 0 {
				t.Fatalf("Split: %v %v", ok, err)
			}
			rest = r
		}
	})
	if allocs != 0 {
		t.Fatalf("Split of two messages: %v allocs, want 0", allocs)
	}
}

// TestDecodeFreshNLRISized: decoding into a fresh Update sizes its NLRI
// list once for all the prefixes (growing it by appends left a list of
// capacity 32 for 21 prefixes, after five reallocations).
func TestDecodeFreshNLRISized(t *testing.T) {
	u := &Update{Attrs: baseAttrs()}
	for i := range 21 {
		u.NLRI = append(u.NLRI, NLRI{Prefix: netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 0, 0, byte(i)}), 32)})
	}
	o := &Options{AS4: true}
	msg, err := AppendUpdate(nil, u, o)
	if err != nil {
		t.Fatal(err)
	}
	var d Update
	if err := d.Decode(msg[HeaderLen:], o); err != nil {
		t.Fatal(err)
	}
	// The allocator rounds 21 NLRI up to its size class (22).
	if len(d.NLRI) != 21 || cap(d.NLRI) > 24 {
		t.Errorf("decoded %d prefixes into a list of capacity %d, want 21 in a list sized for them", len(d.NLRI), cap(d.NLRI))
	}
}

// TestNLRICapTrim: NLRICap counts every list a reused Update keeps, the
// spare MP lists too, and TrimNLRI drops the ones grown past its bound
// and empties the rest.
func TestNLRICapTrim(t *testing.T) {
	u := &Update{
		NLRI:      make([]NLRI, 3, 10),
		Withdrawn: make([]NLRI, 0, 2000),
		MPReach:   &MPReach{NLRI: make([]NLRI, 1, 5)},
	}
	u.spareUnreach = &MPUnreach{NLRI: make([]NLRI, 0, 3000)}
	if got := u.NLRICap(); got != 10+2000+5+3000 {
		t.Fatalf("NLRICap %d, want %d", got, 10+2000+5+3000)
	}
	u.TrimNLRI(1024)
	if got := u.NLRICap(); got != 10+5 {
		t.Errorf("after TrimNLRI(1024): NLRICap %d, want 15", got)
	}
	if len(u.NLRI) != 0 || len(u.MPReach.NLRI) != 0 {
		t.Errorf("kept lists not emptied: %d and %d", len(u.NLRI), len(u.MPReach.NLRI))
	}
	// A decode after reset reuses the spare MP_REACH, whose list counts.
	u.reset()
	if got := u.NLRICap(); got != 15 {
		t.Errorf("after reset: NLRICap %d, want 15 (the MP_REACH list moved to the spare)", got)
	}
}
