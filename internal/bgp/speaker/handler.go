package speaker

import (
	"net/netip"
	"time"

	"github.com/kbgp/kbgp/internal/bgp/fsm"
	"github.com/kbgp/kbgp/internal/bgp/wire"
	"github.com/kbgp/kbgp/internal/rib"
)

// handler adapts a peer to fsm.Handler. Its methods run under the
// session's FSM lock (mostly on the connection's reader goroutine) and hand
// work to the RIB goroutine through the bounded queue.
type handler peer

func (h *handler) p() *peer { return (*peer)(h) }

// StateChanged logs every transition with the peer and the reason.
func (h *handler) StateChanged(_ *fsm.Session, from, to fsm.State, reason error) {
	p := h.p()
	if _, off := p.sp.log.(discard); off {
		return // nothing to build the line for (about 1 KB per session coming up)
	}
	args := []any{"peer", p.cfg.Name, "addr", p.cfg.Session.PeerAddr, "from", from.String(), "to", to.String()}
	if reason != nil {
		args = append(args, "reason", reason.Error())
		p.sp.log.Warn("bgp session state changed", args...)
		return
	}
	p.sp.log.Info("bgp session state changed", args...)
}

func (h *handler) Established(s *fsm.Session, epoch uint64, n *fsm.Negotiated) {
	p := h.p()
	local := s.LocalAddr()
	p.sp.enqueue(func() { p.sp.peerUp(p, epoch, n, local) })
}

// Update hands u to the RIB goroutine without copying it: the session
// passed ownership of u (and of the pooled message buffer it aliases), and
// the RIB goroutine releases both once the RIB has taken what it keeps
// (rib.Update copies prefixes and interns attributes).
func (h *handler) Update(_ *fsm.Session, epoch uint64, u *fsm.ReceivedUpdate) {
	p := h.p()
	s := p.sp
	n := u.Size()
	if !s.budget.acquire(n, s.done) {
		u.Release()
		return
	}
	if !s.enqueue(func() { s.peerUpdate(p, epoch, &u.Update); u.Release(); s.budget.release(n) }) {
		u.Release()
		s.budget.release(n)
	}
}

func (h *handler) EndOfRIB(_ *fsm.Session, epoch uint64, f wire.Family) {
	p := h.p()
	p.sp.enqueue(func() { p.sp.peerEndOfRIB(p, epoch, f) })
}

func (h *handler) RouteRefresh(_ *fsm.Session, epoch uint64, r wire.RouteRefresh) {
	p := h.p()
	p.sp.enqueue(func() { p.sp.peerRouteRefresh(p, epoch, r) })
}

func (h *handler) Down(_ *fsm.Session, epoch uint64, reason *fsm.SessionError, keepStale bool) {
	p := h.p()
	p.sp.enqueue(func() { p.sp.peerDown(p, epoch, reason, keepStale) })
}

// The methods below run on the RIB goroutine.

func (s *Speaker) peerUp(p *peer, epoch uint64, n *fsm.Negotiated, local netip.AddrPort) {
	if s.byID[p.id] != p {
		return
	}
	p.epoch, p.neg, p.local = epoch, n, local
	clear(p.eorIn)
	clear(p.refreshing)
	defer s.checkDeferral()
	clear(p.advertised)
	clear(p.rejectedSet)
	p.rejected = 0
	p.touch()
	// The rib's peer configuration needs the session's local address for
	// next-hop self and, for dynamic peers, the peer's AS; update it when
	// they are new. The peer is down in the rib here, and its stale routes
	// (graceful restart) stay.
	want := p.ribConfig(local)
	if have, ok := s.rib.Peer(p.id); ok && (have.LocalAddr4 != want.LocalAddr4 || have.LocalAddr6 != want.LocalAddr6 || have.RemoteAS != want.RemoteAS) {
		s.rib.Down(p.id)
		if err := s.rib.SetPeerConfig(p.id, want); err != nil {
			s.log.Error("updating the peer's configuration in the RIB", "peer", p.cfg.Name, "err", err)
			return
		}
	}
	sess := rib.Session{RouterID: n.PeerRouterID, AS4: n.AS4, LLGR: n.HasPeerLLGR}
	for _, f := range n.Families {
		fs := rib.FamilySession{Family: f}
		for _, g := range n.AddPathRecv {
			fs.AddPathReceive = fs.AddPathReceive || g == f
		}
		for _, g := range n.AddPathSend {
			if g == f {
				fs.SendPaths = rib.AllPaths
			}
		}
		sess.Families = append(sess.Families, fs)
	}
	if _, err := s.rib.Up(p.id, sess); err != nil {
		s.log.Error("peer up in the RIB", "peer", p.cfg.Name, "err", err)
		return
	}
	// RFC 4724 §4.2: if the restarted peer no longer preserves forwarding
	// for a family (F bit clear, or no GR capability), its stale routes for
	// that family are removed at once.
	for f, t := range p.stale {
		keep := false
		if n.PeerGR != nil {
			for _, g := range n.PeerGR.Families {
				keep = keep || g.Family == f && g.Forwarding
			}
		}
		if !keep || !n.HasFamily(f) {
			t.Stop()
			delete(p.stale, f)
			s.rib.SweepStale(p.id, f)
		}
	}
	// Initial table: the Adj-RIB-Out of an existing update group now; a
	// new group's contents arrive with the next flush. End-of-RIB follows
	// (RFC 4724 §4.1: "the Receiving Speaker MUST send the End-of-RIB marker
	// ... after it completes the initial update").
	s.sendInitialTable(p)
	p.needEoR = true
	s.eorq = append(s.eorq, p)
}

