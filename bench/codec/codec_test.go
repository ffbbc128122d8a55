package codec

import (
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	gobgp "github.com/osrg/gobgp/v4/pkg/packet/bgp"

	"github.com/kbgp/kbgp/internal/bgp/wire"
	"github.com/kbgp/kbgp/internal/mrt"
)

// tableFile is the PCH full-table UPDATE stream: 89,679 UPDATEs announcing
// 577,706 IPv4 prefixes on one 4-octet-AS iBGP session.
const tableFile = "bgpdump__updates.et-header.2015.gz"

type table struct {
	msgs     [][]byte // complete BGP UPDATE messages
	prefixes int      // NLRI + withdrawn routes over all messages
}

var loaded *table

func loadTable(b *testing.B) *table {
	b.Helper()
	if loaded != nil {
		return loaded
	}
	path := filepath.Join("..", "..", "..", "shared", "testdata", "mrt", tableFile)
	f, err := os.Open(path)
	if err != nil {
		b.Skipf("shared test data not present (%v); clone ../shared beside the repo", err)
	}
	defer f.Close()
	t := &table{}
	r := mrt.NewReader(f)
	var (
		m mrt.BGP4MP
		d mrt.RouteDecoder
		u wire.Update
	)
	for {
		rec, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			b.Fatal(err)
		}
		if rec.BGP4MP(&m) != nil || m.IsStateChange() {
			continue
		}
		if typ, err := m.MessageType(); err != nil || typ != wire.MsgUpdate {
			continue
		}
		_ = d.Update(&u, &m) // counts only; errors are RFC 7606 actions
		t.prefixes += len(u.NLRI) + len(u.Withdrawn)
		t.msgs = append(t.msgs, append([]byte(nil), m.Message...))
	}
	if len(t.msgs) != 89679 {
		b.Fatalf("loaded %d UPDATEs from %s, want 89679", len(t.msgs), tableFile)
	}
	loaded = t
	return t
}

var (
	kbgpOpts  = &wire.Options{AS4: true, ExtendedMessage: true}
	gobgpOpts = &gobgp.MarshallingOption{ExtendedMessage: true}
)

// bigUpdate returns one UPDATE announcing 1,000 /24s (an RFC 8654 extended
// message) as kbgp and GoBGP values and as bytes.
func bigUpdate(b *testing.B) (*wire.Update, *gobgp.BGPMessage, []byte) {
	b.Helper()
	u := &wire.Update{}
	a := &u.Attrs
	a.Origin = wire.OriginIGP
	a.ASPath = []wire.ASPathSegment{{Type: wire.ASSequence, ASNs: []uint32{64512, 3356, 174, 4200000000}}}
	a.NextHop = netip.MustParseAddr("192.0.2.1")
	a.MED = 10
	a.LocalPref = 100
	a.Communities = []wire.Community{3356<<16 | 100, 174<<16 | 21000}
	for _, t := range []wire.AttrType{wire.AttrOrigin, wire.AttrASPath, wire.AttrNextHop, wire.AttrMED, wire.AttrLocalPref, wire.AttrCommunities} {
		a.Set(t)
	}
	var nlri []gobgp.PathNLRI
	for i := range 1000 {
		p := netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i >> 8), byte(i), 0}), 24)
		u.NLRI = append(u.NLRI, wire.NLRI{Prefix: p})
		gp, err := gobgp.NewIPAddrPrefix(p)
		if err != nil {
			b.Fatal(err)
		}
		nlri = append(nlri, gobgp.PathNLRI{NLRI: gp})
	}
	msg, err := wire.AppendUpdate(nil, u, kbgpOpts)
	if err != nil {
		b.Fatal(err)
	}
	nh, err := gobgp.NewPathAttributeNextHop(a.NextHop)
	if err != nil {
		b.Fatal(err)
	}
	gm := gobgp.NewBGPUpdateMessage(nil, []gobgp.PathAttributeInterface{
		gobgp.NewPathAttributeOrigin(0),
		gobgp.NewPathAttributeAsPath([]gobgp.AsPathParamInterface{gobgp.NewAs4PathParam(gobgp.BGP_ASPATH_ATTR_TYPE_SEQ, a.ASPath[0].ASNs)}),
		nh,
		gobgp.NewPathAttributeMultiExitDisc(10),
		gobgp.NewPathAttributeLocalPref(100),
		gobgp.NewPathAttributeCommunities([]uint32{3356<<16 | 100, 174<<16 | 21000}),
	}, nlri)
	gmsg, err := gm.Serialize(gobgpOpts)
	if err != nil {
		b.Fatal(err)
	}
	if len(gmsg) != len(msg) {
		b.Fatalf("kbgp encodes %d bytes, GoBGP %d", len(msg), len(gmsg))
	}
	return u, gm, msg
}

func reportPrefixes(b *testing.B, perOp int) {
	b.ReportMetric(float64(perOp)*float64(b.N)/b.Elapsed().Seconds(), "prefixes/s")
}

