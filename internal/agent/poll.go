package agent

import (
	"context"
	"time"
)

// pollLoop re-reads a source every period and sends set(value, err) on ch
// whenever what it reads changes: the first read, a value not equal to the
// last good one, a new error, or the first good read after an error. With
// an error, set gets the last good value, so the agent keeps it. It closes
// ch when ctx ends. The file-backed ServiceSource and SecretSource use it.
func pollLoop[T, S any](ctx context.Context, period time.Duration, read func() (T, error), equal func(a, b T) bool, set func(T, error) S, ch chan<- S) {
	defer close(ch)
	var (
		last    T
		lastErr string
		sent    bool
	)
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		v, err := read()
		var out S
		changed := false
		if err != nil {
			out = set(last, err)
			changed = !sent || err.Error() != lastErr
			lastErr = err.Error()
		} else {
			changed = !sent || lastErr != "" || !equal(v, last)
			last, lastErr = v, ""
			out = set(v, nil)
		}
		if changed {
			select {
			case ch <- out:
				sent = true
			case <-ctx.Done():
				return
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
