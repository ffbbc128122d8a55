package speaker

import (
	"context"
	"fmt"
	"net/netip"
	"reflect"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kbgp/kbgp/internal/bgp/fsm"
	"github.com/kbgp/kbgp/internal/bgp/wire"
	"github.com/kbgp/kbgp/internal/rib"
)

// PeerStatus is a peer's status: the session's plus the RIB's view.
type PeerStatus struct {
	Name string
	fsm.Status
	// Accepted counts the received routes no import check or policy
	// rejected, per family; Advertised counts the routes currently
	// advertised to the peer, per family.
	Accepted   map[wire.Family]int
	Advertised map[wire.Family]int
	// Rejected counts routes rejected on import since the session came up.
	Rejected uint64
}

// peer is one configured peer. cfg and sess are immutable; a change of
// configuration makes a new peer.
type peer struct {
	sp                 *Speaker
	cfg                PeerConfig
	sess               *fsm.Session
	importFn, exportFn atomic.Pointer[rib.PolicyFunc]
	// overflow is the Established period whose export queue overflowed
	// (routineExport stops queueing for it).
	overflow atomic.Uint64

	// Owned by routineRIB.
	id      rib.PeerID
	epoch   uint64 // current Established period (0: down)
	neg     *fsm.Negotiated
	local   netip.AddrPort
	needEoR bool
	stale   map[wire.Family]*time.Timer // GR / LLGR timers of stale families
	eorIn   map[wire.Family]bool        // End-of-RIB received this period
	// refreshing holds the families between the peer's BoRR and EoRR
	// (RFC 7313 §4), whose routes are stale until re-announced.
	refreshing map[wire.Family]bool
	// rejectedSet holds the received routes import checks or policy
	// rejected, so that Accepted = received - rejected.
	rejectedSet map[wire.Family]map[wire.NLRI]struct{}
	advertised  map[wire.Family]int
	rejected    uint64
	pubDirty    bool // queued in sp.pubq

	mu   sync.Mutex // guards snap
	snap struct {
		// fams holds the counters per family: a slice of one or two
		// entries, reused by every publish (three maps were about 500 B
		// of every peer of a reflector).
		fams []familyCounts
		// accepted is true when familyCounts.accepted is known: the peer
		// is up (the RIB's path counts, Speaker.paths).
		accepted bool
		rejected uint64
	}
}

// familyCounts is a peer's published counters of one family.
type familyCounts struct {
	f          wire.Family
	hasAdv     bool // advertised is set (the family is in peer.advertised)
	advertised int
	rejectedIn int // received routes import rejected
	accepted   int // the peer's paths in the RIB
}

// counts returns the published counters of f (zero if none). p.mu is held.
func (p *peer) counts(f wire.Family) familyCounts {
	for _, c := range p.snap.fams {
		if c.f == f {
			return c
		}
	}
	return familyCounts{f: f}
}

func (s *Speaker) newPeer(ctx context.Context, c PeerConfig) (*peer, error) {
	// stale, eorIn, refreshing and rejectedSet are made on first use
	// (put): most peers never need them.
	p := &peer{sp: s, cfg: c, advertised: map[wire.Family]int{}}
	p.setPolicyFuncs(c)
	// Received prefixes come from the RIB's path counts (see status); the
	// session keeps a set of received prefixes only for MaxPrefix.
	sess, err := fsm.New(c.Session, (*handler)(p))
	if err != nil {
		return nil, fmt.Errorf("speaker: peer %s: %w", c.Name, err)
	}
	p.sess = sess
	if c.Session.Password != "" {
		for _, ln := range s.listeners {
			if ln.Addr().Addr().Is4() == c.Session.PeerAddr.Is4() || ln.Addr().Addr().Is6() && !ln.Addr().Addr().Is4In6() {
				if err := ln.SetPassword(c.Session.PeerAddr, c.Session.Password); err != nil && ln.Addr().Addr().Is4() == c.Session.PeerAddr.Is4() {
					sess.Close()
					return nil, fmt.Errorf("speaker: peer %s: %w", c.Name, err)
				}
			}
		}
	}
	if c.Session.TTLSecurity {
		// RFC 5082 §3: the SYN-ACK must leave with TTL 255 too.
		for _, ln := range s.listeners {
			if err := ln.EnableGTSM(); err != nil {
				sess.Close()
				return nil, fmt.Errorf("speaker: peer %s: %w", c.Name, err)
			}
		}
	}
	var rerr error
	err = s.do(ctx, func() {
		p.id, rerr = s.rib.AddPeer(p.ribConfig(netip.AddrPort{}))
		if rerr == nil {
			s.byID[p.id] = p
		}
	})
	if err == nil {
		err = rerr
	}
	if err != nil {
		sess.Close()
		return nil, fmt.Errorf("speaker: peer %s: %w", c.Name, err)
	}
	return p, nil
}

