package speaker

import (
	"slices"

	"github.com/kbgp/kbgp/internal/bgp/wire"
	"github.com/kbgp/kbgp/internal/rib"
)

// Initial tables shared by the peers of an update group.
//
// A peer that comes up gets its group's whole Adj-RIB-Out. When many
// route-reflector clients come up together (a cluster's nodes after the
// reflector restarts, or all at once in the harness), each one's table was
// collected and encoded for it alone: with 1,000 clients, a hundred MB of
// UPDATEs built that were byte for byte the same. The peers of one group
// that come up between two flushes, while the group's Adj-RIB-Out stays
// the same (rib.OutGeneration), now share one collection and one encoding,
// unless a peer is the source of some of the paths (split horizon: it must
// not get those back), which gets its own as before.

// tableKey identifies a shared initial table.
type tableKey struct {
	group rib.GroupID
	fam   wire.Family
}

// sharedTable is one group's Adj-RIB-Out in one family as of gen, encoded.
// The RIB goroutine creates it and encodes it at once: the messages (about
// 10 bytes a route) are much smaller than the collected routes (64 bytes
// each) that would otherwise wait for routineExport. It is immutable after.
type sharedTable struct {
	gen     uint64
	opts    wire.Options
	n       int                 // paths
	sources map[rib.PeerID]bool // the peers whose paths it holds
	msgs    [][]byte
	err     error
}

// sharedTable returns the shared initial table of p's group in f, creating
// it if needed, or nil when p cannot share it.
func (s *Speaker) sharedTable(p *peer, f wire.Family) *sharedTable {
	g, ok := s.rib.PeerGroup(p.id)
	if !ok || p.neg == nil || !p.neg.HasFamily(f) {
		return nil
	}
	k := tableKey{g, f}
	sh := s.tables[k]
	if sh == nil || sh.gen != s.rib.OutGeneration() || !sameOptions(&sh.opts, &p.neg.Send) {
		sh = &sharedTable{gen: s.rib.OutGeneration(), opts: p.neg.Send, sources: map[rib.PeerID]bool{}}
		s.rib.GroupAdjRIBOut(g, f, func(c rib.ExportChange) bool {
			sh.n++
			sh.sources[c.Source] = true
			return true
		})
		// Encoded straight from the RIB, without collecting the routes
		// (64 bytes each: a 1,000-client reflector collected 21,000 per
		// table, and built such a table for about every client that came
		// up).
		sh.msgs, sh.err = encodeSeq(f, func(yield func(rib.ExportChange) bool) {
			s.rib.GroupAdjRIBOut(g, f, yield)
		}, noPeer, &sh.opts)
		if s.tables == nil {
			s.tables = map[tableKey]*sharedTable{}
		}
		s.tables[k] = sh
	}
	if sh.sources[p.id] {
		return nil
	}
	return sh
}

func sameOptions(a, b *wire.Options) bool {
	return a.AS4 == b.AS4 && a.ExtendedMessage == b.ExtendedMessage && a.EBGP == b.EBGP && slices.Equal(a.AddPath, b.AddPath)
}
