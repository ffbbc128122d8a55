package speaker

import (
	"sync"
	"sync/atomic"
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

// TestOpBudgetLargeNotStarved: four peers keep small UPDATEs queued all the
// time, so the queue is never nearly empty; a large UPDATE (more than a
// quarter of the budget) still gets in, by claiming the budget after
// bigPatience releases, and the small ones go on afterwards.
func TestOpBudgetLargeNotStarved(t *testing.T) {
	b := &opBudget{limit: 100}
	done := make(chan struct{})
	stop := make(chan struct{})
	var small sync.WaitGroup
	var smallIn atomic.Int64
	for range 4 {
		small.Add(1)
		go func() {
			defer small.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if !b.acquire(20, done) {
					return
				}
				smallIn.Add(1)
				time.Sleep(time.Millisecond) // queued until the RIB applies it
				b.release(20)
			}
		}()
	}
	defer func() { close(stop); small.Wait() }()
	for smallIn.Load() < 20 { // the small traffic is flowing
		time.Sleep(time.Millisecond)
	}
	got := make(chan bool, 1)
	go func() { got <- b.acquire(90, done) }()
	select {
	case ok := <-got:
		if !ok {
			t.Fatal("large acquire failed")
		}
	case <-time.After(5 * time.Second):
		close(done) // ends every wait
		t.Fatalf("a large UPDATE waited 5 s behind small ones (%d small went in)", smallIn.Load())
	}
	b.mu.Lock()
	if b.claim != nil {
		t.Error("the claim outlived the large UPDATE's acquire")
	}
	b.mu.Unlock()
	before := smallIn.Load()
	b.release(90)
	for end := time.Now().Add(2 * time.Second); smallIn.Load() < before+8; {
		if time.Now().After(end) {
			t.Fatalf("small UPDATEs stopped after the large one: %d more in 2 s", smallIn.Load()-before)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestOpBudgetClaimEndsWithDone: a large request that has claimed the
// budget and is ended by done gives the claim up, so the others go on.
func TestOpBudgetClaimEndsWithDone(t *testing.T) {
	b := &opBudget{limit: 100}
	done := make(chan struct{})
	if !b.acquire(60, done) {
		t.Fatal("acquire failed")
	}
	got := make(chan bool, 1)
	go func() { got <- b.acquire(90, done) }()
	for i := 0; i <= bigPatience+1; i++ { // releases it waits through (60 → 50 used: 90 never fits)
		time.Sleep(5 * time.Millisecond)
		b.release(1)
	}
	time.Sleep(5 * time.Millisecond)
	b.mu.Lock()
	claimed := b.claim != nil
	b.mu.Unlock()
	if !claimed {
		t.Fatalf("no claim after %d releases", bigPatience+2)
	}
	close(done)
	if ok := <-got; ok {
		t.Fatal("the large acquire reported success after done")
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.claim != nil {
		t.Fatal("the claim outlived its request")
	}
}
