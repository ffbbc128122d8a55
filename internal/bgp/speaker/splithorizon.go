package speaker

import (
	"slices"

	"github.com/kbgp/kbgp/internal/bgp/wire"
	"github.com/kbgp/kbgp/internal/rib"
)

// Split horizon without an encoding per member.
//
// A member of an update group never gets back the paths it is the source
// of (rib.ExportChange.For). When route-reflector clients all announce at
// once, every member is the source of some change in a Drain, and encoding
// the group's changes once per member made the UPDATEs of n clients cost
// n² encodings: with 1,000 Kubernetes nodes, 220 MB of messages built per
// convergence, most of the reflector's garbage and of its peak memory.
//
// Instead the changes are cut into segments by the members they involve
// (the new path's source and the old path's source, where those are
// members of the job): each segment is encoded once for everyone, and a
// member gets the shared messages of every segment except those that
// involve it, whose changes are encoded for it alone (usually to nothing:
// a member's own routes).

// segKey is the members a change involves: the source of the announced
// path and the source of the path it replaces or withdraws (noPeer when
// that is not a special member of the job).
type segKey struct{ src, old rib.PeerID }

// segment is a run of changes with one segKey and its shared messages
// (common[msgLo:msgHi]).
type segment struct {
	key          segKey
	lo, hi       int // changes
	msgLo, msgHi int // messages
}

func (k segKey) involves(m rib.PeerID) bool { return k.src == m || k.old == m }

// splitExport encodes a group job whose members include sources of its
// changes and queues each member its view. It replaces j.changes with the
// changes regrouped by segment.
func (s *Speaker) splitExport(j *exportJob) {
	special := map[rib.PeerID]bool{}
	for _, t := range j.to {
		if t.member != noPeer {
			special[t.member] = true
		}
	}
	sorted := newChanges()
	e, err := encodeSplit(j.fam, &j.opts, *j.changes, special, sorted)
	j.release()
	j.changes = sorted // released with j
	if err != nil {
		s.log.Error("encoding UPDATE for update group", "group", j.group, "family", j.fam.String(), "err", err)
		return
	}
	for _, t := range j.to {
		if t.member == noPeer {
			s.queue(t.p, t.epoch, e.common)
			continue
		}
		parts, err := e.view(j.fam, &j.opts, t.member)
		if err != nil {
			s.log.Error("encoding UPDATE", "peer", t.p.cfg.Name, "family", j.fam.String(), "err", err)
			continue
		}
		s.queueParts(t.p, t.epoch, parts)
	}
}

// splitEncoding is a group's changes encoded by segment.
type splitEncoding struct {
	changes []rib.ExportChange // regrouped by segment
	segs    []segment
	common  [][]byte             // every segment's shared messages, in order
	mine    map[rib.PeerID][]int // the segments that involve each member
}

// encodeSplit regroups in by segment into *dst (the special members being
// those that are the source of some change) and encodes each segment once.
func encodeSplit(f wire.Family, o *wire.Options, in []rib.ExportChange, special map[rib.PeerID]bool, dst *[]rib.ExportChange) (*splitEncoding, error) {
	e := &splitEncoding{mine: map[rib.PeerID][]int{}}
	// Segments in order of first appearance, each change's segment, and
	// the changes regrouped by segment (a counting sort: stable, so each
	// segment's changes keep their order).
	order := map[segKey]int{}
	which := make([]int32, len(in))
	for i := range in {
		c := &in[i]
		k := segKey{noPeer, noPeer}
		if c.Attrs != nil && special[c.Source] {
			k.src = c.Source
		}
		if c.HadOld && special[c.OldSource] {
			k.old = c.OldSource
		}
		n, ok := order[k]
		if !ok {
			n = len(e.segs)
			order[k] = n
			e.segs = append(e.segs, segment{key: k})
			for _, m := range []rib.PeerID{k.src, k.old} {
				if m != noPeer && !slices.Contains(e.mine[m], n) {
					e.mine[m] = append(e.mine[m], n)
				}
			}
		}
		e.segs[n].hi++ // the count, for now
		which[i] = int32(n)
	}
	off := 0
	for i := range e.segs {
		e.segs[i].lo, off = off, off+e.segs[i].hi
		e.segs[i].hi = e.segs[i].lo
	}
	e.changes = slices.Grow((*dst)[:0], len(in))[:len(in)]
	for i := range in {
		sg := &e.segs[which[i]]
		e.changes[sg.hi] = in[i]
		sg.hi++
	}
	*dst = e.changes
	for i := range e.segs {
		sg := &e.segs[i]
		sg.msgLo = len(e.common)
		var err error
		if e.common, err = appendEncoded(e.common, f, e.changes[sg.lo:sg.hi], noPeer, o); err != nil {
			return nil, err
		}
		sg.msgHi = len(e.common)
	}
	return e, nil
}

// view is what member gets: the shared messages, except that the segments
// that involve it are encoded for it alone.
func (e *splitEncoding) view(f wire.Family, o *wire.Options, member rib.PeerID) ([][][]byte, error) {
	var parts [][][]byte
	next := 0 // the first shared message not yet in parts
	for _, i := range e.mine[member] {
		sg := &e.segs[i]
		own, err := encodeChanges(f, e.changes[sg.lo:sg.hi], member, o)
		if err != nil {
			return nil, err
		}
		if sg.msgLo > next {
			parts = append(parts, e.common[next:sg.msgLo])
		}
		if len(own) > 0 {
			parts = append(parts, own)
		}
		next = sg.msgHi
	}
	if next < len(e.common) {
		parts = append(parts, e.common[next:])
	}
	return parts, nil
}

func appendEncoded(msgs [][]byte, f wire.Family, changes []rib.ExportChange, member rib.PeerID, o *wire.Options) ([][]byte, error) {
	m, err := encodeChanges(f, changes, member, o)
	return append(msgs, m...), err
}

// advertisedDelta is how many routes member's Adj-RIB-Out count changes
// by with changes.
func advertisedDelta(changes []rib.ExportChange, member rib.PeerID) int {
	n := 0
	for i := range changes {
		c := &changes[i]
		switch c.For(member) {
		case rib.ActionAnnounce:
			if !c.HadOld || c.OldSource == member {
				n++
			}
		case rib.ActionWithdraw:
			n--
		}
	}
	return n
}

// addAdvertised counts delta more routes advertised to p in f.
func (p *peer) addAdvertised(f wire.Family, delta int) {
	if delta != 0 {
		p.advertised[f] += delta
		p.touch()
	}
}
