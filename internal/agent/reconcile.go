package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sort"
	"strings"
	"time"

	"github.com/kbgp/kbgp/api"
	"github.com/kbgp/kbgp/internal/bgp/speaker"
	"github.com/kbgp/kbgp/internal/bgp/wire"
	"github.com/kbgp/kbgp/internal/config"
	"github.com/kbgp/kbgp/internal/rib"
	"github.com/kbgp/kbgp/internal/store"
)

// heartbeat is how often idle loops report progress for liveness.
const heartbeat = 5 * time.Second

// routineConfig folds datastore events into the resource set and
// reconciles after each burst of changes, until ctx ends.
func (a *Agent) routineConfig(ctx context.Context, events <-chan store.Event, services <-chan ServiceSet, secrets <-chan SecretSet) error {
	var cache store.Cache
	debounce := time.NewTimer(time.Hour)
	debounce.Stop()
	tick := time.NewTicker(a.tick)
	defer tick.Stop()
	a.progress("config")
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-events:
			if !ok {
				if ctx.Err() != nil {
					return nil
				}
				return errors.New("agent: the datastore watch ended")
			}
			key := ev.Kind + "/" + ev.Name
			if ev.Type == store.EventError {
				// The store keeps the resource's last good state; say so.
				msg := "unreadable resource"
				if ev.Err != nil {
					msg = ev.Err.Error()
				}
				a.mu.Lock()
				a.badRes[key] = msg
				a.mu.Unlock()
				a.gauges.errors.Inc()
				a.log.Error("datastore resource rejected; keeping its last good state", "resource", key, "err", msg)
				continue
			}
			a.mu.Lock()
			delete(a.badRes, key)
			a.mu.Unlock()
			if cache.Apply(ev) && cache.Synced() && a.sourcesSynced() {
				debounce.Reset(a.opts.Debounce)
			}
		case set, ok := <-services:
			if !ok {
				services = nil // ctx ended; the next select returns
				continue
			}
			if a.setServices(set) && cache.Synced() && a.secretsSynced() {
				debounce.Reset(a.opts.Debounce)
			}
		case set, ok := <-secrets:
			if !ok {
				secrets = nil // ctx ended; the next select returns
				continue
			}
			if a.setSecrets(set) && cache.Synced() && a.servicesSynced() {
				debounce.Reset(a.opts.Debounce)
			}
		case <-debounce.C:
			a.reconcileResources(ctx, cache.Resources())
			a.progress("config")
		case <-tick.C:
			a.recheckBad(ctx)
			a.mu.Lock()
			retry := a.retry
			a.mu.Unlock()
			if retry && cache.Synced() && a.sourcesSynced() {
				a.reconcileResources(ctx, cache.Resources())
			}
			a.progress("config")
		}
	}
}

// recheckBad forgets rejected resources that are gone or readable again.
// The file store reports nothing when a file that never decoded is
// removed, so the agent asks the store directly.
func (a *Agent) recheckBad(ctx context.Context) {
	a.mu.Lock()
	var keys []string
	for k := range a.badRes {
		keys = append(keys, k)
	}
	a.mu.Unlock()
	for _, k := range keys {
		kind, name, _ := strings.Cut(k, "/")
		if name == "" {
			continue // a directory-level error: cleared by the next good event
		}
		_, err := a.opts.Store.Get(ctx, kind, name)
		if err == nil || store.IsNotFound(err) {
			a.mu.Lock()
			delete(a.badRes, k)
			a.mu.Unlock()
			a.log.Info("datastore resource no longer rejected", "resource", k)
		}
	}
}

