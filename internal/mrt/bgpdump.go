package mrt

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strconv"
)

// BGPDump renders MRT records in the one-line-per-prefix format of
// `bgpdump -m`:
//
//	TABLE_DUMP|time|B|peer|peerAS|prefix|ASpath|origin|nexthop|localpref|med|communities|AG|aggregator|
//	TABLE_DUMP2[_AP]|time|B|peer|peerAS|prefix|[pathID|]ASpath|...
//	BGP4MP[_ET][_LOCAL][_AP]|time|A|peer|peerAS|prefix|[pathID|]ASpath|...
//	BGP4MP[_ET]|time|W|peer|peerAS|prefix[|pathID]
//	BGP4MP[_ET]|time|STATE|peer|peerAS|old|new
//
// BGP4MP_ET times carry microseconds (seconds.micros). It keeps the last
// PEER_INDEX_TABLE to resolve TABLE_DUMP_V2 peer indexes. Records bgpdump
// prints nothing for (OPEN, KEEPALIVE, NOTIFICATION, PEER_INDEX_TABLE)
// produce no lines.
type BGPDump struct {
	peers    PeerIndexTable
	hasPeers bool
	td       TableDump
	rib      RIB
	mp       BGP4MP
	a        bdAttrs
	tail     []byte
	ts, nh   []byte
	head     []byte
	wd, an   []bdPrefix
}

// AppendRecord appends the lines for rec to b. Records libbgpdump skips
// (unknown types, bad markers, unsupported address families, RIB_GENERIC,
// BGP4MP_ENTRY) return b unchanged and a non-nil error describing why; b is
// still valid.
func (d *BGPDump) AppendRecord(b []byte, rec *Record) ([]byte, error) {
	ts := strconv.AppendUint(d.ts[:0], uint64(rec.Timestamp), 10)
	defer func() { d.ts = ts[:0] }()
	switch rec.Type {
	case TypeTableDump:
		if err := rec.TableDump(&d.td); err != nil {
			return b, err
		}
		return d.appendTableDump(b, ts), nil
	case TypeTableDumpV2:
		if rec.Subtype == SubtypePeerIndexTable {
			if err := rec.PeerIndexTable(&d.peers); err != nil {
				return b, err
			}
			d.hasPeers = true
			return b, nil
		}
		if err := rec.RIB(&d.rib); err != nil {
			return b, err
		}
		return d.appendRIB(b, ts, rec)
	case TypeBGP4MP, TypeBGP4MPET:
		if rec.Type == TypeBGP4MPET {
			ts = append(ts, '.')
			ts = appendPadded(ts, rec.Microseconds, 6)
		}
		return d.appendBGP4MP(b, ts, rec)
	}
	return b, rec.wrap(errors.New("record type not printed by bgpdump -m"))
}

func appendPadded(b []byte, v uint32, width int) []byte {
	s := strconv.AppendUint(nil, uint64(v), 10)
	for i := len(s); i < width; i++ {
		b = append(b, '0')
	}
	return append(b, s...)
}

func appendPrefix(b []byte, addr [16]byte, bits int, v6 bool) []byte {
	if v6 {
		b = appendIPv6(b, addr)
	} else {
		b = netip.AddrFrom4([4]byte(addr[:4])).AppendTo(b)
	}
	b = append(b, '/')
	return strconv.AppendInt(b, int64(bits), 10)
}

func origin(o int) string {
	switch o {
	case 0:
		return "IGP"
	case 1:
		return "EGP"
	}
	return "INCOMPLETE"
}

// appendTail appends "ASpath|origin|nexthop|localpref|med|communities|AG|aggregator|"
// with the given next hop text. signed prints LOCAL_PREF and MED as signed
// 32-bit values, as libbgpdump does for IPv4 MP_REACH routes.
func (d *BGPDump) appendTail(b []byte, nextHop []byte, signed bool) []byte {
	a := &d.a
	if a.hasPath {
		b = append(b, a.path.str...)
	}
	b = append(b, '|')
	b = append(b, origin(a.origin)...)
	b = append(b, '|')
	b = append(b, nextHop...)
	b = append(b, '|')
	lp, med := uint32(0), uint32(0)
	if a.has(5) {
		lp = a.localPref
	}
	if a.has(4) {
		med = a.med
	}
	if signed {
		b = strconv.AppendInt(b, int64(int32(lp)), 10)
		b = append(b, '|')
		b = strconv.AppendInt(b, int64(int32(med)), 10)
	} else {
		b = strconv.AppendUint(b, uint64(lp), 10)
		b = append(b, '|')
		b = strconv.AppendUint(b, uint64(med), 10)
	}
	b = append(b, '|')
	if a.has(8) {
		b = append(b, a.comm...)
	}
	b = append(b, '|')
	if a.has(6) {
		b = append(b, "AG|"...)
	} else {
		b = append(b, "NAG|"...)
	}
	if a.aggAddr != [4]byte{255, 255, 255, 255} {
		b = strconv.AppendUint(b, uint64(a.aggAS), 10)
		b = append(b, ' ')
		b = appendAddr4(b, a.aggAddr)
	}
	return append(b, '|')
}

