package rib

import (
	"fmt"
	"math"
	"net/netip"
	"slices"
	"strings"

	"github.com/kbgp/kbgp/internal/bgp/wire"
)

// NextHopMode is how NEXT_HOP is set on routes sent to a peer (Calico's
// BGPPeer nextHopMode).
type NextHopMode uint8

// Next-hop modes.
const (
	// NextHopAuto is BIRD's default, which Calico relies on: next hop self
	// toward eBGP peers; toward iBGP peers the received next hop is kept
	// (so reflected routes keep it, RFC 4456 §10) and locally originated
	// routes get our address.
	NextHopAuto NextHopMode = iota
	// NextHopSelf always advertises our own address.
	NextHopSelf
	// NextHopKeep always keeps the route's next hop (locally originated
	// routes without one still get our address).
	NextHopKeep
)

// String returns Calico's spelling of the mode.
func (m NextHopMode) String() string {
	switch m {
	case NextHopAuto:
		return "Auto"
	case NextHopSelf:
		return "Self"
	case NextHopKeep:
		return "Keep"
	}
	return fmt.Sprintf("NextHopMode(%d)", uint8(m))
}

// PolicyInput is what an import or export policy is told about a route.
type PolicyInput struct {
	Family wire.Family
	Prefix netip.Prefix
	// Peer is the peer the route was received from (import) or a member of
	// the update group it is sent to (export: every member shares the
	// export-relevant configuration, see PeerConfig.Export).
	Peer *PeerConfig
	// Source is, on export, the configuration of the peer the route was
	// learned from (Name "local" for locally originated routes); nil on
	// import.
	Source *PeerConfig
}

// PolicyFunc accepts or rejects a route and may modify its attributes.
// attrs is a private deep copy: the function may change fields and slices
// freely, and must not keep it after returning.
type PolicyFunc func(in PolicyInput, attrs *wire.Attrs) (accept bool)

// Policy is a named policy. The name identifies the policy for update
// grouping: peers whose export policies have the same non-empty name must
// behave identically (e.g. name the policy after the ordered list of
// Calico BGPFilters it implements). A policy with a nil Func accepts
// everything unchanged.
type Policy struct {
	Name string
	Func PolicyFunc
	// ReadOnly promises that Func only accepts or rejects and never
	// modifies the attributes it is given. The RIB then calls it on shared
	// attributes instead of a private copy: imports intern one set per
	// UPDATE and exports are memoised per attribute set, as without a
	// policy. A Func that modifies attributes must leave it false.
	ReadOnly bool
}

// PeerConfig is the configured, session-independent part of a peer.
type PeerConfig struct {
	// Name identifies the peer in errors (e.g. Calico's "Mesh_10_0_0_2").
	Name string
	// Addr is the peer's address, the last tie-break of the decision
	// process (RFC 4271 §9.1.2.2 g).
	Addr netip.Addr
	// LocalAS and RemoteAS decide iBGP (equal) or eBGP. LocalAS is also
	// the AS prepended toward eBGP and checked for AS loops on import.
	LocalAS, RemoteAS uint32
	// RRClient makes the peer a route-reflector client of ours (RFC 4456).
	RRClient bool
	// NextHop is the next-hop mode toward this peer.
	NextHop NextHopMode
	// LocalAddr4 and LocalAddr6 are our addresses advertised as next hop
	// ("next hop self") for IPv4 and IPv6 routes toward this peer (Calico:
	// the node's IPv4Address and IPv6Address). When unset, the session's
	// local address (Session.LocalAddr) is used for its family.
	LocalAddr4, LocalAddr6 netip.Addr
	// AllowOwnAS is how many times our LocalAS may appear in a received
	// AS_PATH before the route is rejected as a loop (Calico's
	// numAllowedLocalASNumbers; RFC 4271 §9.1.2: routes with an AS loop are
	// excluded).
	AllowOwnAS int
	// Import runs on every received route after the RIB's own checks.
	Import Policy
	// Export runs on every route toward the peer's update group after the
	// RIB's export rules and attribute changes.
	Export Policy
}

// AllPaths as FamilySession.SendPaths sends every path (ADD-PATH).
const AllPaths = math.MaxInt32

