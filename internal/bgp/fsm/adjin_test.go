package fsm

import (
	"net/netip"
	"testing"

	"github.com/kbgp/kbgp/internal/bgp/wire"
)

func TestPrefixSet(t *testing.T) {
	n := func(s string, id uint32) wire.NLRI { return wire.NLRI{Prefix: netip.MustParsePrefix(s), PathID: id} }
	type op struct {
		add  bool
		nlri wire.NLRI
	}
	for _, tc := range []struct {
		name string
		ops  []op
		want int
	}{
		{"empty", nil, 0},
		{"re-announce counts once", []op{{true, n("10.0.0.0/24", 0)}, {true, n("10.0.0.0/24", 0)}}, 1},
		{"lengths differ", []op{{true, n("10.0.0.0/24", 0)}, {true, n("10.0.0.0/25", 0)}}, 2},
		{"path IDs differ", []op{{true, n("10.0.0.0/24", 1)}, {true, n("10.0.0.0/24", 2)}}, 2},
		{"withdraw", []op{{true, n("10.0.0.0/24", 0)}, {false, n("10.0.0.0/24", 0)}}, 0},
		{"withdraw of unknown", []op{{true, n("10.0.0.0/24", 0)}, {false, n("10.0.1.0/24", 0)}}, 1},
		{"withdraw other path ID", []op{{true, n("10.0.0.0/24", 1)}, {false, n("10.0.0.0/24", 2)}}, 1},
		{"v4 and v4-mapped v6 differ", []op{{true, n("10.0.0.0/24", 0)}, {true, n("::ffff:10.0.0.0/120", 0)}}, 2},
		{"v6", []op{{true, n("2001:db8::/32", 0)}, {true, n("2001:db8::/48", 0)}, {false, n("2001:db8::/32", 0)}}, 1},
		{"default routes", []op{{true, n("0.0.0.0/0", 0)}, {true, n("::/0", 0)}}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var s prefixSet
			ref := map[wire.NLRI]bool{}
			for _, o := range tc.ops {
				if o.add {
					s.add(o.nlri)
					ref[o.nlri] = true
				} else {
					s.remove(o.nlri)
					delete(ref, o.nlri)
				}
			}
			if s.len() != tc.want || len(ref) != tc.want {
				t.Errorf("len = %d (reference map %d), want %d", s.len(), len(ref), tc.want)
			}
		})
	}
}
