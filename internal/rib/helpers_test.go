package rib

import (
	"net/netip"
	"testing"

	"github.com/kbgp/kbgp/internal/bgp/wire"
)

const localAS = 64512

var v4 = wire.IPv4Unicast

func ip(s string) netip.Addr    { return netip.MustParseAddr(s) }
func pfx(s string) netip.Prefix { return netip.MustParsePrefix(s) }
func nlri(ps ...string) []wire.NLRI {
	out := make([]wire.NLRI, len(ps))
	for i, p := range ps {
		out[i] = wire.NLRI{Prefix: pfx(p)}
	}
	return out
}

// attr is an attribute builder option.
type attr func(*wire.Attrs)

func mkAttrs(opts ...attr) *wire.Attrs {
	a := &wire.Attrs{}
	a.Origin = wire.OriginIGP
	a.Set(wire.AttrOrigin)
	a.Set(wire.AttrASPath)
	for _, o := range opts {
		o(a)
	}
	return a
}

func nh(s string) attr {
	return func(a *wire.Attrs) { a.NextHop = ip(s); a.Set(wire.AttrNextHop) }
}
func lp(v uint32) attr  { return func(a *wire.Attrs) { a.LocalPref = v; a.Set(wire.AttrLocalPref) } }
func med(v uint32) attr { return func(a *wire.Attrs) { a.MED = v; a.Set(wire.AttrMED) } }
func origin(o wire.Origin) attr {
	return func(a *wire.Attrs) { a.Origin = o }
}
func seq(asns ...uint32) attr {
	return func(a *wire.Attrs) {
		a.ASPath = append(a.ASPath, wire.ASPathSegment{Type: wire.ASSequence, ASNs: asns})
	}
}
func set(asns ...uint32) attr {
	return func(a *wire.Attrs) {
		a.ASPath = append(a.ASPath, wire.ASPathSegment{Type: wire.ASSet, ASNs: asns})
	}
}
func confed(asns ...uint32) attr {
	return func(a *wire.Attrs) {
		a.ASPath = append(a.ASPath, wire.ASPathSegment{Type: wire.ASConfedSequence, ASNs: asns})
	}
}
func comm(cs ...wire.Community) attr {
	return func(a *wire.Attrs) { a.Communities = append(a.Communities, cs...); a.Set(wire.AttrCommunities) }
}
func originator(s string) attr {
	return func(a *wire.Attrs) { a.OriginatorID = ip(s); a.Set(wire.AttrOriginatorID) }
}
func clusters(ss ...string) attr {
	return func(a *wire.Attrs) {
		for _, s := range ss {
			a.ClusterList = append(a.ClusterList, ip(s))
		}
		a.Set(wire.AttrClusterList)
	}
}
func unknown(flags uint8, t wire.AttrType, v ...byte) attr {
	return func(a *wire.Attrs) { a.Unknown = append(a.Unknown, wire.RawAttr{Flags: flags, Type: t, Value: v}) }
}

// peerSpec describes a test peer.
type peerSpec struct {
	name     string
	addr     string
	rid      string
	as       uint32 // remote AS; localAS means iBGP
	client   bool
	nhMode   NextHopMode
	allowOwn int
	llgr     bool
	recvAP   bool
	sendN    int
	imp, exp Policy
}

type fixture struct {
	t     *testing.T
	r     *RIB
	peers map[string]PeerID
}

func newFixture(t *testing.T, o Options, specs ...peerSpec) *fixture {
	t.Helper()
	if !o.RouterID.IsValid() {
		o.RouterID = ip("10.255.0.1")
	}
	f := &fixture{t: t, r: New(o), peers: map[string]PeerID{}}
	for _, s := range specs {
		f.add(s)
	}
	return f
}

func (f *fixture) add(s peerSpec) PeerID {
	f.t.Helper()
	id, err := f.r.AddPeer(PeerConfig{
		Name: s.name, Addr: ip(s.addr), LocalAS: localAS, RemoteAS: s.as, RRClient: s.client,
		NextHop: s.nhMode, LocalAddr4: ip("10.255.0.1"), LocalAddr6: ip("fd00::1"),
		AllowOwnAS: s.allowOwn, Import: s.imp, Export: s.exp,
	})
	if err != nil {
		f.t.Fatal(err)
	}
	rid := s.rid
	if rid == "" {
		rid = s.addr
	}
	if _, err := f.r.Up(id, Session{
		RouterID: ip(rid), LLGR: s.llgr, AS4: true,
		Families: []FamilySession{
			{Family: wire.IPv4Unicast, AddPathReceive: s.recvAP, SendPaths: s.sendN},
			{Family: wire.IPv6Unicast, AddPathReceive: s.recvAP, SendPaths: s.sendN},
		},
	}); err != nil {
		f.t.Fatal(err)
	}
	f.peers[s.name] = id
	return id
}

func (f *fixture) id(name string) PeerID {
	f.t.Helper()
	id, ok := f.peers[name]
	if !ok {
		f.t.Fatalf("no peer %q", name)
	}
	return id
}

func (f *fixture) update(peer string, a *wire.Attrs, ps ...string) {
	f.t.Helper()
	if _, _, err := f.r.Update(f.id(peer), v4, nlri(ps...), a); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) withdraw(peer string, ps ...string) {
	f.t.Helper()
	if err := f.r.Withdraw(f.id(peer), v4, nlri(ps...)); err != nil {
		f.t.Fatal(err)
	}
}

// best returns the name of the peer of the best route to p ("" if none).
func (f *fixture) best(p string) string {
	f.t.Helper()
	rs := f.r.Routes(v4, pfx(p))
	if len(rs) == 0 || !rs[0].Best {
		return ""
	}
	return f.name(rs[0].Peer)
}

func (f *fixture) name(id PeerID) string {
	if id == LocalPeer {
		return "local"
	}
	for n, i := range f.peers {
		if i == id {
			return n
		}
	}
	return "?"
}

// groupOf returns the changes of the group of peer in the drained output.
func groupOf(f *fixture, ch *Changes, peer string) *GroupChanges {
	f.t.Helper()
	g, ok := f.r.PeerGroup(f.id(peer))
	if !ok {
		f.t.Fatalf("peer %s has no group", peer)
	}
	for _, gc := range ch.Groups {
		if gc.Group == g && gc.Family == v4 {
			return gc
		}
	}
	return nil
}

// sent returns what peer receives for prefix p from the drained changes:
// the announced attributes, or nil with withdrawn true, or nil, false.
func sent(f *fixture, ch *Changes, peer, p string) (a *wire.Attrs, withdrawn bool) {
	f.t.Helper()
	gc := groupOf(f, ch, peer)
	if gc == nil {
		return nil, false
	}
	for i := range gc.Changes {
		c := &gc.Changes[i]
		if c.Prefix != pfx(p) {
			continue
		}
		switch c.For(f.id(peer)) {
		case ActionAnnounce:
			return &c.Attrs.Attrs, false
		case ActionWithdraw:
			return nil, true
		}
	}
	return nil, false
}
