package speaker

import (
	"context"
	"errors"
	"fmt"

	"github.com/kbgp/kbgp/internal/bgp/fsm"
)

// UpdatePeers is UpdatePeer for many peers at once. Changes that reset a
// session are made one by one, as UpdatePeer makes them; policy-only
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
		idx []int
		ps  []*peer
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
		case changeNone:
		case changePolicy:
			idx, ps = append(idx, i), append(ps, p)
		default:
			errs[i] = s.UpdatePeer(ctx, *c)
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
	// One decision and export pass for every changed policy.
	if err := s.do(ctx, func() { s.rib.Reevaluate(); s.flush() }); err != nil {
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
