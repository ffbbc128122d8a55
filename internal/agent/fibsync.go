package agent

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"time"

	"github.com/kbgp/kbgp/internal/bgp/fsm"
	"github.com/kbgp/kbgp/internal/bgp/speaker"
	"github.com/kbgp/kbgp/internal/config"
	"github.com/kbgp/kbgp/internal/fib"
	"github.com/kbgp/kbgp/internal/status"
)

// routineBestPaths follows the current speaker's best-path and multipath
// changes into a.best, re-subscribing whenever the speaker is replaced.
func (a *Agent) routineBestPaths(ctx context.Context) {
	for {
		a.mu.Lock()
		sp, spCtx := a.sp, a.spCtx
		a.mu.Unlock()
		if sp == nil {
			select {
			case <-ctx.Done():
				return
			case <-a.spCh:
				continue
			}
		}
		a.follow(ctx, spCtx, sp)
		if ctx.Err() != nil {
			return
		}
		// Wait for the replacement speaker (or retry after a failure).
		select {
		case <-ctx.Done():
			return
		case <-a.spCh:
		case <-time.After(time.Second):
		}
	}
}

// follow consumes one speaker's subscription until it or ctx ends.
func (a *Agent) follow(ctx, spCtx context.Context, sp *speaker.Speaker) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-spCtx.Done():
			cancel()
		case <-ctx.Done():
		}
	}()
	sub, err := sp.Subscribe(ctx)
	if err != nil {
		if ctx.Err() == nil {
			a.log.Error("subscribing to best paths", "err", err)
		}
		return
	}
	defer sub.Close()
	first := true
	for {
		bps, err := sub.Next(ctx)
		if err != nil {
			return
		}
		a.mu.Lock()
		if first {
			// The first batch is the whole table.
			clear(a.best)
			first = false
		}
		for _, bp := range bps {
			if bp.Withdrawn() {
				delete(a.best, bp.Prefix)
			} else {
				a.best[bp.Prefix] = bp
			}
		}
		a.lastChange = time.Now()
		a.mu.Unlock()
		a.kickFIB()
	}
}

// routineFIB programs the kernel after every change, and ends the graceful
// restart hold when the sessions are back.
func (a *Agent) routineFIB(ctx context.Context) {
	tick := time.NewTicker(min(a.tick, max(a.opts.Settle/3, 10*time.Millisecond)))
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-a.kick:
		case <-tick.C:
			a.progress("fib")
			a.mu.Lock()
			held := a.fibHeld
			a.mu.Unlock()
			if !held {
				continue
			}
		}
		if a.holding(ctx) {
			continue
		}
		a.program(ctx)
		a.progress("fib")
	}
}

