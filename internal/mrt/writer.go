package mrt

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"

	"github.com/kbgp/kbgp/internal/bgp/wire"
)

// Writer writes MRT records. Each record is one Write call on the
// underlying writer; wrap files in a bufio.Writer.
type Writer struct {
	w   io.Writer
	buf []byte
}

// NewWriter returns a Writer writing to w.
func NewWriter(w io.Writer) *Writer { return &Writer{w: w} }

// AppendRecord appends a complete record: the common header (with the
// microsecond field for BGP4MP_ET) and body.
func AppendRecord(b []byte, timestamp, micros uint32, t Type, subtype uint16, body []byte) ([]byte, error) {
	n := len(body)
	if t == TypeBGP4MPET {
		n += 4
	}
	if n > MaxRecordLen {
		return b, fmt.Errorf("mrt: %v record body of %d bytes exceeds %d", t, n, MaxRecordLen)
	}
	b = binary.BigEndian.AppendUint32(b, timestamp)
	b = binary.BigEndian.AppendUint16(b, uint16(t))
	b = binary.BigEndian.AppendUint16(b, subtype)
	b = binary.BigEndian.AppendUint32(b, uint32(n))
	if t == TypeBGP4MPET {
		b = binary.BigEndian.AppendUint32(b, micros)
	}
	return append(b, body...), nil
}

// WriteRecord writes rec's header fields and Body as one record.
func (w *Writer) WriteRecord(rec *Record) error {
	var err error
	w.buf, err = AppendRecord(w.buf[:0], rec.Timestamp, rec.Microseconds, rec.Type, rec.Subtype, rec.Body)
	if err != nil {
		return err
	}
	_, err = w.w.Write(w.buf)
	return err
}

func (w *Writer) write(timestamp, micros uint32, t Type, subtype uint16, body func([]byte) ([]byte, error)) error {
	hl := HeaderLen
	if t == TypeBGP4MPET {
		hl = ETHeaderLen
	}
	b := append(w.buf[:0], make([]byte, hl)...)
	b, err := body(b)
	if err != nil {
		return err
	}
	n := len(b) - HeaderLen
	if n > MaxRecordLen {
		return fmt.Errorf("mrt: %v record body of %d bytes exceeds %d", t, n, MaxRecordLen)
	}
	binary.BigEndian.PutUint32(b[0:], timestamp)
	binary.BigEndian.PutUint16(b[4:], uint16(t))
	binary.BigEndian.PutUint16(b[6:], subtype)
	binary.BigEndian.PutUint32(b[8:], uint32(n))
	if t == TypeBGP4MPET {
		binary.BigEndian.PutUint32(b[12:], micros)
	}
	w.buf = b
	_, err = w.w.Write(b)
	return err
}

// AppendPeerIndexTable appends the body of a PEER_INDEX_TABLE record
// (RFC 6396 §4.3.1).
func AppendPeerIndexTable(b []byte, t *PeerIndexTable) ([]byte, error) {
	if !t.CollectorBGPID.Is4() {
		return b, fmt.Errorf("mrt: collector BGP ID %v is not an IPv4 address", t.CollectorBGPID)
	}
	if len(t.ViewName) > 0xffff || len(t.Peers) > 0xffff {
		return b, fmt.Errorf("mrt: view name of %d bytes or %d peers exceed 65535", len(t.ViewName), len(t.Peers))
	}
	b = append(b, t.CollectorBGPID.AsSlice()...)
	b = binary.BigEndian.AppendUint16(b, uint16(len(t.ViewName)))
	b = append(b, t.ViewName...)
	b = binary.BigEndian.AppendUint16(b, uint16(len(t.Peers)))
	for i, p := range t.Peers {
		if !p.BGPID.Is4() || !p.Addr.IsValid() {
			return b, fmt.Errorf("mrt: peer %d: BGP ID %v must be IPv4 and the address %v valid", i, p.BGPID, p.Addr)
		}
		as4 := p.AS4 || p.AS > 0xffff
		var pt byte
		if p.Addr.Is6() {
			pt |= 1
		}
		if as4 {
			pt |= 2
		}
		b = append(b, pt)
		b = append(b, p.BGPID.AsSlice()...)
		b = append(b, p.Addr.AsSlice()...)
		if as4 {
			b = binary.BigEndian.AppendUint32(b, p.AS)
		} else {
			b = binary.BigEndian.AppendUint16(b, uint16(p.AS))
		}
	}
	return b, nil
}

