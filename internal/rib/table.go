package rib

import (
	"iter"
	"net/netip"

	"github.com/kbgp/kbgp/internal/bgp/wire"
)

// table is the Loc-RIB of one address family: prefix → entry. IPv4
// prefixes are keyed by a uint64 (address << 8 | length), which makes the
// map slot 16 instead of 40 bytes and the lookups cheaper; other prefixes
// by netip.Prefix.
type table struct {
	fam   wire.Family
	v4    map[uint64]*dest
	other map[netip.Prefix]*dest
	dirty []dirtyEntry
}

// dirtyEntry is a prefix waiting for the next Drain.
type dirtyEntry struct {
	pfx netip.Prefix
	d   *dest
}

func newTable(f wire.Family) *table {
	return &table{fam: f, v4: map[uint64]*dest{}, other: map[netip.Prefix]*dest{}}
}

func v4Key(p netip.Prefix) (uint64, bool) {
	a := p.Addr()
	if !a.Is4() {
		return 0, false
	}
	b := a.As4()
	return uint64(b[0])<<32 | uint64(b[1])<<24 | uint64(b[2])<<16 | uint64(b[3])<<8 | uint64(p.Bits()), true
}

func v4Prefix(k uint64) netip.Prefix {
	return netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(k >> 32), byte(k >> 24), byte(k >> 16), byte(k >> 8)}), int(k&0xff))
}

func (t *table) get(p netip.Prefix) *dest {
	if k, ok := v4Key(p); ok {
		return t.v4[k]
	}
	return t.other[p]
}

func (t *table) put(p netip.Prefix, d *dest) {
	if k, ok := v4Key(p); ok {
		t.v4[k] = d
		return
	}
	t.other[p] = d
}

func (t *table) del(p netip.Prefix) {
	if k, ok := v4Key(p); ok {
		delete(t.v4, k)
		return
	}
	delete(t.other, p)
}

func (t *table) len() int { return len(t.v4) + len(t.other) }

// all iterates over the entries; deleting the current entry is allowed.
func (t *table) all() iter.Seq2[netip.Prefix, *dest] {
	return func(yield func(netip.Prefix, *dest) bool) {
		for k, d := range t.v4 {
			if !yield(v4Prefix(k), d) {
				return
			}
		}
		for p, d := range t.other {
			if !yield(p, d) {
				return
			}
		}
	}
}
