// Package ctlapi is the node's local control API: HTTP/JSON over a unix
// socket (default /run/kbgp/kbgp.sock, mode 0600) that `kbgp node status`,
// `kbgp node peers|routes` and `kbgp health` use, plus an optional
// loopback-only HTTP listener for /livez, /readyz and /metrics.
//
// The server serves whatever a status.Provider returns; it knows nothing of
// the speaker. Health probes go over the unix socket, so no NAT or
// MASQUERADE rule can break them (the seed's problem 2).
//
// Endpoints (GET unless noted, JSON):
//
//	/v1/node              status.Node
//	/v1/peers             []status.Peer
//	/v1/peers/{key}       status.Peer, key = peer address or session name
//	/v1/routes?q=QUERY    status.RIB, QUERY as status.ParseRouteQuery
//	/v1/health/live       status.Health, 200 when live, 503 when not
//	/v1/health/ready      status.Health, 200 when ready, 503 when not
//
//	POST /v1/drain        DrainRequest -> DrainResult (see Drainer)
//
// Errors are {"error": "..."} with a 4xx/5xx status.
//
// BIRDServer additionally answers the BIRD CLI commands Calico's own tools
// send ("show protocols", "show status") on BIRD's socket path, so that
// calicoctl node status, calico-node -bird-ready/-bird-live and birdc work
// against a kbgp node unchanged.
package ctlapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"time"

	"github.com/kbgp/kbgp/internal/status"
)

// DefaultCallTimeout bounds each provider call. It is below the client's
// 2 s timeout so that a stuck agent is reported as such, not as a timeout.
const DefaultCallTimeout = 1500 * time.Millisecond

// Options configure a Server. The zero value is usable.
type Options struct {
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// ReadyThreshold is the readiness rule's start-up window; zero means
	// status.DefaultReadyThreshold.
	ReadyThreshold time.Duration
	// CallTimeout bounds each provider call; zero means
	// DefaultCallTimeout.
	CallTimeout time.Duration
	// Metrics, when set, is served at /metrics by ProbeHandler.
	Metrics http.Handler
}

// Server serves a Provider's state.
type Server struct {
	p    status.Provider
	opts Options
}

// NewServer returns a server for p.
func NewServer(p status.Provider, opts Options) *Server {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.CallTimeout <= 0 {
		opts.CallTimeout = DefaultCallTimeout
	}
	return &Server{p: p, opts: opts}
}

// Handler is the API (the unix-socket side).
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/node", s.handleNode)
	mux.HandleFunc("GET /v1/peers", s.handlePeers)
	mux.HandleFunc("GET /v1/peers/{key}", s.handlePeer)
	mux.HandleFunc("GET /v1/routes", s.handleRoutes)
	mux.HandleFunc("GET /v1/health/live", s.handleHealth(s.Live))
	mux.HandleFunc("GET /v1/health/ready", s.handleHealth(s.Ready))
	mux.HandleFunc("POST /v1/drain", s.handleDrain)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no endpoint %s %s (see package ctlapi)", r.Method, r.URL.Path))
	})
	return mux
}

// ProbeHandler serves /livez, /readyz (200 "ok" or 503 with the reason as
// text, for kubelet HTTP probes) and, if Options.Metrics is set, /metrics.
func (s *Server) ProbeHandler() http.Handler {
	mux := http.NewServeMux()
	probe := func(check func(context.Context) status.Health, kind string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			h := check(r.Context())
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			if !h.OK {
				w.WriteHeader(http.StatusServiceUnavailable)
				fmt.Fprintln(w, h.Message(kind))
				return
			}
			fmt.Fprintln(w, "ok")
		}
	}
	mux.HandleFunc("GET /livez", probe(s.Live, "live"))
	mux.HandleFunc("GET /readyz", probe(s.Ready, "ready"))
	if s.opts.Metrics != nil {
		mux.Handle("GET /metrics", s.opts.Metrics)
	}
	return mux
}

// Live reports whether the agent answers and its main loops make progress.
func (s *Server) Live(ctx context.Context) status.Health {
	n, err := call(ctx, s.opts.CallTimeout, s.p.Node)
	if err != nil {
		return status.Health{Reasons: []string{err.Error()}}
	}
	return status.Liveness(&n, s.opts.Now())
}

// Ready applies status.Readiness to the provider's node.
func (s *Server) Ready(ctx context.Context) status.Health {
	n, err := call(ctx, s.opts.CallTimeout, s.p.Node)
	if err != nil {
		return status.Health{Reasons: []string{err.Error()}}
	}
	return status.Readiness(&n, s.opts.Now(), s.opts.ReadyThreshold)
}

