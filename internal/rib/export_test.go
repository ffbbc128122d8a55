package rib

import (
	"net/netip"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/kbgp/kbgp/internal/bgp/wire"
)

// rrPeers: we are a route reflector (router ID 10.255.0.1) with clients c1,
// c2, non-clients n1, n2 and an eBGP peer x1.
var rrPeers = []peerSpec{
	{name: "c1", addr: "10.0.1.1", rid: "10.0.1.1", as: localAS, client: true},
	{name: "c2", addr: "10.0.1.2", rid: "10.0.1.2", as: localAS, client: true},
	{name: "n1", addr: "10.0.2.1", rid: "10.0.2.1", as: localAS},
	{name: "n2", addr: "10.0.2.2", rid: "10.0.2.2", as: localAS},
	{name: "x1", addr: "192.0.2.1", rid: "1.1.1.1", as: 65001},
}

// want describes an expected advertisement; nil means "nothing sent".
func TestExportRules(t *testing.T) {
	const p = "10.244.1.0/26"
	rrAttrs := func(orig string, extra ...attr) *wire.Attrs {
		return mkAttrs(append([]attr{nh("10.0.1.1"), lp(100), originator(orig), clusters("10.255.0.1")}, extra...)...)
	}
	tests := []struct {
		name  string
		from  string // peer, or "local"
		attrs *wire.Attrs
		want  map[string]*wire.Attrs // receiver → expected attributes (absent: nothing)
	}{
		{"client route reflected to clients and non-clients", "c1", mkAttrs(nh("10.0.1.1")), map[string]*wire.Attrs{
			"c2": rrAttrs("10.0.1.1"),
			"n1": rrAttrs("10.0.1.1"),
			"n2": rrAttrs("10.0.1.1"),
			"x1": mkAttrs(nh("10.255.0.1"), seq(localAS)),
		}},
		{"existing ORIGINATOR_ID kept, CLUSTER_LIST prepended", "c1",
			mkAttrs(nh("10.0.1.1"), lp(120), originator("10.9.9.9"), clusters("10.8.8.8")), map[string]*wire.Attrs{
				"c2": mkAttrs(nh("10.0.1.1"), lp(120), originator("10.9.9.9"), clusters("10.255.0.1", "10.8.8.8")),
				"n1": mkAttrs(nh("10.0.1.1"), lp(120), originator("10.9.9.9"), clusters("10.255.0.1", "10.8.8.8")),
				"n2": mkAttrs(nh("10.0.1.1"), lp(120), originator("10.9.9.9"), clusters("10.255.0.1", "10.8.8.8")),
				"x1": mkAttrs(nh("10.255.0.1"), seq(localAS)),
			}},
		{"non-client route reflected to clients only", "n1", mkAttrs(nh("10.0.2.1")), map[string]*wire.Attrs{
			"c1": mkAttrs(nh("10.0.2.1"), lp(100), originator("10.0.2.1"), clusters("10.255.0.1")),
			"c2": mkAttrs(nh("10.0.2.1"), lp(100), originator("10.0.2.1"), clusters("10.255.0.1")),
			"x1": mkAttrs(nh("10.255.0.1"), seq(localAS)),
		}},
		{"eBGP route to everyone, not reflected, MED kept inside the AS", "x1", mkAttrs(nh("192.0.2.1"), seq(65001), med(7)), map[string]*wire.Attrs{
			"c1": mkAttrs(nh("192.0.2.1"), seq(65001), med(7), lp(100)),
			"c2": mkAttrs(nh("192.0.2.1"), seq(65001), med(7), lp(100)),
			"n1": mkAttrs(nh("192.0.2.1"), seq(65001), med(7), lp(100)),
			"n2": mkAttrs(nh("192.0.2.1"), seq(65001), med(7), lp(100)),
		}},
		{"NO_EXPORT stays inside the AS", "c1", mkAttrs(nh("10.0.1.1"), comm(wire.CommunityNoExport)), map[string]*wire.Attrs{
			"c2": rrAttrs("10.0.1.1", comm(wire.CommunityNoExport)),
			"n1": rrAttrs("10.0.1.1", comm(wire.CommunityNoExport)),
			"n2": rrAttrs("10.0.1.1", comm(wire.CommunityNoExport)),
		}},
		{"NO_EXPORT_SUBCONFED stays inside the AS", "c1", mkAttrs(nh("10.0.1.1"), comm(wire.CommunityNoExportSubconfed)), map[string]*wire.Attrs{
			"c2": rrAttrs("10.0.1.1", comm(wire.CommunityNoExportSubconfed)),
			"n1": rrAttrs("10.0.1.1", comm(wire.CommunityNoExportSubconfed)),
			"n2": rrAttrs("10.0.1.1", comm(wire.CommunityNoExportSubconfed)),
		}},
		{"NO_ADVERTISE goes nowhere", "c1", mkAttrs(nh("10.0.1.1"), comm(wire.CommunityNoAdvertise)), map[string]*wire.Attrs{}},
		{"local route: next hop self, empty AS_PATH inside, prepended outside, own MED kept", "local", mkAttrs(med(3)), map[string]*wire.Attrs{
			"c1": mkAttrs(nh("10.255.0.1"), lp(100), med(3)),
			"c2": mkAttrs(nh("10.255.0.1"), lp(100), med(3)),
			"n1": mkAttrs(nh("10.255.0.1"), lp(100), med(3)),
			"n2": mkAttrs(nh("10.255.0.1"), lp(100), med(3)),
			"x1": mkAttrs(nh("10.255.0.1"), seq(localAS), med(3)),
		}},
		{"unknown transitive passed with Partial, non-transitive dropped", "x1",
			mkAttrs(nh("192.0.2.1"), seq(65001), unknown(wire.FlagOptional|wire.FlagTransitive, 99, 1, 2), unknown(wire.FlagOptional, 98, 3)), map[string]*wire.Attrs{
				"c1": mkAttrs(nh("192.0.2.1"), seq(65001), lp(100), unknown(wire.FlagOptional|wire.FlagTransitive|wire.FlagPartial, 99, 1, 2)),
				"c2": mkAttrs(nh("192.0.2.1"), seq(65001), lp(100), unknown(wire.FlagOptional|wire.FlagTransitive|wire.FlagPartial, 99, 1, 2)),
				"n1": mkAttrs(nh("192.0.2.1"), seq(65001), lp(100), unknown(wire.FlagOptional|wire.FlagTransitive|wire.FlagPartial, 99, 1, 2)),
				"n2": mkAttrs(nh("192.0.2.1"), seq(65001), lp(100), unknown(wire.FlagOptional|wire.FlagTransitive|wire.FlagPartial, 99, 1, 2)),
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, Options{}, rrPeers...)
			if tc.from == "local" {
				if err := f.r.Originate(v4, pfx(p), 0, tc.attrs); err != nil {
					t.Fatal(err)
				}
			} else {
				f.update(tc.from, tc.attrs, p)
			}
			ch := f.r.Drain()
			for _, ps := range rrPeers {
				got, wd := sent(f, ch, ps.name, p)
				if wd {
					t.Errorf("%s: got a withdrawal", ps.name)
				}
				want := tc.want[ps.name]
				if want == nil {
					if got != nil {
						t.Errorf("%s: sent %+v, want nothing", ps.name, got)
					}
					continue
				}
				if got == nil {
					t.Errorf("%s: nothing sent, want %+v", ps.name, want)
					continue
				}
				if d := cmp.Diff(want, got, cmpAttrs); d != "" {
					t.Errorf("%s: attributes (-want +got):\n%s", ps.name, d)
				}
			}
		})
	}
}

