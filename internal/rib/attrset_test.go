package rib

import (
	"bytes"
	"net/netip"
	"reflect"
	"testing"

	"github.com/kbgp/kbgp/internal/bgp/wire"
)

// TestInternKeys checks that attribute sets that differ only slightly get
// different keys (and so different interned sets), and equal ones the same.
func TestInternKeys(t *testing.T) {
	variants := []attrVariant{
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
		{"aggregator", mkAttrs(nh("10.0.0.1"), func(a *wire.Attrs) {
			a.Aggregator = wire.Aggregator{AS: 1, Addr: ip("1.2.3.4")}
			a.Set(wire.AttrAggregator)
		})},
		{"other aggregator", mkAttrs(nh("10.0.0.1"), func(a *wire.Attrs) {
			a.Aggregator = wire.Aggregator{AS: 1, Addr: ip("1.2.3.5")}
			a.Set(wire.AttrAggregator)
		})},
		{"AS4_PATH", mkAttrs(nh("10.0.0.1"), func(a *wire.Attrs) {
			a.AS4Path = []wire.ASPathSegment{{Type: wire.ASSequence, ASNs: []uint32{70000}}}
			a.Set(wire.AttrAS4Path)
		})},
		{"link-local next hop", mkAttrs(func(a *wire.Attrs) { a.NextHop = ip("fe80::1") })},
		{"AS4_AGGREGATOR", mkAttrs(nh("10.0.0.1"), func(a *wire.Attrs) {
			a.AS4Aggregator = wire.Aggregator{AS: 70000, Addr: ip("1.2.3.4")}
			a.Set(wire.AttrAS4Aggregator)
		})},
		{"unknown transitive, present", mkAttrs(nh("10.0.0.1"), unknown(wire.FlagOptional|wire.FlagTransitive, 99, 1), func(a *wire.Attrs) { a.Set(99) })},
		{"originator other", mkAttrs(nh("10.0.0.1"), originator("1.2.3.5"))},
	}
	for _, collide := range []bool{false, true} {
		t.Run(map[bool]string{false: "hash", true: "one hash for all"}[collide], func(t *testing.T) {
			var in interner
			in.init()
			if collide {
				// Every set has one hash: only keyEqual tells them apart.
				in.testHash = func([]byte) uint64 { return 7 }
			}
			internVariants(t, &in, variants)
		})
	}
	// keyEqual agrees with comparing the keys, for every pair; zones are
	// not part of the key.
	// Variants with keys equal to some above: a zone, a value without its
	// presence bit, a present attribute's nil list (against an empty one).
	all := append(variants,
		attrVariant{"zoned link-local next hop", mkAttrs(func(a *wire.Attrs) { a.NextHop = ip("fe80::1").WithZone("eth0") })},
		attrVariant{"MED 5 not present", mkAttrs(nh("10.0.0.1"), func(a *wire.Attrs) { a.MED = 5 })},
		attrVariant{"nil communities present", mkAttrs(nh("10.0.0.1"), func(a *wire.Attrs) { a.Communities = nil; a.Set(wire.AttrCommunities) })},
	)
	for _, v := range all {
		for _, w := range all {
			for _, withNH := range []bool{false, true} {
				want := bytes.Equal(appendKey(nil, v.a, withNH), appendKey(nil, w.a, withNH))
				if got := keyEqual(v.a, w.a, withNH); got != want {
					t.Errorf("keyEqual(%q, %q, withNH %v) = %v, keys equal %v", v.name, w.name, withNH, got, want)
				}
			}
		}
	}
}

// attrVariant is a named attribute set.
type attrVariant struct {
	name string
	a    *wire.Attrs
}

func internVariants(t *testing.T, in *interner, variants []attrVariant) {
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
		if in.at(s.id) != s {
			t.Errorf("%q: handle %d names another set", seen[s], s.id)
		}
		in.put(s.id)
		in.put(s.id)
	}
	if in.index.n != 0 || in.live != 0 || len(in.sets) != 1 {
		t.Errorf("%d indexed, %d sets, %d handles left after releasing all references", in.index.n, in.live, len(in.sets))
	}
}