// Serve serves the API on l until ctx is cancelled, then shuts down in
// order: it stops accepting, lets requests in flight finish (up to 5 s)
// and closes l, which removes a unix socket file.
func (s *Server) Serve(ctx context.Context, l net.Listener) error {
	return serve(ctx, l, s.Handler())
}

// ServeProbes serves ProbeHandler on l (see ListenProbes) until ctx is
// cancelled.
func (s *Server) ServeProbes(ctx context.Context, l net.Listener) error {
	return serve(ctx, l, s.ProbeHandler())
}

func serve(ctx context.Context, l net.Listener, h http.Handler) error {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       time.Minute,
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	select {
	case err := <-errc:
		return fmt.Errorf("control API on %s: %w", l.Addr(), err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := srv.Shutdown(sctx)
	if serr := <-errc; serr != nil && !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	if err != nil {
		return fmt.Errorf("control API on %s: shutdown: %w", l.Addr(), err)
	}
	return nil
}

// call runs f with a deadline and gives up when it passes even if f does
// not honour its context, so that a wedged agent cannot wedge the API.
func call[T any](ctx context.Context, timeout time.Duration, f func(context.Context) (T, error)) (T, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	type result struct {
		v   T
		err error
	}
	ch := make(chan result, 1)
	go func() {
		v, err := f(ctx)
		ch <- result{v, err}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			return r.v, fmt.Errorf("agent: %w", r.err)
		}
		return r.v, nil
	case <-ctx.Done():
		var zero T
		return zero, fmt.Errorf("agent did not answer within %s", timeout)
	}
}

func (s *Server) node(w http.ResponseWriter, r *http.Request) (status.Node, bool) {
	n, err := call(r.Context(), s.opts.CallTimeout, s.p.Node)
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, err.Error())
		return n, false
	}
	if n.Peers == nil {
		n.Peers = []status.Peer{}
	}
	return n, true
}

func (s *Server) handleNode(w http.ResponseWriter, r *http.Request) {
	if n, ok := s.node(w, r); ok {
		writeJSON(w, http.StatusOK, n)
	}
}

func (s *Server) handlePeers(w http.ResponseWriter, r *http.Request) {
	if n, ok := s.node(w, r); ok {
		writeJSON(w, http.StatusOK, n.Peers)
	}
}

func (s *Server) handlePeer(w http.ResponseWriter, r *http.Request) {
	key := r.PathValue("key")
	n, ok := s.node(w, r)
	if !ok {
		return
	}
	if p, ok := FindPeer(n.Peers, key); ok {
		writeJSON(w, http.StatusOK, p)
		return
	}
	writeError(w, http.StatusNotFound, fmt.Sprintf("node %s has no BGP peer %q (give a peer address or a session name such as Mesh_10_0_0_1)", n.Name, key))
}

// FindPeer finds a peer by address (v4-mapped addresses match their IPv4
// form) or by session name.
func FindPeer(peers []status.Peer, key string) (status.Peer, bool) {
	if a, err := netip.ParseAddr(key); err == nil {
		for _, p := range peers {
			if p.Address.Unmap() == a.Unmap() {
				return p, true
			}
		}
		return status.Peer{}, false
	}
	for _, p := range peers {
		if p.SessionName() == key {
			return p, true
		}
	}
	return status.Peer{}, false
}

func (s *Server) handleRoutes(w http.ResponseWriter, r *http.Request) {
	q, err := status.ParseRouteQuery(r.URL.Query().Get("q"))
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	rib, err := call(r.Context(), s.opts.CallTimeout, func(ctx context.Context) (status.RIB, error) {
		return s.p.Routes(ctx, q)
	})
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	if rib.Routes == nil {
		rib.Routes = []status.Route{}
	}
	writeJSON(w, http.StatusOK, rib)
}

func (s *Server) handleHealth(check func(context.Context) status.Health) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		h := check(r.Context())
		code := http.StatusOK
		if !h.OK {
			code = http.StatusServiceUnavailable
		}
		writeJSON(w, code, h)
	}
}

type errorBody struct {
	Error string `json:"error"`
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "encoding response: "+err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	w.Write(append(b, '\n'))
}

func writeError(w http.ResponseWriter, code int, msg string) {
	b, _ := json.Marshal(errorBody{Error: msg})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	w.Write(append(b, '\n'))
}