// FamilySession is the negotiated state of one address family.
type FamilySession struct {
	Family wire.Family
	// AddPathReceive: NLRI from the peer carry path IDs (RFC 7911).
	AddPathReceive bool
	// SendPaths is the number of paths per prefix sent with ADD-PATH (the
	// best SendPaths ones, AllPaths for all). 0 means ADD-PATH send was not
	// negotiated: only the best path is sent, with path ID 0.
	SendPaths int
}

// Session is the negotiated state of an established session.
type Session struct {
	// RouterID is the peer's BGP Identifier from its OPEN.
	RouterID netip.Addr
	// Families are the negotiated address families.
	Families []FamilySession
	// LLGR is true when the peer advertised the long-lived graceful restart
	// capability (RFC 9494); LLGR-stale routes are sent only to such peers.
	LLGR bool
	// AS4 is true when 4-octet AS numbers were negotiated (RFC 6793); it
	// selects the cached encoding of AttrSet.Encoded.
	AS4 bool
	// LocalAddr is our address on the session's TCP connection, the next
	// hop self for its family when PeerConfig does not name one.
	LocalAddr netip.Addr
}

func (s *Session) family(f wire.Family) *FamilySession {
	for i := range s.Families {
		if s.Families[i].Family == f {
			return &s.Families[i]
		}
	}
	return nil
}

type peer struct {
	id       PeerID
	cfg      PeerConfig
	sess     Session
	routerID netip.Addr // last known BGP Identifier (kept while down for stale routes)
	self4    netip.Addr // next hop self for IPv4 routes (while up)
	self6    netip.Addr // next hop self for IPv6 routes (while up)
	up       bool
	local    bool
	group    *group
	npaths   []famCount // stored paths per family (PeerPaths)
}

// famCount is a count of one family. A peer has a few families, so a
// slice searched in order beats a map on the path of every stored route.
type famCount struct {
	fam wire.Family
	n   int
}

// countPaths adds n to the peer's stored paths of family f.
func (p *peer) countPaths(f wire.Family, n int) {
	for i := range p.npaths {
		if p.npaths[i].fam == f {
			p.npaths[i].n += n
			return
		}
	}
	p.npaths = append(p.npaths, famCount{f, n})
}

// pathCount returns the peer's stored paths of family f.
func (p *peer) pathCount(f wire.Family) int {
	for _, c := range p.npaths {
		if c.fam == f {
			return c.n
		}
	}
	return 0
}

// PeerPaths returns how many paths of a peer the RIB stores in a family
// (its post-policy Adj-RIB-In, stale paths included), in constant time.
// The speaker reports it as the peer's received prefixes, so sessions need
// not keep a set of every prefix they received.
func (r *RIB) PeerPaths(id PeerID, fam wire.Family) int {
	if int(id) >= len(r.peers) || r.peers[id] == nil {
		return 0
	}
	return r.peers[id].pathCount(fam)
}

func (p *peer) ibgp() bool { return !p.local && p.cfg.LocalAS == p.cfg.RemoteAS }

func (p *peer) name() string {
	if p.cfg.Name != "" {
		return p.cfg.Name
	}
	return p.cfg.Addr.String()
}

// AddPeer registers a peer and returns its ID. The peer takes part in
// exports only between Up and Down.
func (r *RIB) AddPeer(c PeerConfig) (PeerID, error) {
	if !c.Addr.IsValid() {
		return 0, fmt.Errorf("rib: peer %q: Addr is not set", c.Name)
	}
	if c.AllowOwnAS < 0 {
		return 0, fmt.Errorf("rib: peer %s: AllowOwnAS %d is negative", c.Addr, c.AllowOwnAS)
	}
	if len(r.freePeers) == 0 && len(r.peers) >= int(srcPairBit) {
		return 0, fmt.Errorf("rib: peer %s: too many peers", c.Addr) // PeerIDs must fit a pathSrc
	}
	p := &peer{cfg: c}
	if n := len(r.freePeers); n > 0 {
		p.id = r.freePeers[n-1]
		r.freePeers = r.freePeers[:n-1]
		r.peers[p.id] = p
	} else {
		p.id = PeerID(len(r.peers))
		r.peers = append(r.peers, p)
	}
	return p.id, nil
}

