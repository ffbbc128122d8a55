package rib

import (
	"iter"
	"net/netip"

	"github.com/kbgp/kbgp/internal/bgp/wire"
)

// destID is the handle of a Loc-RIB entry in its table's slab.
type destID uint32

// destChunk is the number of entries per slab chunk. Chunks never move, so
// a *dest stays valid while its entry lives.
const destChunk = 1024

// table is the Loc-RIB of one address family: prefix → entry. The entries
// live in a slab of fixed-size chunks with a free list; the maps hold only
// handles. IPv4 prefixes are keyed by a uint64 (address << 8 | length) in
// a v4Index, which has no pointers in its slots for the garbage collector
// to scan; other prefixes are keyed by netip.Prefix.
type table struct {
	fam    wire.Family
	v4     v4Index
	other  map[netip.Prefix]destID
	chunks []*[destChunk]dest
	fibs   []*[destChunk]fibState // parallel to chunks; nil without forwarding state
	hasFIB bool
	free   []destID
	paths  int // stored paths
	// The prefixes waiting for the next Drain: IPv4 ones by key (16
	// pointer-free bytes an entry), others by prefix.
	dirty4 []dirty4Entry
	dirty  []dirtyEntry
}

type dirty4Entry struct {
	key uint64
	id  destID
}

type dirtyEntry struct {
	pfx netip.Prefix
	id  destID
}

func newTable(f wire.Family, fib bool) *table {
	return &table{hasFIB: fib, fam: f, v4: v4Index{}, other: map[netip.Prefix]destID{}}
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

// at returns the entry with handle id.
func (t *table) at(id destID) *dest { return &t.chunks[id/destChunk][id%destChunk] }

// fibAt returns the forwarding state of the entry with handle id; the
// table must keep forwarding state.
func (t *table) fibAt(id destID) *fibState { return &t.fibs[id/destChunk][id%destChunk] }

func (t *table) lookup(p netip.Prefix) (destID, bool) {
	if k, ok := v4Key(p); ok {
		return t.v4.get(k)
	}
	id, ok := t.other[p]
	return id, ok
}

// get returns the entry of p, or nil.
func (t *table) get(p netip.Prefix) *dest {
	if id, ok := t.lookup(p); ok {
		return t.at(id)
	}
	return nil
}

// add creates the (empty) entry of p, which must not exist.
func (t *table) add(p netip.Prefix) *dest {
	var id destID
	if t.len() >= maxDests {
		panic("rib: more than half a billion prefixes in one table") // memory runs out long before
	}
	if n := len(t.free); n > 0 {
		id = t.free[n-1]
		t.free = t.free[:n-1]
	} else {
		id = destID(len(t.chunks) * destChunk)
		t.chunks = append(t.chunks, new([destChunk]dest))
		if t.hasFIB {
			t.fibs = append(t.fibs, new([destChunk]fibState))
		}
		for i := destChunk - 1; i > 0; i-- {
			t.free = append(t.free, id+destID(i))
		}
	}
	if k, ok := v4Key(p); ok {
		t.v4.set(k, id)
	} else {
		t.other[p] = id
	}
	d := t.at(id)
	d.bits = uint32(id)
	return d
}

// del frees the entry of p.
func (t *table) del(p netip.Prefix) {
	id, ok := t.lookup(p)
	if !ok {
		return
	}
	if k, ok := v4Key(p); ok {
		t.v4.del(k)
	} else {
		delete(t.other, p)
	}
	*t.at(id) = dest{}
	if t.fibs != nil {
		*t.fibAt(id) = fibState{}
	}
	if t.len() == 0 {
		// Empty: give the slab back rather than keep a full table's worth.
		t.chunks, t.fibs, t.free = nil, nil, nil
		return
	}
	t.free = append(t.free, id)
}

func (t *table) len() int { return t.v4.len() + len(t.other) }

// all iterates over the entries; deleting the current entry is allowed.
func (t *table) all() iter.Seq2[netip.Prefix, *dest] {
	return func(yield func(netip.Prefix, *dest) bool) {
		if !t.v4.all(func(k uint64, id destID) bool { return yield(v4Prefix(k), t.at(id)) }) {
			return
		}
		for p, id := range t.other {
			if !yield(p, t.at(id)) {
				return
			}
		}
	}
}