// ribConfig is the rib's view of the peer; local is the session's local
// address (used for next-hop self when not configured).
func (p *peer) ribConfig(local netip.AddrPort) rib.PeerConfig {
	c := &p.cfg
	rc := rib.PeerConfig{
		Name: c.Name, Addr: c.Session.PeerAddr,
		LocalAS: c.Session.LocalAS, RemoteAS: c.Session.PeerAS,
		RRClient: c.RRClient, NextHop: c.NextHop,
		LocalAddr4: c.NextHopSelf4, LocalAddr6: c.NextHopSelf6,
		AllowOwnAS: c.AllowOwnAS,
		Import:     rib.Policy{Name: c.Import.Name, ReadOnly: c.Import.ReadOnly},
		Export:     rib.Policy{Name: c.Export.Name, ReadOnly: c.Export.ReadOnly},
	}
	if rc.RemoteAS == 0 && p.neg != nil {
		rc.RemoteAS = p.neg.PeerAS
	}
	la := c.Session.LocalAddr
	if !la.IsValid() {
		la = local.Addr()
	}
	if la.Is4() && !rc.LocalAddr4.IsValid() {
		rc.LocalAddr4 = la
	}
	if la.Is6() && !rc.LocalAddr6.IsValid() {
		rc.LocalAddr6 = la
	}
	// The policies go through the peer so that UpdatePeer can swap them.
	if c.Import.Func != nil {
		rc.Import.Func = func(in rib.PolicyInput, a *wire.Attrs) bool { return (*p.importFn.Load())(in, a) }
	}
	if c.Export.Func != nil {
		rc.Export.Func = func(in rib.PolicyInput, a *wire.Attrs) bool { return (*p.exportFn.Load())(in, a) }
	}
	return rc
}

func (p *peer) setPolicyFuncs(c PeerConfig) {
	accept := rib.PolicyFunc(func(rib.PolicyInput, *wire.Attrs) bool { return true })
	imp, exp := c.Import.Func, c.Export.Func
	if imp == nil {
		imp = accept
	}
	if exp == nil {
		exp = accept
	}
	p.importFn.Store(&imp)
	p.exportFn.Store(&exp)
}

type change uint8

const (
	changeNone change = iota
	changePolicy
	changeReset
)

// compare classifies the difference between p's configuration and c.
func (p *peer) compare(c *PeerConfig) change {
	a, b := p.cfg, *c
	// Policy functions are compared by presence. The export policy's name
	// (its update group) and the read-only flags change with the functions
	// and are applied in place too (UpdatePeers moves the peer between
	// update groups); the import policy's name is compared by value.
	if (a.Import.Func == nil) != (b.Import.Func == nil) || (a.Export.Func == nil) != (b.Export.Func == nil) {
		return changeReset
	}
	polChanged := a.Import.Func != nil || a.Export.Func != nil
	a.Import.Func, a.Export.Func, b.Import.Func, b.Export.Func = nil, nil, nil, nil
	a.Import.ReadOnly, a.Export = b.Import.ReadOnly, b.Export
	// Functions never compare equal: a dial hook counts by presence.
	if (a.Session.Dial == nil) != (b.Session.Dial == nil) {
		return changeReset
	}
	a.Session.Dial, b.Session.Dial = nil, nil
	if !reflect.DeepEqual(a, b) {
		return changeReset
	}
	if polChanged {
		return changePolicy
	}
	return changeNone
}