// SetPeerConfig replaces the configuration of a peer that is down (after
// AddPeer or Down, before Up), keeping its ID and its routes, e.g. stale
// ones kept under graceful restart while the session comes back with a new
// local address or, for a dynamic peer, a new AS. The peer's routes go
// through the decision process again in the next Drain (iBGP or eBGP may
// have changed); the import checks of routes already stored are not
// repeated. A peer that is up must go Down first: its update group depends
// on its configuration.
func (r *RIB) SetPeerConfig(id PeerID, c PeerConfig) error {
	p, err := r.peerByID(id)
	if err != nil {
		return err
	}
	if p.up {
		return fmt.Errorf("rib: peer %s: configuration changed while up; call Down first", p.name())
	}
	if !c.Addr.IsValid() {
		return fmt.Errorf("rib: peer %q: Addr is not set", c.Name)
	}
	if c.AllowOwnAS < 0 {
		return fmt.Errorf("rib: peer %s: AllowOwnAS %d is negative", c.Addr, c.AllowOwnAS)
	}
	p.cfg = c
	for _, t := range r.tables {
		for pfx, d := range t.all() {
			for i := range d.paths {
				if r.peerOf(&d.paths[i]) == id {
					r.markDirty(t, pfx, d)
					break
				}
			}
		}
	}
	return nil
}

// RemovePeer withdraws all of the peer's routes, takes it out of its update
// group and forgets it. Its ID may be reused.
func (r *RIB) RemovePeer(id PeerID) error {
	p, err := r.peerByID(id)
	if err != nil {
		return err
	}
	r.Down(id)
	for _, t := range r.tables {
		r.removePeerPaths(t, p, func(*path) bool { return true })
	}
	r.peers[id] = nil
	r.freePeers = append(r.freePeers, id)
	return nil
}

// Peer returns the configuration of a peer.
func (r *RIB) Peer(id PeerID) (PeerConfig, bool) {
	p, err := r.peerByID(id)
	if err != nil {
		return PeerConfig{}, false
	}
	return p.cfg, true
}

// Up records an established session: the peer joins the update group of
// peers with the same export behaviour. The speaker then sends the peer its
// initial table, AdjRIBOut for each family, and from then on the changes
// Drain reports for the group (a newly created group's initial contents come
// through the next Drain, so AdjRIBOut is empty for it).
func (r *RIB) Up(id PeerID, s Session) (GroupID, error) {
	p, err := r.peerByID(id)
	if err != nil {
		return 0, err
	}
	for _, f := range s.Families {
		if f.SendPaths < 0 {
			return 0, fmt.Errorf("rib: peer %s: family %v: SendPaths %d is negative", p.name(), f.Family, f.SendPaths)
		}
	}
	if p.up {
		r.Down(id)
	}
	p.sess = s
	p.sess.Families = slices.Clone(s.Families)
	if s.RouterID.IsValid() {
		p.routerID = s.RouterID
	}
	p.self4, p.self6 = p.cfg.LocalAddr4, p.cfg.LocalAddr6
	if la := s.LocalAddr.Unmap(); la.Is4() && !p.self4.IsValid() {
		p.self4 = la
	} else if la.Is6() && !la.IsLinkLocalUnicast() && !p.self6.IsValid() {
		p.self6 = la
	}
	p.up = true
	g := r.joinGroup(p)
	return g.id, nil
}

// Down records the end of a session: the peer leaves its update group. Its
// routes stay; the speaker withdraws them (WithdrawAll) or, with graceful
// restart, marks them stale (MarkStale).
func (r *RIB) Down(id PeerID) {
	p, err := r.peerByID(id)
	if err != nil || !p.up {
		return
	}
	p.up = false
	r.leaveGroup(p)
}

// GroupID identifies an update group.
type GroupID uint16

// group is an update group: peers that receive identical exports.
type group struct {
	id      GroupID
	key     groupKey
	rep     *peer // a member whose configuration stands for all
	members []PeerID
	ibgp    bool
	rr      bool // members are route-reflector clients
	llgr    bool
	as4     bool
	fams    []FamilySession
	changes map[wire.Family]*GroupChanges
	last    memoLast // see exportAttrs
}

type groupKey string

