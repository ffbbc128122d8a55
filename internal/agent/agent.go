// Package agent is the node agent behind `kbgp agent`: it registers the
// node's Node resource (with its autodetected BGP address), watches the
// datastore, compiles the node's desired state (internal/config) and applies
// the difference to the BGP speaker, programs the learned routes into the
// kernel (internal/fib) and serves the local control API, health probes and
// Prometheus metrics.
//
// Loop, in the order a change travels:
//
//	datastore Watch -> store.Cache ----+
//	ServiceSource Watch (services) ----+-> config.Compile -> config.Diff
//	  -> speaker AddPeer/UpdatePeer/RemovePeer, Originate/Withdraw
//	speaker Subscribe (best paths, multipath sets)
//	  -> desired kernel routes -> fib.Set (plus fib.Watch resyncs)
//
// A resource that fails to decode or a set of resources that fails to
// compile never takes the node down: the agent keeps the last good desired
// state, reports the error (log, `kbgp node status -o json` reconcile.error,
// the kbgp_config_valid metric) and applies the next good state.
//
// Exit: by default the agent closes its BGP connections without a
// NOTIFICATION and leaves its kernel routes in place, so peers keep its
// routes under graceful restart (RFC 4724 §4.2) and forwarding continues
// while it restarts; the restarted agent adopts its kernel routes and
// replaces them only once its sessions are back. With Options.DrainOnExit it
// instead withdraws everything it originates, closes every session with an
// RFC 9003 Administrative Shutdown message and removes its kernel routes.
// The kbgp.io/drain annotation on the node's Node (AnnotationDrain) does the
// same without exiting, until it is removed.
package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	"github.com/kbgp/kbgp/internal/bgp/speaker"
	"github.com/kbgp/kbgp/internal/config"
	"github.com/kbgp/kbgp/internal/ctlapi"
	"github.com/kbgp/kbgp/internal/fib"
	"github.com/kbgp/kbgp/internal/metrics"
	"github.com/kbgp/kbgp/internal/status"
	"github.com/kbgp/kbgp/internal/store"
)

// Options configure an Agent. Everything not here comes from the resources.
type Options struct {
	// Node is this node's name (the Node resource's name). Required.
	Node string
	// Store is the datastore to watch. Required.
	Store store.Datastore
	// IPv4 and IPv6 say how the node's BGP addresses are found when the
	// agent registers its Node (see Address). The zero values autodetect
	// IPv4 with first-found and leave IPv6 alone.
	IPv4, IPv6 Address
	// Interfaces, when non-nil, replaces the host's interfaces for
	// autodetection (tests).
	Interfaces []Interface
	// Listen overrides where the speaker accepts BGP connections; empty
	// means the node state's listen addresses and port (all addresses,
	// port 179 by default).
	Listen []netip.AddrPort
	// NextHop4 and NextHop6, when valid, are advertised as the node's next
	// hop instead of its BGP address, for nodes whose sessions run over a
	// different network than the traffic (and for loopback tests, since
	// 127/8 is not a valid NEXT_HOP, RFC 4271 §6.3).
	NextHop4, NextHop6 netip.Addr
	// Socket is the control API's unix socket; empty serves none.
	Socket string
	// MetricsAddr is a loopback host:port for /metrics, /livez and
	// /readyz; empty serves none.
	MetricsAddr string
	// FIBProtocol is the rtm_protocol of the agent's kernel routes (0:
	// fib.DefaultProtocol). FIBKernel, when set, replaces the kernel
	// (tests); NoFIB disables kernel programming altogether.
	FIBProtocol uint8
	FIBKernel   fib.Kernel
	NoFIB       bool
	// Logger receives the agent's and the speaker's logs (default:
	// discard). Level, when set, follows the default BGPConfiguration's
	// logSeverityScreen.
	Logger *slog.Logger
	Level  *slog.LevelVar
	// ConnectRetry and IdleHoldTime tune every session (0: fsm defaults).
	ConnectRetry, IdleHoldTime time.Duration
	// DrainOnExit withdraws routes and sends Cease on exit instead of
	// exiting gracefully-restartable (see the package comment).
	DrainOnExit bool
	// GRHold bounds how long a restarted agent keeps its adopted kernel
	// routes untouched while its sessions come back (default 120 s, BIRD's
	// and Calico's graceful restart time). Settle is how long every peer
	// must have been Established with no best-path change before the hold
	// ends early (default 3 s).
	GRHold, Settle time.Duration
	// ResyncPeriod is how often the kernel is re-read and repaired even
	// without change events (default 60 s).
	ResyncPeriod time.Duration
	// Debounce coalesces datastore changes (default 100 ms).
	Debounce time.Duration
	// MaxPaths bounds the ECMP multipath sets (default 8).
	MaxPaths int
	// Services, when set, feeds the cluster's services to the compile
	// step, so that the node originates the service ranges' /32s
	// (externalTrafficPolicy Local services with a ready endpoint here).
	// The first reconcile waits for its first set. Nil: no services.
	Services ServiceSource
	// Secrets, when set, resolves the secretKeyRefs of BGP passwords
	// (BGPPeer spec.password, BGPConfiguration spec.nodeMeshPassword). The
	// first reconcile waits for its first set; a change of a password
	// resets only the sessions using it. Nil: passwords stay unresolved
	// and those sessions run without TCP MD5 (logged as a warning).
	Secrets SecretSource
}

