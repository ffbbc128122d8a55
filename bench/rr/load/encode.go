package load

import (
	"fmt"
	"net/netip"

	"github.com/kbgp/kbgp/internal/bgp/wire"
)

// Opts are the wire options of every benchmark session: 4-octet AS, no
// ADD-PATH, 4096-byte messages.
var Opts = wire.Options{AS4: true}

func nlriLen(p netip.Prefix) int { return 1 + (p.Bits()+7)/8 }

// AppendAnnounce appends as few UPDATEs as fit announcing ps (IPv4) with
// the attributes a, each at most 4096 bytes (RFC 4271 §4: "The maximum
// message size is 4096 octets").
func AppendAnnounce(b []byte, a *wire.Attrs, ps []netip.Prefix) ([]byte, error) {
	attrs, err := wire.AppendAttrs(nil, a, &Opts)
	if err != nil {
		return b, err
	}
	room := wire.MaxMessageLen - wire.HeaderLen - 4 - len(attrs)
	if room < 5 {
		return b, fmt.Errorf("load: path attributes of %d bytes leave no room for NLRI", len(attrs))
	}
	u := wire.Update{Attrs: *a}
	for len(ps) > 0 {
		n, size := 0, 0
		for n < len(ps) && size+nlriLen(ps[n]) <= room {
			size += nlriLen(ps[n])
			n++
		}
		u.NLRI = u.NLRI[:0]
		for _, p := range ps[:n] {
			u.NLRI = append(u.NLRI, wire.NLRI{Prefix: p})
		}
		if b, err = wire.AppendUpdate(b, &u, &Opts); err != nil {
			return b, err
		}
		ps = ps[n:]
	}
	return b, nil
}

// AppendWithdraw appends UPDATEs withdrawing ps (IPv4).
func AppendWithdraw(b []byte, ps []netip.Prefix) ([]byte, error) {
	room := wire.MaxMessageLen - wire.HeaderLen - 4
	var u wire.Update
	var err error
	for len(ps) > 0 {
		n, size := 0, 0
		for n < len(ps) && size+nlriLen(ps[n]) <= room {
			size += nlriLen(ps[n])
			n++
		}
		u.Withdrawn = u.Withdrawn[:0]
		for _, p := range ps[:n] {
			u.Withdrawn = append(u.Withdrawn, wire.NLRI{Prefix: p})
		}
		if b, err = wire.AppendUpdate(b, &u, &Opts); err != nil {
			return b, err
		}
		ps = ps[n:]
	}
	return b, nil
}

// IBGPAttrs returns the attributes of a route a client originates into
// iBGP: ORIGIN IGP, an empty AS_PATH, NEXT_HOP nh and LOCAL_PREF 100
// (RFC 4271 §5.1.5: LOCAL_PREF "SHALL be included in all UPDATE messages
// that a given BGP speaker sends to other internal peers").
func IBGPAttrs(nh netip.Addr) wire.Attrs {
	var a wire.Attrs
	a.Origin = wire.OriginIGP
	a.Set(wire.AttrOrigin)
	a.Set(wire.AttrASPath)
	a.NextHop = nh
	a.Set(wire.AttrNextHop)
	a.LocalPref = 100
	a.Set(wire.AttrLocalPref)
	return a
}