var cmpAttrs = cmp.Options{cmp.AllowUnexported(wire.Attrs{}), cmpopts.EquateEmpty(), cmpopts.EquateComparable(netip.Addr{})}

func TestNoReflectionWithoutClients(t *testing.T) {
	f := newFixture(t, Options{}, rrPeers[2], rrPeers[3], rrPeers[4]) // n1, n2, x1
	f.update("n1", mkAttrs(nh("10.0.2.1")), "10.244.2.0/26")
	ch := f.r.Drain()
	if a, _ := sent(f, ch, "n2", "10.244.2.0/26"); a != nil {
		t.Errorf("iBGP route sent to iBGP non-client without reflection: %+v", a)
	}
	if a, _ := sent(f, ch, "x1", "10.244.2.0/26"); a == nil {
		t.Errorf("iBGP route not sent to eBGP peer")
	}
}

func TestNextHopModes(t *testing.T) {
	const p = "10.96.0.0/12"
	tests := []struct {
		name   string
		to     peerSpec
		from   peerSpec
		attrs  *wire.Attrs
		wantNH string
	}{
		{"auto eBGP: self", peerSpec{name: "to", addr: "192.0.2.9", as: 65009}, peerSpec{name: "from", addr: "10.0.0.5", as: localAS},
			mkAttrs(nh("10.0.0.5")), "10.255.0.1"},
		{"keep eBGP: kept", peerSpec{name: "to", addr: "192.0.2.9", as: 65009, nhMode: NextHopKeep}, peerSpec{name: "from", addr: "10.0.0.5", as: localAS},
			mkAttrs(nh("10.0.0.5")), "10.0.0.5"},
		{"auto iBGP from eBGP: kept", peerSpec{name: "to", addr: "10.0.0.9", as: localAS}, peerSpec{name: "from", addr: "192.0.2.5", as: 65005},
			mkAttrs(nh("192.0.2.5"), seq(65005)), "192.0.2.5"},
		{"self iBGP: self", peerSpec{name: "to", addr: "10.0.0.9", as: localAS, nhMode: NextHopSelf}, peerSpec{name: "from", addr: "192.0.2.5", as: 65005},
			mkAttrs(nh("192.0.2.5"), seq(65005)), "10.255.0.1"},
		{"auto reflected: kept", peerSpec{name: "to", addr: "10.0.0.9", as: localAS, client: true}, peerSpec{name: "from", addr: "10.0.0.5", as: localAS},
			mkAttrs(nh("10.0.0.5")), "10.0.0.5"},
		{"self reflected: self", peerSpec{name: "to", addr: "10.0.0.9", as: localAS, client: true, nhMode: NextHopSelf}, peerSpec{name: "from", addr: "10.0.0.5", as: localAS},
			mkAttrs(nh("10.0.0.5")), "10.255.0.1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, Options{}, tc.to, tc.from)
			f.update("from", tc.attrs, p)
			ch := f.r.Drain()
			a, _ := sent(f, ch, "to", p)
			if a == nil {
				t.Fatal("nothing sent")
			}
			if a.NextHop != ip(tc.wantNH) || !a.Has(wire.AttrNextHop) {
				t.Errorf("next hop %v, want %v", a.NextHop, tc.wantNH)
			}
		})
	}
}

