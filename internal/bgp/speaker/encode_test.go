package speaker

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"testing"

	"github.com/kbgp/kbgp/internal/bgp/wire"
	"github.com/kbgp/kbgp/internal/rib"
)

// encodeChangesReference is the straightforward encoding: withdrawals in
// change order, then one NLRI list per attribute set in order of first
// appearance. encodeChanges must produce the same bytes.
func encodeChangesReference(f wire.Family, changes []rib.ExportChange, member rib.PeerID, o *wire.Options) ([][]byte, error) {
	var withdrawn []wire.NLRI
	var order []*rib.AttrSet
	byAttrs := map[*rib.AttrSet][]wire.NLRI{}
	for _, c := range changes {
		n := wire.NLRI{Prefix: c.Prefix, PathID: c.PathID}
		switch c.For(member) {
		case rib.ActionAnnounce:
			if _, ok := byAttrs[c.Attrs]; !ok {
				order = append(order, c.Attrs)
			}
			byAttrs[c.Attrs] = append(byAttrs[c.Attrs], n)
		case rib.ActionWithdraw:
			withdrawn = append(withdrawn, n)
		}
	}
	var msgs [][]byte
	var err error
	if len(withdrawn) > 0 {
		if msgs, err = encodeNLRI(msgs, f, nil, withdrawn, o); err != nil {
			return nil, err
		}
	}
	for _, a := range order {
		if msgs, err = encodeNLRI(msgs, f, &a.Attrs, byAttrs[a], o); err != nil {
			return nil, err
		}
	}
	return msgs, nil
}

func TestEncodeChangesMatchesReference(t *testing.T) {
	sets := make([]*rib.AttrSet, 5)
	for i := range sets {
		a := wire.Attrs{Origin: wire.OriginIGP, NextHop: netip.AddrFrom4([4]byte{192, 0, 2, byte(i + 1)}), LocalPref: uint32(100 + i)}
		a.Set(wire.AttrOrigin)
		a.Set(wire.AttrASPath)
		a.Set(wire.AttrNextHop)
		a.Set(wire.AttrLocalPref)
		sets[i] = &rib.AttrSet{Attrs: a}
	}
	for _, tc := range []struct {
		name    string
		n       int
		member  rib.PeerID
		addPath bool
	}{
		{"empty", 0, noPeer, false},
		{"one change", 1, noPeer, false},
		{"common member", 3000, noPeer, false},
		{"split-horizon member", 3000, 1, false},
		{"add-path", 2000, 2, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(tc.n), 7))
			changes := make([]rib.ExportChange, tc.n)
			for i := range changes {
				c := rib.ExportChange{
					Prefix: netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i >> 8), byte(i), 0}), 24),
					Source: rib.PeerID(rng.IntN(4)),
				}
				if tc.addPath {
					c.PathID = uint32(rng.IntN(3))
				}
				if rng.IntN(4) != 0 {
					c.Attrs = sets[rng.IntN(len(sets))]
				}
				if rng.IntN(2) == 0 {
					c.HadOld, c.OldSource = true, rib.PeerID(rng.IntN(4))
				}
				changes[i] = c
			}
			o := &wire.Options{AS4: true}
			if tc.addPath {
				o.AddPath = []wire.Family{wire.IPv4Unicast}
			}
			// Twice: the second call runs on pooled scratch.
			for round := range 2 {
				got, err := encodeChanges(wire.IPv4Unicast, changes, tc.member, o)
				if err != nil {
					t.Fatal(err)
				}
				want, err := encodeChangesReference(wire.IPv4Unicast, changes, tc.member, o)
				if err != nil {
					t.Fatal(err)
				}
				if tc.n > 100 && len(want) < 2 {
					t.Fatalf("reference produced %d messages for %d changes", len(want), tc.n)
				}
				if len(got) != len(want) {
					t.Fatalf("round %d: %d messages, want %d", round, len(got), len(want))
				}
				for i := range got {
					if !bytes.Equal(got[i], want[i]) {
						t.Fatalf("round %d: message %d differs:\n got %x\nwant %x", round, i, got[i], want[i])
					}
				}
			}
		})
	}
}

