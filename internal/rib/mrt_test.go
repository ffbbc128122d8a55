package rib

import (
	"errors"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"

	"github.com/kbgp/kbgp/internal/shareddata"

	"github.com/google/go-cmp/cmp"

	"github.com/kbgp/kbgp/internal/bgp/wire"
	"github.com/kbgp/kbgp/internal/mrt"
)

// sharedMRT returns ../shared/testdata/mrt, skipping when it is absent.
func sharedMRT(t testing.TB) string { return shareddata.Dir(t, "mrt") }

type mrtPeerKey struct {
	addr netip.Addr
	as   uint32
}

type modelKey struct {
	fam wire.Family
	pfx netip.Prefix
}

// TestReplayCollectorUpdates replays real route-collector UPDATE streams
// (RIPE RIS, many peers, session flaps) into a RIB, next to an independent
// model of every peer's Adj-RIB-In, and checks after the replay that the
// RIB holds exactly the model's routes, that its best path for every prefix
// is the reference decision's, and that the FIB state replayed from the
// drained changes matches.
func TestReplayCollectorUpdates(t *testing.T) {
	dir := sharedMRT(t)
	for _, name := range []string{
		"bgpdump__updates.20160811.1600.gz",
		"bgpdump__updates.20100722.2015.gz",
		"bgpdump__updates.20020722.2238.gz",
		"libbgpstream__ris.rrc06.updates.1427846400.gz",
	} {
		t.Run(name, func(t *testing.T) { replay(t, filepath.Join(dir, name)) })
	}
}

func replay(t *testing.T, file string) {
	fh, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	rd := mrt.NewReader(fh)
	r := New(Options{RouterID: ip("10.255.255.1")})
	peers := map[mrtPeerKey]PeerID{}
	localASOf := map[PeerID]uint32{}
	model := map[PeerID]map[modelKey]*wire.Attrs{}
	fib := map[modelKey][]netip.Addr{}
	var dec mrt.RouteDecoder
	var m mrt.BGP4MP
	var u wire.Update
	updates, records := 0, 0
	drain := func() {
		for _, c := range r.Drain().FIB {
			k := modelKey{c.Family, c.Prefix}
			if c.Withdrawn() {
				delete(fib, k)
			} else {
				fib[k] = c.NextHops
			}
		}
	}
	peerOf := func(m *mrt.BGP4MP) PeerID {
		k := mrtPeerKey{m.PeerAddr, m.PeerAS}
		if id, ok := peers[k]; ok {
			return id
		}
		id, err := r.AddPeer(PeerConfig{Addr: m.PeerAddr, LocalAS: m.LocalAS, RemoteAS: m.PeerAS})
		if err != nil {
			t.Fatal(err)
		}
		peers[k] = id
		localASOf[id] = m.LocalAS
		model[id] = map[modelKey]*wire.Attrs{}
		up(t, r, id)
		return id
	}
	for {
		rec, err := rd.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("record %d: %v", records, err)
		}
		records++
		if rec.Type != mrt.TypeBGP4MP && rec.Type != mrt.TypeBGP4MPET {
			continue
		}
		if err := rec.BGP4MP(&m); err != nil {
			t.Fatalf("record %d: %v", records, err)
		}
		if m.Local() {
			continue
		}
		id := peerOf(&m)
		if m.IsStateChange() {
			if m.NewState != 6 { // not Established: the session's routes go
				for _, f := range []wire.Family{wire.IPv4Unicast, wire.IPv6Unicast} {
					if _, err := r.WithdrawAll(id, f); err != nil {
						t.Fatal(err)
					}
				}
				clear(model[id])
			}
			continue
		}
		if typ, err := m.MessageType(); err != nil || typ != wire.MsgUpdate {
			continue
		}
		err = dec.Update(&u, &m)
		var werr *wire.Error
		switch {
		case errors.As(err, &werr) && werr.Action == wire.ActionSessionReset:
			continue
		case errors.As(err, &werr) && werr.Action == wire.ActionTreatAsWithdraw:
			withdrawAll(t, r, id, &u, model[id])
			continue
		case err != nil && werr == nil:
			t.Fatalf("record %d: %v", records, err)
		}
		updates++
		if _, _, err := r.ApplyUpdate(id, &u); err != nil {
			t.Fatal(err)
		}
		modelApply(model[id], &u, localASOf[id])
		if updates%64 == 0 {
			drain()
		}
	}
	drain()
	if updates < 100 {
		t.Fatalf("only %d UPDATEs replayed", updates)
	}
	checkRefs(t, r)
	// The RIB holds exactly the model's routes.
	byPrefix := map[modelKey][]refPath{}
	paths := 0
	for id, routes := range model {
		for k, a := range routes {
			paths++
			rp := refPath{
				ebgp: localASOf[id] != r.peers[id].cfg.RemoteAS, reachable: a.NextHop.IsValid(), lp: DefaultLocalPref,
				segs: a.ASPath, origin: a.Origin, peerLocalAS: localASOf[id], rid: r.peers[id].routerID,
				addr: r.peers[id].cfg.Addr, nh: a.NextHop, peer: id,
			}
			if a.Has(wire.AttrMED) {
				rp.med = a.MED
			}
			if !rp.ebgp && a.Has(wire.AttrLocalPref) {
				rp.lp = a.LocalPref
			}
			byPrefix[k] = append(byPrefix[k], rp)
		}
	}
	if s := r.Stats(); s.Paths != paths || s.Prefixes < len(byPrefix) {
		t.Fatalf("RIB %+v, model %d paths over %d prefixes", s, paths, len(byPrefix))
	}
	for k, ps := range byPrefix {
		got := r.Routes(k.fam, k.pfx)
		if len(got) != len(ps) {
			t.Fatalf("%v: RIB has %d routes, model %d", k.pfx, len(got), len(ps))
		}
		for _, g := range got {
			want := model[g.Peer][k]
			if want == nil {
				t.Fatalf("%v: RIB has a route from peer %d, the model none", k.pfx, g.Peer)
			}
			if reflect.DeepEqual(want, &g.Attrs.Attrs) {
				continue
			}
			if d := cmp.Diff(want, &g.Attrs.Attrs, cmpAttrs); d != "" {
				t.Fatalf("%v from peer %d: attributes (-model +RIB):\n%s", k.pfx, g.Peer, d)
			}
		}
		best, _ := refDecide(ps, false)
		if best < 0 {
			if got[0].Best || len(fib[k]) > 0 {
				t.Fatalf("%v: RIB has a best path, the reference none", k.pfx)
			}
			continue
		}
		if !got[0].Best || got[0].Peer != ps[best].peer {
			t.Fatalf("%v: RIB best from peer %d, reference from peer %d (%d candidates)", k.pfx, got[0].Peer, ps[best].peer, len(ps))
		}
		if nh := fib[k]; len(nh) == 0 || nh[0] != ps[best].nh {
			t.Fatalf("%v: replayed FIB %v, reference best next hop %v", k.pfx, nh, ps[best].nh)
		}
	}
	for k := range fib {
		if _, ok := byPrefix[k]; !ok {
			t.Fatalf("%v: in the replayed FIB but in no Adj-RIB-In", k.pfx)
		}
	}
	t.Logf("%d records, %d UPDATEs, %d peers, %d prefixes, %d paths, %d attribute sets", records, updates, len(peers), len(byPrefix), paths, r.Stats().AttrSets)
}

