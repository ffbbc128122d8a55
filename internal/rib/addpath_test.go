package rib

import (
	"slices"
	"testing"

	"github.com/kbgp/kbgp/internal/bgp/wire"
)

func TestAddPathReceive(t *testing.T) {
	const p = "10.244.8.0/26"
	f := newFixture(t, Options{},
		peerSpec{name: "rr", addr: "10.0.0.1", as: localAS, recvAP: true},
		peerSpec{name: "plain", addr: "10.0.0.2", as: localAS})
	ap := []wire.NLRI{{Prefix: pfx(p), PathID: 1}, {Prefix: pfx(p), PathID: 2}}
	if _, _, err := f.r.Update(f.id("rr"), v4, ap[:1], mkAttrs(nh("10.0.1.1"))); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.r.Update(f.id("rr"), v4, ap[1:], mkAttrs(nh("10.0.1.2"))); err != nil {
		t.Fatal(err)
	}
	// Without ADD-PATH receive the path ID is ignored: one path per peer.
	if _, _, err := f.r.Update(f.id("plain"), v4, ap, mkAttrs(nh("10.0.2.1"))); err != nil {
		t.Fatal(err)
	}
	f.r.Drain()
	rs := f.r.Routes(v4, pfx(p))
	if len(rs) != 3 {
		t.Fatalf("routes: %+v", rs)
	}
	if err := f.r.Withdraw(f.id("rr"), v4, ap[:1]); err != nil {
		t.Fatal(err)
	}
	rs = f.r.Routes(v4, pfx(p))
	if len(rs) != 2 || !slices.ContainsFunc(rs, func(r Route) bool { return r.Peer == f.id("rr") && r.PathID == 2 }) {
		t.Fatalf("after withdrawing path 1: %+v", rs)
	}
}

func TestAddPathSend(t *testing.T) {
	const p = "10.244.9.0/26"
	f := newFixture(t, Options{},
		peerSpec{name: "a", addr: "10.0.0.1", as: localAS, client: true},
		peerSpec{name: "b", addr: "10.0.0.2", as: localAS, client: true},
		peerSpec{name: "c", addr: "10.0.0.3", as: localAS, client: true},
		peerSpec{name: "all", addr: "10.0.0.10", as: localAS, client: true, sendN: AllPaths},
		peerSpec{name: "two", addr: "10.0.0.11", as: localAS, client: true, sendN: 2},
		peerSpec{name: "one", addr: "10.0.0.12", as: localAS, client: true})
	f.update("a", mkAttrs(nh("10.0.0.1"), lp(300)), p)
	f.update("b", mkAttrs(nh("10.0.0.2"), lp(200)), p)
	f.update("c", mkAttrs(nh("10.0.0.3"), lp(100)), p)
	ch := f.r.Drain()
	ids := func(gc *GroupChanges, peer string) map[uint32]string {
		m := map[uint32]string{}
		for _, c := range gc.Changes {
			if c.For(f.id(peer)) == ActionAnnounce {
				m[c.PathID] = c.Attrs.Attrs.NextHop.String()
			}
		}
		return m
	}
	all := ids(groupOf(f, ch, "all"), "all")
	if len(all) != 3 || all[1] != "10.0.0.1" || all[2] != "10.0.0.2" || all[3] != "10.0.0.3" {
		t.Errorf("all paths: %v", all)
	}
	two := ids(groupOf(f, ch, "two"), "two")
	if len(two) != 2 || two[1] != "10.0.0.1" || two[2] != "10.0.0.2" {
		t.Errorf("best two: %v", two)
	}
	one := groupOf(f, ch, "one")
	if len(one.Changes) != 1 || one.AddPath || one.Changes[0].PathID != 0 || one.Changes[0].Attrs.Attrs.NextHop != ip("10.0.0.1") {
		t.Errorf("without ADD-PATH: %+v", one.Changes)
	}
	// Removing the middle path: its ID is withdrawn from "all", the others
	// keep their IDs (no changes), and "two" gets path 3 as its second.
	f.withdraw("b", p)
	ch = f.r.Drain()
	ga := groupOf(f, ch, "all")
	if len(ga.Changes) != 1 || ga.Changes[0].PathID != 2 || ga.Changes[0].Attrs != nil {
		t.Errorf("all after withdraw: %+v", ga.Changes)
	}
	gt := groupOf(f, ch, "two")
	if len(gt.Changes) != 2 {
		t.Fatalf("two after withdraw: %+v", gt.Changes)
	}
	if gt.Changes[0].PathID != 3 || gt.Changes[0].Attrs == nil || gt.Changes[1].PathID != 2 || gt.Changes[1].Attrs != nil {
		t.Errorf("two after withdraw: %+v", gt.Changes)
	}
	if groupOf(f, ch, "one") != nil {
		t.Errorf("best path unchanged but single-path group changed")
	}
	// A new path takes the smallest free ID.
	f.update("b", mkAttrs(nh("10.0.0.2"), lp(50)), p)
	ch = f.r.Drain()
	ga = groupOf(f, ch, "all")
	if len(ga.Changes) != 1 || ga.Changes[0].PathID != 2 || ga.Changes[0].Attrs == nil {
		t.Errorf("all after re-add: %+v", ga.Changes)
	}
}