func TestImportLoopChecks(t *testing.T) {
	const p = "10.244.3.0/26"
	tests := []struct {
		name  string
		from  string
		attrs *wire.Attrs
		want  Reason
	}{
		{"own AS rejected", "x1", mkAttrs(nh("192.0.2.1"), seq(65001, localAS)), ASLoop},
		{"own AS allowed once", "a1", mkAttrs(nh("192.0.2.7"), seq(65007, localAS)), Accepted},
		{"own AS twice over allowance", "a1", mkAttrs(nh("192.0.2.7"), seq(65007, localAS, 5, localAS)), ASLoop},
		{"own AS in AS_SET", "x1", mkAttrs(nh("192.0.2.1"), seq(65001), set(7, localAS)), ASLoop},
		{"ORIGINATOR_ID is our router ID", "c1", mkAttrs(nh("10.0.1.1"), originator("10.255.0.1")), OriginatorID},
		{"CLUSTER_LIST has our cluster ID", "n1", mkAttrs(nh("10.0.2.1"), originator("10.0.3.3"), clusters("10.7.7.7", "10.255.0.1")), ClusterLoop},
		{"foreign cluster accepted", "n1", mkAttrs(nh("10.0.2.1"), originator("10.0.3.3"), clusters("10.7.7.7")), Accepted},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, Options{}, append(slices.Clone(rrPeers), peerSpec{name: "a1", addr: "192.0.2.7", as: 65007, allowOwn: 1})...)
			// A valid route first: a rejected UPDATE must withdraw it.
			f.update(tc.from, mkAttrs(nh(tc.attrs.NextHop.String()), seq(65050)), p)
			f.r.Drain()
			n, why, err := f.r.Update(f.id(tc.from), v4, nlri(p), tc.attrs)
			if err != nil {
				t.Fatal(err)
			}
			if why != tc.want || (n == 0) != (tc.want == Accepted) {
				t.Fatalf("Update = %d rejected, reason %v; want %v", n, why, tc.want)
			}
			ch := f.r.Drain()
			if tc.want == Accepted {
				if f.best(p) != tc.from {
					t.Errorf("route not installed")
				}
				return
			}
			if f.best(p) != "" {
				t.Errorf("rejected route did not withdraw the previous one")
			}
			if len(ch.FIB) != 1 || !ch.FIB[0].Withdrawn() {
				t.Errorf("FIB changes %+v, want one withdrawal", ch.FIB)
			}
		})
	}
}