// peerEntry is one session the agent configured on the speaker.
type peerEntry struct {
	cfg        config.Peer
	restarting bool // the R bit this session was configured with
}

// Agent runs one node. Create it with New and run it with Run.
type Agent struct {
	opts    Options
	log     *slog.Logger
	started time.Time
	metrics *metrics.Collector
	gauges  *configGauges

	tick time.Duration // heartbeat and bad-resource recheck interval
	kick chan struct{} // wake the FIB programmer
	spCh chan struct{} // the speaker was replaced

	mu         sync.Mutex
	state      *config.NodeState // last good desired state applied
	sp         *speaker.Speaker
	spCtx      context.Context
	spCancel   context.CancelFunc
	peers      map[string]*peerEntry
	badRes     map[string]string // datastore read errors by kind/name
	compileErr string
	reconcile  status.Reconcile
	retry      bool   // the last apply failed: retry on the next tick
	drained    bool   // sessions shut down by AnnotationDrain
	drainMsg   string // the drain annotation the last reconcile applied
	warnings   map[string]bool
	fib        *fib.FIB
	fibStats   status.FIBStats
	best       map[netip.Prefix]speaker.BestPath
	lastChange time.Time // last best-path change
	restarting bool      // adopted kernel routes: recovering from our own restart
	fibHeld    bool      // restarting and the adopted routes are still untouched
	loops      map[string]time.Time
	services   []config.Service             // the last good set from Options.Services
	svcErr     string                       // the service source's current error
	svcSynced  bool                         // the first set arrived (or no source)
	secrets    map[string]map[string]string // the last good set from Options.Secrets
	secErr     string                       // the secret source's current error
	secSynced  bool                         // the first set arrived (or no source)
}

