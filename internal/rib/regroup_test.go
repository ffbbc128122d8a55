package rib

import (
	"testing"

	"github.com/kbgp/kbgp/internal/bgp/wire"
)

// TestRenameExportPolicies: a group whose members all get one new policy
// name is renamed in place and its members get exactly the difference the
// new policy makes; a batch that would split or merge groups changes
// nothing.
func TestRenameExportPolicies(t *testing.T) {
	block := pfx("10.1.0.0/24")
	reject := false // the policy's behaviour, switched with the rename
	fn := PolicyFunc(func(in PolicyInput, _ *wire.Attrs) bool { return !(reject && in.Prefix == block) })
	pol := func(name string) Policy { return Policy{Name: name, Func: fn} }
	f := newFixture(t, Options{},
		peerSpec{name: "src", addr: "10.0.0.1", as: 65001},
		peerSpec{name: "a", addr: "10.0.0.2", as: localAS, client: true, exp: pol("h1")},
		peerSpec{name: "b", addr: "10.0.0.3", as: localAS, client: true, exp: pol("h1")},
		peerSpec{name: "c", addr: "10.0.0.4", as: localAS, client: true, exp: pol("h2")},
	)
	f.update("src", mkAttrs(seq(65001), nh("10.0.0.1")), "10.1.0.0/24", "10.2.0.0/24")
	f.r.Drain()
	ga, _ := f.r.PeerGroup(f.id("a"))
	if gb, _ := f.r.PeerGroup(f.id("b")); gb != ga {
		t.Fatalf("a and b (same policy name) are in groups %d and %d", ga, gb)
	}
	if gc, _ := f.r.PeerGroup(f.id("c")); gc == ga {
		t.Fatal("c (another policy name) shares a's group")
	}

	// Splitting a's group, or merging it into c's, is refused.
	for _, names := range []map[PeerID]Policy{
		{f.id("a"): {Name: "h3"}},
		{f.id("a"): {Name: "h3"}, f.id("b"): {Name: "h4"}},
		{f.id("a"): {Name: "h2"}, f.id("b"): {Name: "h2"}},
	} {
		if f.r.RenameExportPolicies(names) {
			t.Errorf("RenameExportPolicies(%v) = true, want false", names)
		}
		for _, p := range []string{"a", "b"} {
			if c, _ := f.r.Peer(f.id(p)); c.Export.Name != "h1" {
				t.Errorf("refused rename changed %s's policy name to %q", p, c.Export.Name)
			}
		}
	}

	// Both members to h3: renamed in place, same group, and the new
	// policy's difference is sent (the block withdrawn, nothing else).
	reject = true
	if !f.r.RenameExportPolicies(map[PeerID]Policy{f.id("a"): {Name: "h3"}, f.id("b"): {Name: "h3"}}) {
		t.Fatal("renaming a whole group was refused")
	}
	if g, _ := f.r.PeerGroup(f.id("a")); g != ga {
		t.Errorf("a moved from group %d to %d", ga, g)
	}
	ch := f.r.Drain()
	for _, p := range []string{"a", "b"} {
		if _, w := sent(f, ch, p, "10.1.0.0/24"); !w {
			t.Errorf("%s: 10.1.0.0/24 not withdrawn under the new policy", p)
		}
		if a, w := sent(f, ch, p, "10.2.0.0/24"); a != nil || w {
			t.Errorf("%s: 10.2.0.0/24 re-sent (%v, withdrawn %v), want no change", p, a, w)
		}
	}
	if c, _ := f.r.Peer(f.id("a")); c.Export.Name != "h3" {
		t.Errorf("a's policy name %q, want h3", c.Export.Name)
	}

	// A peer joining later with h3 lands in the renamed group.
	f.add(peerSpec{name: "d", addr: "10.0.0.5", as: localAS, client: true, exp: pol("h3")})
	if g, _ := f.r.PeerGroup(f.id("d")); g != ga {
		t.Errorf("a new peer with the renamed policy is in group %d, want %d", g, ga)
	}
}
