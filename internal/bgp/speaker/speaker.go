// Package speaker is kbgp's BGP speaker: it listens for and makes BGP
// sessions (internal/bgp/fsm), feeds what they receive into one RIB
// (internal/rib), sends each peer its exports and tells subscribers (the
// FIB) about best-path and multipath changes.
//
// Goroutines and their owners (all owned by the Speaker, which waits for
// them in Close):
//   - routineAccept, one per listener: hands accepted connections to the
//     session of the remote address;
//   - routineRIB: the only goroutine that touches the rib.RIB. It consumes a
//     bounded queue of operations (update batches from sessions, peers going
//     up and down, originations, API calls), runs the decision process once
//     per batch and decides the per-update-group exports;
//   - routineExport: encodes the exports in the order the RIB goroutine
//     produced them and hands them to the peers' sessions without waiting
//     (fsm.Session.Enqueue, export.go). Neither goroutine ever blocks on a
//     peer: if too many batches wait for a peer, it is reset with Cease /
//     Out of Resources (RFC 4486) and gets a full table when it comes back;
//   - the fsm.Session goroutines of each peer: a reader per connection
//     while the peer's messages are there to read (a connection whose
//     socket is empty parks it and has none), which runs the peer's FSM
//     and this package's fsm.Handler, and a writer while the session has
//     messages queued that could not be written at once.
//
// Sessions block on the RIB queue when it is full (by count, or by what
// its UPDATEs hold, ribqueue.go): a busy RIB slows down reading from peers
// (TCP backpressure) instead of growing memory.
package speaker

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/kbgp/kbgp/internal/bgp/fsm"
	"github.com/kbgp/kbgp/internal/bgp/wire"
	"github.com/kbgp/kbgp/internal/rib"
)

// Config configures a Speaker.
type Config struct {
	// LocalAS and RouterID are the defaults for every peer. Required.
	LocalAS  uint32
	RouterID netip.Addr
	// Listen are the addresses to accept BGP connections on. Port 0 picks
	// an ephemeral port (tests); empty means none (active peers only).
	Listen []netip.AddrPort
	// RIB configures the decision process (cluster ID, multipath).
	RIB rib.Options
	// Logger receives session state changes and errors (default: discard).
	Logger Logger
	// SelectionDeferral makes the speaker a restarting speaker (RFC 4724
	// §4.1): it defers best-path selection, FIB updates and exports until
	// every peer that negotiated graceful restart has sent End-of-RIB for
	// all its families, or until this much time has passed. Set the peers'
	// GracefulRestart.Restarting (R bit) with it. 0 disables deferral.
	SelectionDeferral time.Duration
	// QueueLen bounds the RIB operation queue by count (default 1024),
	// and QueueBytes by what its UPDATEs hold, message and decoded NLRI
	// (default 1 MiB: a full 4 KB UPDATE holds about 30 KB); see
	// ribqueue.go. The RIB goroutine, not the queue, bounds how fast
	// UPDATEs are applied; a long backlog of large UPDATEs is only heap.
	// ExportQueueLen bounds each peer's outbound queue (default 1024): the
	// batches of UPDATEs waiting for its session's writer. A peer that
	// lets more wait is not keeping up and is reset (Cease / Out of
	// Resources).
	QueueLen, QueueBytes, ExportQueueLen int
}

// PeerConfig is one peer.
type PeerConfig struct {
	// Name names the peer in logs and status (default: its address).
	Name string
	// Session configures the BGP session. LocalAS and RouterID default to
	// the speaker's.
	Session fsm.Config
	// RRClient makes the peer a route-reflector client (RFC 4456).
	RRClient bool
	// NextHop is the next-hop mode toward the peer.
	NextHop rib.NextHopMode
	// NextHopSelf4/6 are the addresses advertised as our next hop; they
	// default to the local address of the session.
	NextHopSelf4, NextHopSelf6 netip.Addr
	// AllowOwnAS is how many times our AS may appear in received AS_PATHs.
	AllowOwnAS int
	// Import and Export policies. Changing only a policy's Func (same Name)
	// is applied without a session reset: exports are re-evaluated and a
	// ROUTE-REFRESH asks the peer to resend its routes.
	Import, Export rib.Policy
}

