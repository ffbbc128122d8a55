package status

import (
	"fmt"
	"strings"
	"time"
)

// DefaultReadyThreshold is how long after start readiness requires every
// peer to be Established (calico-node's --threshold-time default).
const DefaultReadyThreshold = 30 * time.Second

// DefaultMaxSilence is how long a main loop may go without progress before
// the node is not live, when the loop does not set its own limit.
const DefaultMaxSilence = 30 * time.Second

// Health is the result of a liveness or readiness check.
type Health struct {
	OK bool `json:"ok"`
	// Reasons say why the check failed; empty when OK.
	Reasons []string `json:"reasons,omitempty"`
}

// Message is the probe's one-line verdict, e.g. "kbgp is not ready: BGP
// not established with 172.16.30.102". kind is "ready" or "live".
func (h Health) Message(kind string) string {
	if h.OK {
		return "kbgp is " + kind
	}
	if len(h.Reasons) == 0 {
		return "kbgp is not " + kind
	}
	return "kbgp is not " + kind + ": " + strings.Join(h.Reasons, "; ")
}

// Readiness applies calico-node's bird-ready rule (node/pkg/health) to n,
// per address family as -bird-ready and -bird6-ready do:
//
//   - a family with no peers is ready;
//   - within threshold after the agent started (StartedAt), every peer
//     must be Established and no graceful restart may be in progress, so
//     that a rolling update waits until BGP is back;
//   - after that, one Established peer per family is enough, so that one
//     node going down does not make the whole mesh unready.
//
// Sessions an operator disabled (AdminDown) are not counted: they are not
// expected to come up. A stopped speaker is never ready. threshold <= 0
// means DefaultReadyThreshold; a zero StartedAt counts as long ago.
func Readiness(n *Node, now time.Time, threshold time.Duration) Health {
	if threshold <= 0 {
		threshold = DefaultReadyThreshold
	}
	if !n.Running {
		return Health{Reasons: []string{"BGP speaker is not running"}}
	}
	starting := !n.StartedAt.IsZero() && now.Sub(n.StartedAt) < threshold
	var reasons []string
	gr := false
	for _, fam := range []int{4, 6} {
		var down []string
		up := 0
		for _, p := range familyPeers(n.Peers, fam) {
			if p.Admin == AdminDown {
				continue
			}
			if p.State == Established {
				up++
			} else {
				down = append(down, p.Address.Unmap().String())
			}
		}
		switch {
		case up+len(down) == 0:
			// No peers in this family: ready.
		case starting && len(down) > 0, !starting && up == 0:
			reasons = append(reasons, "BGP not established with "+strings.Join(down, ","))
		case starting && n.GracefulRestart && !gr:
			gr = true
			reasons = append(reasons, "graceful restart in progress")
		}
	}
	return Health{OK: len(reasons) == 0, Reasons: reasons}
}

// Liveness reports whether every main loop of the agent made progress
// within its MaxSilence.
func Liveness(n *Node, now time.Time) Health {
	var reasons []string
	for _, l := range n.Loops {
		limit := time.Duration(l.MaxSilence)
		if limit <= 0 {
			limit = DefaultMaxSilence
		}
		if l.LastProgress.IsZero() {
			reasons = append(reasons, fmt.Sprintf("loop %q has not started", l.Name))
			continue
		}
		if silent := now.Sub(l.LastProgress); silent > limit {
			reasons = append(reasons, fmt.Sprintf("loop %q made no progress for %s (limit %s)",
				l.Name, silent.Round(time.Second), limit))
		}
	}
	return Health{OK: len(reasons) == 0, Reasons: reasons}
}
