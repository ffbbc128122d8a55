package speaker

import "sync"

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
// budget still goes in when nothing else is queued.
//
// Waiters are not served in order: a release wakes them all, those that
// fit go in, and a newcomer that fits does not queue behind them. Strict
// order (tried in bfa0f97) made a full-table reflector 10-20 % slower: a
// large UPDATE first in line left the RIB goroutine short of work. So a
// waiting large UPDATE gets a chance at every release but no guarantee;
// with pooled NLRI lists capped at 4,096 entries, a standard UPDATE counts
// at most about 135 KB of the 1 MiB.

// opBudget bounds the bytes the queued UPDATEs hold. acquire blocks until
// there is room; the RIB goroutine releases an UPDATE's bytes once it has
// applied it.
type opBudget struct {
	mu    sync.Mutex
	used  int
	limit int
	freed chan struct{} // closed (and replaced) when bytes are released; nil if nobody waits
}

// acquire takes n bytes of the budget, waiting while the queued UPDATEs
// hold too much; false if done closed meanwhile.
func (b *opBudget) acquire(n int, done <-chan struct{}) bool {
	for {
		b.mu.Lock()
		if b.used == 0 || b.used+n <= b.limit {
			b.used += n
			b.mu.Unlock()
			return true
		}
		if b.freed == nil {
			b.freed = make(chan struct{})
		}
		freed := b.freed
		b.mu.Unlock()
		select {
		case <-freed:
		case <-done:
			return false
		}
	}
}

// release returns n bytes taken by acquire and wakes the waiters.
func (b *opBudget) release(n int) {
	b.mu.Lock()
	b.used -= n
	if b.freed != nil {
		close(b.freed)
		b.freed = nil
	}
	b.mu.Unlock()
}
