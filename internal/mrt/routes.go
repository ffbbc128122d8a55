package mrt

import (
	"encoding/binary"
	"fmt"
	"net/netip"

	"github.com/kbgp/kbgp/internal/bgp/wire"
)

// RouteDecoder decodes the BGP content of MRT records with package wire:
// BGP4MP messages and the path attributes of TABLE_DUMP and TABLE_DUMP_V2
// routes. Its zero value is ready to use; it keeps scratch buffers, so reuse
// one per goroutine.
type RouteDecoder struct {
	body  []byte
	reach wire.MPReach
	opts  wire.Options
}

// Options returns the wire options a BGP4MP record's subtype implies: 4-octet
// AS numbers for the _AS4 subtypes (RFC 6396 §4.4.3) and ADD-PATH on the
// unicast families for the RFC 8050 subtypes. Extended messages are always
// allowed since collectors record what they received.
//
// Pre-RFC 8050 dumps of ADD-PATH sessions (BIRD, some Quagga) use the plain
// subtypes; decoding them needs the OPENs' capabilities, which the caller
// must track and pass to DecodeMessage instead.
func (m *BGP4MP) Options() wire.Options {
	o := wire.Options{AS4: m.AS4(), ExtendedMessage: true}
	if m.AddPath() {
		o.AddPath = []wire.Family{wire.IPv4Unicast, wire.IPv6Unicast}
	}
	return o
}

// MessageType returns the BGP message type of a MESSAGE record, after
// validating the header (marker and length, up to 65535 bytes).
func (m *BGP4MP) MessageType() (wire.MsgType, error) {
	n, typ, err := wire.ParseHeader(m.Message, wire.MaxExtMessageLen)
	if err != nil {
		return 0, err
	}
	if n != len(m.Message) {
		return typ, fmt.Errorf("mrt: BGP message header says %d bytes, the record holds %d", n, len(m.Message))
	}
	return typ, nil
}

// Update decodes the UPDATE of a BGP4MP MESSAGE record into u with the
// options of its subtype. It returns an error for other message types.
// wire.Error values (RFC 7606 actions) are returned as they are: u is still
// filled for treat-as-withdraw and attribute-discard.
func (d *RouteDecoder) Update(u *wire.Update, m *BGP4MP) error {
	d.opts = m.Options()
	return d.DecodeMessage(u, m, &d.opts)
}

// DecodeMessage is Update with explicit options, for sessions whose
// ADD-PATH or AS4 state is known from their OPENs.
func (d *RouteDecoder) DecodeMessage(u *wire.Update, m *BGP4MP, o *wire.Options) error {
	typ, err := m.MessageType()
	if err != nil {
		return err
	}
	if typ != wire.MsgUpdate {
		return fmt.Errorf("mrt: BGP message is %v, not UPDATE", typ)
	}
	return u.Decode(m.Message[wire.HeaderLen:], o)
}

// RIBEntry decodes entry i of rib into u as an UPDATE announcing rib.Prefix
// (with the entry's path ID) from that entry: IPv4 prefixes in u.NLRI with
// the NEXT_HOP attribute, IPv6 prefixes in u.MPReach with the next hop of
// the entry's MP_REACH_NLRI. TABLE_DUMP_V2 attributes always carry 4-octet
// AS numbers (RFC 6396 §4.3.4). u.MPReach points into d and is overwritten
// by the next call.
func (d *RouteDecoder) RIBEntry(u *wire.Update, rib *RIB, i int) error {
	if i < 0 || i >= len(rib.Entries) {
		return fmt.Errorf("mrt: RIB entry %d of %d", i, len(rib.Entries))
	}
	e := &rib.Entries[i]
	d.opts = wire.Options{AS4: true, ExtendedMessage: true}
	return d.route(u, e.Attrs, rib.Prefix, e.PathID, &d.opts)
}

