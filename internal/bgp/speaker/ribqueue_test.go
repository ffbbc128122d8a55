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