// WritePeerIndexTable writes a TABLE_DUMP_V2 PEER_INDEX_TABLE record.
func (w *Writer) WritePeerIndexTable(timestamp uint32, t *PeerIndexTable) error {
	return w.write(timestamp, 0, TypeTableDumpV2, SubtypePeerIndexTable, func(b []byte) ([]byte, error) {
		return AppendPeerIndexTable(b, t)
	})
}

// ribSubtype returns the RIB subtype for rib: rib.Subtype if set, else
// unicast of the prefix's family, with ADD-PATH if any entry has a path ID.
func ribSubtype(rib *RIB) (uint16, error) {
	if rib.Subtype != 0 {
		switch rib.Subtype {
		case SubtypeRIBIPv4Unicast, SubtypeRIBIPv4Multicast, SubtypeRIBIPv4UnicastAddPath, SubtypeRIBIPv4MulticastAddPath:
			if !rib.Prefix.Addr().Is4() {
				return 0, fmt.Errorf("mrt: RIB subtype %d is IPv4 but the prefix is %v", rib.Subtype, rib.Prefix)
			}
		case SubtypeRIBIPv6Unicast, SubtypeRIBIPv6Multicast, SubtypeRIBIPv6UnicastAddPath, SubtypeRIBIPv6MulticastAddPath:
			if !rib.Prefix.Addr().Is6() {
				return 0, fmt.Errorf("mrt: RIB subtype %d is IPv6 but the prefix is %v", rib.Subtype, rib.Prefix)
			}
		default:
			return 0, fmt.Errorf("mrt: cannot write RIB subtype %d", rib.Subtype)
		}
		return rib.Subtype, nil
	}
	ap := false
	for i := range rib.Entries {
		ap = ap || rib.Entries[i].PathID != 0
	}
	switch {
	case rib.Prefix.Addr().Is4() && ap:
		return SubtypeRIBIPv4UnicastAddPath, nil
	case rib.Prefix.Addr().Is4():
		return SubtypeRIBIPv4Unicast, nil
	case rib.Prefix.Addr().Is6() && ap:
		return SubtypeRIBIPv6UnicastAddPath, nil
	case rib.Prefix.Addr().Is6():
		return SubtypeRIBIPv6Unicast, nil
	}
	return 0, fmt.Errorf("mrt: RIB prefix %v is not valid", rib.Prefix)
}

// AppendRIB appends the body of a RIB_IPV4/IPV6_UNICAST(_ADDPATH) record
// (RFC 6396 §4.3.2, RFC 8050 §4.1) with subtype as returned by the Writer's
// choice (rib.Subtype or derived from the prefix and path IDs).
func AppendRIB(b []byte, rib *RIB, subtype uint16) ([]byte, error) {
	if !rib.Prefix.IsValid() {
		return b, errors.New("mrt: RIB prefix is not valid")
	}
	if len(rib.Entries) > 0xffff {
		return b, fmt.Errorf("mrt: %d RIB entries exceed 65535", len(rib.Entries))
	}
	ap := isRIBAddPath(subtype)
	b = binary.BigEndian.AppendUint32(b, rib.Sequence)
	p := rib.Prefix.Masked()
	b = append(b, byte(p.Bits()))
	b = append(b, p.Addr().AsSlice()[:(p.Bits()+7)/8]...)
	b = binary.BigEndian.AppendUint16(b, uint16(len(rib.Entries)))
	for i := range rib.Entries {
		e := &rib.Entries[i]
		if len(e.Attrs) > 0xffff {
			return b, fmt.Errorf("mrt: RIB entry %d has %d bytes of attributes, over 65535", i, len(e.Attrs))
		}
		b = binary.BigEndian.AppendUint16(b, e.PeerIndex)
		b = binary.BigEndian.AppendUint32(b, e.OriginatedTime)
		if ap {
			b = binary.BigEndian.AppendUint32(b, e.PathID)
		} else if e.PathID != 0 {
			return b, fmt.Errorf("mrt: RIB entry %d has path ID %d but subtype %d has no ADD-PATH", i, e.PathID, subtype)
		}
		b = binary.BigEndian.AppendUint16(b, uint16(len(e.Attrs)))
		b = append(b, e.Attrs...)
	}
	return b, nil
}