func TestPolicies(t *testing.T) {
	const p1, p2 = "10.244.4.0/26", "10.244.5.0/26"
	imp := Policy{Name: "imp", Func: func(in PolicyInput, a *wire.Attrs) bool {
		if in.Prefix == pfx(p2) {
			return false
		}
		a.LocalPref = 250
		a.Set(wire.AttrLocalPref)
		a.Communities = append(a.Communities, 0x00010002) // must not leak into the caller's attrs
		a.Set(wire.AttrCommunities)
		return true
	}}
	exp := Policy{Name: "exp", Func: func(in PolicyInput, a *wire.Attrs) bool {
		if in.Source.Name != "i1" {
			return false
		}
		a.MED = 77
		a.Set(wire.AttrMED)
		return true
	}}
	f := newFixture(t, Options{},
		peerSpec{name: "i1", addr: "10.0.0.1", as: localAS, imp: imp},
		peerSpec{name: "x1", addr: "192.0.2.1", as: 65001, exp: exp},
		peerSpec{name: "x2", addr: "192.0.2.2", as: 65002})
	in := mkAttrs(nh("10.0.0.1"), comm(0x00010001))
	f.update("i1", in, p1, p2)
	if len(in.Communities) != 1 {
		t.Fatalf("import policy modified the caller's attributes: %v", in.Communities)
	}
	ch := f.r.Drain()
	rs := f.r.Routes(v4, pfx(p1))
	if len(rs) != 1 || rs[0].Attrs.Attrs.LocalPref != 250 || len(rs[0].Attrs.Attrs.Communities) != 2 {
		t.Fatalf("import policy result not stored: %+v", rs)
	}
	if rs := f.r.Routes(v4, pfx(p2)); len(rs) != 0 {
		t.Fatalf("rejected route stored: %+v", rs)
	}
	a, _ := sent(f, ch, "x1", p1)
	if a == nil || a.MED != 77 || !a.Has(wire.AttrMED) {
		t.Errorf("export policy: got %+v, want MED 77", a)
	}
	b, _ := sent(f, ch, "x2", p1)
	if b == nil || b.Has(wire.AttrMED) {
		t.Errorf("peer without policy: got %+v, want no MED", b)
	}
	if g1, _ := f.r.PeerGroup(f.id("x1")); g1 == func() GroupID { g, _ := f.r.PeerGroup(f.id("x2")); return g }() {
		t.Errorf("peers with different export policies share a group")
	}
}

