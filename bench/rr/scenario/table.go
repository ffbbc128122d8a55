package scenario

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"

	"github.com/kbgp/kbgp/bench/rr/load"
	"github.com/kbgp/kbgp/internal/bgp/wire"
	"github.com/kbgp/kbgp/internal/mrt"
)

// TableFile is the real table the table scenario replays, relative to the
// shared test data directory.
const TableFile = "mrt/bgpdump__updates.et-header.2015.gz"

// Group is a run of prefixes that arrived with the same path attributes.
type Group struct {
	Attrs    wire.Attrs
	Prefixes []netip.Prefix
}

// Table is the distinct IPv4 unicast prefixes of an MRT file, each with the
// attributes of its first announcement, grouped as they arrived.
type Table struct {
	Groups   []Group
	Prefixes int
}

// LoadTable reads every BGP4MP UPDATE of the MRT file at path and keeps the
// first announcement of each IPv4 unicast prefix: its ORIGIN, AS_PATH, MED
// and COMMUNITIES (the attributes a reflector passes on; next hop and
// LOCAL_PREF are each tester's own). limit > 0 stops after that many
// prefixes. Announcements whose AS_PATH holds loopAS are skipped: the DUT
// (in that AS) must drop them (RFC 4271 §9.1.2: "If the AS_PATH attribute
// of a BGP route contains an AS loop, the BGP route should be excluded
// from the Phase 2 decision function"), so no client would receive them.
func LoadTable(path string, limit int, loopAS uint32) (*Table, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("table: %w", err)
	}
	defer f.Close()
	r := mrt.NewReader(f)
	var (
		m    mrt.BGP4MP
		d    mrt.RouteDecoder
		u    wire.Update
		seen = map[netip.Prefix]struct{}{}
		t    = &Table{}
	)
	for limit <= 0 || t.Prefixes < limit {
		rec, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("table %s: %w", path, err)
		}
		if rec.BGP4MP(&m) != nil || m.IsStateChange() {
			continue
		}
		if typ, err := m.MessageType(); err != nil || typ != wire.MsgUpdate {
			continue
		}
		if err := d.Update(&u, &m); err != nil {
			continue // RFC 7606 treat-as-withdraw or worse: not a clean announcement
		}
		if len(u.NLRI) == 0 || !u.Attrs.Has(wire.AttrASPath) || hasAS(u.Attrs.ASPath, loopAS) {
			continue
		}
		g := Group{Attrs: reflectable(&u.Attrs)}
		for _, n := range u.NLRI {
			if _, ok := seen[n.Prefix]; ok || !n.Prefix.Addr().Is4() {
				continue
			}
			seen[n.Prefix] = struct{}{}
			g.Prefixes = append(g.Prefixes, n.Prefix)
			t.Prefixes++
			if limit > 0 && t.Prefixes == limit {
				break
			}
		}
		if len(g.Prefixes) > 0 {
			t.Groups = append(t.Groups, g)
		}
	}
	if t.Prefixes == 0 {
		return nil, fmt.Errorf("table %s: no IPv4 announcements", path)
	}
	return t, nil
}

func hasAS(path []wire.ASPathSegment, as uint32) bool {
	for _, s := range path {
		for _, a := range s.ASNs {
			if a == as {
				return true
			}
		}
	}
	return false
}

// reflectable copies the attributes a tester re-originates into iBGP.
func reflectable(in *wire.Attrs) wire.Attrs {
	var a wire.Attrs
	a.Origin = in.Origin
	a.Set(wire.AttrOrigin)
	for _, s := range in.ASPath {
		a.ASPath = append(a.ASPath, wire.ASPathSegment{Type: s.Type, ASNs: append([]uint32(nil), s.ASNs...)})
	}
	a.Set(wire.AttrASPath)
	if in.Has(wire.AttrMED) {
		a.MED = in.MED
		a.Set(wire.AttrMED)
	}
	if in.Has(wire.AttrCommunities) && len(in.Communities) > 0 {
		a.Communities = append([]wire.Community(nil), in.Communities...)
		a.Set(wire.AttrCommunities)
	}
	a.LocalPref = 100
	a.Set(wire.AttrLocalPref)
	return a
}

// TableLoad is testers clients each announcing the whole table with its own
// next hop (drain-only), plus one monitor wanting every prefix.
func TableLoad(t *Table, testers int) (*Workload, error) {
	if testers < 1 {
		return nil, fmt.Errorf("scenario table: %d testers, need at least 1", testers)
	}
	x := &load.Index{}
	for _, g := range t.Groups {
		for _, p := range g.Prefixes {
			x.Add(p)
		}
	}
	w := &Workload{Index: x, Routes: x.Len()}
	for i := range testers {
		addr := ClientAddr(i)
		c := &load.Client{Addr: addr, AS: AS}
		var err error
		for _, g := range t.Groups {
			a := g.Attrs
			a.NextHop = addr
			a.Set(wire.AttrNextHop)
			if c.Announce, err = load.AppendAnnounce(c.Announce, &a, g.Prefixes); err != nil {
				return nil, fmt.Errorf("scenario table: tester %s: %w", addr, err)
			}
		}
		w.Clients = append(w.Clients, c)
	}
	w.Clients = append(w.Clients, monitor(ClientAddr(testers), x))
	return w, nil
}