// reconcileResources compiles the resources and applies the result; a
// failing compile keeps the last good state.
func (a *Agent) reconcileResources(ctx context.Context, rs []api.Resource) {
	start := time.Now()
	a.mu.Lock()
	svcs, secrets := a.services, a.secrets
	a.mu.Unlock()
	in := config.NewInput(rs, svcs)
	in.Secrets = secrets
	st, err := config.Compile(in, a.opts.Node)
	if err != nil {
		a.gauges.errors.Inc()
		a.mu.Lock()
		a.compileErr = err.Error()
		a.reconcile.At, a.reconcile.Duration = start, 0
		a.mu.Unlock()
		a.log.Error("desired state does not compile; keeping the last good one", "err", err)
		return
	}
	a.mu.Lock()
	a.compileErr = ""
	fresh := map[string]bool{}
	for _, w := range st.Warnings {
		fresh[w] = true
		if !a.warnings[w] {
			a.log.Warn("configuration warning", "warning", w)
		}
	}
	a.warnings = fresh
	a.mu.Unlock()
	drain := drainMessage(rs, a.opts.Node)
	if drain != "" {
		st = drainedState(st)
	}
	err = a.apply(ctx, st)
	a.setDrain(ctx, drain)
	d := time.Since(start)
	a.metrics.ObserveReconcile(d)
	a.mu.Lock()
	a.reconcile.At, a.reconcile.Duration = start, statusDuration(d)
	a.reconcile.Error = ""
	a.retry = err != nil
	if err != nil {
		a.reconcile.Error = err.Error()
	}
	a.mu.Unlock()
	if err != nil {
		a.gauges.errors.Inc()
		a.log.Error("applying the desired state", "err", err)
	}
}

// apply moves the speaker from the current state to st: only the sessions
// the change affects are touched (BIRD's reconfigure, not a restart). A
// change of AS, router ID, cluster ID or listener rebuilds the speaker.
func (a *Agent) apply(ctx context.Context, st *config.NodeState) error {
	a.setLogLevel(st.LogSeverity)
	a.mu.Lock()
	old, sp := a.state, a.sp
	a.mu.Unlock()
	ch := config.Diff(old, st)
	if sp != nil && ch.IsEmpty() && old.RouteReflectorClusterID == st.RouteReflectorClusterID {
		a.mu.Lock()
		a.state = st
		a.mu.Unlock()
		return nil
	}
	if sp == nil || ch.ResetAll || ch.ListenerChanged || old.RouteReflectorClusterID != st.RouteReflectorClusterID {
		return a.rebuild(ctx, st, ch)
	}
	a.log.Info("desired state changed", "added", ch.Added, "removed", ch.Removed, "changed", changedNames(ch.Changed),
		"originate_added", ch.OriginateAdded, "originate_removed", ch.OriginateRemoved)
	var errs []error
	byName := peersByName(st)
	oldByName := peersByName(old)
	for _, name := range ch.Removed {
		p := oldByName[name]
		if err := sp.RemovePeer(ctx, p.Address); err != nil {
			errs = append(errs, fmt.Errorf("removing session %s: %w", name, err))
		}
		a.mu.Lock()
		delete(a.peers, name)
		a.mu.Unlock()
	}
	for _, name := range ch.Added {
		errs = append(errs, a.addPeer(ctx, sp, st, byName[name]))
	}
	// Changed sessions go to the speaker in one batch: a change that alters
	// every session's policy (an IPPool, a BGPFilter) is then one pass over
	// the RIB, not one per session.
	var (
		cfgs    []speaker.PeerConfig
		changed []*config.Peer
		restart []bool
	)
	for _, c := range ch.Changed {
		p := byName[c.Name]
		a.mu.Lock()
		e := a.peers[c.Name]
		a.mu.Unlock()
		r := false
		if e != nil {
			r = e.restarting
		}
		a.log.Info("bgp session configuration changed", "peer", c.Name, "fields", c.Fields, "reset", c.Reset)
		cfgs = append(cfgs, peerConfig(st, p, &a.opts, r))
		changed, restart = append(changed, p), append(restart, r)
	}
	for i, err := range sp.UpdatePeers(ctx, cfgs) {
		p := changed[i]
		if err != nil {
			if errors.Is(err, speaker.ErrPeerNotFound) {
				errs = append(errs, a.addPeer(ctx, sp, st, p))
				continue
			}
			errs = append(errs, fmt.Errorf("updating session %s: %w", p.Name, err))
			continue
		}
		a.mu.Lock()
		a.peers[p.Name] = &peerEntry{cfg: *p, restarting: restart[i]}
		a.mu.Unlock()
	}
	for _, pfx := range ch.OriginateRemoved {
		if err := sp.Withdraw(ctx, pfx); err != nil {
			errs = append(errs, fmt.Errorf("withdrawing %s: %w", pfx, err))
		}
	}
	for _, pfx := range ch.OriginateAdded {
		if err := sp.Originate(ctx, pfx, originAttrs()); err != nil {
			errs = append(errs, fmt.Errorf("originating %s: %w", pfx, err))
		}
	}
	a.commit(st)
	a.kickFIB()
	return errors.Join(errs...)
}

