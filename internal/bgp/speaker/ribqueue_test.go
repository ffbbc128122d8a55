package speaker

import (
	"testing"
	"time"
)

// TestOpBudget: acquire takes bytes while they fit, waits while the queued
// UPDATEs hold too much and goes on when release frees enough; an UPDATE
// larger than the whole budget goes in alone; done ends a wait.
func TestOpBudget(t *testing.T) {
	b := &opBudget{limit: 100}
	done := make(chan struct{})
	if !b.acquire(60, done) || !b.acquire(40, done) {
		t.Fatal("acquire within the budget failed")
	}
	got := make(chan bool, 1)
	go func() { got <- b.acquire(30, done) }()
	select {
	case <-got:
		t.Fatal("acquire over the budget did not wait")
	case <-time.After(50 * time.Millisecond):
	}
	b.release(20) // 80 used: 30 more do not fit yet
	select {
	case <-got:
		t.Fatal("acquire went on with the budget still short")
	case <-time.After(50 * time.Millisecond):
	}
	b.release(40) // 40 used
	select {
	case ok := <-got:
		if !ok {
			t.Fatal("acquire failed")
		}
	case <-time.After(2 * time.Second):
		t.Fatal("acquire still waits after release made room")
	}
	if b.used != 70 {
		t.Fatalf("used %d, want 70", b.used)
	}
	b.release(70)
	if !b.acquire(500, done) {
		t.Fatal("an UPDATE over the whole budget did not go into an empty queue")
	}
	go func() { got <- b.acquire(1, done) }()
	time.Sleep(20 * time.Millisecond)
	close(done)
	select {
	case ok := <-got:
		if ok {
			t.Fatal("acquire reported success after done")
		}
	case <-time.After(2 * time.Second):
		t.Fatal("done did not end the wait")
	}
}

// TestOpBudgetOrder: waiters are served in the order they came. A small
// UPDATE that would fit does not pass a large one waiting for room, and a
// waiter that gives up (done) lets the ones behind it in.
func TestOpBudgetOrder(t *testing.T) {
	b := &opBudget{limit: 100}
	never := make(chan struct{})
	if !b.acquire(90, never) {
		t.Fatal("acquire failed")
	}
	order := make(chan int, 3)
	waitFor := func(waiters int) {
		t.Helper()
		for end := time.Now().Add(2 * time.Second); ; time.Sleep(time.Millisecond) {
			b.mu.Lock()
			n := len(b.waiters)
			b.mu.Unlock()
			if n == waiters {
				return
			}
			if time.Now().After(end) {
				t.Fatalf("%d waiters, want %d", n, waiters)
			}
		}
	}
	go func() { b.acquire(50, never); order <- 50 }()
	waitFor(1)
	go func() { b.acquire(5, never); order <- 5 }() // fits, but the 50 came first
	waitFor(2)
	select {
	case n := <-order:
		t.Fatalf("the %d-byte acquire went in while the budget was short for the first waiter", n)
	case <-time.After(50 * time.Millisecond):
	}
	b.release(90)
	if first, second := <-order, <-order; first != 50 || second != 5 {
		t.Fatalf("served %d then %d, want 50 then 5", first, second)
	}
	// A large waiter that gives up unblocks the small one behind it.
	gone := make(chan struct{})
	go func() { b.acquire(80, gone); order <- 80 }() // 55 used: waits
	waitFor(1)
	go func() { b.acquire(10, never); order <- 10 }()
	waitFor(2)
	close(gone)
	got := map[int]bool{<-order: true, <-order: true}
	if !got[80] || !got[10] {
		t.Fatalf("after the first waiter gave up: %v", got)
	}
	b.mu.Lock()
	used := b.used
	b.mu.Unlock()
	if used != 65 {
		t.Errorf("used %d, want 65 (the 80 that gave up returned nothing it did not take)", used)
	}
}