// TestPathSetApart checks that a path set (interned without its next hop)
// and a complete set of the same attributes stay apart when their hashes
// collide: the kind of set is not in the hash then, only in the match.
func TestPathSetApart(t *testing.T) {
	var in interner
	in.init()
	in.testHash = func([]byte) uint64 { return 7 }
	a := mkAttrs(nh("10.0.0.1"), seq(1, 2))
	p := in.getPath(a)
	c := in.get(a)
	if p == c || !p.anyNH || c.anyNH {
		t.Fatalf("getPath and get returned %p (anyNH %v) and %p (anyNH %v), want two sets", p, p.anyNH, c, c.anyNH)
	}
	if in.getPath(a) != p || in.get(a) != c {
		t.Error("a second lookup found the other kind of set")
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

// TestInternCopiesExactly checks that the interned copy equals its input
// field by field, nil and empty slices included, whether the AS_PATH is
// stored inline in the set or not, and that it shares no memory with it.
func TestInternCopiesExactly(t *testing.T) {
	long := make([]uint32, inlineASNs+1)
	for i := range long {
		long[i] = uint32(100 + i)
	}
	cases := []struct {
		name   string
		a      *wire.Attrs
		inline bool // the AS_PATH lives in the set itself
	}{
		{"empty AS_PATH present", mkAttrs(nh("10.0.0.1")), false},
		{"empty segment list, not nil", mkAttrs(nh("10.0.0.1"), func(a *wire.Attrs) { a.ASPath = []wire.ASPathSegment{} }), false},
		{"one segment", mkAttrs(nh("10.0.0.1"), seq(1, 2, 3)), true},
		{"one empty segment", mkAttrs(nh("10.0.0.1"), func(a *wire.Attrs) {
			a.ASPath = []wire.ASPathSegment{{Type: wire.ASSequence, ASNs: []uint32{}}}
		}), true},
		{"one segment with nil ASNs", mkAttrs(nh("10.0.0.1"), func(a *wire.Attrs) {
			a.ASPath = []wire.ASPathSegment{{Type: wire.ASSequence}}
		}), true},
		{"inline limit", mkAttrs(nh("10.0.0.1"), seq(long[:inlineASNs]...)), true},
		{"longer than inline", mkAttrs(nh("10.0.0.1"), seq(long...)), false},
		{"two segments", mkAttrs(nh("10.0.0.1"), seq(1, 2), set(3, 4)), false},
		{"AS4_PATH", mkAttrs(nh("10.0.0.1"), seq(23456), func(a *wire.Attrs) {
			a.AS4Path = []wire.ASPathSegment{{Type: wire.ASSequence, ASNs: []uint32{4200000000}}}
			a.Set(wire.AttrAS4Path)
		}), true},
		{"everything", mkAttrs(nh("10.0.0.1"), seq(1), comm(5, 6), originator("1.1.1.1"), clusters("2.2.2.2"),
			unknown(wire.FlagOptional|wire.FlagTransitive, 99, 7), func(a *wire.Attrs) {
				a.ExtCommunities = []wire.ExtCommunity{{0, 2, 0, 0, 0, 0, 0, 1}}
				a.Set(wire.AttrExtCommunities)
				a.LargeCommunities = []wire.LargeCommunity{{GlobalAdmin: 1, LocalData1: 2, LocalData2: 3}}
				a.Set(wire.AttrLargeCommunities)
			}), true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var in interner
			in.init()
			s := in.get(tc.a)
			if !reflect.DeepEqual(&s.Attrs, tc.a) {
				t.Fatalf("interned %+v\nfrom      %+v", s.Attrs, *tc.a)
			}
			if got := len(s.Attrs.ASPath) > 0 && &s.Attrs.ASPath[0] == &s.seg[0]; got != tc.inline {
				t.Errorf("AS_PATH inline: %v, want %v", got, tc.inline)
			}
			for i, seg := range tc.a.ASPath {
				if len(seg.ASNs) > 0 && &seg.ASNs[0] == &s.Attrs.ASPath[i].ASNs[0] {
					t.Errorf("segment %d shares memory with the input", i)
				}
			}
			if len(tc.a.Communities) > 0 && &tc.a.Communities[0] == &s.Attrs.Communities[0] {
				t.Error("communities share memory with the input")
			}
		})
	}
}

// TestInternExportShares checks that an export copy made by getFrom shares
// the slices it did not change with its source set, copies the ones it
// did, and stays intact when the source set is freed.
func TestInternExportShares(t *testing.T) {
	var in interner
	in.init()
	src := in.get(mkAttrs(nh("10.0.0.1"), seq(1, 2), comm(5)))
	o := src.Attrs
	o.OriginatorID = ip("9.9.9.9")
	o.Set(wire.AttrOriginatorID)
	cl := []netip.Addr{ip("10.255.0.1")}
	o.ClusterList = cl
	o.Set(wire.AttrClusterList)
	exp := in.getFrom(&o, src)
	if exp == src {
		t.Fatal("export copy interned to its source set")
	}
	if &exp.Attrs.ASPath[0] != &src.Attrs.ASPath[0] || &exp.Attrs.Communities[0] != &src.Attrs.Communities[0] {
		t.Error("unchanged AS_PATH or communities copied, not shared")
	}
	if &exp.Attrs.ClusterList[0] == &cl[0] {
		t.Error("CLUSTER_LIST (the caller's scratch) shared, not copied")
	}
	want := cloneAttrs(&exp.Attrs)
	in.put(src.id)
	if in.at(src.id) != nil {
		t.Fatal("source set not freed")
	}
	// Reuse the freed handle for another set.
	other := in.get(mkAttrs(nh("10.0.0.2"), seq(3)))
	if !reflect.DeepEqual(exp.Attrs, want) || other.id != src.id {
		t.Errorf("export copy changed after its source was freed (handle reused: %v): %+v", other.id == src.id, exp.Attrs)
	}
	// An equal export copy made from scratch finds the same set.
	c := cloneAttrs(&want)
	if in.get(&c) != exp {
		t.Error("deep copy of the export set interned to a different set")
	}
}
