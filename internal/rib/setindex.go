package rib

import "math/bits"

// setIndex finds interned attribute sets by hash: an open-addressed table
// with linear probing whose slots are one uint64 each, the top 32 bits of
// the set's hash (its tag) and its handle, with no pointer. A lookup
// usually touches one cache line; sets whose tags match are confirmed by
// comparing attributes (keyEqual), so sets with equal hashes need no
// chain. (A Go map of hash → handle has 16-byte slots in groups behind a
// control word: two cache misses per lookup where one set is looked up
// per received UPDATE in a table of 160k sets.)
//
// Deleting shifts the following slots back (Knuth's Algorithm R), so the
// table has no tombstones.
type setIndex struct {
	slots []uint64 // len a power of two (or 0); 0 is empty (handles start at 1)
	n     int
	shift uint8 // 64 - log2(len(slots))
}

// minSetSlots is the smallest table.
const minSetSlots = 64

func setSlot(tag uint32, id setID) uint64 { return uint64(tag)<<32 | uint64(id) }

// home is the first slot to probe for a slot value or hash v: its top
// bits, which the tag holds while the table has at most 2³² slots.
func (x *setIndex) home(v uint64) int { return int(v >> x.shift) }

func (x *setIndex) mask() int { return len(x.slots) - 1 }

// probe calls fn with the handle of every set whose tag is that of hash h,
// in probe order, until fn returns true; it returns that handle or 0.
func (x *setIndex) probe(h uint64, fn func(setID) bool) setID {
	if x.n == 0 {
		return 0
	}
	tag := uint32(h >> 32)
	m := x.mask()
	for i := x.home(h); ; i = (i + 1) & m {
		s := x.slots[i]
		if s == 0 {
			return 0
		}
		if uint32(s>>32) == tag && fn(setID(s)) {
			return setID(s)
		}
	}
}

// add adds the set with handle id and hash h.
func (x *setIndex) add(h uint64, id setID) {
	if (x.n+1)*4 > len(x.slots)*3 {
		x.resize(max(minSetSlots, 2*len(x.slots)))
	}
	x.insert(setSlot(uint32(h>>32), id))
	x.n++
}

func (x *setIndex) insert(s uint64) {
	m := x.mask()
	i := x.home(s)
	for x.slots[i] != 0 {
		i = (i + 1) & m
	}
	x.slots[i] = s
}

func (x *setIndex) resize(size int) {
	old := x.slots
	x.slots = make([]uint64, size)
	x.shift = uint8(64 - bits.TrailingZeros(uint(size)))
	for _, s := range old {
		if s != 0 {
			x.insert(s)
		}
	}
}

// del removes the set with handle id and hash h, which must be present.
func (x *setIndex) del(h uint64, id setID) {
	want := setSlot(uint32(h>>32), id)
	m := x.mask()
	i := x.home(h)
	for x.slots[i] != want {
		if x.slots[i] == 0 {
			panic("rib: attribute set missing from its index")
		}
		i = (i + 1) & m
	}
	// Algorithm R: move back every later slot of the run that may not
	// sit after the hole, since its home is not cyclically in (hole, j].
	for j := i; ; {
		j = (j + 1) & m
		s := x.slots[j]
		if s == 0 {
			break
		}
		k := x.home(s)
		if (i <= j && (k <= i || k > j)) || (i > j && k <= i && k > j) {
			x.slots[i] = s
			i = j
		}
	}
	x.slots[i] = 0
	x.n--
	switch {
	case x.n == 0:
		*x = setIndex{}
	case len(x.slots) > minSetSlots && x.n*8 < len(x.slots):
		x.resize(len(x.slots) / 2) // give memory back after a table is withdrawn
	}
}