// commit records st as the applied state, without the sessions that could
// not be configured, so that the next reconcile (a retry or a datastore
// change) adds them again.
func (a *Agent) commit(st *config.NodeState) {
	a.mu.Lock()
	defer a.mu.Unlock()
	applied := st
	if len(a.peers) != len(st.Peers) {
		c := *st
		c.Peers = nil
		for _, p := range st.Peers {
			if a.peers[p.Name] != nil {
				c.Peers = append(c.Peers, p)
			}
		}
		applied = &c
	}
	a.state = applied
}

// rebuild replaces the speaker: every session restarts.
func (a *Agent) rebuild(ctx context.Context, st *config.NodeState, ch config.Changes) error {
	a.mu.Lock()
	old := a.sp
	if a.spCancel != nil {
		a.spCancel()
	}
	a.sp = nil
	a.mu.Unlock()
	if old != nil {
		a.log.Info("node identity or listener changed: restarting the BGP speaker", "changed", ch.Global, "listener_changed", ch.ListenerChanged)
		old.Close()
	}
	if !st.RouterID.Is4() || st.ASNumber == 0 {
		return fmt.Errorf("node %s has no usable router ID or AS number (router ID %v, AS %d)", st.Node, st.RouterID, st.ASNumber)
	}
	maxPaths := a.opts.MaxPaths
	var deferral time.Duration
	a.mu.Lock()
	if a.restarting && a.fibHeld {
		// RFC 4724 §4.1: the restarting speaker defers route selection
		// until End-of-RIB from its peers (or a timer).
		deferral = max(time.Until(a.started.Add(a.opts.GRHold)), time.Second)
	}
	a.mu.Unlock()
	sp, err := speaker.New(ctx, speaker.Config{
		SelectionDeferral: deferral,
		LocalAS:           uint32(st.ASNumber),
		RouterID:          st.RouterID,
		Listen:            a.listenAddrs(st),
		RIB: rib.Options{ClusterID: st.RouteReflectorClusterID,
			IBGPMaxPaths: maxPaths, EBGPMaxPaths: maxPaths},
		Logger: a.opts.Logger.With("node", a.opts.Node),
	})
	if err != nil {
		return fmt.Errorf("starting the BGP speaker: %w", err)
	}
	spCtx, cancel := context.WithCancel(context.Background())
	a.mu.Lock()
	a.sp, a.spCtx, a.spCancel = sp, spCtx, cancel
	a.peers = map[string]*peerEntry{}
	a.state = st
	a.mu.Unlock()
	a.log.Info("BGP speaker started", "as", st.ASNumber, "router_id", st.RouterID, "listen", sp.Addrs(),
		"cluster_id", st.RouteReflectorClusterID, "peers", len(st.Peers), "originate", len(st.Originate))
	var errs []error
	for _, r := range st.Originate {
		if err := sp.Originate(ctx, r.Prefix, originAttrs()); err != nil {
			errs = append(errs, fmt.Errorf("originating %s: %w", r.Prefix, err))
		}
	}
	for i := range st.Peers {
		errs = append(errs, a.addPeer(ctx, sp, st, &st.Peers[i]))
	}
	a.commit(st)
	select {
	case a.spCh <- struct{}{}:
	default:
	}
	a.kickFIB()
	return errors.Join(errs...)
}

