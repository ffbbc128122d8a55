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
// While routineExport is still encoding earlier exports, up to
// maxDeferredOps operations are applied before the next flush: one larger
// flush costs less (fewer, fuller UPDATEs, one encoding per update group)
// than many small ones, which is the batching the RIB goroutine got for
// free when it encoded the exports itself.
const (
	maxBatchOps    = 512
	maxDeferredOps = 8 * maxBatchOps
)

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
	pending := 0 // operations applied since the last flush
	for {
		var idle <-chan struct{}
		if pending > 0 {
			idle = s.exportIdle
		}
		select {
		case f := <-s.ribq:
			f()
			pending++
		case <-idle:
		case <-s.done:
			return
		}
	drain:
		for i := 0; i < maxBatchOps; i++ {
			select {
			case f := <-s.ribq:
				f()
				pending++
			default:
				break drain
			}
		}
		if len(s.exportq) > 0 && pending < maxDeferredOps {
			continue // flush when routineExport is idle (exportIdle)
		}
		s.flush()
		pending = 0
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
	clear(s.tables) // the next Drain changes what they hold
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
			s.sendBatch(p, p.epoch, msgs)
		}
	}
	s.eorq = s.eorq[:0]
	s.publishTouched()
}

// exportGroup hands one update group's changes to routineExport, which
// encodes them once for all members; where members are the source of
// changed paths (split horizon), by segments, each member's own encoded
// for it alone (splithorizon.go). The members' counters are kept here.
func (s *Speaker) exportGroup(gc *rib.GroupChanges) {
	j := &exportJob{fam: gc.Family, opts: wire.Options{AS4: gc.AS4}, group: gc.Group}
	if gc.AddPath {
		j.opts.AddPath = []wire.Family{gc.Family}
	}
	j.to = make([]exportTo, 0, len(gc.Members))
	special := map[rib.PeerID]bool{}
	for i := range gc.Changes {
		c := &gc.Changes[i]
		special[c.Source] = true
		if c.HadOld {
			special[c.OldSource] = true
		}
	}
	commonDelta := advertisedDelta(gc.Changes, noPeer)
	for _, id := range gc.Members {
		p := s.byID[id]
		if p == nil || p.epoch == 0 {
			continue
		}
		member := noPeer
		if special[id] {
			member = id
			p.addAdvertised(gc.Family, advertisedDelta(gc.Changes, id))
		} else {
			p.addAdvertised(gc.Family, commonDelta)
		}
		j.to = append(j.to, exportTo{p: p, epoch: p.epoch, member: member})
	}
	if len(j.to) == 0 {
		return
	}
	j.changes = newChanges()
	*j.changes = append(*j.changes, gc.Changes...)
	s.export(j)
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
	// The Adj-RIB-Out is collected into a pooled slice: as n peers come
	// up one after another each collects the table so far, and a fresh
	// slice per call was most of the bytes a reflector allocated on the
	// way to convergence (k8s scenario, 500 peers: 290 of 500 MB).
	j := &exportJob{fam: f, opts: p.neg.Send, changes: newChanges(), to: []exportTo{{p: p, epoch: p.epoch, member: p.id}}}
	s.rib.AdjRIBOut(p.id, f, func(c rib.ExportChange) bool {
		*j.changes = append(*j.changes, c)
		return true
	})
	if refresh && p.neg.EnhancedRouteRefresh {
		j.before = [][]byte{wire.AppendRouteRefresh(nil, &wire.RouteRefresh{Family: f, Subtype: wire.RefreshBoRR})}
		j.after = [][]byte{wire.AppendRouteRefresh(nil, &wire.RouteRefresh{Family: f, Subtype: wire.RefreshEoRR})}
	}
	if !refresh {
		p.advertised[f] = len(*j.changes)
		p.touch()
	}
	s.export(j)
}

// sendInitialTable sends p, which just came up, its Adj-RIB-Out of every
// negotiated family: an encoding shared with the other peers of its group
// that come up before the group's Adj-RIB-Out changes, where p is the
// source of none of its paths, else its own.
func (s *Speaker) sendInitialTable(p *peer) {
	for _, f := range p.neg.Families {
		sh := s.sharedTable(p, f)
		if sh == nil {
			s.sendFamilyTable(p, f, false)
			continue
		}
		p.advertised[f] = sh.n
		p.touch()
		s.export(&exportJob{fam: f, opts: p.neg.Send, shared: sh, to: []exportTo{{p: p, epoch: p.epoch, member: noPeer}}})
	}
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