// Errors.
var (
	ErrPeerExists   = errors.New("peer already exists")
	ErrPeerNotFound = errors.New("peer not found")
	ErrClosed       = errors.New("speaker is closed")
)

// Speaker is a running BGP speaker.
type Speaker struct {
	cfg Config
	log Logger

	ribq   chan func()
	budget opBudget // the bytes ribq's UPDATEs hold (ribqueue.go)
	done   chan struct{}
	wg     sync.WaitGroup

	listeners []*fsm.Listener

	mu     sync.Mutex // guards peers and closed
	peers  map[netip.Addr]*peer
	closed bool

	// Owned by routineRIB.
	rib   *rib.RIB
	byID  map[rib.PeerID]*peer
	subs  map[*Subscription]struct{}
	local map[fibKey]wire.Attrs
	// pubq holds the peers whose counters changed since the last flush;
	// flush publishes only these, so a flush costs O(changed peers), not
	// O(all peers) (with 2,000 peers, publishing every peer on every
	// flush made AddPeer O(n) and adding n peers O(n²)).
	pubq []*peer
	// eorq holds the peers that came up and wait for End-of-RIB after
	// their initial table (needEoR).
	eorq []*peer
	// tables are the initial tables encoded for peers that came up since
	// the last flush, shared by the next ones of the same group
	// (sharedtable.go).
	tables map[tableKey]*sharedTable
	// deferring is true while the restarting speaker waits for End-of-RIB
	// (SelectionDeferral); deferTimer ends it at the latest.
	deferring  bool
	deferTimer *time.Timer
	// exportq feeds routineExport (export.go), which signals exportIdle
	// when it has no more work.
	exportq    chan *exportJob
	exportIdle chan struct{}
}

// New starts a speaker: it opens the listeners and starts the RIB
// goroutine. Close stops it.
func New(ctx context.Context, cfg Config) (*Speaker, error) {
	if cfg.LocalAS == 0 || !cfg.RouterID.Is4() {
		return nil, fmt.Errorf("speaker: LocalAS and an IPv4 RouterID are required (got AS %d, router ID %v)", cfg.LocalAS, cfg.RouterID)
	}
	if cfg.Logger == nil || nilPointer(cfg.Logger) {
		cfg.Logger = discard{}
	}
	if cfg.QueueLen <= 0 {
		cfg.QueueLen = 1024
	}
	if cfg.QueueBytes <= 0 {
		cfg.QueueBytes = 1 << 20
	}
	if cfg.ExportQueueLen <= 0 {
		cfg.ExportQueueLen = 1024
	}
	cfg.RIB.RouterID = cfg.RouterID
	s := &Speaker{
		cfg:    cfg,
		log:    cfg.Logger,
		ribq:   make(chan func(), cfg.QueueLen),
		budget: opBudget{limit: cfg.QueueBytes},
		done:   make(chan struct{}),
		peers:  map[netip.Addr]*peer{},
		rib:    rib.New(cfg.RIB),
		byID:   map[rib.PeerID]*peer{},
		subs:   map[*Subscription]struct{}{},
		local:  map[fibKey]wire.Attrs{},

		exportq:    make(chan *exportJob, exportQueueLen),
		exportIdle: make(chan struct{}, 1),
	}
	for _, a := range cfg.Listen {
		ln, err := fsm.Listen(ctx, a)
		if err != nil {
			for _, l := range s.listeners {
				l.Close()
			}
			return nil, fmt.Errorf("speaker: %w", err)
		}
		s.listeners = append(s.listeners, ln)
	}
	if cfg.SelectionDeferral > 0 {
		s.deferring = true
		s.deferTimer = s.afterRIB(cfg.SelectionDeferral, func() { s.endDeferral("selection deferral timer expired") })
	}
	s.wg.Add(2)
	go s.routineRIB()
	go s.routineExport()
	for _, ln := range s.listeners {
		s.wg.Add(1)
		go s.routineAccept(ln)
	}
	return s, nil
}

