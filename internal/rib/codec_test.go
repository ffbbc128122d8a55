package rib

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/kbgp/kbgp/internal/bgp/wire"
)

// TestExportEncodes checks that exported attribute sets are valid input for
// the wire codec (they round-trip through an UPDATE) and that Encoded
// encodes once per set and session kind.
func TestExportEncodes(t *testing.T) {
	const p = "10.244.10.0/26"
	f := newFixture(t, Options{}, rrPeers...)
	f.update("c1", mkAttrs(nh("10.0.1.1"), med(4), comm(0x00640001), unknown(wire.FlagOptional|wire.FlagTransitive, 200, 9, 9)), p)
	f.update("x1", mkAttrs(nh("192.0.2.1"), seq(65001, 4200000000)), "10.244.11.0/26")
	ch := f.r.Drain()
	n := 0
	for _, gc := range ch.Groups {
		for _, c := range gc.Changes {
			if c.Attrs == nil {
				continue
			}
			for _, as4 := range []bool{false, true} {
				o := &wire.Options{AS4: as4}
				calls := 0
				enc := func(b []byte, a *wire.Attrs) ([]byte, error) { calls++; return wire.AppendAttrs(b, a, o) }
				b1, err := c.Attrs.Encoded(as4, enc)
				if err != nil {
					t.Fatalf("group %d %v: encode: %v", gc.Group, c.Prefix, err)
				}
				b2, _ := c.Attrs.Encoded(as4, enc)
				// Sets are shared between groups: a set another group
				// exported may already be encoded.
				if calls > 1 || &b1[0] != &b2[0] {
					t.Errorf("Encoded ran the encoder %d times", calls)
				}
				u := &wire.Update{Attrs: c.Attrs.Attrs, NLRI: []wire.NLRI{{Prefix: c.Prefix}}}
				msg, err := wire.AppendUpdate(nil, u, o)
				if err != nil {
					t.Fatalf("AppendUpdate: %v", err)
				}
				var back wire.Update
				if err := back.Decode(msg[wire.HeaderLen:], o); err != nil {
					t.Fatalf("group %d %v as4=%v: decode of our export: %v", gc.Group, c.Prefix, as4, err)
				}
				for _, u := range back.Attrs.Unknown {
					back.Attrs.Clear(u.Type) // the decoder marks unknown types present
				}
				if d := cmp.Diff(&c.Attrs.Attrs, &back.Attrs, cmpAttrs); d != "" {
					t.Errorf("group %d %v as4=%v: round trip (-exported +decoded):\n%s", gc.Group, c.Prefix, as4, d)
				}
				n++
			}
		}
	}
	if n < 6 {
		t.Errorf("only %d exports checked", n)
	}
}

func TestIPv6Family(t *testing.T) {
	v6 := wire.IPv6Unicast
	f := newFixture(t, Options{}, peerSpec{name: "i1", addr: "10.0.0.1", as: localAS}, peerSpec{name: "x1", addr: "192.0.2.1", as: 65001})
	a := mkAttrs(nh("fd00:1::1"))
	if _, _, err := f.r.Update(f.id("i1"), v6, []wire.NLRI{{Prefix: pfx("fd00:10::/64")}}, a); err != nil {
		t.Fatal(err)
	}
	// An IPv4 prefix in the IPv6 family is rejected.
	if n, why, _ := f.r.Update(f.id("i1"), v6, nlri("10.0.0.0/8"), a); n != 1 || why != InvalidPrefix {
		t.Errorf("IPv4 prefix in IPv6 family: %d %v", n, why)
	}
	ch := f.r.Drain()
	if len(ch.FIB) != 1 || ch.FIB[0].Family != v6 || ch.FIB[0].NextHops[0] != ip("fd00:1::1") {
		t.Fatalf("FIB: %+v", ch.FIB)
	}
	var got *wire.Attrs
	g, _ := f.r.PeerGroup(f.id("x1"))
	for _, gc := range ch.Groups {
		if gc.Group == g && gc.Family == v6 {
			got = &gc.Changes[0].Attrs.Attrs
		}
	}
	if got == nil || got.NextHop != ip("fd00::1") || got.Has(wire.AttrNextHop) {
		t.Errorf("IPv6 export to eBGP: %+v", got)
	}
}

// TestApplyUpdate feeds a decoded UPDATE with IPv4 NLRI, withdrawals and
// an IPv6 MP_REACH_NLRI.
func TestApplyUpdate(t *testing.T) {
	f := newFixture(t, Options{}, peerSpec{name: "i1", addr: "10.0.0.1", as: localAS})
	u := &wire.Update{
		Attrs:   *mkAttrs(nh("10.0.0.1"), lp(120)),
		NLRI:    nlri("10.1.0.0/24", "10.2.0.0/24"),
		MPReach: &wire.MPReach{Family: wire.IPv6Unicast, NextHop: ip("fd00::1"), NLRI: []wire.NLRI{{Prefix: pfx("fd00:1::/64")}}},
	}
	msg, err := wire.AppendUpdate(nil, u, &wire.Options{AS4: true})
	if err != nil {
		t.Fatal(err)
	}
	var d wire.Update
	if err := d.Decode(msg[wire.HeaderLen:], &wire.Options{AS4: true}); err != nil {
		t.Fatal(err)
	}
	if n, _, err := f.r.ApplyUpdate(f.id("i1"), &d); err != nil || n != 0 {
		t.Fatalf("ApplyUpdate = %d, %v", n, err)
	}
	ch := f.r.Drain()
	if len(ch.FIB) != 3 {
		t.Fatalf("FIB changes: %+v", ch.FIB)
	}
	if rs := f.r.Routes(wire.IPv6Unicast, pfx("fd00:1::/64")); len(rs) != 1 || rs[0].Attrs.Attrs.NextHop != ip("fd00::1") || rs[0].Attrs.Attrs.LocalPref != 120 {
		t.Fatalf("IPv6 route: %+v", rs)
	}
	w := &wire.Update{Withdrawn: nlri("10.1.0.0/24"), MPUnreach: &wire.MPUnreach{Family: wire.IPv6Unicast, NLRI: []wire.NLRI{{Prefix: pfx("fd00:1::/64")}}}}
	if _, _, err := f.r.ApplyUpdate(f.id("i1"), w); err != nil {
		t.Fatal(err)
	}
	ch = f.r.Drain()
	if len(ch.FIB) != 2 || !ch.FIB[0].Withdrawn() || !ch.FIB[1].Withdrawn() {
		t.Fatalf("withdrawals: %+v", ch.FIB)
	}
	if s := f.r.Stats(); s.Paths != 1 {
		t.Errorf("paths left %d, want 1", s.Paths)
	}
}
