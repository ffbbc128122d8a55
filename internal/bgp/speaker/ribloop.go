package speaker

import (
	"context"
	"fmt"
	"net/netip"

	"github.com/kbgp/kbgp/internal/bgp/wire"
	"github.com/kbgp/kbgp/internal/rib"
)

// maxBatchOps bounds how many queued operations are applied before the
// decision process runs, so exports keep flowing under sustained load.
const maxBatchOps = 512

// routineRIB owns the RIB. It applies queued operations in batches and
// runs Drain once per batch.
func (s *Speaker) routineRIB() {
	defer s.wg.Done()
	defer func() {
		if s.deferTimer != nil {
			s.deferTimer.Stop()
		}
		for _, p := range s.byID {
			for _, t := range p.stale {
				t.Stop()
			}
		}
	}()
	for {
		select {
		case f := <-s.ribq:
			f()
		case <-s.done:
			return
		}
	drain:
		for i := 0; i < maxBatchOps; i++ {
			select {
			case f := <-s.ribq:
				f()
			default:
				break drain
			}
		}
		s.flush()
	}
}

// flush runs the decision process and distributes its results: best paths
// to subscribers, Adj-RIB-Out changes to the peers of each update group,
// End-of-RIB to peers that got their initial table.
func (s *Speaker) flush() {
	if s.deferring {
		// RFC 4724 §4.1: the restarting speaker "MUST defer route
		// selection for an address family until it either (a) receives
		// the End-of-RIB marker from all its peers ... or (b) the
		// Selection_Deferral_Timer ... expires". Work accumulates as dirty
		// prefixes in the RIB until then.
		s.publishTouched()
		return
	}
	ch := s.rib.Drain()
	if len(ch.FIB) > 0 {
		s.publishFIB(ch.FIB)
	}
	for _, gc := range ch.Groups {
		s.exportGroup(gc)
	}
	for i, p := range s.eorq {
		s.eorq[i] = nil
		if p.needEoR && p.epoch != 0 && s.byID[p.id] == p {
			p.needEoR = false
			var msgs [][]byte
			for _, f := range p.neg.Families {
				msgs = append(msgs, wire.AppendEndOfRIB(nil, f))
			}
			s.sendBatch(p, msgs)
		}
	}
	s.eorq = s.eorq[:0]
	s.publishTouched()
}

// exportGroup encodes one update group's changes once for all members
// that get the same messages, and separately for members that are the
// source of a changed path (split horizon).
func (s *Speaker) exportGroup(gc *rib.GroupChanges) {
	opts := &wire.Options{AS4: gc.AS4}
	if gc.AddPath {
		opts.AddPath = []wire.Family{gc.Family}
	}
	special := map[rib.PeerID]bool{}
	for i := range gc.Changes {
		c := &gc.Changes[i]
		special[c.Source] = true
		if c.HadOld {
			special[c.OldSource] = true
		}
	}
	var common [][]byte
	commonDone := false
	for _, id := range gc.Members {
		p := s.byID[id]
		if p == nil || p.epoch == 0 {
			continue
		}
		if special[id] {
			msgs, err := encodeChanges(gc.Family, gc.Changes, id, opts)
			if err != nil {
				s.log.Error("encoding UPDATE", "peer", p.cfg.Name, "err", err)
				continue
			}
			p.countChanges(gc.Family, gc.Changes, id)
			s.sendBatch(p, msgs)
			continue
		}
		if !commonDone {
			var err error
			common, err = encodeChanges(gc.Family, gc.Changes, noPeer, opts)
			if err != nil {
				s.log.Error("encoding UPDATE for update group", "group", gc.Group, "err", err)
				return
			}
			commonDone = true
		}
		p.countChanges(gc.Family, gc.Changes, id)
		s.sendBatch(p, common)
	}
}

// sendBatch queues msgs for p without blocking. A peer whose queue is full
// cannot keep up: it is reset (Cease / Out of Resources, RFC 4486) and gets
// its full table again when it returns.
func (s *Speaker) sendBatch(p *peer, msgs [][]byte) {
	if len(msgs) == 0 || p.epoch == 0 || p.overflowed {
		return
	}
	select {
	case p.out <- batch{epoch: p.epoch, msgs: msgs}:
	default:
		p.overflowed = true
		s.log.Error("peer is not keeping up with updates, resetting its session", "peer", p.cfg.Name, "queued_batches", len(p.out))
		sess := p.sess
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			// RFC 4486 §4 subcode 8: "Out of Resources".
			sess.RestartWith(&wire.Notification{Code: wire.NotifCease, Subcode: wire.CeaseOutOfResources})
		}()
	}
}

// sendTable sends p its Adj-RIB-Out for every negotiated family.
func (s *Speaker) sendTable(p *peer, refresh bool) {
	for _, f := range p.neg.Families {
		s.sendFamilyTable(p, f, refresh)
	}
}