func up(t *testing.T, r *RIB, id PeerID) {
	t.Helper()
	rid := netip.AddrFrom4([4]byte{10, 77, byte(id >> 8), byte(id)})
	if _, err := r.Up(id, Session{RouterID: rid, AS4: true, Families: []FamilySession{{Family: wire.IPv4Unicast}, {Family: wire.IPv6Unicast}}}); err != nil {
		t.Fatal(err)
	}
}

// withdrawAll handles a treat-as-withdraw UPDATE (RFC 7606).
func withdrawAll(t *testing.T, r *RIB, id PeerID, u *wire.Update, model map[modelKey]*wire.Attrs) {
	t.Helper()
	w := &wire.Update{Withdrawn: slices.Concat(u.Withdrawn, u.NLRI)}
	if u.MPReach != nil {
		w.MPUnreach = &wire.MPUnreach{Family: u.MPReach.Family, NLRI: u.MPReach.NLRI}
	}
	if _, _, err := r.ApplyUpdate(id, w); err != nil {
		t.Fatal(err)
	}
	modelApply(model, w, 0)
	if u.MPUnreach != nil {
		modelApply(model, &wire.Update{MPUnreach: u.MPUnreach}, 0)
		r.ApplyUpdate(id, &wire.Update{MPUnreach: u.MPUnreach})
	}
}

// modelApply is the model Adj-RIB-In: a plain map from (family, prefix)
// to the peer's attributes, with the AS loop check as the only import rule.
func modelApply(m map[modelKey]*wire.Attrs, u *wire.Update, localAS uint32) {
	for _, n := range u.Withdrawn {
		delete(m, modelKey{wire.IPv4Unicast, n.Prefix})
	}
	if u.MPUnreach != nil {
		for _, n := range u.MPUnreach.NLRI {
			delete(m, modelKey{u.MPUnreach.Family, n.Prefix})
		}
	}
	loop := false
	for _, s := range u.Attrs.ASPath {
		loop = loop || slices.Contains(s.ASNs, localAS)
	}
	set := func(f wire.Family, ns []wire.NLRI, a wire.Attrs) {
		for _, n := range ns {
			k := modelKey{f, n.Prefix}
			if loop || !prefixInFamily(n.Prefix, f) {
				delete(m, k)
				continue
			}
			c := cloneAttrs(&a)
			m[k] = &c
		}
	}
	a := u.Attrs
	if localAS != 0 {
		// eBGP: LOCAL_PREF, ORIGINATOR_ID and CLUSTER_LIST are ignored.
		a.Clear(wire.AttrLocalPref)
		a.LocalPref = 0
		a.Clear(wire.AttrOriginatorID)
		a.OriginatorID = netip.Addr{}
		a.Clear(wire.AttrClusterList)
		a.ClusterList = nil
	}
	set(wire.IPv4Unicast, u.NLRI, a)
	if u.MPReach != nil {
		b := a
		b.NextHop = u.MPReach.NextHop
		b.Clear(wire.AttrNextHop)
		set(u.MPReach.Family, u.MPReach.NLRI, b)
	}
}
