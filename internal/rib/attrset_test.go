package rib

import (
	"testing"

	"github.com/kbgp/kbgp/internal/bgp/wire"
)

// TestInternKeys checks that attribute sets that differ only slightly get
// different keys (and so different interned sets), and equal ones the same.
func TestInternKeys(t *testing.T) {
	variants := []struct {
		name string
		a    *wire.Attrs
	}{
		{"base", mkAttrs(nh("10.0.0.1"))},
		{"MED 0 present", mkAttrs(nh("10.0.0.1"), med(0))},
		{"LOCAL_PREF 0 present", mkAttrs(nh("10.0.0.1"), lp(0))},
		{"no NEXT_HOP", mkAttrs()},
		{"MP next hop (no NEXT_HOP attribute)", mkAttrs(func(a *wire.Attrs) { a.NextHop = ip("fd00::1") })},
		{"other MP next hop", mkAttrs(func(a *wire.Attrs) { a.NextHop = ip("fd00::2") })},
		{"IPv4-mapped next hop", mkAttrs(func(a *wire.Attrs) { a.NextHop = ip("::ffff:10.0.0.1"); a.Set(wire.AttrNextHop) })},
		{"origin EGP", mkAttrs(nh("10.0.0.1"), origin(wire.OriginEGP))},
		{"path 1 2", mkAttrs(nh("10.0.0.1"), seq(1, 2))},
		{"path 1, 2", mkAttrs(nh("10.0.0.1"), seq(1), seq(2))},
		{"path set 1 2", mkAttrs(nh("10.0.0.1"), set(1, 2))},
		{"path 2 1", mkAttrs(nh("10.0.0.1"), seq(2, 1))},
		{"communities 1 2", mkAttrs(nh("10.0.0.1"), comm(1, 2))},
		{"communities 2 1", mkAttrs(nh("10.0.0.1"), comm(2, 1))},
		{"empty communities present", mkAttrs(nh("10.0.0.1"), comm())},
		{"originator", mkAttrs(nh("10.0.0.1"), originator("1.2.3.4"))},
		{"cluster list", mkAttrs(nh("10.0.0.1"), clusters("1.2.3.4"))},
		{"unknown transitive", mkAttrs(nh("10.0.0.1"), unknown(wire.FlagOptional|wire.FlagTransitive, 99, 1))},
		{"unknown partial", mkAttrs(nh("10.0.0.1"), unknown(wire.FlagOptional|wire.FlagTransitive|wire.FlagPartial, 99, 1))},
		{"unknown other value", mkAttrs(nh("10.0.0.1"), unknown(wire.FlagOptional|wire.FlagTransitive, 99, 2))},
		{"large community", mkAttrs(nh("10.0.0.1"), func(a *wire.Attrs) {
			a.LargeCommunities = []wire.LargeCommunity{{GlobalAdmin: 1, LocalData1: 2, LocalData2: 3}}
			a.Set(wire.AttrLargeCommunities)
		})},
		{"ext community", mkAttrs(nh("10.0.0.1"), func(a *wire.Attrs) {
			a.ExtCommunities = []wire.ExtCommunity{{0, 2, 0, 0, 0, 0, 0, 1}}
			a.Set(wire.AttrExtCommunities)
		})},
		{"atomic aggregate", mkAttrs(nh("10.0.0.1"), func(a *wire.Attrs) { a.Set(wire.AttrAtomicAggregate) })},
	}
	var in interner
	in.init()
	seen := map[*AttrSet]string{}
	for _, v := range variants {
		s := in.get(v.a)
		if prev, dup := seen[s]; dup {
			t.Errorf("%q and %q interned to the same set", prev, v.name)
		}
		seen[s] = v.name
		// A deep copy interns to the same set.
		c := cloneAttrs(v.a)
		if in.get(&c) != s {
			t.Errorf("%q: equal copy interned to a different set", v.name)
		}
		if s.refs != 2 {
			t.Errorf("%q: refs %d, want 2", v.name, s.refs)
		}
	}
	for s := range seen {
		in.put(s)
		in.put(s)
	}
	if len(in.m) != 0 {
		t.Errorf("%d sets left after releasing all references", len(in.m))
	}
}

// TestInternDoesNotAlias checks the interned copy shares no memory with the
// caller's attributes (decoded Unknown values alias the UPDATE buffer).
func TestInternDoesNotAlias(t *testing.T) {
	a := mkAttrs(nh("10.0.0.1"), seq(1, 2), comm(5), unknown(wire.FlagOptional|wire.FlagTransitive, 99, 1, 2))
	var in interner
	in.init()
	s := in.get(a)
	a.ASPath[0].ASNs[0] = 9
	a.Communities[0] = 9
	a.Unknown[0].Value[0] = 9
	if s.Attrs.ASPath[0].ASNs[0] != 1 || s.Attrs.Communities[0] != 5 || s.Attrs.Unknown[0].Value[0] != 1 {
		t.Errorf("interned set changed with the caller's buffers: %+v", s.Attrs)
	}
}
