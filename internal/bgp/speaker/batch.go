package speaker

import (
	"context"
	"errors"
	"fmt"
	"net/netip"

	"github.com/kbgp/kbgp/internal/bgp/fsm"
	"github.com/kbgp/kbgp/internal/bgp/wire"
	"github.com/kbgp/kbgp/internal/rib"
)

// UpdatePeers is UpdatePeer for many peers at once. Changes that reset a
// session are made one by one; policy-only
// changes are applied together, with one re-evaluation of the RIB and one
// flush for the whole batch. A datastore change that alters every peer's
// policy (an IPPool, a BGPFilter, a service range) then costs one pass over
// the table instead of one pass per peer, which on a route reflector with
// hundreds of clients is the difference between milliseconds and minutes.
// errs[i] is the error for cs[i] (nil on success); a peer that does not
// exist gets an error wrapping ErrPeerNotFound.
func (s *Speaker) UpdatePeers(ctx context.Context, cs []PeerConfig) []error {
	errs := make([]error, len(cs))
	var (
		idx     []int
		ps      []*peer
		renames []int // export policy name changes (a move between update groups)
	)
	for i := range cs {
		c := &cs[i]
		s.fillDefaults(c)
		addr := c.Session.PeerAddr
		s.mu.Lock()
		p := s.peers[addr]
		s.mu.Unlock()
		if p == nil {
			errs[i] = fmt.Errorf("speaker: update peer %v: %w", addr, ErrPeerNotFound)
			continue
		}
		switch p.compare(c) {
		case changeReset:
			errs[i] = s.replacePeer(ctx, p, *c)
		case changePolicy:
			idx, ps = append(idx, i), append(ps, p)
			if c.Export.Name != p.cfg.Export.Name || c.Export.ReadOnly != p.cfg.Export.ReadOnly {
				renames = append(renames, len(ps)-1)
			}
		}
	}
	if len(ps) == 0 {
		return errs
	}
	for k, p := range ps {
		c := cs[idx[k]]
		p.setPolicyFuncs(c)
		p.cfg.Import.Func, p.cfg.Export.Func = c.Import.Func, c.Export.Func
	}
	// A read-only flag of an import policy changes with its function, on
	// the RIB goroutine, before the re-evaluation.
	setImport := func() {
		for k, p := range ps {
			ro := cs[idx[k]].Import.ReadOnly
			if p.cfg.Import.ReadOnly != ro {
				if err := s.rib.SetImportReadOnly(p.id, ro); err != nil {
					s.log.Error("changing the import policy", "peer", p.cfg.Name, "err", err)
				}
				p.cfg.Import.ReadOnly = ro
			}
		}
	}
	// One decision and export pass for every changed policy.
	if err := s.do(ctx, func() {
		setImport()
		moved := s.regroup(ps, cs, idx, renames)
		s.rib.Reevaluate()
		s.flush()
		for _, m := range moved {
			s.finishMove(m)
		}
	}); err != nil {
		for _, i := range idx {
			errs[i] = err
		}
		return errs
	}
	// RFC 2918 §3: a new import policy needs the peers' routes again.
	for k, p := range ps {
		st := p.sess.Status()
		if st.Negotiated == nil || !st.Negotiated.RouteRefresh {
			continue
		}
		for _, f := range st.Negotiated.Families {
			if err := p.sess.SendRouteRefresh(ctx, f); err != nil && !errors.Is(err, fsm.ErrNotEstablished) {
				errs[idx[k]] = err
				break
			}
		}
	}
	return errs
}

// pathKey is one advertised path of a peer.
type pathKey struct {
	prefix netip.Prefix
	id     uint32
}

// move is a peer moved to another update group, with what it had been
// advertised before, for the withdrawals once the new group's
// Adj-RIB-Out is known.
type move struct {
	p   *peer
	old map[wire.Family]map[pathKey]bool
}

