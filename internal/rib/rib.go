// Package rib is kbgp's routing information base: the per-peer Adj-RIB-In
// (after import policy), the Loc-RIB with the RFC 4271 §9.1 decision
// process, ECMP multipath sets, route reflection (RFC 4456), ADD-PATH
// (RFC 7911), graceful restart (RFC 4724) and long-lived graceful restart
// (RFC 9494) route states, and the Adj-RIB-Out of each update group.
//
// A RIB is a plain data structure: no I/O, no goroutines, no logging, no
// locks. One goroutine (the speaker's) owns it and calls its methods.
//
// # Use
//
//	r := rib.New(rib.Options{RouterID: id})
//	p, _ := r.AddPeer(rib.PeerConfig{Addr: a, LocalAS: 64512, RemoteAS: 64512, ...})
//	r.Up(p, rib.Session{RouterID: rid, Families: ...}) // Established: joins an update group
//	r.Update(p, wire.IPv4Unicast, nlri, &attrs) // any number of updates and withdraws...
//	r.Withdraw(p, wire.IPv4Unicast, nlri)
//	ch := r.Drain()                          // ...then run the decision process once
//	for _, f := range ch.FIB { ... }         // best path / multipath per prefix
//	for _, g := range ch.Groups { ... }      // Adj-RIB-Out changes per update group
//
// Update, Withdraw, Originate and the graceful-restart operations only
// record work: the prefixes they touch are marked dirty. Drain runs the
// decision process once per dirty prefix and then the export computation
// once per dirty prefix and active update group, so a batch of many UPDATEs
// costs one decision per prefix, and fan-out to a thousand reflector clients
// of one update group costs one export computation.
//
// # Storage
//
// The paths of a prefix live in one slice in the Loc-RIB entry of that
// prefix; the post-policy Adj-RIB-In of a peer is the set of paths carrying
// its PeerID (there is no second copy). A path is 24 bytes: a pointer to its
// interned attribute set, the peer, the received path ID and the locally
// assigned ADD-PATH path ID, and state flags. The Adj-RIB-Out of every update
// group is stored in the same entry as (group, path ID, source, attribute
// set) records of 24 bytes. IPv4 entries are keyed by a uint64 (16-byte map
// slots). The FIB state of an entry is a pointer to an interned next-hop
// set. Measured: about 58 bytes per path for a 1M-path table with four
// paths per prefix, 65 with one update group's Adj-RIB-Out
// (docs/benchmarks.md, section RIB).
//
// Attribute sets are interned in a refcounted map keyed by a canonical
// serialisation of the attributes (see AttrSet): one copy per distinct set,
// freed when the last path or Adj-RIB-Out record referring to it goes. The
// cost per distinct set is its key string (roughly the encoded attribute
// size) plus the AttrSet and its slices; per path it is 8 bytes. Go's
// unique package was not used because wire.Attrs holds slices and so is
// not comparable, and unique handles are never freed deterministically.
//
// # Update groups
//
// Peers whose export behaviour is identical (iBGP or eBGP, route-reflector
// client flag, local AS, next-hop mode and self address, ADD-PATH send
// settings, LLGR capability, 4-octet AS, export policy name) share an update
// group. Export changes are reported per group with the source peer of each
// path; ExportChange.For applies the per-member split horizon (a path is not
// sent back to the peer it came from). GroupChanges.Pack orders a group's
// changes so that routes sharing an attribute set are adjacent (one UPDATE
// each run), and AttrSet.Encoded caches the encoded attribute bytes so all
// members of all groups share one encoding per set.
//
// # Sessions
//
// AddPeer registers a configured peer once; Up and Down bracket each
// established session (Up takes the negotiated Session: router ID,
// families with ADD-PATH, LLGR, 4-octet AS, local address). Down leaves the
// routes in place: the speaker then calls WithdrawAll, or MarkStale for
// graceful restart followed by SweepStale at End-of-RIB or timer expiry,
// and MarkLLGRStale when the restart timer expires with LLGR negotiated.
// After Up the speaker sends the peer AdjRIBOut, then the changes of each
// Drain for its group.
//
// # Next hops
//
// Attrs.NextHop must hold the route's next hop for every family: the speaker
// copies the MP_REACH_NLRI next hop (RFC 4760) into it for IPv6 routes. On
// export the NEXT_HOP attribute is present only for IPv4 routes with an IPv4
// next hop; for the others the speaker puts the exported Attrs.NextHop into
// MP_REACH_NLRI.
package rib

import (
	"fmt"
	"net/netip"

	"github.com/kbgp/kbgp/internal/bgp/wire"
)