func BenchmarkEncodeChanges(b *testing.B) {
	sets := make([]*rib.AttrSet, 200)
	for i := range sets {
		a := wire.Attrs{Origin: wire.OriginIGP, NextHop: netip.AddrFrom4([4]byte{192, 0, 2, 1}), MED: uint32(i)}
		a.Set(wire.AttrOrigin)
		a.Set(wire.AttrASPath)
		a.Set(wire.AttrNextHop)
		a.Set(wire.AttrMED)
		sets[i] = &rib.AttrSet{Attrs: a}
	}
	changes := make([]rib.ExportChange, 20000)
	for i := range changes {
		changes[i] = rib.ExportChange{Prefix: netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i >> 8), byte(i), 0}), 24), Attrs: sets[i%len(sets)], Source: 1}
	}
	o := &wire.Options{AS4: true}
	for _, impl := range []struct {
		name string
		fn   func(wire.Family, []rib.ExportChange, rib.PeerID, *wire.Options) ([][]byte, error)
	}{{"pooled", encodeChanges}, {"reference", encodeChangesReference}} {
		b.Run(fmt.Sprint(impl.name), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := impl.fn(wire.IPv4Unicast, changes, noPeer, o); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestEncodeSeq: a sequence walked twice may yield its changes in another
// order the second time (the RIB's table is a map): the UPDATEs then hold
// the same routes with the same attributes. A sequence that yields other
// changes the second time is refused, not half encoded.
func TestEncodeSeq(t *testing.T) {
	sets := make([]*rib.AttrSet, 3)
	for i := range sets {
		a := wire.Attrs{Origin: wire.OriginIGP, NextHop: netip.AddrFrom4([4]byte{192, 0, 2, byte(i + 1)})}
		a.Set(wire.AttrOrigin)
		a.Set(wire.AttrASPath)
		a.Set(wire.AttrNextHop)
		sets[i] = &rib.AttrSet{Attrs: a}
	}
	var changes []rib.ExportChange
	for i := range 500 {
		c := rib.ExportChange{Prefix: netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)}), 32), Source: 1}
		if i%7 != 0 {
			c.Attrs = sets[i%len(sets)]
		} else {
			c.HadOld = true
		}
		changes = append(changes, c)
	}
	o := &wire.Options{AS4: true}
	routes := func(msgs [][]byte) map[string]string {
		got := map[string]string{}
		for _, m := range msgs {
			var u wire.Update
			if err := u.Decode(m[wire.HeaderLen:], o); err != nil {
				t.Fatal(err)
			}
			for _, n := range u.Withdrawn {
				got[n.Prefix.String()] = "withdrawn"
			}
			for _, n := range u.NLRI {
				got[n.Prefix.String()] = u.Attrs.NextHop.String()
			}
		}
		return got
	}
	want, err := encodeChanges(wire.IPv4Unicast, changes, noPeer, o)
	if err != nil {
		t.Fatal(err)
	}
	walks := 0
	shuffled := func(yield func(rib.ExportChange) bool) {
		walks++
		order := rand.New(rand.NewPCG(uint64(walks), 3)).Perm(len(changes))
		for _, i := range order {
			if !yield(changes[i]) {
				return
			}
		}
	}
	got, err := encodeSeq(wire.IPv4Unicast, shuffled, noPeer, o)
	if err != nil {
		t.Fatal(err)
	}
	if g, w := routes(got), routes(want); fmt.Sprint(g) != fmt.Sprint(w) || len(w) != len(changes) {
		t.Errorf("shuffled passes encoded %d routes differently from the slice (%d)", len(g), len(w))
	}
	for name, second := range map[string]rib.ExportChange{
		"extra announcement": {Prefix: netip.MustParsePrefix("10.9.0.0/24"), Attrs: sets[0], Source: 1},
		"new attribute set":  {Prefix: netip.MustParsePrefix("10.9.0.0/24"), Attrs: &rib.AttrSet{Attrs: sets[0].Attrs}, Source: 1},
		"extra withdrawal":   {Prefix: netip.MustParsePrefix("10.9.0.0/24"), HadOld: true, Source: 1},
	} {
		walks := 0
		grows := func(yield func(rib.ExportChange) bool) {
			walks++
			for _, c := range changes {
				if !yield(c) {
					return
				}
			}
			if walks == 2 {
				yield(second)
			}
		}
		if _, err := encodeSeq(wire.IPv4Unicast, grows, noPeer, o); err != errSeqChanged {
			t.Errorf("%s in the second pass: %v, want errSeqChanged", name, err)
		}
	}
	// Fewer changes the second time: the pooled scratch still holds the
	// NLRI of the encodings above, which must not go out in their place.
	for name, skip := range map[string]int{"missing withdrawal": 0, "missing announcement": 1} {
		walks := 0
		shrinks := func(yield func(rib.ExportChange) bool) {
			walks++
			for i, c := range changes {
				if walks == 2 && i == skip {
					continue
				}
				if !yield(c) {
					return
				}
			}
		}
		if _, err := encodeSeq(wire.IPv4Unicast, shrinks, noPeer, o); err != errSeqChanged {
			t.Errorf("%s in the second pass: %v, want errSeqChanged", name, err)
		}
	}
}
