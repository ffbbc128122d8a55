package speaker

import (
	"slices"
	"sync"
)

// The RIB queue.
//
// Readers hand the RIB goroutine their work through ribq, and block while
// it is full: that is the backpressure that stops reading from a peer the
// RIB cannot keep up with. What a queued operation holds differs by three
// orders of magnitude, though: a full UPDATE holds its 4 KB message and
// its decoded NLRI (about 30 KB), a session event or a Kubernetes node's
// 21 routes a few hundred bytes. A queue of 64 operations kept a
// full-table reflector's backlog small (256 were about 8 MB of its live
// heap), but when a hundred clients came up together, 35 to 40 readers
// waited on the full queue to hand over a session event or a 200-byte
// UPDATE, each on a grown goroutine stack (8 KB), which cost more than the
// operations they carried.
//
// So the queue is bounded twice: by count (QueueLen operations, default
// 1024) and by what the queued UPDATEs hold (QueueBytes, default 1 MiB,
// counted by fsm.ReceivedUpdate.Size). An UPDATE larger than the whole
// budget still goes in when nothing else is queued, and waiting readers
// go in in the order they came.

// opBudget bounds the bytes the queued UPDATEs hold. acquire blocks until
// there is room; the RIB goroutine releases an UPDATE's bytes once it has
// applied it. Waiters are served in order, as senders on a channel are: a
// large UPDATE is not passed over by small ones for as long as they keep
// coming (its reader would hold its session's lock all that time).
type opBudget struct {
	mu      sync.Mutex
	used    int
	limit   int
	waiters []*budgetWaiter // in arrival order
}

// budgetWaiter is an acquire waiting for n bytes; ready is closed when
// they are granted.
type budgetWaiter struct {
	n     int
	ready chan struct{}
}

// fits reports whether n more bytes may be taken now. b.mu is held.
func (b *opBudget) fits(n int) bool { return b.used == 0 || b.used+n <= b.limit }

// acquire takes n bytes of the budget, waiting (behind earlier waiters)
// while the queued UPDATEs hold too much; false if done closed meanwhile.
func (b *opBudget) acquire(n int, done <-chan struct{}) bool {
	b.mu.Lock()
	if len(b.waiters) == 0 && b.fits(n) {
		b.used += n
		b.mu.Unlock()
		return true
	}
	w := &budgetWaiter{n: n, ready: make(chan struct{})}
	b.waiters = append(b.waiters, w)
	b.mu.Unlock()
	select {
	case <-w.ready:
		return true
	case <-done:
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	select {
	case <-w.ready:
		// Granted meanwhile: give the bytes back.
		b.used -= n
	default:
		b.waiters = slices.DeleteFunc(b.waiters, func(x *budgetWaiter) bool { return x == w })
	}
	b.grant()
	return false
}

// release returns n bytes taken by acquire and admits the waiters that
// now fit.
func (b *opBudget) release(n int) {
	b.mu.Lock()
	b.used -= n
	b.grant()
	b.mu.Unlock()
}

// grant admits waiters in order while the first one fits. b.mu is held.
func (b *opBudget) grant() {
	for len(b.waiters) > 0 && b.fits(b.waiters[0].n) {
		w := b.waiters[0]
		b.waiters[0] = nil
		b.waiters = b.waiters[1:]
		b.used += w.n
		close(w.ready)
	}
}
