package speaker

import (
	"context"
	"net/netip"

	"github.com/kbgp/kbgp/internal/bgp/wire"
	"github.com/kbgp/kbgp/internal/rib"
)

// Route is one stored path of a prefix, for inspection (CLI, tests):
// every received path is listed, not only the best, with its ADD-PATH
// path ID and graceful-restart state.
type Route struct {
	// Peer is the address of the peer the path came from; invalid for a
	// locally originated path.
	Peer netip.Addr
	// PathID is the ADD-PATH path ID the peer sent (0 without ADD-PATH).
	PathID uint32
	// Attrs are the path's attributes as stored (shared, immutable).
	Attrs *wire.Attrs
	// Stale: kept across the peer's restart (RFC 4724); LLGRStale: kept
	// as long-lived stale (RFC 9494), least preferred.
	Stale, LLGRStale bool
	// Best is the selected best path.
	Best bool
}

// Routes returns every stored path of prefix, best first, then in the
// order of the decision process.
func (s *Speaker) Routes(ctx context.Context, prefix netip.Prefix) ([]Route, error) {
	f, err := familyOf(prefix)
	if err != nil {
		return nil, err
	}
	var out []Route
	err = s.do(ctx, func() {
		for _, r := range s.rib.Routes(f, prefix) {
			x := Route{PathID: r.PathID, Attrs: &r.Attrs.Attrs, Stale: r.Stale, LLGRStale: r.LLGRStale, Best: r.Best}
			if r.Peer != rib.LocalPeer {
				if p := s.byID[r.Peer]; p != nil {
					x.Peer = p.cfg.Session.PeerAddr
				}
			}
			out = append(out, x)
		}
	})
	return out, err
}
