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
// large UPDATE first in line left the RIB goroutine short of work. With
// pooled NLRI lists capped at 4,096 entries, a standard UPDATE counts at
// most about 135 KB of the 1 MiB, and gets in at the next releases.
//
// An UPDATE that needs more than a quarter of the budget (an extended
// message, RFC 8654, of thousands of prefixes) could wait for ever while
// other peers' small UPDATEs keep the queue busy: it only fits in a queue
// nearly empty. So after waiting through bigPatience releases it claims
// the budget: nothing else goes in until the queue has drained enough for
// it. A full-table load's UPDATEs stay under the threshold and are served
// as before.

// opBudget bounds the bytes the queued UPDATEs hold. acquire blocks until
// there is room; the RIB goroutine releases an UPDATE's bytes once it has
// applied it.
type opBudget struct {
	mu    sync.Mutex
	used  int
	limit int
	freed chan struct{} // closed (and replaced) when bytes are released; nil if nobody waits
	// claim is the large request that has claimed the budget (see
	// above); nil when none has.
	claim *int
}

// bigPatience is how many releases a large request waits through before
// it claims the budget.
const bigPatience = 8

// acquire takes n bytes of the budget, waiting while the queued UPDATEs
// hold too much; false if done closed meanwhile.
func (b *opBudget) acquire(n int, done <-chan struct{}) bool {
	var me *int // this request's claim token, once it is a large one waiting
	for {
		b.mu.Lock()
		if (b.claim == nil || b.claim == me) && (b.used == 0 || b.used+n <= b.limit) {
			b.used += n
			if me != nil && b.claim == me {
				b.claim = nil // others may go in again
				b.wake()
			}
			b.mu.Unlock()
			return true
		}
		if n > b.limit/4 && b.claim == nil {
			if me == nil {
				me = new(int)
			}
			if *me++; *me > bigPatience {
				b.claim = me
			}
		}
		if b.freed == nil {
			b.freed = make(chan struct{})
		}
		freed := b.freed
		b.mu.Unlock()
		select {
		case <-freed:
		case <-done:
			b.mu.Lock()
			if b.claim == me && me != nil {
				b.claim = nil
				b.wake()
			}
			b.mu.Unlock()
			return false
		}
	}
}

// release returns n bytes taken by acquire and wakes the waiters.
func (b *opBudget) release(n int) {
	b.mu.Lock()
	b.used -= n
	b.wake()
	b.mu.Unlock()
}

// wake wakes every waiter; b.mu is held.
func (b *opBudget) wake() {
	if b.freed != nil {
		close(b.freed)
		b.freed = nil
	}
}
