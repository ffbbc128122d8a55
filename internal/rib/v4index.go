package rib

import "math/bits"

// v4Index maps IPv4 prefix keys (see v4Key) to entry handles: one
// open-addressed hash table with linear probing whose slots are a single
// uint64 each, the prefix number (below) and the handle, with no pointer.
// A lookup touches one slot's cache line. (A Go map[uint64]destID has
// 16-byte slots in groups behind a control word, which cost two cache
// misses per lookup in a 577k-prefix table: most of the time the RIB took
// to store a received route.)
//
// Deleted slots become tombstones, so that deleting during iteration never
// moves an entry; rebuilding the table drops them.
type v4Index struct {
	slots []uint64 // len a power of two (or 0); 0 empty, v4Tomb deleted
	n     int      // live entries
	tombs int
	shift uint8 // 64 - log2(len(slots)), for start
	// iterating counts running iterations: the table is not rebuilt
	// meanwhile.
	iterating int
}

const (
	// A slot is pnum << v4IDBits | (handle + 1). The prefix number pnum is
	// 1 << length | address >> (32 - length): 33 bits, never 0, so a slot
	// is never 0 (empty) or 1 (v4Tomb: prefix number 0).
	v4IDBits = 31
	v4IDMask = 1<<v4IDBits - 1
	v4Tomb   = 1
	// v4MinSlots is the smallest table.
	v4MinSlots = 16
)

// Handles must fit beside the prefix number.
var _ [v4IDMask - maxDests]struct{}

// v4PrefixNumber turns a key (address << 8 | length) into the prefix
// number, which has no unused bits.
func v4PrefixNumber(k uint64) uint64 {
	l := k & 0xff
	return 1<<l | (k>>8)>>(32-l)
}

// v4KeyOf is the inverse of v4PrefixNumber.
func v4KeyOf(pn uint64) uint64 {
	l := uint64(bits.Len64(pn) - 1)
	return (pn&^(1<<l))<<(32-l)<<8 | l
}

func (x *v4Index) len() int { return x.n }

// start is the first slot to probe for prefix number pn: Fibonacci
// hashing, whose top bits mix all of pn.
func (x *v4Index) start(pn uint64) uint64 { return pn * 0x9e3779b97f4a7c15 >> x.shift }

// get returns the handle of key k.
func (x *v4Index) get(k uint64) (destID, bool) {
	if x.n == 0 {
		return 0, false
	}
	pn := v4PrefixNumber(k)
	mask := uint64(len(x.slots) - 1)
	for i := x.start(pn); ; i = (i + 1) & mask {
		s := x.slots[i]
		if s == 0 {
			return 0, false
		}
		if s>>v4IDBits == pn {
			return destID(s&v4IDMask - 1), true
		}
	}
}

// set adds key k with handle id; k must not be present.
func (x *v4Index) set(k uint64, id destID) {
	if (x.n+x.tombs+1)*4 > len(x.slots)*3 {
		size := max(v4MinSlots, len(x.slots))
		for (x.n+1)*2 > size {
			size *= 2 // grow; otherwise only drop the tombstones
		}
		x.rebuild(size)
	}
	x.insert(v4PrefixNumber(k)<<v4IDBits | (uint64(id) + 1))
	x.n++
}

func (x *v4Index) insert(slot uint64) {
	mask := uint64(len(x.slots) - 1)
	for i := x.start(slot >> v4IDBits); ; i = (i + 1) & mask {
		switch x.slots[i] {
		case v4Tomb:
			x.tombs--
			fallthrough
		case 0:
			x.slots[i] = slot
			return
		}
	}
}

func (x *v4Index) rebuild(size int) {
	old := x.slots
	x.slots = make([]uint64, size)
	x.shift = uint8(64 - bits.TrailingZeros(uint(size)))
	x.tombs = 0
	for _, s := range old {
		if s > v4Tomb {
			x.insert(s)
		}
	}
}

// del removes key k if present.
func (x *v4Index) del(k uint64) {
	if x.n == 0 {
		return
	}
	pn := v4PrefixNumber(k)
	mask := uint64(len(x.slots) - 1)
	for i := x.start(pn); ; i = (i + 1) & mask {
		s := x.slots[i]
		if s == 0 {
			return
		}
		if s>>v4IDBits == pn {
			x.slots[i] = v4Tomb
			x.tombs++
			x.n--
			break
		}
	}
	if x.iterating == 0 {
		x.shrink()
	}
}

// shrink gives memory back once most entries are gone (a withdrawn table
// leaves nothing behind).
func (x *v4Index) shrink() {
	switch {
	case x.n == 0:
		*x = v4Index{iterating: x.iterating}
	case len(x.slots) > v4MinSlots && x.n*8 < len(x.slots):
		size := len(x.slots)
		for size > v4MinSlots && x.n*8 < size {
			size /= 2
		}
		x.rebuild(size)
	}
}

// all calls fn for every key and handle until it returns false. fn may
// delete the key it is given, and no other.
func (x *v4Index) all(fn func(k uint64, id destID) bool) bool {
	x.iterating++
	defer func() {
		if x.iterating--; x.iterating == 0 {
			x.shrink()
		}
	}()
	for _, s := range x.slots {
		if s > v4Tomb && !fn(v4KeyOf(s>>v4IDBits), destID(s&v4IDMask-1)) {
			return false
		}
	}
	return true
}
