package speaker

import (
	"errors"
	"math"

	"github.com/kbgp/kbgp/internal/bgp/wire"
	"github.com/kbgp/kbgp/internal/rib"
)

// noPeer is a PeerID no peer has: the split-horizon view of a member that
// is the source of none of the changes.
const noPeer rib.PeerID = math.MaxUint32

// maxNLRIPerMessage bounds the routes packed into one UPDATE before the
// size check; encodeNLRI halves it until the message fits.
const maxNLRIPerMessage = 800

// encodeChanges encodes the changes as member sees them (split horizon,
// ExportChange.For): withdrawals first, then announcements grouped by
// attribute set, each UPDATE as large as the message size allows.
func encodeChanges(f wire.Family, changes []rib.ExportChange, member rib.PeerID, o *wire.Options) ([][]byte, error) {
	var withdrawn []wire.NLRI
	type group struct {
		attrs *rib.AttrSet
		nlri  []wire.NLRI
	}
	var groups []*group
	idx := map[*rib.AttrSet]*group{}
	for i := range changes {
		c := &changes[i]
		n := wire.NLRI{Prefix: c.Prefix, PathID: c.PathID}
		switch c.For(member) {
		case rib.ActionAnnounce:
			g := idx[c.Attrs]
			if g == nil {
				g = &group{attrs: c.Attrs}
				idx[c.Attrs] = g
				groups = append(groups, g)
			}
			g.nlri = append(g.nlri, n)
		case rib.ActionWithdraw:
			withdrawn = append(withdrawn, n)
		}
	}
	var msgs [][]byte
	var err error
	if len(withdrawn) > 0 {
		msgs, err = encodeNLRI(msgs, f, nil, withdrawn, o)
		if err != nil {
			return nil, err
		}
	}
	for _, g := range groups {
		msgs, err = encodeNLRI(msgs, f, &g.attrs.Attrs, g.nlri, o)
		if err != nil {
			return nil, err
		}
	}
	return msgs, nil
}

// encodeNLRI appends UPDATEs announcing nlri with attrs (or withdrawing
// them when attrs is nil), splitting as needed.
func encodeNLRI(msgs [][]byte, f wire.Family, attrs *wire.Attrs, nlri []wire.NLRI, o *wire.Options) ([][]byte, error) {
	for len(nlri) > 0 {
		n := min(len(nlri), maxNLRIPerMessage)
		for {
			m, err := buildUpdate(f, attrs, nlri[:n], o)
			if err == nil {
				msgs = append(msgs, m)
				break
			}
			if n == 1 {
				return msgs, err
			}
			n /= 2
		}
		nlri = nlri[n:]
	}
	return msgs, nil
}

func buildUpdate(f wire.Family, attrs *wire.Attrs, nlri []wire.NLRI, o *wire.Options) ([]byte, error) {
	var u wire.Update
	switch {
	case attrs == nil && f == wire.IPv4Unicast:
		u.Withdrawn = nlri
	case attrs == nil:
		u.MPUnreach = &wire.MPUnreach{Family: f, NLRI: nlri}
	case f == wire.IPv4Unicast && (!attrs.Has(wire.AttrNextHop) || attrs.NextHop.Is4()):
		u.Attrs = *attrs
		u.NLRI = nlri
	default:
		// RFC 4760 §3: routes of other families (and IPv4 routes with an
		// IPv6 next hop, RFC 8950) travel in MP_REACH_NLRI with their next
		// hop; NEXT_HOP is not sent.
		u.Attrs = *attrs
		u.Attrs.Clear(wire.AttrNextHop)
		u.Attrs.NextHop = attrs.NextHop
		if !attrs.NextHop.IsValid() {
			return nil, errors.New("route has no next hop")
		}
		u.MPReach = &wire.MPReach{Family: f, NextHop: attrs.NextHop, NLRI: nlri}
	}
	return wire.AppendUpdate(nil, &u, o)
}

// countChanges keeps the number of routes advertised to p in f current.
func (p *peer) countChanges(f wire.Family, changes []rib.ExportChange, member rib.PeerID) {
	n := p.advertised[f]
	for i := range changes {
		c := &changes[i]
		had := c.HadOld && c.OldSource != member
		switch c.For(member) {
		case rib.ActionAnnounce:
			if !had {
				n++
			}
		case rib.ActionWithdraw:
			n--
		}
	}
	p.advertised[f] = n
	p.touch()
}
