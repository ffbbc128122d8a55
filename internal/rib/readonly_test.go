package rib

import (
	"testing"

	"github.com/kbgp/kbgp/internal/bgp/wire"
)

// TestReadOnlyPolicies: read-only import and export policies accept and
// reject exactly like the copying path, share one attribute set per UPDATE
// on import, and keep the reference counts exact when a memoised export is
// rejected for one prefix and accepted for another.
func TestReadOnlyPolicies(t *testing.T) {
	for _, ro := range []bool{false, true} {
		name := "copying"
		if ro {
			name = "read-only"
		}
		t.Run(name, func(t *testing.T) {
			calls := 0
			notBlock := func(block string) PolicyFunc {
				return func(in PolicyInput, _ *wire.Attrs) bool {
					calls++
					return in.Prefix != pfx(block)
				}
			}
			f := newFixture(t, Options{},
				peerSpec{name: "src", addr: "10.0.0.1", as: 65001, imp: Policy{Name: "imp", Func: notBlock("10.9.0.0/24"), ReadOnly: ro}},
				peerSpec{name: "a", addr: "10.0.0.2", as: localAS, client: true, exp: Policy{Name: "exp", Func: notBlock("10.2.0.0/24"), ReadOnly: ro}},
			)
			f.update("src", mkAttrs(seq(65001), nh("10.0.0.1")), "10.1.0.0/24", "10.2.0.0/24", "10.3.0.0/24", "10.9.0.0/24")
			ch := f.r.Drain()
			checkRefs(t, f.r)
			if f.best("10.9.0.0/24") != "" {
				t.Error("import policy: 10.9.0.0/24 accepted")
			}
			want := map[string]bool{"10.1.0.0/24": true, "10.2.0.0/24": false, "10.3.0.0/24": true}
			for p, in := range want {
				a, _ := sent(f, ch, "a", p)
				if (a != nil) != in {
					t.Errorf("export of %s: sent %v, want %v", p, a != nil, in)
				}
			}
			rs1, rs3 := f.r.Routes(v4, pfx("10.1.0.0/24")), f.r.Routes(v4, pfx("10.3.0.0/24"))
			if ro && rs1[0].Attrs != rs3[0].Attrs {
				t.Error("read-only import: the UPDATE's routes do not share one attribute set")
			}
			if calls == 0 {
				t.Error("policies never called")
			}
			// Withdraw everything: every set and next hop is released.
			f.withdraw("src", "10.1.0.0/24", "10.2.0.0/24", "10.3.0.0/24", "10.9.0.0/24")
			f.r.Drain()
			checkRefs(t, f.r)
			if st := f.r.Stats(); st.AttrSets != 0 {
				t.Errorf("%d attribute sets left after withdrawing everything", st.AttrSets)
			}
		})
	}
}