// TestSplitHorizonAndReplace follows one prefix through announce, replace
// by another source and withdraw, checking what each member is told.
func TestSplitHorizonAndReplace(t *testing.T) {
	const p = "10.244.6.0/26"
	f := newFixture(t, Options{}, rrPeers...)
	f.update("c1", mkAttrs(nh("10.0.1.1"), lp(200)), p)
	ch := f.r.Drain()
	gc := groupOf(f, ch, "c1")
	if gc == nil || len(gc.Changes) != 1 {
		t.Fatalf("client group changes: %+v", gc)
	}
	c := gc.Changes[0]
	if c.For(f.id("c1")) != ActionNone || c.For(f.id("c2")) != ActionAnnounce {
		t.Errorf("split horizon: c1 %v, c2 %v", c.For(f.id("c1")), c.For(f.id("c2")))
	}
	// c2 now has the better route: c1 gets it, c2 gets a withdrawal of
	// c1's route (it must not keep a route that is no longer our best).
	f.update("c2", mkAttrs(nh("10.0.1.2"), lp(300)), p)
	ch = f.r.Drain()
	c = groupOf(f, ch, "c1").Changes[0]
	if c.For(f.id("c1")) != ActionAnnounce || c.For(f.id("c2")) != ActionWithdraw {
		t.Errorf("replace: c1 %v, c2 %v", c.For(f.id("c1")), c.For(f.id("c2")))
	}
	// An unchanged re-announcement produces nothing.
	f.update("c2", mkAttrs(nh("10.0.1.2"), lp(300)), p)
	if ch := f.r.Drain(); !ch.Empty() {
		t.Errorf("re-announcement produced changes: %+v", ch)
	}
	f.withdraw("c2", p)
	f.withdraw("c1", p)
	ch = f.r.Drain()
	if len(ch.FIB) != 1 || !ch.FIB[0].Withdrawn() {
		t.Errorf("FIB: %+v", ch.FIB)
	}
	if a, wd := sent(f, ch, "c1", p); a != nil || !wd {
		t.Errorf("c1: %v %v, want withdrawal", a, wd)
	}
	if a, wd := sent(f, ch, "c2", p); a != nil || wd {
		t.Errorf("c2 (source of the withdrawn path): %v %v, want nothing", a, wd)
	}
	if s := f.r.Stats(); s.Prefixes != 0 || s.AttrSets != 0 || s.Paths != 0 {
		t.Errorf("after withdrawing everything: %+v", s)
	}
}

