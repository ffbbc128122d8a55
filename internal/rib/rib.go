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
// The layout keeps the bulk of the RIB free of pointers, so the garbage
// collector marks it without scanning it, and allocates little per path.
//
// Loc-RIB entries (one per prefix) live in a slab per family: chunks of
// 1024 entries that never move, with a free list, indexed by a uint32
// handle. IPv4 prefixes find their handle in a v4Index, a flat
// open-addressed table of 8-byte pointer-free slots (one cache line per
// lookup); other prefixes in a Go map. An entry (56 bytes in its chunk)
// holds the prefix's paths and its Adj-RIB-Out records in two pointer-free
// slices; its FIB state (12 bytes of handles) lives in a parallel slab,
// which a RIB without forwarding state (Options.NoFIB) does not have. The post-policy
// Adj-RIB-In of a peer is the set of paths carrying its PeerID (there is no
// second copy). A path is 16 bytes: the handles of its attribute set and of
// its next hop, its source (the peer, or for a path received with an
// ADD-PATH path ID a handle of the (peer, path ID) pair), and the locally
// assigned ADD-PATH path ID with the state flags; a new prefix gets room for the table's
// average number of paths per prefix (up to 4), so a table learned from
// several peers costs one allocation per prefix. An Adj-RIB-Out record is
// 16 bytes: (attribute set handle, source peer, path ID, group).
//
// A path's attribute set is interned without its next hop, which the path
// keeps as a handle into a refcounted table of addresses: paths that differ
// only in their next hop (a reflector's clients announcing the same routes,
// ECMP next hops) share one set. The set holds the next hop of one of its
// paths: the one whose complete attributes it was first handed out as
// (the best path of a prefix, for the FIB state, FIBChange.Best), and
// until then any. So it is the complete set of its paths with that next
// hop, and a separate complete set is interned only for a best path with
// another next hop. Exported attributes (ExportChange.Attrs) are complete
// sets, and Routes returns complete sets too.
//
// Attribute sets are interned and refcounted: one *AttrSet per distinct
// set, freed when the last path, Adj-RIB-Out record or FIB state referring
// to it goes. The interner finds a set by the hash of a canonical
// serialisation of its attributes (see appendKey) in a map of hash →
// handle (pointer-free; collisions are chained through the sets and
// confirmed by comparing serialisations, which are not stored). A set is
// one 416-byte allocation when its AS_PATH is one segment of up to 8 ASNs
// (stored inline); derived sets (the export copy, the complete best-path
// set) share the slices they did not change with their source set. Handles
// are reused; *AttrSet values are not (they are handed out and stay valid
// while referenced). Go's unique package was not used because wire.Attrs
// holds slices and so is not comparable, and unique handles are never freed
// deterministically. Next-hop sets (the FIB state) are interned the same
// way.
//
// Measured with BenchmarkRRTable (bench/rr's table scenario: 4 reflector
// clients each sending the real 577k-prefix table with its own next hop,
// plus a monitor client): 75 bytes of live heap per path, 71 without
// forwarding state (was 82 with 20-byte paths and the FIB state in every
// entry, and 154 with
// pointer-linked entries and the next hop in every set), 161k attribute
// sets (was 404k: now 81k path sets and 81k export sets), 0.64
// allocations per path (was 2.4), the GC's share of CPU about 8% (was
// about 36%). About 29 of the 82 bytes are attribute sets (a wire.Attrs
// alone is 328 bytes). BenchmarkRIB1M (1M paths, four eBGP
// paths per prefix): 50 bytes per path, 55 with one update group's
// Adj-RIB-Out (was 58 and 65); BenchmarkReplayFullTable (one peer, real
// table): 200 (was 228).
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
	// NoFIB keeps no forwarding state: Drain reports no FIBChanges and FIB
	// reports nothing, while best paths are still selected and exported.
	// It is for a route reflector out of the forwarding path, which
	// programs no kernel routes (Junos calls this no-install; a BIRD
	// reflector without a kernel protocol is the same): it saves the
	// multipath computation and the per-prefix forwarding state.
	NoFIB bool
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
	addrs     addrTable
	groups    []*group // index GroupID; nil slots are free
	keyGroup  map[groupKey]*group
	out       Changes
	memo      map[memoKey]setID // export results of the current Drain
	memoGen   uint64            // counts memo clearings (see memoLast)
	outGen    uint64            // see OutGeneration
	// srcs are the (peer, received path ID) pairs of ADD-PATH paths (see
	// pathSrc), srcIdx finds them, srcFree lists unused indices.
	srcs    []srcPair
	srcIdx  map[srcKey]pathSrc
	srcFree []uint32
	scratch scratch
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
		memoGen:   1, // a new group's zero memoLast never matches
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
		t = newTable(f, !r.opts.NoFIB)
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

// Stats counts the RIB's contents.
func (r *RIB) Stats() Stats {
	var s Stats
	for _, t := range r.tables {
		s.Prefixes += t.len()
		s.Paths += t.paths
	}
	s.AttrSets = r.intern.live
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