// stop closes the session, stops the sender and removes the peer from the
// RIB (withdrawing its routes).
func (p *peer) stop() {
	p.stopWith(&wire.Notification{Code: wire.NotifCease, Subcode: wire.CeasePeerDeconfigured})
}

// stopWith is stop sending n (RFC 4486 Cease subcodes).
func (p *peer) stopWith(n *wire.Notification) {
	p.sess.CloseWith(n)
	sp := p.sp
	if p.cfg.Session.Password != "" {
		for _, ln := range sp.listeners {
			ln.SetPassword(p.cfg.Session.PeerAddr, "")
		}
	}
	sp.do(context.Background(), func() {
		for _, t := range p.stale {
			t.Stop()
		}
		if err := sp.rib.RemovePeer(p.id); err != nil {
			sp.log.Error("removing peer from the RIB", "peer", p.cfg.Name, "err", err)
		}
		delete(sp.byID, p.id)
		sp.flush()
	})
}

func (p *peer) status() PeerStatus {
	st := PeerStatus{Name: p.cfg.Name, Status: p.sess.Status()}
	p.mu.Lock()
	st.Advertised = make(map[wire.Family]int, len(p.snap.fams))
	for _, c := range p.snap.fams {
		if c.hasAdv {
			st.Advertised[c.f] = c.advertised
		}
	}
	st.Rejected = p.snap.rejected
	st.Accepted = map[wire.Family]int{}
	if p.snap.accepted && st.Negotiated != nil {
		// Received = the peer's paths in the RIB + the routes import
		// rejected; the session's own count (kept for families with a
		// MaxPrefix limit) is exact too and is kept where it exists.
		recv := make(map[wire.Family]int, len(st.Negotiated.Families))
		for _, f := range st.Negotiated.Families {
			c := p.counts(f)
			st.Accepted[f] = c.accepted
			recv[f] = c.accepted + c.rejectedIn
			if n, ok := st.PrefixesReceived[f]; ok {
				recv[f] = n
			}
		}
		st.PrefixesReceived = recv
	} else {
		for f, n := range st.PrefixesReceived {
			st.Accepted[f] = max(n-p.counts(f).rejectedIn, 0)
		}
	}
	p.mu.Unlock()
	return st
}

// touch queues p for publishing at the next flush; it runs on the RIB
// goroutine after p's counters changed.
func (p *peer) touch() {
	if !p.pubDirty {
		p.pubDirty = true
		p.sp.pubq = append(p.sp.pubq, p)
	}
}

// publishTouched publishes the peers queued by touch.
func (s *Speaker) publishTouched() {
	for i, p := range s.pubq {
		p.pubDirty = false
		p.publish()
		s.pubq[i] = nil
	}
	s.pubq = s.pubq[:0]
}

// publish copies RIB-goroutine counters for status().
func (p *peer) publish() {
	// The snapshot's slice is reused: status copies it under mu, and a
	// reflector publishes every changed peer on every flush.
	p.mu.Lock()
	fams := p.snap.fams[:0]
	at := func(f wire.Family) *familyCounts {
		for i := range fams {
			if fams[i].f == f {
				return &fams[i]
			}
		}
		fams = append(fams, familyCounts{f: f})
		return &fams[len(fams)-1]
	}
	for f, n := range p.advertised {
		c := at(f)
		c.hasAdv, c.advertised = true, n
	}
	for f, m := range p.rejectedSet {
		at(f).rejectedIn = len(m)
	}
	if p.neg != nil {
		for _, f := range p.neg.Families {
			at(f).accepted = p.sp.rib.PeerPaths(p.id, f)
		}
	}
	p.snap.fams = fams
	p.snap.accepted = p.neg != nil
	p.snap.rejected = p.rejected
	p.mu.Unlock()
}

// put sets (*m)[k] = v, making the map on first use.
func put[K comparable, V any](m *map[K]V, k K, v V) {
	if *m == nil {
		*m = map[K]V{}
	}
	(*m)[k] = v
}