func TestUpdateGroupsAndJoin(t *testing.T) {
	const p = "10.244.7.0/26"
	f := newFixture(t, Options{}, rrPeers...)
	gc1, _ := f.r.PeerGroup(f.id("c1"))
	gc2, _ := f.r.PeerGroup(f.id("c2"))
	gn1, _ := f.r.PeerGroup(f.id("n1"))
	if gc1 != gc2 || gc1 == gn1 {
		t.Fatalf("groups: c1 %d c2 %d n1 %d", gc1, gc2, gn1)
	}
	f.update("x1", mkAttrs(nh("192.0.2.1"), seq(65001)), p)
	f.r.Drain()
	// A new client joins the existing group: its initial table comes from
	// AdjRIBOut.
	c3 := f.add(peerSpec{name: "c3", addr: "10.0.1.3", as: localAS, client: true})
	var got []ExportChange
	if err := f.r.AdjRIBOut(c3, v4, func(c ExportChange) bool { got = append(got, c); return true }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Prefix != pfx(p) || got[0].Attrs == nil {
		t.Fatalf("AdjRIBOut for joining peer: %+v", got)
	}
	if ch := f.r.Drain(); !ch.Empty() {
		t.Errorf("joining an existing group produced changes: %+v", ch)
	}
	// A peer in a new group gets its table through Drain.
	y := f.add(peerSpec{name: "y1", addr: "192.0.2.50", as: 65050, nhMode: NextHopKeep})
	ch := f.r.Drain()
	if a, _ := sent(f, ch, "y1", p); a == nil || a.NextHop != ip("192.0.2.1") {
		t.Errorf("new group initial table: %+v", a)
	}
	if len(ch.FIB) != 0 {
		t.Errorf("group creation changed the FIB: %+v", ch.FIB)
	}
	// The last member leaving drops the group and its Adj-RIB-Out refs.
	f.r.Down(y)
	if _, ok := f.r.PeerGroup(y); ok {
		t.Errorf("down peer still in a group")
	}
	if err := f.r.RemovePeer(f.id("x1")); err != nil {
		t.Fatal(err)
	}
	f.r.Drain()
	if s := f.r.Stats(); s.Prefixes != 0 || s.AttrSets != 0 {
		t.Errorf("after removing the only source: %+v", s)
	}
}

func TestPack(t *testing.T) {
	f := newFixture(t, Options{}, rrPeers...)
	a, b := mkAttrs(nh("192.0.2.1"), seq(65001, 1)), mkAttrs(nh("192.0.2.1"), seq(65001, 2))
	f.update("x1", a, "10.1.0.0/24")
	f.update("x1", a, "10.3.0.0/24")
	f.r.Drain()
	f.update("x1", b, "10.2.0.0/24")
	f.update("x1", a, "10.4.0.0/24")
	f.withdraw("x1", "10.3.0.0/24")
	f.update("x1", b, "10.5.0.0/24")
	gc := groupOf(f, f.r.Drain(), "c1")
	gc.Pack()
	var got []string
	for _, c := range gc.Changes {
		s := c.Prefix.String()
		if c.Attrs == nil {
			s = "-" + s
		}
		got = append(got, s)
	}
	want := []string{"-10.3.0.0/24", "10.2.0.0/24", "10.5.0.0/24", "10.4.0.0/24"}
	if !slices.Equal(got, want) {
		t.Errorf("packed order %v, want %v", got, want)
	}
}

func TestSessionLocalAddr(t *testing.T) {
	r := New(Options{RouterID: ip("10.255.0.1")})
	id, err := r.AddPeer(PeerConfig{Addr: ip("192.0.2.1"), LocalAS: localAS, RemoteAS: 65001})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Up(id, Session{RouterID: ip("1.1.1.1"), LocalAddr: ip("192.0.2.100"), Families: []FamilySession{{Family: v4}, {Family: wire.IPv6Unicast}}}); err != nil {
		t.Fatal(err)
	}
	if err := r.Originate(v4, pfx("10.244.0.0/26"), 0, mkAttrs()); err != nil {
		t.Fatal(err)
	}
	ch := r.Drain()
	if len(ch.Groups) != 1 || ch.Groups[0].Changes[0].Attrs.Attrs.NextHop != ip("192.0.2.100") {
		t.Fatalf("next hop self from the session address: %+v", ch.Groups)
	}
	// No address for IPv6: IPv6 routes cannot be sent (no next hop).
	if err := r.Originate(wire.IPv6Unicast, pfx("fd00:244::/80"), 0, mkAttrs()); err != nil {
		t.Fatal(err)
	}
	if ch := r.Drain(); len(ch.Groups) != 0 {
		t.Errorf("IPv6 route sent without an IPv6 next hop: %+v", ch.Groups[0].Changes)
	}
}

// TestOriginateMarksASPath: a locally originated route carries a present,
// empty AS_PATH (RFC 4271 §5.1.2) whether or not the caller set it, and
// an AS_PATH the caller gave is kept.
func TestOriginateMarksASPath(t *testing.T) {
	for _, tc := range []struct {
		name  string
		attrs *wire.Attrs
		want  int // ASNs in the stored AS_PATH
	}{
		{"nil attrs", nil, 0},
		{"empty attrs", &wire.Attrs{}, 0},
		{"caller's path kept", mkAttrs(seq(65000, 65001)), 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := New(Options{RouterID: ip("10.255.0.1")})
			if err := r.Originate(v4, pfx("10.1.0.0/24"), 0, tc.attrs); err != nil {
				t.Fatal(err)
			}
			rs := r.Routes(v4, pfx("10.1.0.0/24"))
			if len(rs) != 1 {
				t.Fatalf("%d routes, want 1", len(rs))
			}
			a := &rs[0].Attrs.Attrs
			if !a.Has(wire.AttrASPath) || !a.Has(wire.AttrOrigin) {
				t.Errorf("AS_PATH present %v, ORIGIN present %v; want both", a.Has(wire.AttrASPath), a.Has(wire.AttrOrigin))
			}
			n := 0
			for _, s := range a.ASPath {
				n += len(s.ASNs)
			}
			if n != tc.want {
				t.Errorf("AS_PATH %v has %d ASNs, want %d", a.ASPath, n, tc.want)
			}
		})
	}
}