// TableDump decodes the attributes of a legacy TABLE_DUMP route into u the
// same way RIBEntry does; its AS numbers are 2 octets (RFC 6396 §4.2).
func (d *RouteDecoder) TableDump(u *wire.Update, t *TableDump) error {
	d.opts = wire.Options{ExtendedMessage: true}
	return d.route(u, t.Attrs, t.Prefix, 0, &d.opts)
}

func (d *RouteDecoder) route(u *wire.Update, attrs []byte, p netip.Prefix, pathID uint32, o *wire.Options) error {
	// RFC 6396 §4.3.4: "the MP_REACH_NLRI attribute ... contains only the
	// Next Hop Address Length and Next Hop Address fields"; it cannot go to
	// an UPDATE decoder, so it is taken out here and read directly.
	d.body = append(d.body[:0], 0, 0, 0, 0)
	var nh []byte
	haveNH := false
	for b := attrs; len(b) > 0; {
		if len(b) < 3 {
			return fmt.Errorf("mrt: attribute header cut short (%d bytes left)", len(b))
		}
		hl, n := 3, int(b[2])
		if b[0]&wire.FlagExtLen != 0 {
			if len(b) < 4 {
				return fmt.Errorf("mrt: attribute header cut short (%d bytes left)", len(b))
			}
			hl, n = 4, int(binary.BigEndian.Uint16(b[2:]))
		}
		if hl+n > len(b) {
			return fmt.Errorf("mrt: attribute type %d length %d overruns the %d bytes left", b[1], n, len(b)-hl)
		}
		v := b[hl : hl+n]
		if wire.AttrType(b[1]) == wire.AttrMPReach && n > 0 && v[0] != 0 {
			if int(v[0])+1 > n {
				return fmt.Errorf("mrt: abbreviated MP_REACH_NLRI next hop length %d overruns %d bytes", v[0], n-1)
			}
			nh, haveNH = v[1:1+int(v[0])], true
		} else {
			d.body = append(d.body, b[:hl+n]...)
		}
		b = b[hl+n:]
	}
	binary.BigEndian.PutUint16(d.body[2:], uint16(len(d.body)-4))
	if len(d.body)-4 > 0xffff {
		return fmt.Errorf("mrt: %d bytes of attributes", len(d.body)-4)
	}
	if p.Addr().Is4() && !haveNH {
		d.body = appendPrefixNLRI(d.body, p, pathID, o, wire.IPv4Unicast)
	}
	err := u.Decode(d.body, o)
	if err != nil {
		if we, ok := err.(*wire.Error); !ok || we.Action == wire.ActionSessionReset {
			return err
		}
	}
	if p.Addr().Is6() || haveNH {
		r := &d.reach
		r.Family = wire.IPv6Unicast
		if p.Addr().Is4() {
			r.Family = wire.IPv4Unicast
		}
		r.NextHop, r.LinkLocal = netip.Addr{}, netip.Addr{}
		switch len(nh) {
		case 4:
			r.NextHop = netip.AddrFrom4([4]byte(nh))
		case 16:
			r.NextHop = netip.AddrFrom16([16]byte(nh))
		case 32:
			r.NextHop = netip.AddrFrom16([16]byte(nh[:16]))
			r.LinkLocal = netip.AddrFrom16([16]byte(nh[16:]))
		case 0:
		default:
			return fmt.Errorf("mrt: MP_REACH_NLRI next hop length %d is not 4, 16 or 32", len(nh))
		}
		if u.MPReach != nil && !haveNH {
			// A full MP_REACH_NLRI: take its next hop.
			r.NextHop, r.LinkLocal = u.MPReach.NextHop, u.MPReach.LinkLocal
		}
		r.NLRI = append(r.NLRI[:0], wire.NLRI{Prefix: p.Masked(), PathID: pathID})
		u.MPReach = r
	}
	return err
}

func appendPrefixNLRI(b []byte, p netip.Prefix, pathID uint32, o *wire.Options, f wire.Family) []byte {
	if pathID != 0 {
		o.AddPath = append(o.AddPath[:0], f)
	}
	return wire.AppendNLRI(b, []wire.NLRI{{Prefix: p.Masked(), PathID: pathID}}, pathID != 0)
}
