package fsm

import (
	"sync"
	"unsafe"

	"github.com/kbgp/kbgp/internal/bgp/wire"
)

// ReceivedUpdate is a received UPDATE whose ownership passes to the
// Handler. Its values alias the message buffer it was decoded from; both
// come from pools, so a speaker that hands UPDATEs to another goroutine
// needs no deep copy (wire.Update.Clone), which was one allocation per
// NLRI list, attribute slice and MP struct of every received UPDATE.
//
// The owner calls Release when done; after that neither the ReceivedUpdate
// nor anything it references may be used. An owner that never calls
// Release leaves both to the garbage collector, which is correct but
// forgoes the reuse.
type ReceivedUpdate struct {
	wire.Update
	body *[]byte // pooled message body Update aliases; nil if none
}

// Size is about how much memory u holds: its message buffer and its NLRI
// lists by capacity, the spare ones a reused Update keeps included (a
// pooled ReceivedUpdate keeps the lists a larger UPDATE grew, up to
// maxPooledNLRI). A speaker bounds its queue of received UPDATEs by it.
func (u *ReceivedUpdate) Size() int {
	n := int(unsafe.Sizeof(*u))
	if u.body != nil {
		n += cap(*u.body)
	}
	return n + u.NLRICap()*int(unsafe.Sizeof(wire.NLRI{}))
}

// maxPooledNLRI bounds the NLRI lists a pooled ReceivedUpdate keeps: as
// many as a standard 4 KB UPDATE can hold (one octet each at the least),
// so that only an extended message's lists (up to 64 KB of NLRI, 2.5 MB
// decoded) are left to the GC. A full-table UPDATE holds over 1,000
// prefixes: a bound of 1,024 dropped and regrew those lists all the
// time (table run 2.7 → 3.2 s, 214 → 243 MiB).
const maxPooledNLRI = wire.MaxMessageLen

// Release returns u and its message buffer to their pools.
func (u *ReceivedUpdate) Release() {
	if u.body != nil {
		putBody(u.body)
		u.body = nil
	}
	u.TrimNLRI(maxPooledNLRI)
	updatePool.Put(u)
}

var updatePool = sync.Pool{New: func() any { return new(ReceivedUpdate) }}

// newReceivedUpdate takes a ReceivedUpdate from the pool; Decode overwrites
// what a previous use left in it.
func newReceivedUpdate() *ReceivedUpdate { return updatePool.Get().(*ReceivedUpdate) }

// pooledBodyLen is the capacity of pooled message bodies: the largest body
// of a message without RFC 8654 extended messages. Larger bodies (extended
// messages, rare) are allocated for their message and not pooled, so the
// pool never pins 64 KiB buffers. Bodies up to smallBodyLen come from a
// pool of small buffers: a body stays in use until the RIB has taken the
// UPDATE, and a reflector's clients send small UPDATEs (a Kubernetes
// node's 21 routes are about 200 bytes), so 4 KiB each was most of the
// memory held by UPDATEs in flight (about 5 MB with 1,000 clients).
const (
	pooledBodyLen = wire.MaxMessageLen - wire.HeaderLen
	smallBodyLen  = 512
)

var bodies = newBufPool(smallBodyLen, pooledBodyLen)

// getBody returns a buffer of n bytes for a message body. It comes from
// a pool when n fits a standard message.
func getBody(n int) *[]byte {
	if n > pooledBodyLen {
		b := make([]byte, n)
		return &b
	}
	b := bodies.get(n)
	*b = (*b)[:n]
	return b
}

// putBody returns a buffer from getBody to its pool; the caller must not
// use it (nor anything aliasing it) afterwards.
func putBody(b *[]byte) { bodies.put(b) }