// New checks opts and returns an agent ready to Run.
func New(opts Options) (*Agent, error) {
	if opts.Node == "" {
		return nil, errors.New("agent: no node name (set --node-name, $NODENAME or $KBGP_NODE)")
	}
	if opts.Store == nil {
		return nil, errors.New("agent: no datastore")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.GRHold <= 0 {
		opts.GRHold = config.DefaultRestartTime
	}
	if opts.Settle <= 0 {
		opts.Settle = 3 * time.Second
	}
	if opts.ResyncPeriod <= 0 {
		opts.ResyncPeriod = time.Minute
	}
	if opts.Debounce <= 0 {
		opts.Debounce = 100 * time.Millisecond
	}
	if opts.MaxPaths <= 0 {
		opts.MaxPaths = 8
	}
	a := &Agent{
		opts:     opts,
		log:      opts.Logger.With("node", opts.Node),
		tick:     heartbeat,
		kick:     make(chan struct{}, 1),
		spCh:     make(chan struct{}, 1),
		peers:    map[string]*peerEntry{},
		badRes:   map[string]string{},
		warnings: map[string]bool{},
		best:     map[netip.Prefix]speaker.BestPath{},
		loops:    map[string]time.Time{},
	}
	a.metrics = metrics.New(a, metrics.Options{})
	a.gauges = newConfigGauges(a)
	return a, nil
}

// Run registers the node, then runs until ctx is cancelled, then exits
// as the package comment describes. It returns an error only if the agent
// cannot start (no datastore, no address, a socket in use).
func (a *Agent) Run(ctx context.Context) error {
	a.mu.Lock()
	a.started = time.Now()
	a.mu.Unlock()
	did, err := registerNode(ctx, a.opts.Store, a.opts.Node, a.opts.IPv4, a.opts.IPv6, a.opts.Interfaces)
	if err != nil {
		return err
	}
	a.log.Info("node registered", "result", did)

	if !a.opts.NoFIB {
		f, err := fib.New(ctx, fib.Options{Protocol: a.opts.FIBProtocol, Kernel: a.opts.FIBKernel})
		if err != nil {
			return fmt.Errorf("agent: opening the kernel routing table: %w", err)
		}
		a.fib = f
		if n := len(f.Adopted()); n > 0 {
			// RFC 4724 §4.1: the restarting speaker "MUST retain" its
			// forwarding state while it relearns routes; here, keep the
			// adopted kernel routes until the sessions are back.
			a.mu.Lock()
			a.restarting, a.fibHeld = true, true
			a.mu.Unlock()
			a.log.Info("graceful restart: adopted kernel routes from the previous run; holding them until peers are back",
				"routes", n, "protocol", f.Protocol(), "max_hold", a.opts.GRHold)
		}
	}

	loopCtx, stopLoops := context.WithCancel(ctx)
	defer stopLoops()
	events, err := a.opts.Store.Watch(loopCtx)
	if err != nil {
		a.closeFIB()
		return fmt.Errorf("agent: watching the datastore: %w", err)
	}
	var svcCh <-chan ServiceSet
	if a.opts.Services != nil {
		if svcCh, err = a.opts.Services.Watch(loopCtx); err != nil {
			a.closeFIB()
			return fmt.Errorf("agent: watching the services: %w", err)
		}
	} else {
		a.mu.Lock()
		a.svcSynced = true
		a.mu.Unlock()
	}
	var secCh <-chan SecretSet
	if a.opts.Secrets != nil {
		if secCh, err = a.opts.Secrets.Watch(loopCtx); err != nil {
			a.closeFIB()
			return fmt.Errorf("agent: watching the secrets: %w", err)
		}
	} else {
		a.mu.Lock()
		a.secSynced = true
		a.mu.Unlock()
	}
	var wg sync.WaitGroup
	if err := a.serve(loopCtx, &wg); err != nil {
		stopLoops()
		wg.Wait()
		a.closeFIB()
		return err
	}
	if a.fib != nil {
		wg.Add(3)
		go func() { defer wg.Done(); a.routineBestPaths(loopCtx) }()
		go func() { defer wg.Done(); a.routineFIB(loopCtx) }()
		go func() {
			defer wg.Done()
			err := a.fib.Watch(loopCtx, fib.WatchOptions{Period: a.opts.ResyncPeriod, OnResync: a.onResync})
			if err != nil && loopCtx.Err() == nil {
				a.log.Error("kernel route watch stopped; relying on reconcile passes", "err", err)
			}
		}()
	}
	err = a.routineConfig(loopCtx, events, svcCh, secCh)
	stopLoops()
	wg.Wait()
	a.shutdown()
	return err
}

// shutdown stops the speaker and the FIB per DrainOnExit.
func (a *Agent) shutdown() {
	a.mu.Lock()
	sp, st := a.sp, a.state
	a.sp = nil
	if a.spCancel != nil {
		a.spCancel()
	}
	a.mu.Unlock()
	if sp == nil {
		a.closeFIB()
		return
	}
	if !a.opts.DrainOnExit {
		// Graceful-restart exit: no NOTIFICATION, kernel routes stay.
		a.log.Info("exiting for a graceful restart: closing BGP connections without a NOTIFICATION, keeping kernel routes")
		sp.Abort()
		a.closeFIB()
		return
	}
	a.log.Info("draining: withdrawing routes, shutting sessions down, removing kernel routes")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if st != nil {
		for _, r := range st.Originate {
			if err := sp.Withdraw(ctx, r.Prefix); err != nil {
				a.log.Warn("drain: withdrawing", "prefix", r.Prefix, "err", err)
			}
		}
		// Let the withdrawals reach the peers before the sessions close.
		deadline := time.Now().Add(3 * time.Second)
		for time.Now().Before(deadline) && advertised(sp) > 0 {
			time.Sleep(50 * time.Millisecond)
		}
		for _, p := range st.Peers {
			// RFC 9003 §2: the Shutdown Communication "to inform the peer
			// why the session is being shut down".
			if err := sp.ShutdownPeer(p.Address, "kbgp agent on "+a.opts.Node+" draining: node shutting down"); err != nil {
				a.log.Warn("drain: shutting down session", "peer", p.Name, "err", err)
			}
		}
	}
	sp.Close()
	if a.fib != nil {
		if _, err := a.fib.Set(ctx, nil); err != nil {
			a.log.Warn("drain: removing kernel routes", "err", err)
		}
	}
	a.closeFIB()
}

// advertised counts the routes the speaker still advertises to peers
// (locally originated ones have been withdrawn by then).
func advertised(sp *speaker.Speaker) int {
	n := 0
	for _, p := range sp.Peers() {
		for _, c := range p.Advertised {
			n += c
		}
	}
	return n
}

func (a *Agent) closeFIB() {
	if a.fib != nil {
		a.fib.Close()
	}
}

// serve starts the control API and the probe/metrics listener.
func (a *Agent) serve(ctx context.Context, wg *sync.WaitGroup) error {
	srv := ctlapi.NewServer(a, ctlapi.Options{Metrics: a.metricsHandler()})
	if a.opts.Socket != "" {
		l, err := ctlapi.Listen(a.opts.Socket)
		if err != nil {
			return fmt.Errorf("agent: control socket: %w", err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := srv.Serve(ctx, l); err != nil && ctx.Err() == nil {
				a.log.Error("control API stopped", "socket", a.opts.Socket, "err", err)
			}
		}()
	}
	if a.opts.MetricsAddr != "" {
		l, err := ctlapi.ListenProbes(a.opts.MetricsAddr)
		if err != nil {
			return fmt.Errorf("agent: metrics address: %w", err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := srv.ServeProbes(ctx, l); err != nil && ctx.Err() == nil {
				a.log.Error("metrics and probes listener stopped", "addr", a.opts.MetricsAddr, "err", err)
			}
		}()
	}
	return nil
}

// progress records that a main loop made progress (liveness).
func (a *Agent) progress(loop string) {
	a.mu.Lock()
	a.loops[loop] = time.Now()
	a.mu.Unlock()
}

// kickFIB asks the FIB programmer for a pass.
func (a *Agent) kickFIB() {
	select {
	case a.kick <- struct{}{}:
	default:
	}
}

// State returns the last good desired state the agent applied (nil before
// the first).
func (a *Agent) State() *config.NodeState {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.state
}