// Addrs returns the bound listen addresses (with the ports picked).
func (s *Speaker) Addrs() []netip.AddrPort {
	var a []netip.AddrPort
	for _, ln := range s.listeners {
		a = append(a, ln.Addr())
	}
	return a
}

// Close stops every session (Cease / Peer De-configured) and goroutine.
func (s *Speaker) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	peers := make([]*peer, 0, len(s.peers))
	for _, p := range s.peers {
		peers = append(peers, p)
	}
	s.mu.Unlock()
	for _, ln := range s.listeners {
		ln.Close()
	}
	for _, p := range peers {
		p.stop()
	}
	close(s.done)
	s.wg.Wait()
}

// routineAccept accepts connections on ln and hands each to its peer's
// session, or rejects it.
func (s *Speaker) routineAccept(ln *fsm.Listener) {
	defer s.wg.Done()
	for {
		nc, err := ln.Accept()
		if err != nil {
			select {
			case <-s.done:
				return
			default:
			}
			if errors.Is(err, net.ErrClosed) {
				return
			}
			s.log.Warn("accepting BGP connection", "listener", ln.Addr(), "err", err)
			continue
		}
		ra := nc.RemoteAddr().(*net.TCPAddr).AddrPort().Addr().Unmap()
		s.mu.Lock()
		p := s.peers[ra]
		s.mu.Unlock()
		if p == nil {
			s.log.Info("rejecting BGP connection from unconfigured address", "remote", nc.RemoteAddr().String())
			nc.Close()
			continue
		}
		p.sess.Accept(nc)
	}
}

// do runs f on the RIB goroutine and waits for it.
func (s *Speaker) do(ctx context.Context, f func()) error {
	fin := make(chan struct{})
	select {
	case s.ribq <- func() { f(); close(fin) }:
	case <-s.done:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-fin:
		return nil
	case <-s.done:
		return ErrClosed
	}
}

// enqueue puts f on the RIB queue, blocking while it is full
// (backpressure), and reports false if the speaker is closing.
func (s *Speaker) enqueue(f func()) bool {
	select {
	case s.ribq <- f:
		return true
	case <-s.done:
		return false
	}
}

func (s *Speaker) fillDefaults(c *PeerConfig) {
	if c.Session.LocalAS == 0 {
		c.Session.LocalAS = s.cfg.LocalAS
	}
	if !c.Session.RouterID.IsValid() {
		c.Session.RouterID = s.cfg.RouterID
	}
	c.Session.PeerAddr = c.Session.PeerAddr.Unmap()
	if c.Name == "" {
		c.Name = c.Session.PeerAddr.String()
	}
}

// AddPeer configures a peer and starts its session.
func (s *Speaker) AddPeer(ctx context.Context, c PeerConfig) error {
	s.fillDefaults(&c)
	addr := c.Session.PeerAddr
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	if s.peers[addr] != nil {
		s.mu.Unlock()
		return fmt.Errorf("speaker: add peer %v: %w", addr, ErrPeerExists)
	}
	s.mu.Unlock()
	p, err := s.newPeer(ctx, c)
	if err != nil {
		return err
	}
	s.mu.Lock()
	if s.closed || s.peers[addr] != nil {
		s.mu.Unlock()
		p.stop()
		return fmt.Errorf("speaker: add peer %v: %w", addr, ErrPeerExists)
	}
	s.peers[addr] = p
	s.mu.Unlock()
	if err := p.sess.Start(); err != nil {
		return fmt.Errorf("speaker: starting session with %v: %w", addr, err)
	}
	return nil
}