// WriteRIB writes a TABLE_DUMP_V2 RIB record. The subtype is rib.Subtype,
// or when zero RIB_IPV4/IPV6_UNICAST by the prefix's family, _ADDPATH if an
// entry has a non-zero path ID.
func (w *Writer) WriteRIB(timestamp uint32, rib *RIB) error {
	st, err := ribSubtype(rib)
	if err != nil {
		return err
	}
	return w.write(timestamp, 0, TypeTableDumpV2, st, func(b []byte) ([]byte, error) {
		return AppendRIB(b, rib, st)
	})
}

// AppendRIBAttrs appends a TABLE_DUMP_V2 route's attribute block: a's
// attributes with 4-octet AS numbers and, for an IPv6 next hop, the
// abbreviated MP_REACH_NLRI of RFC 6396 §4.3.4 ("only the Next Hop Address
// Length and Next Hop Address fields"). For an IPv4 next hop set
// a.NextHop and leave nextHop invalid.
func AppendRIBAttrs(b []byte, a *wire.Attrs, nextHop, linkLocal netip.Addr) ([]byte, error) {
	b, err := wire.AppendAttrs(b, a, &wire.Options{AS4: true})
	if err != nil {
		return b, err
	}
	if !nextHop.IsValid() {
		return b, nil
	}
	n := nextHop.BitLen() / 8
	if linkLocal.IsValid() {
		n += 16
	}
	b = append(b, wire.FlagOptional, byte(wire.AttrMPReach), byte(n+1), byte(n))
	b = append(b, nextHop.AsSlice()...)
	if linkLocal.IsValid() {
		b = append(b, linkLocal.AsSlice()...)
	}
	return b, nil
}

// AppendBGP4MP appends the body of a BGP4MP MESSAGE* record (RFC 6396
// §4.4.2-§4.4.6) for m.Subtype: AS numbers in 2 or 4 octets, the address
// family of the peer address, then m.Message.
func AppendBGP4MP(b []byte, m *BGP4MP) ([]byte, error) {
	if m.Subtype > SubtypeMessageAS4LocalAddPath || m.Subtype == SubtypeEntry || m.Subtype == SubtypeSnapshot {
		return b, fmt.Errorf("mrt: cannot write BGP4MP subtype %d", m.Subtype)
	}
	if !m.PeerAddr.IsValid() || !m.LocalAddr.IsValid() || m.PeerAddr.Is4() != m.LocalAddr.Is4() {
		return b, fmt.Errorf("mrt: peer %v and local %v addresses must be valid and of one family", m.PeerAddr, m.LocalAddr)
	}
	as4 := isAS4Subtype(m.Subtype)
	if !as4 && (m.PeerAS > 0xffff || m.LocalAS > 0xffff) {
		return b, fmt.Errorf("mrt: AS %d/%d needs an _AS4 subtype", m.PeerAS, m.LocalAS)
	}
	for _, as := range [2]uint32{m.PeerAS, m.LocalAS} {
		if as4 {
			b = binary.BigEndian.AppendUint32(b, as)
		} else {
			b = binary.BigEndian.AppendUint16(b, uint16(as))
		}
	}
	b = binary.BigEndian.AppendUint16(b, m.IfIndex)
	if m.PeerAddr.Is4() {
		b = binary.BigEndian.AppendUint16(b, 1)
	} else {
		b = binary.BigEndian.AppendUint16(b, 2)
	}
	b = append(b, m.PeerAddr.AsSlice()...)
	b = append(b, m.LocalAddr.AsSlice()...)
	if m.IsStateChange() {
		b = binary.BigEndian.AppendUint16(b, m.OldState)
		return binary.BigEndian.AppendUint16(b, m.NewState), nil
	}
	return append(b, m.Message...), nil
}

// WriteBGP4MP writes a BGP4MP record, or BGP4MP_ET with micros when et is
// true. Use SubtypeMessageAS4 (or an _AS4 STATE_CHANGE) for new dumps.
func (w *Writer) WriteBGP4MP(timestamp, micros uint32, et bool, m *BGP4MP) error {
	t := TypeBGP4MP
	if et {
		t = TypeBGP4MPET
	}
	return w.write(timestamp, micros, t, m.Subtype, func(b []byte) ([]byte, error) {
		return AppendBGP4MP(b, m)
	})
}
