// Package mrt reads and writes MRT routing information export files
// (RFC 6396, with the ADD-PATH extensions of RFC 8050): TABLE_DUMP,
// TABLE_DUMP_V2 RIB snapshots and BGP4MP / BGP4MP_ET message and state-change
// streams, as written by BIRD, FRR/Quagga, OpenBGPD, GoBGP and the RIPE RIS
// and RouteViews collectors.
//
// The Reader streams records from a plain, gzip or bzip2 input (the
// compression is sniffed from the first bytes) and reuses its buffers: a
// Record and every slice decoded from it are valid only until the next call
// to Next. Record bodies are decoded on demand into caller-owned values
// (Record.TableDump, Record.PeerIndexTable, Record.RIB, Record.BGP4MP) without
// copying. BGP messages and path attributes inside records are decoded with
// package wire. The Writer produces TABLE_DUMP_V2 and BGP4MP(_ET) records.
//
// RouteDecoder turns records into wire.Update values: BGP4MP messages with
// the options their subtype implies, TABLE_DUMP(_V2) routes as an UPDATE
// announcing the route's prefix (with the abbreviated MP_REACH_NLRI of
// RFC 6396 §4.3.4 handled here); Sessions supplies the options of
// pre-RFC 8050 ADD-PATH sessions from their OPENs. BGPDump and WriteBGPDump
// render records the way `bgpdump -m` does, one line per prefix; they back
// `kbgp mrt dump`.
package mrt

import (
	"fmt"
	"net/netip"
	"time"
)

// Type is the MRT record type (RFC 6396 §4, IANA "MRT Types").
type Type uint16

// MRT record types kbgp knows. Types 0-11 are deprecated (RFC 6396 Appendix
// B) and are returned as raw records.
const (
	TypeTableDump   Type = 12
	TypeTableDumpV2 Type = 13
	TypeBGP4MP      Type = 16
	TypeBGP4MPET    Type = 17
)

func (t Type) String() string {
	switch t {
	case TypeTableDump:
		return "TABLE_DUMP"
	case TypeTableDumpV2:
		return "TABLE_DUMP_V2"
	case TypeBGP4MP:
		return "BGP4MP"
	case TypeBGP4MPET:
		return "BGP4MP_ET"
	}
	return fmt.Sprintf("type %d", uint16(t))
}

// TABLE_DUMP subtypes are the AFI of the entry (RFC 6396 §4.2).
const (
	SubtypeTableDumpIPv4 uint16 = 1
	SubtypeTableDumpIPv6 uint16 = 2
)

// TABLE_DUMP_V2 subtypes (RFC 6396 §4.3, RFC 8050 §4).
const (
	SubtypePeerIndexTable          uint16 = 1
	SubtypeRIBIPv4Unicast          uint16 = 2
	SubtypeRIBIPv4Multicast        uint16 = 3
	SubtypeRIBIPv6Unicast          uint16 = 4
	SubtypeRIBIPv6Multicast        uint16 = 5
	SubtypeRIBGeneric              uint16 = 6
	SubtypeRIBIPv4UnicastAddPath   uint16 = 8
	SubtypeRIBIPv4MulticastAddPath uint16 = 9
	SubtypeRIBIPv6UnicastAddPath   uint16 = 10
	SubtypeRIBIPv6MulticastAddPath uint16 = 11
	SubtypeRIBGenericAddPath       uint16 = 12
)

// BGP4MP and BGP4MP_ET subtypes (RFC 6396 §4.4, RFC 8050 §3). ENTRY and
// SNAPSHOT are deprecated and returned raw.
const (
	SubtypeStateChange            uint16 = 0
	SubtypeMessage                uint16 = 1
	SubtypeEntry                  uint16 = 2
	SubtypeSnapshot               uint16 = 3
	SubtypeMessageAS4             uint16 = 4
	SubtypeStateChangeAS4         uint16 = 5
	SubtypeMessageLocal           uint16 = 6
	SubtypeMessageAS4Local        uint16 = 7
	SubtypeMessageAddPath         uint16 = 8
	SubtypeMessageAS4AddPath      uint16 = 9
	SubtypeMessageLocalAddPath    uint16 = 10
	SubtypeMessageAS4LocalAddPath uint16 = 11
)

// HeaderLen is the length of the MRT common header; BGP4MP_ET records carry
// 4 more octets of microseconds (RFC 6396 §3).
const (
	HeaderLen   = 12
	ETHeaderLen = 16
)

// MaxRecordLen bounds the body length the Reader accepts. RFC 6396 allows
// 32-bit lengths; real records stay far below this (the largest
// TABLE_DUMP_V2 entries of full tables are a few hundred KiB).
const MaxRecordLen = 64 << 20