// holding reports whether a restarted agent still keeps its adopted routes
// untouched, and ends the hold when (RFC 4724 §4.1: the restarting speaker
// defers route selection "until it has received the End-of-RIB marker from
// all its peers") every configured session is Established and has sent
// End-of-RIB for each of its families; when some peer sends no End-of-RIB,
// when every session has been Established with no best-path change for
// Settle; at the latest after GRHold.
func (a *Agent) holding(ctx context.Context) bool {
	a.mu.Lock()
	held, sp, st := a.fibHeld, a.sp, a.state
	a.mu.Unlock()
	if !held {
		return false
	}
	// Asked outside a.mu: the speaker's RIB loop answers.
	var eor []speaker.PeerEndOfRIB
	var best []speaker.BestPath
	if sp != nil && st != nil {
		qctx, cancel := context.WithTimeout(ctx, time.Second)
		eor, _ = sp.EndOfRIB(qctx)
		if endOfRIBComplete(eor, len(st.Peers)) {
			// The speaker has ended its own deferral and published the
			// relearned best paths; take them now rather than race the
			// subscription.
			var err error
			if best, err = sp.BestPaths(qctx); err != nil {
				eor = nil
			}
		} else {
			eor = nil
		}
		cancel()
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.fibHeld {
		return false
	}
	now := time.Now()
	reason := ""
	switch {
	case now.Sub(a.started) >= a.opts.GRHold:
		reason = "hold time reached"
	case eor != nil && a.sp == sp:
		reason = "End-of-RIB received from every peer"
		clear(a.best)
		for _, bp := range best {
			if !bp.Withdrawn() {
				a.best[bp.Prefix] = bp
			}
		}
	case a.sp != nil && a.state != nil && a.allEstablishedFor(now) && now.Sub(a.lastChange) >= a.opts.Settle:
		reason = "all sessions Established"
	default:
		return true
	}
	a.fibHeld = false
	a.log.Info("graceful restart: done; programming the kernel from the relearned routes", "reason", reason,
		"after", now.Sub(a.started).Round(time.Millisecond))
	return false
}

// endOfRIBComplete reports whether all want configured peers are
// Established and have sent End-of-RIB for every family.
func endOfRIBComplete(eor []speaker.PeerEndOfRIB, want int) bool {
	if want == 0 || len(eor) < want {
		return false
	}
	for i := range eor {
		if !eor[i].Complete() {
			return false
		}
	}
	return true
}

// allEstablishedFor reports whether every configured session has been
// Established for Settle. a.mu is held.
func (a *Agent) allEstablishedFor(now time.Time) bool {
	sts := a.sp.Peers()
	if len(sts) < len(a.state.Peers) {
		return false
	}
	for _, s := range sts {
		if s.State != fsm.Established || now.Sub(s.Since) < a.opts.Settle {
			return false
		}
	}
	return true
}

// program makes the kernel match the desired routes.
func (a *Agent) program(ctx context.Context) {
	a.mu.Lock()
	routes := desiredRoutes(a.state, a.best, a.opts.NextHop4, a.opts.NextHop6)
	a.mu.Unlock()
	res, err := a.fib.Set(ctx, routes)
	a.countFIB(res, err)
	if err != nil && ctx.Err() == nil {
		a.log.Error("programming kernel routes", "failed", res.Failed, "err", err)
	} else if res.Added+res.Changed+res.Deleted > 0 {
		a.log.Debug("kernel routes programmed", "added", res.Added, "changed", res.Changed, "deleted", res.Deleted,
			"installed", res.Installed)
	}
}

func (a *Agent) onResync(res fib.Result, err error) {
	a.countFIB(res, err)
	if res.Added+res.Changed+res.Deleted > 0 {
		a.log.Warn("kernel routes repaired after someone changed them", "added", res.Added, "changed", res.Changed, "deleted", res.Deleted)
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		a.log.Error("kernel route resync", "err", err)
	}
}

func (a *Agent) countFIB(res fib.Result, err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.fibStats.Adds += uint64(res.Added + res.Changed)
	a.fibStats.Deletes += uint64(res.Deleted)
	a.fibStats.Errors += uint64(res.Failed)
	a.fibStats.Routes = uint64(res.Installed)
	_ = err
}

// desiredRoutes computes the kernel routes from the node state and the best
// paths:
//   - a blackhole for each originated prefix (own affine blocks and
//     advertised service ranges), like Calico's static blackhole routes;
//   - the reachableBy static routes to peers;
//   - every learned best path with its multipath next hops (ECMP), except
//     prefixes inside the never-install ranges (service ranges, which
//     kube-proxy handles locally), prefixes the node originates itself,
//     and next hops that are the node's own addresses.
func desiredRoutes(st *config.NodeState, best map[netip.Prefix]speaker.BestPath, self ...netip.Addr) []fib.Route {
	if st == nil {
		return nil
	}
	var out []fib.Route
	own := map[netip.Prefix]bool{}
	for _, r := range st.Originate {
		own[r.Prefix] = true
		out = append(out, fib.Route{Prefix: r.Prefix, Type: fib.Blackhole})
	}
	for _, s := range st.StaticRoutes {
		if !own[s.Prefix] {
			own[s.Prefix] = true
			out = append(out, fib.Route{Prefix: s.Prefix, NextHops: []fib.NextHop{{Gateway: s.Via}}})
		}
	}
	local := append([]netip.Addr{st.IPv4Address.Addr(), st.IPv6Address.Addr(), st.RouterID}, self...)
	for pfx, bp := range best {
		if bp.Local || own[pfx] || bp.Withdrawn() {
			continue
		}
		if slices.ContainsFunc(st.KernelReject, func(r netip.Prefix) bool {
			return r.Bits() <= pfx.Bits() && r.Contains(pfx.Addr())
		}) {
			continue
		}
		var nhs []fib.NextHop
		for _, nh := range bp.NextHops {
			if !nh.IsValid() || slices.Contains(local, nh) || nh.Is4() != pfx.Addr().Is4() {
				continue
			}
			nhs = append(nhs, fib.NextHop{Gateway: nh})
		}
		if len(nhs) == 0 {
			continue
		}
		out = append(out, fib.Route{Prefix: pfx, NextHops: nhs})
	}
	slices.SortFunc(out, func(a, b fib.Route) int { return a.Key().Compare(b.Key()) })
	return out
}

func statusDuration(d time.Duration) status.Duration { return status.Duration(d) }
