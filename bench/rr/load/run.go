package load

import (
	"context"
	"errors"
	"fmt"
	"math/bits"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// Run drives one scenario's clients against one DUT.
type Run struct {
	// DUT is the address the clients connect to.
	DUT netip.AddrPort
	// Index numbers every prefix the clients want.
	Index *Index
	// Clients are the sessions.
	Clients []*Client
	// DialParallel bounds the connection attempts in flight (default 64).
	DialParallel int
	// Progress, if set, receives a one-line status about once a second
	// while Wait runs.
	Progress func(string)

	t0          time.Time
	established atomic.Int64
	cancel      context.CancelFunc
	wg          sync.WaitGroup
}

// Start connects every client; it returns at once. Times are measured from
// Start.
func (r *Run) Start(ctx context.Context) {
	idx.Store(r.Index)
	ctx, r.cancel = context.WithCancel(ctx)
	par := r.DialParallel
	if par <= 0 {
		par = 64
	}
	sem := make(chan struct{}, par)
	for _, c := range r.Clients {
		if c.Want != nil {
			c.have = NewBits(r.Index.Len())
		}
		c.target.Store(int64(c.WantN))
	}
	r.t0 = time.Now()
	for _, c := range r.Clients {
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			c.run(ctx, r.DUT, sem, func(d int64) { r.established.Add(d) })
		}()
	}
}

// T0 is when Start began connecting.
func (r *Run) T0() time.Time { return r.t0 }

// Close ends every session and waits for the clients to stop.
func (r *Run) Close() {
	if r.cancel != nil {
		r.cancel()
	}
	for _, c := range r.Clients {
		c.wmu.Lock()
		if c.conn != nil {
			c.conn.Close()
		}
		c.wmu.Unlock()
	}
	r.wg.Wait()
}

// Times are the milestones of Wait, measured from `since`.
type Times struct {
	// Established is when the last session came up.
	Established time.Duration
	// Converged is when the last client had every wanted prefix (and no
	// unwanted withdrawal pending).
	Converged time.Duration
}

// errs returns the first few client errors joined.
func (r *Run) errs() error {
	var es []error
	for _, c := range r.Clients {
		if err := c.Err(); err != nil {
			es = append(es, err)
			if len(es) == 3 {
				break
			}
		}
	}
	return errors.Join(es...)
}

// Wait blocks until every session is Established and every client has
// reached its target prefix count, or the timeout passes. Times are
// measured from since.
func (r *Run) Wait(ctx context.Context, since time.Time, timeout time.Duration) (Times, error) {
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	lastProgress := time.Now()
	for {
		est := r.established.Load()
		conv := 0
		var got, want int64
		for _, c := range r.Clients {
			n, t := c.count.Load(), c.target.Load()
			got += n
			want += t
			if n == t && c.estAt.Load() != 0 {
				conv++
			}
		}
		if int(est) == len(r.Clients) && conv == len(r.Clients) {
			var t Times
			for _, c := range r.Clients {
				if e := time.Duration(c.estAt.Load() - since.UnixNano()); e > t.Established {
					t.Established = e
				}
				d := c.doneAt.Load()
				if d == 0 || d < since.UnixNano() {
					d = since.UnixNano() // already at target when the phase began
				}
				if cd := time.Duration(d - since.UnixNano()); cd > t.Converged {
					t.Converged = cd
				}
			}
			t.Established = max(t.Established, 0)
			return t, nil
		}
		if err := r.errs(); err != nil {
			return Times{}, err
		}
		if r.Progress != nil && time.Since(lastProgress) >= time.Second {
			lastProgress = time.Now()
			r.Progress(fmt.Sprintf("%5.1fs established %d/%d, converged %d/%d, prefixes %d/%d",
				time.Since(since).Seconds(), est, len(r.Clients), conv, len(r.Clients), got, want))
		}
		if time.Now().After(deadline) {
			err := fmt.Errorf("not converged after %v: established %d/%d, converged clients %d/%d, prefixes %d/%d",
				timeout, est, len(r.Clients), conv, len(r.Clients), got, want)
			for _, c := range r.Clients {
				if p := c.lastErr.Load(); p != nil && c.estAt.Load() == 0 {
					err = fmt.Errorf("%w; last connection error: %w", err, *p)
					break
				}
			}
			return Times{}, err
		}
		select {
		case <-ctx.Done():
			return Times{}, ctx.Err()
		case <-tick.C:
		}
	}
}

// Quiesce waits until no client has received an UPDATE for quiet, and
// returns when the last UPDATE arrived, measured from since.
func (r *Run) Quiesce(ctx context.Context, since time.Time, quiet, timeout time.Duration) (time.Duration, error) {
	deadline := time.Now().Add(timeout)
	for {
		var last int64
		for _, c := range r.Clients {
			last = max(last, c.lastMsg.Load())
		}
		if time.Since(time.Unix(0, last)) >= quiet {
			return max(time.Duration(last-since.UnixNano()), 0), nil
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("UPDATEs still arriving after %v", timeout)
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Retries is the number of failed session attempts before Established,
// and Drops the number of sessions lost after Established.
func (r *Run) Retries() (retries, drops int64) {
	for _, c := range r.Clients {
		retries += c.retries.Load()
		drops += c.drops.Load()
	}
	return retries, drops
}

// RetryError returns one client's last failed attempt (or drop), as an
// example of why sessions had to be retried; "" if none failed.
func (r *Run) RetryError() string {
	for _, c := range r.Clients {
		if p := c.lastErr.Load(); p != nil {
			return (*p).Error()
		}
	}
	return ""
}

// Counts sums what the clients received.
func (r *Run) Counts() (updates, prefixes, bad int64) {
	for _, c := range r.Clients {
		updates += c.updates.Load()
		prefixes += c.prefixes.Load()
		bad += c.badMsgs.Load()
	}
	return
}

// Churn withdraws the clients' Withdraw prefixes, waits until every client
// has seen the withdrawals, re-announces them and waits until every client
// has them again. withdrawn marks the churned prefixes. It returns the time
// from the first withdrawal to full convergence.
func (r *Run) Churn(ctx context.Context, withdrawn Bits, timeout time.Duration) (time.Duration, error) {
	for _, c := range r.Clients {
		if c.Want == nil {
			continue
		}
		lost := 0
		for i, w := range c.Want {
			lost += bits.OnesCount64(w & withdrawn[i])
		}
		c.doneAt.Store(0)
		c.target.Store(int64(c.WantN - lost))
	}
	start := time.Now()
	if err := r.sendAll(func(c *Client) []byte { return c.Withdraw }); err != nil {
		return 0, err
	}
	if _, err := r.Wait(ctx, start, timeout); err != nil {
		return 0, fmt.Errorf("churn withdraw: %w", err)
	}
	for _, c := range r.Clients {
		c.doneAt.Store(0)
		c.target.Store(int64(c.WantN))
	}
	if err := r.sendAll(func(c *Client) []byte { return c.Reannounce }); err != nil {
		return 0, err
	}
	t, err := r.Wait(ctx, start, timeout)
	if err != nil {
		return 0, fmt.Errorf("churn re-announce: %w", err)
	}
	return t.Converged, nil
}

func (r *Run) sendAll(msgs func(*Client) []byte) error {
	var wg sync.WaitGroup
	errc := make(chan error, len(r.Clients))
	for _, c := range r.Clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := c.send(msgs(c)); err != nil {
				errc <- fmt.Errorf("client %s: %w", c.Addr, err)
			}
		}()
	}
	wg.Wait()
	close(errc)
	return <-errc
}
