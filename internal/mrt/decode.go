package mrt

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
)

// ErrWrongType is returned by the Record decoders when the record is not of
// the type the decoder reads.
var ErrWrongType = errors.New("mrt: wrong record type for this decoder")

// cursor reads big-endian fields from a record body and remembers the first
// short read, naming the field.
type cursor struct {
	b   []byte
	pos int
	err error
}

func (c *cursor) fail(field string, n int) {
	if c.err == nil {
		c.err = fmt.Errorf("%w: %s needs %d bytes at body offset %d, %d left", ErrTruncated, field, n, c.pos, len(c.b)-c.pos)
	}
}

func (c *cursor) bytes(field string, n int) []byte {
	if c.err != nil {
		return nil
	}
	if n < 0 || len(c.b)-c.pos < n {
		c.fail(field, n)
		return nil
	}
	v := c.b[c.pos : c.pos+n : c.pos+n]
	c.pos += n
	return v
}

func (c *cursor) u8(field string) uint8 {
	if b := c.bytes(field, 1); b != nil {
		return b[0]
	}
	return 0
}

func (c *cursor) u16(field string) uint16 {
	if b := c.bytes(field, 2); b != nil {
		return binary.BigEndian.Uint16(b)
	}
	return 0
}

func (c *cursor) u32(field string) uint32 {
	if b := c.bytes(field, 4); b != nil {
		return binary.BigEndian.Uint32(b)
	}
	return 0
}

func (c *cursor) as(field string, as4 bool) uint32 {
	if as4 {
		return c.u32(field)
	}
	return uint32(c.u16(field))
}

func (c *cursor) addr(field string, v6 bool) netip.Addr {
	if v6 {
		if b := c.bytes(field, 16); b != nil {
			return netip.AddrFrom16([16]byte(b))
		}
		return netip.Addr{}
	}
	if b := c.bytes(field, 4); b != nil {
		return netip.AddrFrom4([4]byte(b))
	}
	return netip.Addr{}
}

// prefix reads an NLRI-style prefix (length in bits, then the minimum number
// of octets) of an address family.
func (c *cursor) prefix(field string, v6 bool) netip.Prefix {
	bits := int(c.u8(field + " length"))
	maxBits := 32
	if v6 {
		maxBits = 128
	}
	if c.err != nil {
		return netip.Prefix{}
	}
	if bits > maxBits {
		c.err = fmt.Errorf("%s length %d exceeds %d bits", field, bits, maxBits)
		return netip.Prefix{}
	}
	b := c.bytes(field, (bits+7)/8)
	if c.err != nil {
		return netip.Prefix{}
	}
	var a [16]byte
	copy(a[:], b)
	if v6 {
		return netip.PrefixFrom(netip.AddrFrom16(a), bits)
	}
	return netip.PrefixFrom(netip.AddrFrom4([4]byte(a[:4])), bits)
}

func (r *Record) wrap(err error) error {
	if err == nil {
		return nil
	}
	return &RecordError{Offset: r.Offset, Type: r.Type, Subtype: r.Subtype, Err: err}
}

// TableDump decodes a TABLE_DUMP record (RFC 6396 §4.2) into t.
func (r *Record) TableDump(t *TableDump) error {
	if r.Type != TypeTableDump {
		return ErrWrongType
	}
	var v6 bool
	switch r.Subtype {
	case SubtypeTableDumpIPv4:
	case SubtypeTableDumpIPv6:
		v6 = true
	default:
		return r.wrap(fmt.Errorf("unknown TABLE_DUMP subtype (AFI) %d", r.Subtype))
	}
	c := cursor{b: r.Body}
	t.View = c.u16("view number")
	t.Sequence = c.u16("sequence number")
	addr := c.addr("prefix", v6)
	bits := int(c.u8("prefix length"))
	t.Status = c.u8("status")
	t.OriginatedTime = c.u32("originated time")
	t.PeerAddr = c.addr("peer IP address", v6)
	t.PeerAS = uint32(c.u16("peer AS"))
	n := int(c.u16("attribute length"))
	t.Attrs = c.bytes("attributes", n)
	if c.err != nil {
		return r.wrap(c.err)
	}
	if bits > addr.BitLen() {
		return r.wrap(fmt.Errorf("prefix length %d exceeds %d bits", bits, addr.BitLen()))
	}
	t.Prefix = netip.PrefixFrom(addr, bits)
	return nil
}

