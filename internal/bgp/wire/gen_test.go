package wire

import (
	"bytes"
	"math/rand/v2"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// genPrefix returns a random masked prefix of family afi.
func genPrefix(r *rand.Rand, afi AFI) netip.Prefix {
	if afi == AFIIPv6 {
		var a [16]byte
		for i := range a {
			a[i] = byte(r.IntN(256))
		}
		return netip.PrefixFrom(netip.AddrFrom16(a), r.IntN(129)).Masked()
	}
	var a [4]byte
	for i := range a {
		a[i] = byte(r.IntN(256))
	}
	return netip.PrefixFrom(netip.AddrFrom4(a), r.IntN(33)).Masked()
}

func genNLRI(r *rand.Rand, afi AFI, n int, addPath bool) []NLRI {
	var out []NLRI
	for range n {
		x := NLRI{Prefix: genPrefix(r, afi)}
		if addPath {
			x.PathID = r.Uint32()
		}
		out = append(out, x)
	}
	return out
}

func genASN(r *rand.Rand) uint32 {
	switch r.IntN(3) {
	case 0:
		return 1 + r.Uint32N(65535)
	case 1:
		return 65536 + r.Uint32N(1<<31)
	}
	return 64512 + r.Uint32N(1023)
}

func genHost4(r *rand.Rand) netip.Addr {
	return netip.AddrFrom4([4]byte{byte(1 + r.IntN(126)), byte(r.IntN(256)), byte(r.IntN(256)), byte(1 + r.IntN(254))})
}

// genUpdate returns a random valid UPDATE for options o.
func genUpdate(r *rand.Rand, o *Options) *Update {
	u := &Update{}
	a := &u.Attrs
	v4ap, v6ap := o.addPath(IPv4Unicast), o.addPath(IPv6Unicast)
	if r.IntN(3) == 0 {
		u.Withdrawn = genNLRI(r, AFIIPv4, r.IntN(8), v4ap)
	}
	if r.IntN(2) == 0 {
		u.NLRI = genNLRI(r, AFIIPv4, 1+r.IntN(20), v4ap)
	}
	if r.IntN(3) == 0 {
		m := &MPReach{Family: IPv6Unicast, NextHop: netip.MustParseAddr("2001:db8::1"), NLRI: genNLRI(r, AFIIPv6, 1+r.IntN(10), v6ap)}
		switch r.IntN(3) {
		case 0:
			m.LinkLocal = netip.MustParseAddr("fe80::1")
		case 1:
			m.Family, m.NLRI = IPv4Unicast, genNLRI(r, AFIIPv4, 1+r.IntN(10), v4ap) // RFC 8950
		}
		u.MPReach = m
	}
	if r.IntN(3) == 0 {
		u.MPUnreach = &MPUnreach{Family: IPv6Unicast, NLRI: genNLRI(r, AFIIPv6, r.IntN(10), v6ap)}
	}
	reach := len(u.NLRI) > 0 || u.MPReach != nil
	if reach || r.IntN(2) == 0 {
		a.Origin = Origin(r.IntN(3))
		a.Set(AttrOrigin)
		if r.IntN(4) == 0 {
			// Confederation member ASNs cannot travel in AS4_PATH (RFC 6793
			// §3), so a 2-octet session only carries 2-octet ones.
			as := genASN(r)
			if !o.AS4 {
				as = 64512 + as%1000
			}
			a.ASPath = append(a.ASPath, ASPathSegment{Type: ASConfedSequence + uint8(r.IntN(2)), ASNs: []uint32{as}})
		}
		for range r.IntN(4) {
			s := ASPathSegment{Type: ASSequence}
			if r.IntN(4) == 0 {
				s.Type = ASSet
			}
			for range 1 + r.IntN(12) {
				s.ASNs = append(s.ASNs, genASN(r))
			}
			a.ASPath = append(a.ASPath, s)
		}
		a.Set(AttrASPath)
	}
	if len(u.NLRI) > 0 || r.IntN(4) == 0 {
		a.NextHop = genHost4(r)
		a.Set(AttrNextHop)
	}
	if r.IntN(2) == 0 {
		a.MED = r.Uint32()
		a.Set(AttrMED)
	}
	if r.IntN(2) == 0 {
		a.LocalPref = r.Uint32()
		a.Set(AttrLocalPref)
	}
	if r.IntN(4) == 0 {
		a.Set(AttrAtomicAggregate)
	}
	if r.IntN(4) == 0 {
		a.Aggregator = Aggregator{AS: genASN(r), Addr: genHost4(r)}
		if !o.AS4 && needsAS4(a.ASPath) && a.Aggregator.AS <= 0xffff {
			// RFC 6793 §4.2.3: a 2-octet AGGREGATOR that is not AS_TRANS
			// makes the receiver ignore AS4_PATH; avoid that combination.
			a.Aggregator.AS += 1 << 20
		}
		a.Set(AttrAggregator)
	}
	if r.IntN(2) == 0 {
		for range 1 + r.IntN(6) {
			a.Communities = append(a.Communities, Community(r.Uint32()))
		}
		a.Set(AttrCommunities)
	}
	if r.IntN(4) == 0 {
		a.OriginatorID = genHost4(r)
		a.Set(AttrOriginatorID)
		for range 1 + r.IntN(3) {
			a.ClusterList = append(a.ClusterList, genHost4(r))
		}
		a.Set(AttrClusterList)
	}
	if r.IntN(3) == 0 {
		for range 1 + r.IntN(4) {
			var c ExtCommunity
			for i := range c {
				c[i] = byte(r.IntN(256))
			}
			a.ExtCommunities = append(a.ExtCommunities, c)
		}
		a.Set(AttrExtCommunities)
	}
	if r.IntN(3) == 0 {
		for range 1 + r.IntN(4) {
			a.LargeCommunities = append(a.LargeCommunities, LargeCommunity{r.Uint32(), r.Uint32(), r.Uint32()})
		}
		a.Set(AttrLargeCommunities)
	}
	if r.IntN(4) == 0 {
		for i := range 1 + r.IntN(2) {
			v := make([]byte, r.IntN(300))
			for j := range v {
				v[j] = byte(r.IntN(256))
			}
			t := AttrType(100 + 50*i + r.IntN(50))
			a.Unknown = append(a.Unknown, RawAttr{Flags: FlagOptional | FlagTransitive | FlagPartial, Type: t, Value: v})
			a.Set(t)
		}
	}
	return u
}

func genOptions(r *rand.Rand) *Options {
	o := &Options{AS4: r.IntN(3) != 0, ExtendedMessage: true}
	if r.IntN(3) == 0 {
		o.AddPath = append(o.AddPath, IPv4Unicast)
	}
	if r.IntN(3) == 0 {
		o.AddPath = append(o.AddPath, IPv6Unicast)
	}
	return o
}

var canonical = &Options{AS4: true, AddPath: []Family{IPv4Unicast, IPv6Unicast}, ExtendedMessage: true}

// TestUpdateProperty checks decode(encode(u)) == u on random valid UPDATEs.
func TestUpdateProperty(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var u2 Update // reused on purpose: exercises slice reuse across decodes
	var buf []byte
	for i := range 3000 {
		o := genOptions(r)
		u := genUpdate(r, o)
		var err error
		buf, err = AppendUpdate(buf[:0], u, o)
		if err != nil {
			t.Fatalf("case %d: AppendUpdate: %v", i, err)
		}
		if err := u2.Decode(body(t, buf, MsgUpdate), o); err != nil {
			t.Fatalf("case %d (%+v): Decode: %v\n%x", i, o, err, buf)
		}
		// Compare by the canonical encoding (4-octet AS, path IDs for both
		// families: injective on Update values), and every 50th case and any
		// mismatch field by field.
		want, _ := AppendUpdate(nil, u, canonical)
		got, _ := AppendUpdate(nil, &u2, canonical)
		if i%50 == 0 || !bytes.Equal(want, got) {
			if d := cmp.Diff(u, &u2, cmpOpts...); d != "" {
				t.Fatalf("case %d (as4=%v addpath=%v): (-want +got)\n%s\n%x", i, o.AS4, o.AddPath, d, buf)
			}
		}
	}
}

func genCaps(r *rand.Rand) Capabilities {
	c := fullCaps()
	if r.IntN(2) == 0 {
		c.GracefulRestart = nil
	}
	if r.IntN(2) == 0 {
		c.Multiprotocol = c.Multiprotocol[:r.IntN(3)]
	}
	c.HasFourOctetAS = r.IntN(2) == 0
	if !c.HasFourOctetAS {
		c.FourOctetAS = 0
	}
	c.RouteRefresh = r.IntN(2) == 0
	c.EnhancedRouteRefresh = r.IntN(2) == 0
	c.ExtendedMessage = r.IntN(2) == 0
	if r.IntN(2) == 0 {
		c.LongLivedGR, c.HasLongLivedGR = nil, false
	}
	if r.IntN(2) == 0 {
		c.HasFQDN, c.Hostname, c.DomainName = false, "", ""
	}
	if r.IntN(2) == 0 {
		c.AddPath = nil
	}
	if r.IntN(2) == 0 {
		c.ExtendedNextHop = nil
	}
	if r.IntN(2) == 0 {
		c.Unknown = nil
	}
	return c
}

// TestOpenProperty checks decode(encode(m)) == m on random OPENs.
func TestOpenProperty(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for i := range 2000 {
		m := Open{Version: 4, MyAS: uint16(1 + r.IntN(65535)), HoldTime: uint16(r.IntN(65536)), BGPID: genHost4(r),
			Caps: genCaps(r), ExtendedParams: r.IntN(4) == 0}
		if m.HoldTime == 1 || m.HoldTime == 2 {
			m.HoldTime = 0
		}
		enc, err := AppendOpen(nil, &m)
		if err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		var got Open
		if err := got.Decode(body(t, enc, MsgOpen)); err != nil {
			t.Fatalf("case %d: %v\n%x", i, err, enc)
		}
		if d := cmp.Diff(m, got, cmpOpts...); d != "" {
			t.Fatalf("case %d: (-want +got)\n%s", i, d)
		}
	}
}
