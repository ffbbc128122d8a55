package speaker

import (
	"context"
	"net/netip"
	"slices"

	"github.com/kbgp/kbgp/internal/bgp/wire"
)

// PeerEndOfRIB is how far a peer is through its initial routing update
// in its current Established period: the families negotiated with it and
// those whose End-of-RIB marker (RFC 4724 §2: "an UPDATE message with no
// reachable NLRI and empty withdrawn NLRI" for IPv4 unicast, an empty
// MP_UNREACH_NLRI otherwise) it has sent.
type PeerEndOfRIB struct {
	Name        string
	Addr        netip.Addr
	Established bool
	// GracefulRestart is set when both sides negotiated graceful restart.
	GracefulRestart bool
	Families        []wire.Family
	Received        []wire.Family
}

// Complete reports whether the peer is Established and has sent
// End-of-RIB for every negotiated family.
func (p *PeerEndOfRIB) Complete() bool {
	if !p.Established {
		return false
	}
	for _, f := range p.Families {
		if !slices.Contains(p.Received, f) {
			return false
		}
	}
	return true
}

// EndOfRIB reports every configured peer's End-of-RIB progress, sorted by
// address. A restarting speaker's user (the node agent, keeping its
// forwarding state per RFC 4724 §4.1) can end its own hold once every
// peer is Complete instead of waiting for a timer.
func (s *Speaker) EndOfRIB(ctx context.Context) ([]PeerEndOfRIB, error) {
	var out []PeerEndOfRIB
	err := s.do(ctx, func() {
		for _, p := range s.byID {
			e := PeerEndOfRIB{Name: p.cfg.Name, Addr: p.cfg.Session.PeerAddr, Established: p.epoch != 0 && p.neg != nil}
			if e.Established {
				e.GracefulRestart = len(p.neg.GRFamilies()) > 0
				e.Families = slices.Clone(p.neg.Families)
				for _, f := range p.neg.Families {
					if p.eorIn[f] {
						e.Received = append(e.Received, f)
					}
				}
			}
			out = append(out, e)
		}
	})
	slices.SortFunc(out, func(a, b PeerEndOfRIB) int { return a.Addr.Compare(b.Addr) })
	return out, err
}