// sendFamilyTable sends p its Adj-RIB-Out of one family; for a route
// refresh with enhanced route refresh negotiated it is framed by BoRR and
// EoRR (RFC 7313 §4: "the speaker MUST send a BoRR message before ... and
// an EoRR message after the re-advertisement").
func (s *Speaker) sendFamilyTable(p *peer, f wire.Family, refresh bool) {
	if p.neg == nil || !p.neg.HasFamily(f) {
		return
	}
	var changes []rib.ExportChange
	s.rib.AdjRIBOut(p.id, f, func(c rib.ExportChange) bool {
		changes = append(changes, c)
		return true
	})
	opts := p.neg.Send
	enhanced := refresh && p.neg.EnhancedRouteRefresh
	var msgs [][]byte
	if enhanced {
		msgs = append(msgs, wire.AppendRouteRefresh(nil, &wire.RouteRefresh{Family: f, Subtype: wire.RefreshBoRR}))
	}
	cnt := len(changes)
	body, err := encodeChanges(f, changes, p.id, &opts)
	if err != nil {
		s.log.Error("encoding table", "peer", p.cfg.Name, "family", f.String(), "err", err)
		return
	}
	msgs = append(msgs, body...)
	if enhanced {
		msgs = append(msgs, wire.AppendRouteRefresh(nil, &wire.RouteRefresh{Family: f, Subtype: wire.RefreshEoRR}))
	}
	if !refresh {
		p.advertised[f] = cnt
		p.touch()
	}
	s.sendBatch(p, msgs)
}

// Originate installs or replaces a locally originated route. Empty attrs
// get ORIGIN IGP; the next hop is set per peer (next hop self).
func (s *Speaker) Originate(ctx context.Context, prefix netip.Prefix, attrs wire.Attrs) error {
	f, err := familyOf(prefix)
	if err != nil {
		return err
	}
	// rib.Originate marks AS_PATH present (RFC 4271 §5.1.2); s.local
	// keeps what the RIB stores.
	a := attrs.Clone()
	a.Set(wire.AttrASPath)
	var rerr error
	if err := s.do(ctx, func() {
		if rerr = s.rib.Originate(f, prefix, 0, &a); rerr == nil {
			s.local[fibKey{f, prefix}] = a
		}
	}); err != nil {
		return err
	}
	return rerr
}

// OriginateAll installs many locally originated routes with the same
// attributes in one RIB operation.
func (s *Speaker) OriginateAll(ctx context.Context, prefixes []netip.Prefix, attrs wire.Attrs) error {
	fams := make([]wire.Family, len(prefixes))
	for i, p := range prefixes {
		f, err := familyOf(p)
		if err != nil {
			return err
		}
		fams[i] = f
	}
	a := attrs.Clone()
	a.Set(wire.AttrASPath)
	var rerr error
	if err := s.do(ctx, func() {
		for i, p := range prefixes {
			if rerr = s.rib.Originate(fams[i], p, 0, &a); rerr != nil {
				return
			}
			s.local[fibKey{fams[i], p}] = a
		}
	}); err != nil {
		return err
	}
	return rerr
}

// WithdrawAll removes many locally originated routes in one operation.
func (s *Speaker) WithdrawAll(ctx context.Context, prefixes []netip.Prefix) error {
	return s.do(ctx, func() {
		for _, p := range prefixes {
			if f, err := familyOf(p); err == nil {
				s.rib.Unoriginate(f, p, 0)
				delete(s.local, fibKey{f, p})
			}
		}
	})
}

// Withdraw removes a locally originated route.
func (s *Speaker) Withdraw(ctx context.Context, prefix netip.Prefix) error {
	f, err := familyOf(prefix)
	if err != nil {
		return err
	}
	return s.do(ctx, func() {
		s.rib.Unoriginate(f, prefix, 0)
		delete(s.local, fibKey{f, prefix})
	})
}

func familyOf(p netip.Prefix) (wire.Family, error) {
	if !p.IsValid() || p.Masked() != p {
		return wire.Family{}, fmt.Errorf("speaker: %v is not a masked prefix", p)
	}
	if p.Addr().Is4() {
		return wire.IPv4Unicast, nil
	}
	return wire.IPv6Unicast, nil
}

// endDeferral ends the restarting speaker's selection deferral.
func (s *Speaker) endDeferral(why string) {
	if !s.deferring {
		return
	}
	s.deferring = false
	s.deferTimer.Stop()
	s.log.Info("graceful restart: route selection resumes", "reason", why)
	s.flush()
}

// checkDeferral ends the deferral once every configured peer is
// Established and, if it negotiated graceful restart, has sent End-of-RIB
// for each of its families.
func (s *Speaker) checkDeferral() {
	if !s.deferring {
		return
	}
	for _, p := range s.byID {
		if p.epoch == 0 {
			return
		}
		if len(p.neg.GRFamilies()) == 0 {
			continue
		}
		for _, f := range p.neg.Families {
			if !p.eorIn[f] {
				return
			}
		}
	}
	s.endDeferral("End-of-RIB received from every peer")
}