func (a *Agent) addPeer(ctx context.Context, sp *speaker.Speaker, st *config.NodeState, p *config.Peer) error {
	a.mu.Lock()
	r := a.restarting && a.fibHeld
	a.mu.Unlock()
	if p.Password != nil && !p.Password.Resolved {
		a.log.Warn("bgp session password secret not resolved; the session uses no password", "peer", p.Name,
			"secret", p.Password.Secret, "key", p.Password.Key)
	}
	if err := sp.AddPeer(ctx, peerConfig(st, p, &a.opts, r)); err != nil {
		return fmt.Errorf("adding session %s (%s): %w", p.Name, p.From, err)
	}
	a.mu.Lock()
	a.peers[p.Name] = &peerEntry{cfg: *p, restarting: r}
	a.mu.Unlock()
	a.log.Info("bgp session configured", "peer", p.Name, "addr", p.Address, "remote_as", p.RemoteAS, "from", p.From,
		"source", peerConfig(st, p, &a.opts, r).Session.LocalAddr, "rr_client", p.RouteReflectorClient)
	return nil
}

// listenAddrs is where the speaker accepts connections: Options.Listen,
// or the state's addresses (all addresses when none) on its port.
func (a *Agent) listenAddrs(st *config.NodeState) []netip.AddrPort {
	if len(a.opts.Listen) > 0 {
		return a.opts.Listen
	}
	port := st.ListenPort
	if port == 0 {
		port = config.DefaultListenPort
	}
	var out []netip.AddrPort
	for _, ad := range st.ListenAddresses {
		out = append(out, netip.AddrPortFrom(ad, port))
	}
	if len(out) == 0 {
		// Two sockets for a dual-stack node: Go binds a "tcp6" [::]
		// listener with IPV6_V6ONLY, so [::] alone refuses IPv4 peers.
		if st.IPv4Address.IsValid() || !st.IPv6Address.IsValid() {
			out = append(out, netip.AddrPortFrom(netip.IPv4Unspecified(), port))
		}
		if st.IPv6Address.IsValid() {
			out = append(out, netip.AddrPortFrom(netip.IPv6Unspecified(), port))
		}
	}
	return out
}

// originAttrs are the attributes of the routes the node originates:
// ORIGIN IGP, like BIRD's static routes exported by Calico.
func originAttrs() wire.Attrs {
	var at wire.Attrs
	at.Origin = wire.OriginIGP
	at.Set(wire.AttrOrigin)
	return at
}

func peersByName(st *config.NodeState) map[string]*config.Peer {
	m := map[string]*config.Peer{}
	if st == nil {
		return m
	}
	for i := range st.Peers {
		m[st.Peers[i].Name] = &st.Peers[i]
	}
	return m
}

func changedNames(cs []config.PeerChange) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Name)
	}
	return out
}

// setLogLevel follows logSeverityScreen (Calico's values: Debug, Info,
// Warning, Error, Fatal, None).
func (a *Agent) setLogLevel(sev string) {
	if a.opts.Level == nil || sev == "" {
		return
	}
	var l slog.Level
	switch strings.ToLower(sev) {
	case "debug":
		l = slog.LevelDebug
	case "info":
		l = slog.LevelInfo
	case "warning", "warn":
		l = slog.LevelWarn
	case "error", "fatal":
		l = slog.LevelError
	case "none":
		l = slog.LevelError + 4
	default:
		return
	}
	if a.opts.Level.Level() != l {
		a.opts.Level.Set(l)
		a.log.Log(context.Background(), max(l, slog.LevelInfo), "log level set from BGPConfiguration logSeverityScreen", "level", sev)
	}
}

// configErrors lists the current configuration problems, sorted.
func (a *Agent) configErrors() []string {
	var out []string
	for k, v := range a.badRes {
		out = append(out, k+": "+v)
	}
	sort.Strings(out)
	if a.svcErr != "" {
		out = append(out, a.svcErr)
	}
	if a.secErr != "" {
		out = append(out, a.secErr)
	}
	if a.compileErr != "" {
		out = append(out, a.compileErr)
	}
	return out
}