// DefaultLocalPref is the LOCAL_PREF assumed for routes without one and sent
// to iBGP peers when a route has none (the value BIRD, FRR and GoBGP use).
const DefaultLocalPref = 100

// IGPCostFunc resolves a BGP next hop: its IGP cost and whether it is
// reachable at all. RFC 4271 §9.1.2.1: "If the NEXT_HOP attribute of a BGP
// route depicts an address that is not resolvable, or if it would become
// unresolvable if the route was installed in the routing table, the BGP
// route MUST be excluded from the Phase 2 decision function."
type IGPCostFunc func(nextHop netip.Addr) (cost uint32, reachable bool)

// Options configure a RIB. The zero value of every field but RouterID has a
// sensible default.
type Options struct {
	// RouterID is our BGP Identifier (an IPv4 address). Required.
	RouterID netip.Addr
	// ClusterID is the route-reflection cluster ID; it defaults to RouterID
	// (RFC 4456 §7: "... the BGP Identifier of the route reflector ... is
	// used as the CLUSTER_ID").
	ClusterID netip.Addr
	// DefaultLocalPref replaces DefaultLocalPref when non-zero.
	DefaultLocalPref uint32
	// AlwaysCompareMED compares MED between routes from different
	// neighbouring ASes too. By default MED is compared only among routes
	// from the same neighbouring AS (RFC 4271 §9.1.2.2 c). The RFC's
	// elimination procedure is order-independent, so kbgp's MED handling is
	// always "deterministic MED".
	AlwaysCompareMED bool
	// IGPCost resolves next hops. Nil means every next hop is reachable
	// with cost 0.
	IGPCost IGPCostFunc
	// EBGPMaxPaths and IBGPMaxPaths bound the ECMP multipath set when the
	// best path is eBGP- or iBGP-learned. 0 or 1 disable multipath.
	EBGPMaxPaths int
	IBGPMaxPaths int
	// MultipathRelax allows paths from different neighbouring ASes (same
	// AS_PATH length) into one multipath set.
	MultipathRelax bool
}

// PeerID identifies a peer inside a RIB. LocalPeer is the RIB itself (the
// source of locally originated routes).
type PeerID uint32

// LocalPeer is the pseudo-peer of locally originated routes.
const LocalPeer PeerID = 0

// RIB is the routing information base. Create one with New. It is not safe
// for concurrent use.
type RIB struct {
	opts      Options
	localPref uint32
	peers     []*peer // index PeerID; [0] is the local pseudo-peer
	freePeers []PeerID
	tables    map[wire.Family]*table
	intern    interner
	nh        nhInterner
	groups    []*group // index GroupID; nil slots are free
	keyGroup  map[groupKey]*group
	out       Changes
	memo      map[memoKey]*AttrSet // export results of the current Drain
	scratch   scratch
}

// New returns an empty RIB.
func New(o Options) *RIB {
	if !o.ClusterID.IsValid() {
		o.ClusterID = o.RouterID
	}
	lp := o.DefaultLocalPref
	if lp == 0 {
		lp = DefaultLocalPref
	}
	r := &RIB{
		opts:      o,
		localPref: lp,
		tables:    map[wire.Family]*table{},
		keyGroup:  map[groupKey]*group{},
	}
	r.intern.init()
	r.peers = append(r.peers, &peer{id: LocalPeer, cfg: PeerConfig{Name: "local"}, routerID: o.RouterID, local: true})
	return r
}

// RouterID returns the router ID the RIB was created with.
func (r *RIB) RouterID() netip.Addr { return r.opts.RouterID }

func (r *RIB) table(f wire.Family) *table {
	t := r.tables[f]
	if t == nil {
		t = newTable(f)
		r.tables[f] = t
	}
	return t
}

// Stats are RIB sizes.
type Stats struct {
	Prefixes int // Loc-RIB entries over all families
	Paths    int // stored paths (the union of all Adj-RIBs-In and local routes)
	AttrSets int // distinct interned attribute sets
	Groups   int // update groups
}

// Stats counts the RIB's contents. It walks every prefix.
func (r *RIB) Stats() Stats {
	var s Stats
	for _, t := range r.tables {
		s.Prefixes += t.len()
		for _, d := range t.all() {
			s.Paths += len(d.paths)
		}
	}
	s.AttrSets = len(r.intern.m)
	for _, g := range r.groups {
		if g != nil {
			s.Groups++
		}
	}
	return s
}

func (r *RIB) peerByID(id PeerID) (*peer, error) {
	if int(id) >= len(r.peers) || r.peers[id] == nil || id == LocalPeer {
		return nil, fmt.Errorf("rib: unknown peer id %d", id)
	}
	return r.peers[id], nil
}