// ribNextHop is the next hop printed for RIB entries: the IPv6 MP_REACH next
// hop if there is one, else NEXT_HOP (255.255.255.255 when absent).
func (d *BGPDump) ribNextHop() []byte {
	if d.a.has(14) && d.a.announce[2][1].present {
		d.nh = appendIPv6(d.nh[:0], d.a.announce[2][1].nextHop)
	} else {
		d.nh = appendAddr4(d.nh[:0], d.a.nextHop)
	}
	return d.nh
}

// appendRouteHead appends the fields bgpdump -m starts a table dump line
// with: "KIND|time|B|peer address|peer AS|prefix|".
func appendRouteHead(b []byte, kind string, ts []byte, peer netip.Addr, peerAS uint32, p netip.Prefix) []byte {
	b = append(b, kind...)
	b = append(b, '|')
	b = append(b, ts...)
	b = append(b, "|B|"...)
	b = appendAddr(b, peer)
	b = append(b, '|')
	b = strconv.AppendUint(b, uint64(peerAS), 10)
	b = append(b, '|')
	b = appendAddr(b, p.Addr())
	b = append(b, '/')
	b = strconv.AppendInt(b, int64(p.Bits()), 10)
	return append(b, '|')
}

func (d *BGPDump) appendTableDump(b, ts []byte) []byte {
	t := &d.td
	d.a.parse(t.Attrs, asnLen2, false)
	b = appendRouteHead(b, "TABLE_DUMP", ts, t.PeerAddr, t.PeerAS, t.Prefix)
	b = d.appendTail(b, d.ribNextHop(), false)
	return append(b, '\n')
}

func (d *BGPDump) appendRIB(b, ts []byte, rec *Record) ([]byte, error) {
	if !d.hasPeers {
		return b, rec.wrap(errors.New("RIB record before any PEER_INDEX_TABLE"))
	}
	rib := &d.rib
	ap := rib.AddPath()
	for i := range rib.Entries {
		e := &rib.Entries[i]
		if int(e.PeerIndex) >= len(d.peers.Peers) {
			return b, rec.wrap(fmt.Errorf("entry %d: peer index %d, but the PEER_INDEX_TABLE has %d peers", i, e.PeerIndex, len(d.peers.Peers)))
		}
		p := &d.peers.Peers[e.PeerIndex]
		d.a.parse(e.Attrs, asnLen4, ap)
		kind := "TABLE_DUMP2"
		if ap {
			kind = "TABLE_DUMP2_AP"
		}
		b = appendRouteHead(b, kind, ts, p.Addr, p.AS, rib.Prefix)
		if ap {
			b = strconv.AppendUint(b, uint64(e.PathID), 10)
			b = append(b, '|')
		}
		b = d.appendTail(b, d.ribNextHop(), false)
		b = append(b, '\n')
	}
	return b, nil
}

var bgpMarker = bytes.Repeat([]byte{0xff}, 16)

// bgp4mpFormats is the line tag by [ET][local][ADD-PATH].
var bgp4mpFormats = [2][2][2]string{
	{{"BGP4MP", "BGP4MP_AP"}, {"BGP4MP_LOCAL", "BGP4MP_LOCAL_AP"}},
	{{"BGP4MP_ET", "BGP4MP_ET_AP"}, {"BGP4MP_ET_LOCAL", "BGP4MP_ET_LOCAL_AP"}},
}

func boolIndex(v bool) int {
	if v {
		return 1
	}
	return 0
}