func (s *Speaker) peerUpdate(p *peer, epoch uint64, u *wire.Update) {
	if s.byID[p.id] != p || p.epoch != epoch {
		return
	}
	p.touch() // rejectedSet and rejected may change
	withdraw := func(f wire.Family, n []wire.NLRI) {
		if len(n) == 0 {
			return
		}
		for _, x := range n {
			delete(p.rejectedSet[f], x)
		}
		if err := s.rib.Withdraw(p.id, f, n); err != nil {
			s.log.Error("withdraw", "peer", p.cfg.Name, "err", err)
		}
	}
	announce := func(f wire.Family, n []wire.NLRI, a *wire.Attrs) {
		if len(n) == 0 {
			return
		}
		rej, why, err := s.rib.Update(p.id, f, n, a)
		if err != nil {
			s.log.Error("update", "peer", p.cfg.Name, "err", err)
			return
		}
		set := p.rejectedSet[f]
		if len(set) > 0 {
			for _, x := range n {
				delete(set, x)
			}
		}
		if rej == 0 {
			return
		}
		if set == nil {
			// Made on the first rejection: most peers have none.
			set = map[wire.NLRI]struct{}{}
			put(&p.rejectedSet, f, set)
		}
		p.rejected += uint64(rej)
		s.log.Debug("routes rejected on import", "peer", p.cfg.Name, "family", f.String(), "count", rej, "first_reason", why.String())
		if len(n) == 1 {
			set[n[0]] = struct{}{}
			return
		}
		// Find which: import checks and policies decide per route, so
		// offer them one at a time (rare: only batches with rejections).
		for i := range n {
			if r, _, _ := s.rib.Update(p.id, f, n[i:i+1], a); r > 0 {
				set[n[i]] = struct{}{}
			}
		}
	}
	withdraw(wire.IPv4Unicast, u.Withdrawn)
	if m := u.MPUnreach; m != nil {
		withdraw(m.Family, m.NLRI)
	}
	announce(wire.IPv4Unicast, u.NLRI, &u.Attrs)
	if m := u.MPReach; m != nil && len(m.NLRI) > 0 {
		// The rib wants every route's next hop in Attrs.NextHop (RFC 4760:
		// MP_REACH_NLRI carries it for other families).
		a := u.Attrs
		a.NextHop = m.NextHop
		a.Set(wire.AttrNextHop)
		announce(m.Family, m.NLRI, &a)
	}
}

func (s *Speaker) peerEndOfRIB(p *peer, epoch uint64, f wire.Family) {
	if s.byID[p.id] != p || p.epoch != epoch {
		return
	}
	put(&p.eorIn, f, true)
	defer s.checkDeferral()
	// RFC 4724 §4.2: "Once the End-of-RIB marker for an address family is
	// received from the peer, it MUST immediately remove any routes from
	// the peer that are still marked as stale for that address family."
	if t, ok := p.stale[f]; ok {
		t.Stop()
		delete(p.stale, f)
		n, _ := s.rib.SweepStale(p.id, f)
		s.log.Info("graceful restart: End-of-RIB received, stale routes removed", "peer", p.cfg.Name, "family", f.String(), "removed", n)
	}
}

