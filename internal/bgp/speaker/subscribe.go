package speaker

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"sync"

	"github.com/kbgp/kbgp/internal/bgp/wire"
	"github.com/kbgp/kbgp/internal/rib"
)

type fibKey struct {
	Family wire.Family
	Prefix netip.Prefix
}

// BestPath is the forwarding state of one prefix: the next hops of its
// multipath set (best first) and the best path's attributes. A BestPath
// with no NextHops is a withdrawal.
type BestPath struct {
	Family   wire.Family
	Prefix   netip.Prefix
	NextHops []netip.Addr
	// Attrs of the best path; shared and immutable (nil when withdrawn).
	Attrs *wire.Attrs
	// Local is true when the best path is locally originated.
	Local bool
}

// Withdrawn reports whether the prefix has no usable route.
func (b *BestPath) Withdrawn() bool { return b.Attrs == nil }

// ErrNoFIB is returned by Subscribe and BestPaths when the speaker keeps no
// forwarding state (Config.RIB.NoFIB: a route reflector out of the
// forwarding path).
var ErrNoFIB = errors.New("speaker keeps no forwarding state (RIB NoFIB)")

// Subscription receives best-path and multipath changes. Changes to one
// prefix are coalesced while the subscriber is busy, so a slow subscriber
// costs at most one pending entry per prefix and never blocks the RIB.
type Subscription struct {
	sp      *Speaker
	mu      sync.Mutex // guards pending and closed
	pending map[fibKey]BestPath
	closed  bool
	notify  chan struct{} // capacity 1
}

// Subscribe returns a subscription whose first Next returns the current
// best path of every prefix.
func (s *Speaker) Subscribe(ctx context.Context) (*Subscription, error) {
	if s.cfg.RIB.NoFIB {
		return nil, ErrNoFIB
	}
	sub := &Subscription{sp: s, pending: map[fibKey]BestPath{}, notify: make(chan struct{}, 1)}
	err := s.do(ctx, func() {
		s.rib.FIB(func(c rib.FIBChange) bool {
			sub.pending[fibKey{c.Family, c.Prefix}] = bestPath(&c)
			return true
		})
		s.subs[sub] = struct{}{}
		sub.poke()
	})
	if err != nil {
		return nil, err
	}
	return sub, nil
}

func (sub *Subscription) poke() {
	select {
	case sub.notify <- struct{}{}:
	default:
	}
}

// Next waits for changes and returns them, sorted by family and prefix.
func (sub *Subscription) Next(ctx context.Context) ([]BestPath, error) {
	for {
		sub.mu.Lock()
		if sub.closed {
			sub.mu.Unlock()
			return nil, ErrClosed
		}
		if len(sub.pending) > 0 {
			out := make([]BestPath, 0, len(sub.pending))
			for _, b := range sub.pending {
				out = append(out, b)
			}
			clear(sub.pending)
			sub.mu.Unlock()
			sortBestPaths(out)
			return out, nil
		}
		sub.mu.Unlock()
		select {
		case <-sub.notify:
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-sub.sp.done:
			return nil, ErrClosed
		}
	}
}

// Close ends the subscription.
func (sub *Subscription) Close() {
	sub.mu.Lock()
	sub.closed = true
	sub.mu.Unlock()
	sub.sp.enqueue(func() { delete(sub.sp.subs, sub) })
}

// publishFIB hands FIB changes to subscribers. Runs on
// the RIB goroutine.
//
// The speaker keeps no copy of the best paths: with no subscriber (a pure
// route reflector) the changes are dropped here, and Subscribe and
// BestPaths read the current state from the RIB (rib.FIB). The copy cost
// about 100 MB with 4 full tables.
func (s *Speaker) publishFIB(changes []rib.FIBChange) {
	if len(s.subs) == 0 {
		return
	}
	for i := range changes {
		c := &changes[i]
		b := bestPath(c)
		k := fibKey{c.Family, c.Prefix}
		for sub := range s.subs {
			sub.mu.Lock()
			sub.pending[k] = b
			sub.mu.Unlock()
		}
	}
	for sub := range s.subs {
		sub.poke()
	}
}

// bestPath converts a FIB change, copying its shared next hops.
func bestPath(c *rib.FIBChange) BestPath {
	b := BestPath{Family: c.Family, Prefix: c.Prefix, NextHops: slices.Clone(c.NextHops), Local: c.Local}
	if c.Best != nil {
		b.Attrs = &c.Best.Attrs
	}
	return b
}

// BestPaths returns the current best path of every prefix, sorted.
func (s *Speaker) BestPaths(ctx context.Context) ([]BestPath, error) {
	if s.cfg.RIB.NoFIB {
		return nil, ErrNoFIB
	}
	var out []BestPath
	err := s.do(ctx, func() {
		s.rib.FIB(func(c rib.FIBChange) bool {
			out = append(out, bestPath(&c))
			return true
		})
	})
	sortBestPaths(out)
	return out, err
}

func sortBestPaths(out []BestPath) {
	slices.SortFunc(out, func(a, b BestPath) int {
		if a.Family != b.Family {
			return int(a.Family.AFI) - int(b.Family.AFI)
		}
		if c := a.Prefix.Addr().Compare(b.Prefix.Addr()); c != 0 {
			return c
		}
		return a.Prefix.Bits() - b.Prefix.Bits()
	})
}