// TestSetPeerConfig: a down peer's configuration can change without
// losing its (stale) routes, and the decision process sees the change; a
// peer that is up must go down first.
func TestSetPeerConfig(t *testing.T) {
	const p = "10.50.0.0/24"
	f := newFixture(t, Options{},
		peerSpec{name: "x1", addr: "192.0.2.1", rid: "10.0.0.9", as: 65001},
		peerSpec{name: "d", addr: "192.0.2.2", rid: "10.0.0.1", as: 65002},
	)
	f.update("x1", mkAttrs(nh("192.0.2.1"), seq(65001)), p)
	f.update("d", mkAttrs(nh("192.0.2.2"), seq(65002)), p)
	f.r.Drain()
	// Both eBGP, equal: the lower router ID wins (RFC 4271 §9.1.2.2 f).
	if b := f.best(p); b != "d" {
		t.Fatalf("best %q, want d", b)
	}
	id := f.id("d")
	cfg, _ := f.r.Peer(id)
	cfg.RemoteAS = localAS
	if err := f.r.SetPeerConfig(id, cfg); err == nil {
		t.Fatal("SetPeerConfig on an up peer succeeded")
	}
	// Graceful restart: down, routes kept stale; the peer comes back as
	// iBGP (a dynamic peer in another AS).
	f.r.Down(id)
	if _, err := f.r.MarkStale(id, v4); err != nil {
		t.Fatal(err)
	}
	if err := f.r.SetPeerConfig(id, cfg); err != nil {
		t.Fatal(err)
	}
	if got, _ := f.r.Peer(id); got.RemoteAS != localAS {
		t.Errorf("config after SetPeerConfig: RemoteAS %d", got.RemoteAS)
	}
	// RFC 4271 §9.1.2.2 d: eBGP-learned routes are preferred over iBGP;
	// the next Drain reports the new best path to the FIB.
	ch := f.r.Drain()
	if len(ch.FIB) != 1 || ch.FIB[0].Prefix != pfx(p) || len(ch.FIB[0].NextHops) == 0 || ch.FIB[0].NextHops[0] != ip("192.0.2.1") {
		t.Errorf("FIB changes after d became iBGP: %+v, want %s via x1 (192.0.2.1)", ch.FIB, p)
	}
	if b := f.best(p); b != "x1" {
		t.Errorf("best after d became iBGP: %q, want x1", b)
	}
	rs := f.r.Routes(v4, pfx(p))
	if len(rs) != 2 || !rs[1].Stale || rs[1].Peer != id {
		t.Errorf("routes after SetPeerConfig: %+v, want d's stale route kept", rs)
	}
	for _, tc := range []struct {
		name string
		c    PeerConfig
	}{
		{"no address", PeerConfig{LocalAS: localAS, RemoteAS: localAS}},
		{"negative AllowOwnAS", PeerConfig{Addr: ip("192.0.2.2"), AllowOwnAS: -1}},
	} {
		if err := f.r.SetPeerConfig(id, tc.c); err == nil {
			t.Errorf("%s: accepted", tc.name)
		}
	}
	if err := f.r.SetPeerConfig(PeerID(99), cfg); err == nil {
		t.Error("unknown peer ID accepted")
	}
}