func (s *Speaker) peerRouteRefresh(p *peer, epoch uint64, r wire.RouteRefresh) {
	if s.byID[p.id] != p || p.epoch != epoch {
		return
	}
	f := r.Family
	switch r.Subtype {
	case wire.RefreshNormal:
		s.sendFamilyTable(p, f, true)
	case wire.RefreshBoRR:
		if p.neg == nil || !p.neg.EnhancedRouteRefresh {
			return
		}
		// RFC 7313 §4: on a BoRR the speaker marks the peer's routes of
		// the <AFI, SAFI> stale; re-announced routes lose the mark and the
		// EoRR sweeps the rest.
		n, _ := s.rib.MarkStale(p.id, f)
		put(&p.refreshing, f, true)
		s.log.Debug("enhanced route refresh: BoRR received, routes marked stale", "peer", p.cfg.Name, "family", f.String(), "routes", n)
	case wire.RefreshEoRR:
		// RFC 7313 §4: "When a BGP speaker receives an EoRR message from a
		// peer, it MUST immediately remove any routes from the peer that
		// are still marked as stale for that <AFI, SAFI>." An EoRR without
		// a preceding BoRR marked nothing and is ignored.
		if !p.refreshing[f] {
			return
		}
		delete(p.refreshing, f)
		if _, gr := p.stale[f]; gr {
			// A graceful restart is still waiting for End-of-RIB; its
			// sweep removes what this refresh did not renew.
			return
		}
		n, _ := s.rib.SweepStale(p.id, f)
		s.log.Debug("enhanced route refresh: EoRR received, stale routes removed", "peer", p.cfg.Name, "family", f.String(), "removed", n)
	}
}

func (s *Speaker) peerDown(p *peer, epoch uint64, reason *fsm.SessionError, keepStale bool) {
	if s.byID[p.id] != p || p.epoch != epoch {
		return
	}
	n := p.neg
	p.epoch, p.neg, p.needEoR = 0, nil, false
	clear(p.advertised)
	clear(p.rejectedSet)
	p.publish()
	s.rib.Down(p.id)
	grFams := map[wire.Family]bool{}
	if keepStale {
		for _, f := range n.GRFamilies() {
			grFams[f] = true
		}
	}
	for _, f := range n.Families {
		if !grFams[f] {
			s.rib.WithdrawAll(p.id, f)
			continue
		}
		// RFC 4724 §4.2: the receiving speaker "MUST retain the routes
		// received from the Restarting Speaker ... and MUST mark them as
		// stale" and starts the restart timer with the peer's Restart
		// Time; "If the session does not get re-established within the
		// 'Restart Time' that the peer advertised previously, the
		// Receiving Speaker MUST delete all the stale routes".
		cnt, _ := s.rib.MarkStale(p.id, f)
		restart := time.Duration(n.PeerGR.Time) * time.Second
		var llgr time.Duration
		for _, l := range n.PeerLLGR {
			if l.Family == f {
				llgr = time.Duration(l.StaleTime) * time.Second
			}
		}
		s.log.Info("graceful restart: keeping the peer's routes as stale", "peer", p.cfg.Name, "family", f.String(), "routes", cnt, "restart_time", restart, "llgr_stale_time", llgr)
		if old := p.stale[f]; old != nil {
			old.Stop()
		}
		put(&p.stale, f, s.afterRIB(restart, func() { s.restartTimerExpired(p, f, llgr) }))
	}
	_ = reason
}

// restartTimerExpired: the GR restart time passed without End-of-RIB.
func (s *Speaker) restartTimerExpired(p *peer, f wire.Family, llgr time.Duration) {
	if s.byID[p.id] != p || p.stale[f] == nil {
		return
	}
	if llgr > 0 {
		// RFC 9494 §4.2: when the GR restart timer expires and LLGR was
		// negotiated, the stale routes become long-lived stale for the
		// long-lived stale time instead of being removed.
		moved, removed, _ := s.rib.MarkLLGRStale(p.id, f)
		s.log.Info("long-lived graceful restart: routes now LLGR-stale", "peer", p.cfg.Name, "family", f.String(), "routes", moved, "removed_no_llgr", removed)
		put(&p.stale, f, s.afterRIB(llgr, func() { s.restartTimerExpired(p, f, 0) }))
		return
	}
	delete(p.stale, f)
	n, _ := s.rib.SweepStale(p.id, f)
	s.log.Info("graceful restart: restart timer expired, stale routes removed", "peer", p.cfg.Name, "family", f.String(), "removed", n)
}

// afterRIB runs f on the RIB goroutine after d.
func (s *Speaker) afterRIB(d time.Duration, f func()) *time.Timer {
	return time.AfterFunc(d, func() { s.enqueue(f) })
}
