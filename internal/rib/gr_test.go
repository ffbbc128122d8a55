package rib

import (
	"slices"
	"testing"

	"github.com/kbgp/kbgp/internal/bgp/wire"
)

func TestGracefulRestart(t *testing.T) {
	f := newFixture(t, Options{}, peerSpec{name: "i1", addr: "10.0.0.1", as: localAS}, peerSpec{name: "x1", addr: "192.0.2.1", as: 65001})
	f.update("i1", mkAttrs(nh("10.0.0.1")), "10.1.0.0/24", "10.2.0.0/24", "10.3.0.0/24")
	f.r.Drain()
	f.r.Down(f.id("i1"))
	n, err := f.r.MarkStale(f.id("i1"), v4)
	if err != nil || n != 3 {
		t.Fatalf("MarkStale = %d, %v", n, err)
	}
	if ch := f.r.Drain(); !ch.Empty() {
		t.Errorf("marking stale changed routing: %+v", ch)
	}
	if rs := f.r.Routes(v4, pfx("10.1.0.0/24")); len(rs) != 1 || !rs[0].Stale || !rs[0].Best {
		t.Errorf("stale route: %+v", rs)
	}
	// The peer comes back and re-announces two of three routes, one with
	// new attributes.
	if _, err := f.r.Up(f.id("i1"), Session{RouterID: ip("10.0.0.1"), Families: []FamilySession{{Family: v4}}}); err != nil {
		t.Fatal(err)
	}
	f.update("i1", mkAttrs(nh("10.0.0.1")), "10.1.0.0/24")
	f.update("i1", mkAttrs(nh("10.0.0.1"), med(5)), "10.2.0.0/24")
	if rs := f.r.Routes(v4, pfx("10.1.0.0/24")); rs[0].Stale {
		t.Errorf("refreshed route still stale")
	}
	ch := f.r.Drain()
	if len(ch.FIB) != 1 || ch.FIB[0].Prefix != pfx("10.2.0.0/24") {
		t.Errorf("refresh FIB changes: %+v", ch.FIB)
	}
	// End-of-RIB: the unrefreshed route goes.
	n, err = f.r.SweepStale(f.id("i1"), v4)
	if err != nil || n != 1 {
		t.Fatalf("SweepStale = %d, %v", n, err)
	}
	ch = f.r.Drain()
	if len(ch.FIB) != 1 || ch.FIB[0].Prefix != pfx("10.3.0.0/24") || !ch.FIB[0].Withdrawn() {
		t.Errorf("sweep FIB changes: %+v", ch.FIB)
	}
}

func TestLongLivedGracefulRestart(t *testing.T) {
	const p, q = "10.4.0.0/24", "10.5.0.0/24"
	f := newFixture(t, Options{},
		peerSpec{name: "i1", addr: "10.0.0.1", as: localAS, client: true},
		peerSpec{name: "i2", addr: "10.0.0.2", as: localAS, client: true},
		peerSpec{name: "ll", addr: "10.0.0.8", as: localAS, client: true, llgr: true},
		peerSpec{name: "nl", addr: "10.0.0.9", as: localAS, client: true})
	f.update("i1", mkAttrs(nh("10.0.0.1"), lp(200)), p)
	f.update("i1", mkAttrs(nh("10.0.0.1"), comm(wire.CommunityNoLLGR)), q)
	f.update("i2", mkAttrs(nh("10.0.0.2"), lp(50)), p)
	f.r.Drain()
	if f.best(p) != "i1" {
		t.Fatalf("best before LLGR: %s", f.best(p))
	}
	f.r.Down(f.id("i1"))
	f.r.MarkStale(f.id("i1"), v4)
	moved, removed, err := f.r.MarkLLGRStale(f.id("i1"), v4)
	if err != nil || moved != 1 || removed != 1 {
		t.Fatalf("MarkLLGRStale = %d, %d, %v", moved, removed, err)
	}
	ch := f.r.Drain()
	// RFC 9494: the LLGR-stale route is least preferred: LOCAL_PREF 50 wins.
	if f.best(p) != "i2" {
		t.Errorf("best with LLGR-stale: %s", f.best(p))
	}
	rs := f.r.Routes(v4, pfx(p))
	if len(rs) != 2 || !rs[1].LLGRStale || !slices.Contains(rs[1].Attrs.Attrs.Communities, wire.CommunityLLGRStale) {
		t.Errorf("LLGR-stale route: %+v", rs)
	}
	if rs := f.r.Routes(v4, pfx(q)); len(rs) != 0 {
		t.Errorf("NO_LLGR route kept: %+v", rs)
	}
	var qw bool
	for _, c := range ch.FIB {
		qw = qw || (c.Prefix == pfx(q) && c.Withdrawn())
	}
	if !qw {
		t.Errorf("NO_LLGR route not withdrawn from the FIB: %+v", ch.FIB)
	}
	// Only route left: the LLGR-stale one, advertised to LLGR peers only.
	f.withdraw("i2", p)
	ch = f.r.Drain()
	if f.best(p) != "i1" {
		t.Errorf("LLGR-stale route not used as the last resort")
	}
	a, _ := sent(f, ch, "ll", p)
	if a == nil || !slices.Contains(a.Communities, wire.CommunityLLGRStale) {
		t.Errorf("LLGR peer: %+v", a)
	}
	if a, wd := sent(f, ch, "nl", p); a != nil || !wd {
		t.Errorf("non-LLGR peer: %+v withdrawn %v, want a withdrawal", a, wd)
	}
	// Sweep at stale-timer expiry.
	if n, _ := f.r.SweepStale(f.id("i1"), v4); n != 1 {
		t.Errorf("SweepStale removed %d", n)
	}
	f.r.Drain()
	if s := f.r.Stats(); s.Paths != 0 || s.AttrSets != 0 {
		t.Errorf("after sweep: %+v", s)
	}
}

// TestReceivedLLGRStale: a route that arrives with LLGR_STALE (a helper
// propagating its stale route) is least preferred and not sent to peers
// without LLGR.
func TestReceivedLLGRStale(t *testing.T) {
	const p = "10.6.0.0/24"
	f := newFixture(t, Options{},
		peerSpec{name: "i1", addr: "10.0.0.1", as: localAS, client: true},
		peerSpec{name: "i2", addr: "10.0.0.2", as: localAS, client: true},
		peerSpec{name: "ll", addr: "10.0.0.8", as: localAS, client: true, llgr: true},
		peerSpec{name: "nl", addr: "10.0.0.9", as: localAS, client: true})
	f.update("i1", mkAttrs(nh("10.0.0.1"), lp(500), comm(wire.CommunityLLGRStale)), p)
	ch := f.r.Drain()
	if a, _ := sent(f, ch, "nl", p); a != nil {
		t.Errorf("LLGR-stale route sent to a peer without LLGR: %+v", a)
	}
	if a, _ := sent(f, ch, "ll", p); a == nil {
		t.Errorf("LLGR-stale route not sent to an LLGR peer")
	}
	f.update("i2", mkAttrs(nh("10.0.0.2"), lp(10)), p)
	f.r.Drain()
	if got := f.best(p); got != "i2" {
		t.Errorf("best %s, want i2: the LLGR_STALE route must lose despite LOCAL_PREF 500", got)
	}
}
