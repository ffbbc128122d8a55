package speaker

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/kbgp/kbgp/internal/bgp/wire"
	"github.com/kbgp/kbgp/internal/rib"
)

// decodedView is what a peer learns from messages: prefix → the next hop
// announced ("" for a withdrawal).
func decodedView(t *testing.T, msgs [][]byte) map[netip.Prefix]string {
	t.Helper()
	out := map[netip.Prefix]string{}
	for _, m := range msgs {
		var u wire.Update
		if err := u.Decode(m[wire.HeaderLen:], &wire.Options{AS4: true}); err != nil {
			t.Fatalf("decoding an encoded UPDATE: %v", err)
		}
		for _, n := range u.Withdrawn {
			if _, dup := out[n.Prefix]; dup {
				t.Fatalf("%v twice in one view", n.Prefix)
			}
			out[n.Prefix] = ""
		}
		for _, n := range u.NLRI {
			if _, dup := out[n.Prefix]; dup {
				t.Fatalf("%v twice in one view", n.Prefix)
			}
			out[n.Prefix] = u.Attrs.NextHop.String()
		}
	}
	return out
}

// TestSplitViewsMatchPerMemberEncoding checks that each member's view of a
// split encoding (shared segments, its own segments encoded for it) says
// exactly what encoding all changes for that member says, for changes
// announced, replaced and withdrawn by members and by others, and that the
// views share the segments that do not involve them.
func TestSplitViewsMatchPerMemberEncoding(t *testing.T) {
	sets := make([]*rib.AttrSet, 4)
	for i := range sets {
		a := wire.Attrs{Origin: wire.OriginIGP, NextHop: netip.AddrFrom4([4]byte{192, 0, 2, byte(i + 1)}), LocalPref: 100}
		a.Set(wire.AttrOrigin)
		a.Set(wire.AttrASPath)
		a.Set(wire.AttrNextHop)
		a.Set(wire.AttrLocalPref)
		sets[i] = &rib.AttrSet{Attrs: a}
	}
	members := []rib.PeerID{1, 2, 3, 4}
	sources := []rib.PeerID{1, 2, 3, 4, 9} // 9: a peer outside the group
	o := &wire.Options{AS4: true}
	for seed := range uint64(30) {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) {
			r := rand.New(rand.NewPCG(seed, 5))
			var changes []rib.ExportChange
			for i := range 1 + r.IntN(300) {
				c := rib.ExportChange{Prefix: netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i >> 8), byte(i), 0}), 24)}
				if r.IntN(4) > 0 {
					c.Attrs = sets[r.IntN(len(sets))]
					c.Source = sources[r.IntN(len(sources))]
				}
				if c.Attrs == nil || r.IntN(3) == 0 {
					c.HadOld = true
					c.OldSource = sources[r.IntN(len(sources))]
				}
				changes = append(changes, c)
			}
			special := map[rib.PeerID]bool{}
			for _, c := range changes {
				if c.Attrs != nil && slices.Contains(members, c.Source) {
					special[c.Source] = true
				}
				if c.HadOld && slices.Contains(members, c.OldSource) {
					special[c.OldSource] = true
				}
			}
			var sorted []rib.ExportChange
			e, err := encodeSplit(wire.IPv4Unicast, o, changes, special, &sorted)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := len(sorted), len(changes); got != want {
				t.Fatalf("regrouped %d changes, want %d", got, want)
			}
			for _, m := range append(slices.Clone(members), noPeer) {
				want, err := encodeChanges(wire.IPv4Unicast, changes, m, o)
				if err != nil {
					t.Fatal(err)
				}
				var got [][]byte
				if m == noPeer || !special[m] {
					got = e.common
				} else {
					parts, err := e.view(wire.IPv4Unicast, o, m)
					if err != nil {
						t.Fatal(err)
					}
					for _, p := range parts {
						got = append(got, p...)
					}
				}
				if d := cmp.Diff(decodedView(t, want), decodedView(t, got)); d != "" {
					t.Errorf("member %d: split view differs from its own encoding (-own +split):\n%s", m, d)
				}
			}
			// The segments involving nobody special are shared by all.
			if n := len(slices.Collect(maps.Keys(e.mine))); n > len(special) {
				t.Errorf("%d members own segments, %d are special", n, len(special))
			}
		})
	}
}