// Record is one MRT record. Body aliases the Reader's buffer and is valid
// until the next call to Next.
type Record struct {
	// Offset is the byte offset of the record's header in the
	// (decompressed) input.
	Offset int64
	// Timestamp is the header's seconds since the Unix epoch.
	Timestamp uint32
	// Microseconds is the BGP4MP_ET microsecond timestamp (0 otherwise).
	Microseconds uint32
	Type         Type
	Subtype      uint16
	// Body is the record's message field (after the microseconds field for
	// BGP4MP_ET).
	Body []byte
}

// Time returns the record's timestamp, with microseconds for BGP4MP_ET.
func (r *Record) Time() time.Time {
	return time.Unix(int64(r.Timestamp), int64(r.Microseconds)*1000).UTC()
}

// Peer is one entry of a PEER_INDEX_TABLE (RFC 6396 §4.3.1).
type Peer struct {
	BGPID netip.Addr
	Addr  netip.Addr
	AS    uint32
	// AS4 records whether the AS was encoded in 4 octets (peer type bit 1).
	AS4 bool
}

// PeerIndexTable is the TABLE_DUMP_V2 PEER_INDEX_TABLE record that precedes
// the RIB records of a dump (RFC 6396 §4.3.1).
type PeerIndexTable struct {
	CollectorBGPID netip.Addr
	ViewName       string
	Peers          []Peer
}

// RIB is a TABLE_DUMP_V2 RIB_IPV4/IPV6_UNICAST/MULTICAST record, with or
// without ADD-PATH (RFC 6396 §4.3.2, RFC 8050 §4.1).
type RIB struct {
	Subtype  uint16
	Sequence uint32
	// Prefix is the prefix as stored; MRT writers clear the host bits, and
	// the Reader does not change them.
	Prefix  netip.Prefix
	Entries []RIBEntry
}

// AddPath reports whether the RIB's entries carry path identifiers.
func (r *RIB) AddPath() bool { return isRIBAddPath(r.Subtype) }

// RIBEntry is one route of a RIB record.
type RIBEntry struct {
	PeerIndex      uint16
	OriginatedTime uint32
	// PathID is set for the RFC 8050 ADD-PATH subtypes.
	PathID uint32
	// Attrs is the raw path attribute block (AS numbers always 4 octets,
	// MP_REACH_NLRI in the abbreviated form of RFC 6396 §4.3.4). Decode it
	// with DecodeRIBAttrs. It aliases the record body.
	Attrs []byte
}

// TableDump is a legacy TABLE_DUMP record: one route of one peer
// (RFC 6396 §4.2). Its attributes use 2-octet AS numbers.
type TableDump struct {
	View           uint16
	Sequence       uint16
	Prefix         netip.Prefix
	Status         uint8
	OriginatedTime uint32
	PeerAddr       netip.Addr
	PeerAS         uint32
	Attrs          []byte // aliases the record body
}

// BGP4MP is a BGP4MP or BGP4MP_ET MESSAGE* or STATE_CHANGE* record
// (RFC 6396 §4.4).
type BGP4MP struct {
	Subtype   uint16
	PeerAS    uint32
	LocalAS   uint32
	IfIndex   uint16
	PeerAddr  netip.Addr
	LocalAddr netip.Addr
	// Message is the complete BGP message, marker and header included, for
	// the MESSAGE subtypes. It aliases the record body.
	Message []byte
	// OldState and NewState are the FSM states (1 Idle .. 6 Established)
	// of the STATE_CHANGE subtypes.
	OldState, NewState uint16
}

// IsStateChange reports whether the record is a STATE_CHANGE(_AS4).
func (m *BGP4MP) IsStateChange() bool {
	return m.Subtype == SubtypeStateChange || m.Subtype == SubtypeStateChangeAS4
}

// AS4 reports whether the subtype carries 4-octet AS numbers, both in the
// record and in the BGP message's AS_PATH and AGGREGATOR (RFC 6396 §4.4.3).
func (m *BGP4MP) AS4() bool { return isAS4Subtype(m.Subtype) }

// AddPath reports whether the subtype is one of RFC 8050's ADD-PATH subtypes,
// whose NLRI carry path identifiers.
func (m *BGP4MP) AddPath() bool {
	return m.Subtype >= SubtypeMessageAddPath && m.Subtype <= SubtypeMessageAS4LocalAddPath
}

// Local reports whether the message was sent by the local speaker
// (MESSAGE_LOCAL subtypes, RFC 6396 §4.4.6).
func (m *BGP4MP) Local() bool {
	switch m.Subtype {
	case SubtypeMessageLocal, SubtypeMessageAS4Local, SubtypeMessageLocalAddPath, SubtypeMessageAS4LocalAddPath:
		return true
	}
	return false
}

func isAS4Subtype(st uint16) bool {
	switch st {
	case SubtypeMessageAS4, SubtypeStateChangeAS4, SubtypeMessageAS4Local, SubtypeMessageAS4AddPath, SubtypeMessageAS4LocalAddPath:
		return true
	}
	return false
}

func isRIBAddPath(st uint16) bool {
	return st >= SubtypeRIBIPv4UnicastAddPath && st <= SubtypeRIBGenericAddPath
}