// RemovePeer stops a peer's session (Cease / Peer De-configured) and
// withdraws its routes.
func (s *Speaker) RemovePeer(ctx context.Context, addr netip.Addr) error {
	addr = addr.Unmap()
	s.mu.Lock()
	p := s.peers[addr]
	delete(s.peers, addr)
	s.mu.Unlock()
	if p == nil {
		return fmt.Errorf("speaker: remove peer %v: %w", addr, ErrPeerNotFound)
	}
	p.stop()
	return nil
}

// UpdatePeer changes a peer's configuration. Nothing happens if it is
// unchanged. A change of the session (AS, addresses, ports, password,
// timers, families, capabilities), of the route-reflector client flag, the
// next-hop settings or the import policy's name resets only this peer; a
// change of the policies' functions, read-only flags or export policy name
// is applied in place (see UpdatePeers).
func (s *Speaker) UpdatePeer(ctx context.Context, c PeerConfig) error {
	return s.UpdatePeers(ctx, []PeerConfig{c})[0]
}

// replacePeer resets p's session with configuration c: RFC 4486 §4,
// Cease / "Other Configuration Change".
func (s *Speaker) replacePeer(ctx context.Context, p *peer, c PeerConfig) error {
	addr := c.Session.PeerAddr
	s.log.Info("bgp peer configuration changed, resetting the session", "peer", p.cfg.Name, "addr", addr)
	s.mu.Lock()
	if s.peers[addr] == p {
		delete(s.peers, addr)
	}
	s.mu.Unlock()
	p.stopWith(&wire.Notification{Code: wire.NotifCease, Subcode: wire.CeaseOtherConfigChange})
	return s.AddPeer(ctx, c)
}

// Peers returns the status of every peer.
func (s *Speaker) Peers() []PeerStatus {
	s.mu.Lock()
	ps := make([]*peer, 0, len(s.peers))
	for _, p := range s.peers {
		ps = append(ps, p)
	}
	s.mu.Unlock()
	out := make([]PeerStatus, 0, len(ps))
	for _, p := range ps {
		out = append(out, p.status())
	}
	return out
}

// PeerStatus returns one peer's status.
func (s *Speaker) PeerStatus(addr netip.Addr) (PeerStatus, error) {
	s.mu.Lock()
	p := s.peers[addr.Unmap()]
	s.mu.Unlock()
	if p == nil {
		return PeerStatus{}, fmt.Errorf("speaker: peer %v: %w", addr, ErrPeerNotFound)
	}
	return p.status(), nil
}

// ResetPeer restarts a peer's session with Cease / Administrative Reset.
func (s *Speaker) ResetPeer(addr netip.Addr, msg string) error {
	s.mu.Lock()
	p := s.peers[addr.Unmap()]
	s.mu.Unlock()
	if p == nil {
		return fmt.Errorf("speaker: reset peer %v: %w", addr, ErrPeerNotFound)
	}
	return p.sess.Restart(msg)
}

// ShutdownPeer stops a peer's session with an RFC 9003 shutdown message
// and keeps it down until StartPeer.
func (s *Speaker) ShutdownPeer(addr netip.Addr, msg string) error {
	s.mu.Lock()
	p := s.peers[addr.Unmap()]
	s.mu.Unlock()
	if p == nil {
		return fmt.Errorf("speaker: shut down peer %v: %w", addr, ErrPeerNotFound)
	}
	return p.sess.Stop(msg)
}

// StartPeer starts a peer shut down with ShutdownPeer.
func (s *Speaker) StartPeer(addr netip.Addr) error {
	s.mu.Lock()
	p := s.peers[addr.Unmap()]
	s.mu.Unlock()
	if p == nil {
		return fmt.Errorf("speaker: start peer %v: %w", addr, ErrPeerNotFound)
	}
	return p.sess.Start()
}
