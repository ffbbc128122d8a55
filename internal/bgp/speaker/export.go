package speaker

import (
	"errors"
	"slices"
	"sync"

	"github.com/kbgp/kbgp/internal/bgp/fsm"
	"github.com/kbgp/kbgp/internal/bgp/wire"
	"github.com/kbgp/kbgp/internal/rib"
)

// Encoding exports runs on routineExport, not on the RIB goroutine: the
// RIB goroutine decides what each peer gets (the RIB's Drain and
// Adj-RIB-Out, split horizon, counters) and hands a copy of the changes
// over; routineExport encodes the UPDATEs and queues them for the peers.
// Decoding (the sessions' readers), the RIB and encoding then run at the same
// time on different cores, where encoding used to take a fifth of the RIB
// goroutine's time with four full tables.
//
// Every message for a peer, table, incremental changes and End-of-RIB,
// goes through the one FIFO of jobs, so a peer gets them in the order the
// RIB goroutine produced them. Jobs hold *rib.AttrSet pointers past the
// next change of the RIB; that is safe because an interned set's
// attributes never change and a freed set is never reused.

// exportJob is the encoding work of one update group's changes, one
// peer's table, or pre-encoded messages (End-of-RIB).
type exportJob struct {
	fam  wire.Family
	opts wire.Options
	// changes is a private copy (from changesPool); nil when the job only
	// sends before and after, or sends shared.
	changes *[]rib.ExportChange
	// shared is an initial table shared with other peers (sharedtable.go).
	shared *sharedTable
	group  rib.GroupID
	to     []exportTo
	// before and after frame each peer's encoded changes (BoRR and EoRR
	// of an enhanced route refresh, RFC 7313 §4).
	before, after [][]byte
}

// exportTo is one receiver of a job: its Established period and the
// split-horizon view it gets (ExportChange.For).
type exportTo struct {
	p      *peer
	epoch  uint64
	member rib.PeerID // p.id if p is the source of a change, else noPeer (the common view)
}

// exportQueueLen bounds the jobs waiting for routineExport; the RIB
// goroutine waits when it is full (backpressure). It is short: every job
// holds a copy of its changes, a table job the peer's whole Adj-RIB-Out
// (with 64 jobs, 500 route-reflector clients coming up at once had 30 MB
// of copies waiting).
const exportQueueLen = 4

// export hands j to routineExport. It runs on the RIB goroutine.
func (s *Speaker) export(j *exportJob) {
	select {
	case s.exportq <- j:
	case <-s.done:
		j.release()
	}
}

// routineExport encodes jobs in order and queues the messages for their
// peers. It is owned by the Speaker and ends with it.
func (s *Speaker) routineExport() {
	defer s.wg.Done()
	for {
		select {
		case j := <-s.exportq:
			s.runExport(j)
			if len(s.exportq) == 0 {
				select {
				case s.exportIdle <- struct{}{}:
				default:
				}
			}
		case <-s.done:
			return
		}
	}
}

func (s *Speaker) runExport(j *exportJob) {
	defer j.release()
	if j.shared != nil {
		msgs, err := j.shared.msgs, j.shared.err
		if err != nil {
			s.log.Error("encoding UPDATE for an initial table", "group", j.group, "family", j.fam.String(), "err", err)
			return
		}
		for _, t := range j.to {
			s.queue(t.p, t.epoch, msgs)
		}
		return
	}
	if j.changes != nil && len(j.before)+len(j.after) == 0 && slices.ContainsFunc(j.to, func(t exportTo) bool { return t.member != noPeer }) && len(j.to) > 1 {
		s.splitExport(j)
		return
	}
	var common [][]byte
	commonDone := false
	for _, t := range j.to {
		var body [][]byte
		if j.changes != nil {
			if t.member == noPeer {
				if !commonDone {
					var err error
					common, err = encodeChanges(j.fam, *j.changes, noPeer, &j.opts)
					if err != nil {
						s.log.Error("encoding UPDATE for update group", "group", j.group, "family", j.fam.String(), "err", err)
						common = nil
					}
					commonDone = true
				}
				if common == nil {
					continue
				}
				body = common
			} else {
				var err error
				body, err = encodeChanges(j.fam, *j.changes, t.member, &j.opts)
				if err != nil {
					s.log.Error("encoding UPDATE", "peer", t.p.cfg.Name, "family", j.fam.String(), "err", err)
					continue
				}
			}
		}
		msgs := body
		if len(j.before)+len(j.after) > 0 {
			msgs = make([][]byte, 0, len(j.before)+len(body)+len(j.after))
			msgs = append(append(append(msgs, j.before...), body...), j.after...)
		}
		s.queue(t.p, t.epoch, msgs)
	}
}

