package fib

import (
	"context"
	"time"
)

// Watcher is implemented by kernels that report route changes. Watch calls
// notify (from one goroutine) when a route with protocol may have been
// added, changed or removed by someone else, or when change notifications
// were lost, until ctx ends; it returns the error that ended it, or nil.
type Watcher interface {
	Watch(ctx context.Context, protocol uint8, notify func()) error
}

// WatchOptions tunes [FIB.Watch].
type WatchOptions struct {
	// MinInterval is the least time between two resyncs; events in
	// between are coalesced into one. 0 means one second.
	MinInterval time.Duration
	// Period resyncs this often even without events (a safety net for
	// lost notifications); 0 means one minute, negative disables it.
	Period time.Duration
	// OnResync, if set, is called after each resync with its outcome.
	OnResync func(Result, error)
}

// Watch keeps the kernel equal to the last Set until ctx ends: it resyncs
// when the kernel reports a change to our routes (if the kernel is a
// [Watcher]) and every Period, but never more often than MinInterval. Our
// own Set calls cause events too; the resync they trigger finds nothing to
// do. Watch returns ctx's error, or the Watcher's error if it fails.
func (f *FIB) Watch(ctx context.Context, opts WatchOptions) error {
	if opts.MinInterval <= 0 {
		opts.MinInterval = time.Second
	}
	if opts.Period == 0 {
		opts.Period = time.Minute
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	trigger := make(chan struct{}, 1)
	notify := func() {
		select {
		case trigger <- struct{}{}:
		default: // one is pending already
		}
	}
	watchErr := make(chan error, 1)
	if w, ok := f.kernel.(Watcher); ok {
		go func() { watchErr <- w.Watch(ctx, f.opts.Protocol, notify) }()
	}
	var tick <-chan time.Time
	if opts.Period > 0 {
		t := time.NewTicker(opts.Period)
		defer t.Stop()
		tick = t.C
	}
	var last time.Time
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-watchErr:
			if err != nil && ctx.Err() == nil {
				return err
			}
			return ctx.Err()
		case <-trigger:
		case <-tick:
		}
		// Rate limit: wait out the rest of MinInterval, collecting
		// further events into this one resync.
		if wait := opts.MinInterval - time.Since(last); wait > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(wait):
			}
		}
		select {
		case <-trigger:
		default:
		}
		last = time.Now()
		res, err := f.Resync(ctx)
		if opts.OnResync != nil {
			opts.OnResync(res, err)
		}
	}
}
