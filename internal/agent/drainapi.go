package agent

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/kbgp/kbgp/api"
	"github.com/kbgp/kbgp/internal/ctlapi"
)

// Drain implements ctlapi.Drainer (`kbgp node drain`): it sets (or, with
// req.Undo, removes) AnnotationDrain on the node's own Node resource, so
// that the drain takes the same path as `kbgp annotate node NODE
// kbgp.io/drain=MSG` and survives agent restarts, then waits until the
// agent has applied it: routes withdrawn and every session shut down with
// an RFC 9003 Administrative Shutdown carrying the message.
func (a *Agent) Drain(ctx context.Context, req ctlapi.DrainRequest) (ctlapi.DrainResult, error) {
	msg := req.Message
	if req.Undo {
		msg = ""
	} else if msg == "" {
		msg = "kbgp node drain: node " + a.opts.Node + " is under maintenance"
	}
	res := ctlapi.DrainResult{Node: a.opts.Node, Drained: msg != "", Message: msg}
	_, err := a.opts.Store.Update(ctx, api.KindNode, a.opts.Node, func(r api.Resource) error {
		n, ok := r.(*api.Node)
		if !ok {
			return fmt.Errorf("resource %s/%s is a %T", api.KindNode, a.opts.Node, r)
		}
		old := n.Metadata.Annotations[AnnotationDrain]
		if old == msg {
			return errUnchanged
		}
		res.Changed = true
		if msg == "" {
			delete(n.Metadata.Annotations, AnnotationDrain)
			return nil
		}
		if n.Metadata.Annotations == nil {
			n.Metadata.Annotations = map[string]string{}
		}
		n.Metadata.Annotations[AnnotationDrain] = msg
		return nil
	})
	if err != nil && !errors.Is(err, errUnchanged) {
		return ctlapi.DrainResult{}, fmt.Errorf("setting the %s annotation on Node %s: %w", AnnotationDrain, a.opts.Node, err)
	}
	// Wait for the reconcile loop to apply it (it withdraws the routes,
	// waits for them to go out, then shuts the sessions down).
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		a.mu.Lock()
		done := a.drainMsg == msg && a.drained == (msg != "")
		a.mu.Unlock()
		if done {
			return res, nil
		}
		select {
		case <-ctx.Done():
			return ctlapi.DrainResult{}, fmt.Errorf("the %s annotation is set on Node %s but the agent did not apply it in time: %w (see kbgp node status)",
				AnnotationDrain, a.opts.Node, ctx.Err())
		case <-t.C:
		}
	}
}