func BenchmarkDecodeUpdate1000(b *testing.B) {
	_, _, msg := bigUpdate(b)
	b.Run("kbgp", func(b *testing.B) {
		var u wire.Update
		b.SetBytes(int64(len(msg)))
		b.ReportAllocs()
		for b.Loop() {
			if err := u.Decode(msg[wire.HeaderLen:], kbgpOpts); err != nil {
				b.Fatal(err)
			}
		}
		if len(u.NLRI) != 1000 {
			b.Fatalf("%d NLRI", len(u.NLRI))
		}
		reportPrefixes(b, 1000)
	})
	b.Run("gobgp", func(b *testing.B) {
		b.SetBytes(int64(len(msg)))
		b.ReportAllocs()
		var m *gobgp.BGPMessage
		for b.Loop() {
			var err error
			if m, err = gobgp.ParseBGPMessage(msg, gobgpOpts); err != nil {
				b.Fatal(err)
			}
		}
		if n := len(m.Body.(*gobgp.BGPUpdate).NLRI); n != 1000 {
			b.Fatalf("%d NLRI", n)
		}
		reportPrefixes(b, 1000)
	})
}

func BenchmarkEncodeUpdate1000(b *testing.B) {
	u, gm, msg := bigUpdate(b)
	b.Run("kbgp", func(b *testing.B) {
		buf := make([]byte, 0, len(msg))
		b.SetBytes(int64(len(msg)))
		b.ReportAllocs()
		for b.Loop() {
			var err error
			if buf, err = wire.AppendUpdate(buf[:0], u, kbgpOpts); err != nil {
				b.Fatal(err)
			}
		}
		reportPrefixes(b, 1000)
	})
	b.Run("gobgp", func(b *testing.B) {
		b.SetBytes(int64(len(msg)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := gm.Serialize(gobgpOpts); err != nil {
				b.Fatal(err)
			}
		}
		reportPrefixes(b, 1000)
	})
}

func BenchmarkDecodeTable(b *testing.B) {
	t := loadTable(b)
	b.Run("kbgp", func(b *testing.B) {
		var u wire.Update
		b.ReportAllocs()
		for b.Loop() {
			for _, m := range t.msgs {
				_ = u.Decode(m[wire.HeaderLen:], kbgpOpts) // RFC 7606 outcomes are results, not failures
			}
		}
		reportPrefixes(b, t.prefixes)
	})
	b.Run("gobgp", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			for _, m := range t.msgs {
				if _, err := gobgp.ParseBGPMessage(m, gobgpOpts); err != nil {
					b.Fatal(err)
				}
			}
		}
		reportPrefixes(b, t.prefixes)
	})
}

func BenchmarkEncodeTable(b *testing.B) {
	t := loadTable(b)
	kb := make([]*wire.Update, len(t.msgs))
	gb := make([]*gobgp.BGPMessage, len(t.msgs))
	for i, m := range t.msgs {
		var u wire.Update
		_ = u.Decode(m[wire.HeaderLen:], kbgpOpts)
		kb[i] = u.Clone()
		g, err := gobgp.ParseBGPMessage(m, gobgpOpts)
		if err != nil {
			b.Fatal(err)
		}
		gb[i] = g
	}
	b.Run("kbgp", func(b *testing.B) {
		buf := make([]byte, 0, 8192)
		b.ReportAllocs()
		for b.Loop() {
			for _, u := range kb {
				var err error
				if buf, err = wire.AppendUpdate(buf[:0], u, kbgpOpts); err != nil {
					b.Fatal(err)
				}
			}
		}
		reportPrefixes(b, t.prefixes)
	})
	b.Run("gobgp", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			for _, g := range gb {
				if _, err := g.Serialize(gobgpOpts); err != nil {
					b.Fatal(err)
				}
			}
		}
		reportPrefixes(b, t.prefixes)
	})
}

// TestSameDecode checks that both decoders see the same prefixes in every
// UPDATE of the table, so the benchmarks compare equal work.
func TestSameDecode(t *testing.T) {
	path := filepath.Join("..", "..", "..", "shared", "testdata", "mrt", tableFile)
	if _, err := os.Stat(path); err != nil {
		t.Skipf("shared test data not present: %v", err)
	}
	tb := loadTableT(t, path)
	var u wire.Update
	for i, m := range tb {
		_ = u.Decode(m[wire.HeaderLen:], kbgpOpts)
		g, err := gobgp.ParseBGPMessage(m, gobgpOpts)
		if err != nil {
			t.Fatalf("UPDATE %d: GoBGP: %v", i, err)
		}
		gu := g.Body.(*gobgp.BGPUpdate)
		if len(gu.NLRI) != len(u.NLRI) || len(gu.WithdrawnRoutes) != len(u.Withdrawn) {
			t.Fatalf("UPDATE %d: kbgp %d/%d NLRI/withdrawn, GoBGP %d/%d", i, len(u.NLRI), len(u.Withdrawn), len(gu.NLRI), len(gu.WithdrawnRoutes))
		}
		for j, n := range gu.NLRI {
			if n.NLRI.String() != u.NLRI[j].Prefix.String() {
				t.Fatalf("UPDATE %d NLRI %d: kbgp %v, GoBGP %v", i, j, u.NLRI[j].Prefix, n.NLRI)
			}
		}
	}
}

func loadTableT(t *testing.T, path string) [][]byte {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out [][]byte
	r := mrt.NewReader(f)
	var m mrt.BGP4MP
	for {
		rec, err := r.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		if rec.BGP4MP(&m) != nil || m.IsStateChange() {
			continue
		}
		if typ, err := m.MessageType(); err == nil && typ == wire.MsgUpdate {
			out = append(out, append([]byte(nil), m.Message...))
		}
	}
}