// regroup applies the export policy name changes among a batch, on the RIB
// goroutine. When every update group involved changes as a whole (all its
// members get the same new name: an IPPool or a shared BGPFilter changed),
// the groups are renamed in place and the next flush sends each exactly
// the difference. Otherwise each peer moves to its new group: it is sent
// that group's table now if the group existed, and its former routes the
// new group does not advertise are withdrawn (finishMove, after the flush
// that computes a new group's table). renames index ps; idx maps ps to cs.
func (s *Speaker) regroup(ps []*peer, cs []PeerConfig, idx, renames []int) []move {
	if len(renames) == 0 {
		return nil
	}
	pol := func(k int) rib.Policy {
		e := cs[idx[k]].Export
		return rib.Policy{Name: e.Name, ReadOnly: e.ReadOnly}
	}
	setPol := func(k int) {
		ps[k].cfg.Export.Name, ps[k].cfg.Export.ReadOnly = cs[idx[k]].Export.Name, cs[idx[k]].Export.ReadOnly
	}
	// Whole groups first: one rename per group whose members all change
	// to one name.
	byGroup := map[rib.GroupID][]int{}
	var toMove []int
	for _, k := range renames {
		if g, ok := s.rib.PeerGroup(ps[k].id); ok {
			byGroup[g] = append(byGroup[g], k)
		} else {
			toMove = append(toMove, k) // down: MoveExport only records the name
		}
	}
	for _, ks := range byGroup {
		pols := make(map[rib.PeerID]rib.Policy, len(ks))
		for _, k := range ks {
			pols[ps[k].id] = pol(k)
		}
		if s.rib.RenameExportPolicies(pols) {
			for _, k := range ks {
				setPol(k)
			}
			continue
		}
		toMove = append(toMove, ks...)
	}
	var moved []move
	for _, k := range toMove {
		p := ps[k]
		m := move{p: p, old: s.advertisedKeys(p)}
		existed, err := s.rib.MoveExport(p.id, pol(k))
		if err != nil {
			s.log.Error("moving a peer to another update group", "peer", p.cfg.Name, "err", err)
			continue
		}
		setPol(k)
		if p.epoch == 0 || p.neg == nil {
			continue
		}
		if existed {
			s.sendTable(p, false)
		}
		moved = append(moved, m)
	}
	return moved
}

// advertisedKeys lists the paths p has been sent, per family.
func (s *Speaker) advertisedKeys(p *peer) map[wire.Family]map[pathKey]bool {
	out := map[wire.Family]map[pathKey]bool{}
	if p.neg == nil {
		return out
	}
	for _, f := range p.neg.Families {
		m := map[pathKey]bool{}
		s.rib.AdjRIBOut(p.id, f, func(c rib.ExportChange) bool {
			m[pathKey{c.Prefix, c.PathID}] = true
			return true
		})
		out[f] = m
	}
	return out
}

// finishMove withdraws from a moved peer the paths its new update group
// does not advertise, and recounts what it is advertised.
func (s *Speaker) finishMove(m move) {
	p := m.p
	if p.epoch == 0 || p.neg == nil || s.byID[p.id] != p {
		return
	}
	cur := s.advertisedKeys(p)
	for _, f := range p.neg.Families {
		var gone []rib.ExportChange
		for k := range m.old[f] {
			if !cur[f][k] {
				// For(p) is a withdrawal: there is no new path and the old
				// one did not come from p.
				gone = append(gone, rib.ExportChange{Prefix: k.prefix, PathID: k.id, HadOld: true, OldSource: rib.LocalPeer})
			}
		}
		if len(gone) > 0 {
			opts := p.neg.Send
			msgs, err := encodeChanges(f, gone, p.id, &opts)
			if err != nil {
				s.log.Error("encoding withdrawals", "peer", p.cfg.Name, "family", f.String(), "err", err)
			} else {
				s.sendBatch(p, p.epoch, msgs)
			}
		}
		p.advertised[f] = len(cur[f])
	}
	p.touch()
}