// PeerIndexTable decodes a TABLE_DUMP_V2 PEER_INDEX_TABLE (RFC 6396 §4.3.1)
// into t, reusing t.Peers.
func (r *Record) PeerIndexTable(t *PeerIndexTable) error {
	if r.Type != TypeTableDumpV2 || r.Subtype != SubtypePeerIndexTable {
		return ErrWrongType
	}
	c := cursor{b: r.Body}
	t.CollectorBGPID = c.addr("collector BGP ID", false)
	t.ViewName = string(c.bytes("view name", int(c.u16("view name length"))))
	count := int(c.u16("peer count"))
	t.Peers = t.Peers[:0]
	for i := 0; i < count && c.err == nil; i++ {
		// RFC 6396 §4.3.1: "Bit 0 ... IPv6 address ... Bit 1 ... AS
		// number is 32 bits" (bits counted from the least significant).
		pt := c.u8("peer type")
		p := Peer{AS4: pt&2 != 0}
		p.BGPID = c.addr("peer BGP ID", false)
		p.Addr = c.addr("peer IP address", pt&1 != 0)
		p.AS = c.as("peer AS", p.AS4)
		t.Peers = append(t.Peers, p)
	}
	return r.wrap(c.err)
}

// RIB decodes a TABLE_DUMP_V2 RIB_IPV4/IPV6_UNICAST/MULTICAST record, with
// or without ADD-PATH (RFC 6396 §4.3.2, RFC 8050 §4.1), into rib, reusing
// rib.Entries. RIB_GENERIC records are not decoded (their NLRI are of
// families kbgp does not route) and yield an error naming the subtype.
func (r *Record) RIB(rib *RIB) error {
	if r.Type != TypeTableDumpV2 {
		return ErrWrongType
	}
	var v6 bool
	switch r.Subtype {
	case SubtypeRIBIPv4Unicast, SubtypeRIBIPv4Multicast, SubtypeRIBIPv4UnicastAddPath, SubtypeRIBIPv4MulticastAddPath:
	case SubtypeRIBIPv6Unicast, SubtypeRIBIPv6Multicast, SubtypeRIBIPv6UnicastAddPath, SubtypeRIBIPv6MulticastAddPath:
		v6 = true
	case SubtypeRIBGeneric, SubtypeRIBGenericAddPath:
		return r.wrap(errors.New("RIB_GENERIC records are not decoded (AFI/SAFI other than IPv4/IPv6 unicast/multicast)"))
	default:
		return ErrWrongType
	}
	addPath := isRIBAddPath(r.Subtype)
	c := cursor{b: r.Body}
	rib.Subtype = r.Subtype
	rib.Sequence = c.u32("sequence number")
	rib.Prefix = c.prefix("prefix", v6)
	count := int(c.u16("entry count"))
	rib.Entries = rib.Entries[:0]
	for i := 0; i < count; i++ {
		var e RIBEntry
		e.PeerIndex = c.u16("peer index")
		e.OriginatedTime = c.u32("originated time")
		if addPath {
			// RFC 8050 §4.1: "the Path Identifier field ... precedes the
			// Attribute Length field".
			e.PathID = c.u32("path identifier")
		}
		e.Attrs = c.bytes("attributes", int(c.u16("attribute length")))
		if c.err != nil {
			return r.wrap(fmt.Errorf("entry %d of %d: %w", i, count, c.err))
		}
		rib.Entries = append(rib.Entries, e)
	}
	return r.wrap(c.err)
}

// BGP4MP decodes a BGP4MP or BGP4MP_ET MESSAGE* or STATE_CHANGE* record
// (RFC 6396 §4.4, RFC 8050 §3) into m. The deprecated ENTRY and SNAPSHOT
// subtypes yield an error naming the subtype.
func (r *Record) BGP4MP(m *BGP4MP) error {
	if r.Type != TypeBGP4MP && r.Type != TypeBGP4MPET {
		return ErrWrongType
	}
	switch r.Subtype {
	case SubtypeEntry, SubtypeSnapshot:
		return r.wrap(fmt.Errorf("deprecated BGP4MP subtype %d (BGP4MP_ENTRY/SNAPSHOT) is not decoded", r.Subtype))
	}
	if r.Subtype > SubtypeMessageAS4LocalAddPath {
		return r.wrap(fmt.Errorf("unknown BGP4MP subtype %d", r.Subtype))
	}
	c := cursor{b: r.Body}
	*m = BGP4MP{Subtype: r.Subtype}
	as4 := isAS4Subtype(r.Subtype)
	m.PeerAS = c.as("peer AS", as4)
	m.LocalAS = c.as("local AS", as4)
	m.IfIndex = c.u16("interface index")
	afi := c.u16("address family")
	if c.err != nil {
		return r.wrap(c.err)
	}
	if afi != 1 && afi != 2 {
		return r.wrap(fmt.Errorf("address family %d is neither IPv4 (1) nor IPv6 (2)", afi))
	}
	m.PeerAddr = c.addr("peer IP address", afi == 2)
	m.LocalAddr = c.addr("local IP address", afi == 2)
	if m.IsStateChange() {
		m.OldState = c.u16("old state")
		m.NewState = c.u16("new state")
		return r.wrap(c.err)
	}
	m.Message = c.b[c.pos:]
	if c.err == nil && len(m.Message) < 19 {
		c.err = fmt.Errorf("%w: BGP message has %d bytes, the header alone needs 19", ErrTruncated, len(m.Message))
	}
	return r.wrap(c.err)
}