func (d *BGPDump) appendBGP4MP(b, ts []byte, rec *Record) ([]byte, error) {
	m := &d.mp
	if err := rec.BGP4MP(m); err != nil {
		return b, err
	}
	format := "BGP4MP"
	if rec.Type == TypeBGP4MPET {
		format = "BGP4MP_ET"
	}
	v6 := m.PeerAddr.Is6()
	// head appends "format|time|kind|peer|peerAS|".
	head := func(b []byte, f, kind string) []byte {
		b = append(b, f...)
		b = append(b, '|')
		b = append(b, ts...)
		b = append(b, '|')
		b = append(b, kind...)
		b = append(b, '|')
		b = appendAddr(b, m.PeerAddr)
		b = append(b, '|')
		b = strconv.AppendUint(b, uint64(m.PeerAS), 10)
		return append(b, '|')
	}
	if m.IsStateChange() {
		// libbgpdump checks the exact lengths (RFC 6396 §4.4.1/§4.4.5).
		n := len(rec.Body)
		if (!v6 && n != 20 && n != 24) || (v6 && n != 44 && n != 48) {
			return b, rec.wrap(fmt.Errorf("STATE_CHANGE body of %d bytes has the wrong length for its address family", n))
		}
		b = head(b, format, "STATE")
		b = strconv.AppendUint(b, uint64(m.OldState), 10)
		b = append(b, '|')
		b = strconv.AppendUint(b, uint64(m.NewState), 10)
		return append(b, '\n'), nil
	}
	msg := m.Message
	if !bytes.Equal(msg[:16], bgpMarker) {
		return b, rec.wrap(errors.New("BGP message marker is not all ones"))
	}
	size := int(binary.BigEndian.Uint16(msg[16:18]))
	body := msg[18:]
	body = body[:max(0, min(len(body), size-18))]
	if len(body) == 0 || body[0] != 2 {
		return b, nil // only UPDATEs produce lines
	}
	body = body[1:]
	ap := m.AddPath()
	format = bgp4mpFormats[rec.Type-TypeBGP4MP][boolIndex(m.Local())][boolIndex(ap)]
	as4 := asnLen2
	if m.AS4() {
		as4 = asnLen4
	}
	wdraw := take(&body, getU16(&body))
	attrs := take(&body, getU16(&body))
	d.wd = readPrefixes(d.wd[:0], wdraw, ap)
	d.a.parse(attrs, as4, ap)
	d.an = readPrefixes(d.an[:0], body, ap)
	withdrawn, announced := d.wd, d.an
	a := &d.a

	if len(withdrawn) > 0 || a.has(15) {
		d.head = head(d.head[:0], format, "W")
		// IPv4 withdrawn routes, then MP_UNREACH_NLRI by AFI and SAFI.
		for i := range 7 {
			l, fam6 := withdrawn, false
			if i > 0 {
				afi, safi := 1+(i-1)/3, 1+(i-1)%3
				l, fam6 = a.withdraw[afi][safi].nlri, afi == 2
			}
			for _, p := range l {
				b = append(b, d.head...)
				b = appendPrefix(b, p.addr, p.bits, fam6)
				if ap {
					b = append(b, '|')
					b = strconv.AppendUint(b, uint64(p.pathID), 10)
				}
				b = append(b, '\n')
			}
		}
	}
	if len(announced) > 0 || a.has(14) {
		d.head = head(d.head[:0], format, "A")
		d.nh = appendAddr4(d.nh[:0], a.nextHop)
		d.tail = d.appendTail(d.tail[:0], d.nh, false)
		b = d.appendAnnounce(b, announced, false, d.tail, ap)
		for afi := 1; afi <= 2; afi++ {
			for safi := 1; safi <= 3; safi++ {
				mp := &a.announce[afi][safi]
				if len(mp.nlri) == 0 {
					continue
				}
				if afi == 1 {
					d.nh = appendAddr4(d.nh[:0], [4]byte(mp.nextHop[:4]))
				} else {
					d.nh = appendIPv6(d.nh[:0], mp.nextHop)
				}
				d.tail = d.appendTail(d.tail[:0], d.nh, afi == 1)
				b = d.appendAnnounce(b, mp.nlri, afi == 2, d.tail, ap)
			}
		}
	}
	return b, nil
}

func (d *BGPDump) appendAnnounce(b []byte, l []bdPrefix, v6 bool, tail []byte, ap bool) []byte {
	for _, p := range l {
		b = append(b, d.head...)
		b = appendPrefix(b, p.addr, p.bits, v6)
		b = append(b, '|')
		if ap {
			b = strconv.AppendUint(b, uint64(p.pathID), 10)
			b = append(b, '|')
		}
		b = append(b, tail...)
		b = append(b, '\n')
	}
	return b
}

// WriteBGPDump reads MRT records from r and writes their `bgpdump -m` lines
// to w. Records that cannot be decoded are reported to skipped (which may be
// nil) and left out, as bgpdump does; a read error (truncated input) ends the
// dump and is returned after the lines of all complete records are written.
func WriteBGPDump(w io.Writer, r io.Reader, skipped func(error)) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	mr := NewReader(r)
	var (
		d   BGPDump
		buf []byte
	)
	for {
		rec, err := mr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			if ferr := bw.Flush(); ferr != nil {
				return ferr
			}
			return err
		}
		var derr error
		buf, derr = d.AppendRecord(buf[:0], rec)
		if derr != nil && skipped != nil {
			skipped(derr)
		}
		if _, err := bw.Write(buf); err != nil {
			return err
		}
	}
	return bw.Flush()
}