func exportKey(p *peer) groupKey {
	var b strings.Builder
	c := &p.cfg
	fmt.Fprintf(&b, "ibgp=%v rr=%v las=%d nh=%d la4=%v la6=%v llgr=%v as4=%v",
		p.ibgp(), c.RRClient, c.LocalAS, c.NextHop, p.self4, p.self6, p.sess.LLGR, p.sess.AS4)
	switch {
	case c.Export.Func == nil:
	case c.Export.Name != "":
		fmt.Fprintf(&b, " policy=%q", c.Export.Name)
	default:
		// An unnamed policy cannot be compared: the peer gets its own group.
		fmt.Fprintf(&b, " peer=%d", p.id)
	}
	fams := slices.Clone(p.sess.Families)
	slices.SortFunc(fams, func(a, b FamilySession) int {
		return int(a.Family.AFI)<<8 | int(a.Family.SAFI) - (int(b.Family.AFI)<<8 | int(b.Family.SAFI))
	})
	for _, f := range fams {
		fmt.Fprintf(&b, " %d/%d:%d", f.Family.AFI, f.Family.SAFI, f.SendPaths)
	}
	return groupKey(b.String())
}

func (r *RIB) joinGroup(p *peer) *group {
	k := exportKey(p)
	g := r.keyGroup[k]
	if g == nil {
		g = &group{
			key:     k,
			rep:     p,
			ibgp:    p.ibgp(),
			rr:      p.cfg.RRClient,
			llgr:    p.sess.LLGR,
			as4:     p.sess.AS4,
			fams:    p.sess.Families,
			changes: map[wire.Family]*GroupChanges{},
		}
		g.id = GroupID(len(r.groups))
		for i, x := range r.groups {
			if x == nil {
				g.id = GroupID(i)
				break
			}
		}
		if int(g.id) == len(r.groups) {
			r.groups = append(r.groups, g)
		} else {
			r.groups[g.id] = g
		}
		r.keyGroup[k] = g
		r.outGen++
		// The new group's Adj-RIB-Out is computed for every prefix by the
		// next Drain.
		for _, f := range g.fams {
			if t := r.tables[f.Family]; t != nil {
				for pfx, d := range t.all() {
					r.markDirty(t, pfx, d)
				}
			}
		}
	}
	// Copy on write: member slices handed out by Drain and Group stay valid.
	g.members = append(slices.Clip(g.members), p.id)
	p.group = g
	return g
}

func (r *RIB) leaveGroup(p *peer) {
	g := p.group
	p.group = nil
	if g == nil {
		return
	}
	g.members = slices.DeleteFunc(slices.Clone(g.members), func(id PeerID) bool { return id == p.id })
	if len(g.members) > 0 {
		if g.rep == p {
			g.rep = r.peers[g.members[0]]
		}
		return
	}
	// Last member gone: drop the group and its Adj-RIB-Out.
	r.outGen++
	delete(r.keyGroup, g.key)
	r.groups[g.id] = nil
	for _, t := range r.tables {
		for pfx, d := range t.all() {
			n := 0
			for _, o := range d.out {
				if o.group == g.id {
					r.intern.put(o.attrs)
					continue
				}
				d.out[n] = o
				n++
			}
			clear(d.out[n:])
			d.out = d.out[:n]
			r.maybeDelete(t, pfx, d)
		}
	}
}

// Group returns the members of an update group and whether it exists. The
// slice is never modified (membership changes replace it).
func (r *RIB) Group(id GroupID) ([]PeerID, bool) {
	if int(id) >= len(r.groups) || r.groups[id] == nil {
		return nil, false
	}
	return r.groups[id].members, true
}

// OutGeneration changes whenever the Adj-RIB-Out of some update group may
// have changed, or a group was created or removed: a copy of a group's
// Adj-RIB-Out (GroupAdjRIBOut) is current while it stays the same.
func (r *RIB) OutGeneration() uint64 { return r.outGen }

// GroupAdjRIBOut calls fn with every path of update group g's Adj-RIB-Out
// in fam until fn returns false. It is what every member is sent, before
// split horizon: a member gets the paths whose Source is not itself (see
// AdjRIBOut).
func (r *RIB) GroupAdjRIBOut(g GroupID, fam wire.Family, fn func(ExportChange) bool) {
	t := r.tables[fam]
	if int(g) >= len(r.groups) || r.groups[g] == nil || t == nil {
		return
	}
	for pfx, d := range t.all() {
		for _, o := range d.out {
			if o.group == g && !fn(ExportChange{Prefix: pfx, PathID: o.id, Attrs: r.intern.at(o.attrs), Source: o.src}) {
				return
			}
		}
	}
}

// PeerGroup returns the update group of an established peer.
func (r *RIB) PeerGroup(id PeerID) (GroupID, bool) {
	p, err := r.peerByID(id)
	if err != nil || p.group == nil {
		return 0, false
	}
	return p.group.id, true
}