// sendBatch sends p encoded messages for its Established period epoch, in
// order after every export handed to routineExport before. It runs on the
// RIB goroutine.
func (s *Speaker) sendBatch(p *peer, epoch uint64, msgs [][]byte) {
	if len(msgs) == 0 {
		return
	}
	s.export(&exportJob{to: []exportTo{{p: p, epoch: epoch, member: noPeer}}, before: msgs})
}

// queue queues msgs for p's Established period epoch without blocking;
// it runs on routineExport. A peer whose queue is full cannot keep up: it
// is reset (Cease / Out of Resources, RFC 4486) and gets its full table
// again when it returns; nothing more is queued for the period that
// overflowed.
func (s *Speaker) queue(p *peer, epoch uint64, msgs [][]byte) {
	if len(msgs) == 0 {
		return
	}
	s.push(p, epoch, msgs)
}

// queueParts is queue for messages in several parts, sent in order.
func (s *Speaker) queueParts(p *peer, epoch uint64, parts [][][]byte) {
	if len(parts) > 0 {
		s.push(p, epoch, parts[0], parts[1:]...)
	}
}

// push hands the messages straight to the session's outbound queue, whose
// writer goroutine runs only while there is something to write. (A
// speaker-side queue with its own sender goroutine per peer doubled the
// goroutines, and their stacks, of a reflector fanning a change out to
// every client: 2,000 for 1,000 clients.)
func (s *Speaker) push(p *peer, epoch uint64, first [][]byte, more ...[][]byte) {
	if epoch == 0 || p.overflow.Load() == epoch {
		return
	}
	// ErrNotEstablished: the period ended; its batches are dropped (the
	// peer gets its whole table in the next one).
	if err := p.sess.Enqueue(epoch, s.cfg.ExportQueueLen, first, more...); !errors.Is(err, fsm.ErrQueueFull) {
		return
	}
	p.overflow.Store(epoch)
	s.log.Error("peer is not keeping up with updates, resetting its session", "peer", p.cfg.Name, "queue_limit", s.cfg.ExportQueueLen)
	sess := p.sess
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		// RFC 4486 §4 subcode 8: "Out of Resources".
		sess.RestartWith(&wire.Notification{Code: wire.NotifCease, Subcode: wire.CeaseOutOfResources})
	}()
}

// changesPool holds the slices jobs copy changes into.
var changesPool = sync.Pool{New: func() any { return new([]rib.ExportChange) }}

// maxPooledChanges bounds the slices kept in changesPool (a full table's
// worth would pin tens of MB).
const maxPooledChanges = 64 << 10

// newChanges returns an empty slice from the pool.
func newChanges() *[]rib.ExportChange {
	c := changesPool.Get().(*[]rib.ExportChange)
	*c = (*c)[:0]
	return c
}

// release returns j's changes to the pool, pinning no attribute sets.
func (j *exportJob) release() {
	if j.changes == nil {
		return
	}
	c := j.changes
	j.changes = nil
	clear(*c)
	if cap(*c) > maxPooledChanges {
		*c = nil
	}
	changesPool.Put(c)
}
