package agent

import (
	"context"
	"time"

	"github.com/kbgp/kbgp/api"
	"github.com/kbgp/kbgp/internal/config"
)

// AnnotationDrain on the node's own Node resource drains the node while it
// is set: the agent withdraws every prefix it originates, then shuts every
// session down with an RFC 9003 Administrative Shutdown carrying the
// annotation's value as the message, and keeps them down. Removing the
// annotation brings the sessions and routes back. Being in the datastore,
// a drain survives agent restarts:
//
//	kbgp annotate node ubuntu-2 kbgp.io/drain="maintenance, back at 14:00"
//	kbgp annotate node ubuntu-2 kbgp.io/drain-
const AnnotationDrain = "kbgp.io/drain"

// drainMessage returns the node's drain annotation ("" when not drained).
func drainMessage(rs []api.Resource, node string) string {
	for _, r := range rs {
		if n, ok := r.(*api.Node); ok && n.Name() == node {
			return n.Metadata.Annotations[AnnotationDrain]
		}
	}
	return ""
}

// drainedState is st without originated routes: what a drained node
// advertises.
func drainedState(st *config.NodeState) *config.NodeState {
	c := *st
	c.Originate = nil
	return &c
}

// setDrain shuts every configured session down (drain) or starts them
// again (undrain) after the desired state has been applied.
func (a *Agent) setDrain(ctx context.Context, msg string) {
	a.mu.Lock()
	sp, st, was := a.sp, a.state, a.drained
	a.drainMsg = msg
	a.mu.Unlock()
	if sp == nil || st == nil {
		return
	}
	if msg == "" {
		if !was {
			return
		}
		for _, p := range st.Peers {
			if err := sp.StartPeer(p.Address); err != nil {
				a.log.Warn("undrain: starting session", "peer", p.Name, "err", err)
			}
		}
		a.mu.Lock()
		a.drained = false
		a.mu.Unlock()
		a.log.Info("node undrained: sessions started")
		return
	}
	if !was {
		// The withdrawals were queued by apply; let them reach the peers
		// before the sessions close (bounded: a reflector keeps
		// advertising its clients' routes until then).
		deadline := time.Now().Add(2 * time.Second)
		for time.Now().Before(deadline) && ctx.Err() == nil && advertised(sp) > 0 {
			time.Sleep(50 * time.Millisecond)
		}
		a.log.Info("node drained: routes withdrawn, shutting sessions down", "message", msg)
	}
	for _, p := range st.Peers {
		if ps, err := sp.PeerStatus(p.Address); err == nil && ps.AdminDown {
			continue
		}
		// RFC 9003 §2: the Shutdown Communication tells the peer's
		// operator why the session is being shut down.
		if err := sp.ShutdownPeer(p.Address, msg); err != nil {
			a.log.Warn("drain: shutting session down", "peer", p.Name, "err", err)
		}
	}
	a.mu.Lock()
	a.drained = true
	a.mu.Unlock()
}
