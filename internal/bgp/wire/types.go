// Package wire is kbgp's BGP-4 message codec: OPEN, UPDATE, NOTIFICATION,
// KEEPALIVE and ROUTE-REFRESH messages, capabilities, path attributes and NLRI.
//
// It is pure: no I/O, no goroutines, no logging, standard library only.
// Encoders append to a caller's buffer (AppendX(b []byte, ...) ([]byte, error))
// and never mutate their input. Decoders fill a caller-owned value in place
// ((*X).Decode(b []byte, o *Options) error) so a reused value decodes without
// allocating; slices of raw bytes they return (unknown attributes and
// capabilities, NOTIFICATION data) alias the input buffer and are valid only
// as long as the caller keeps that buffer unchanged.
//
// Errors are *Error values carrying the NOTIFICATION code, subcode and data
// and the RFC 7606 action the receiver must take.
package wire

import "net/netip"

// MsgType is the BGP message type (RFC 4271 §4.1).
type MsgType uint8

// Message types.
const (
	MsgOpen         MsgType = 1
	MsgUpdate       MsgType = 2
	MsgNotification MsgType = 3
	MsgKeepalive    MsgType = 4
	MsgRouteRefresh MsgType = 5 // RFC 2918
)

// Header and message size limits.
const (
	HeaderLen         = 19
	MaxMessageLen     = 4096  // RFC 4271 §4.1
	MaxExtMessageLen  = 65535 // RFC 8654
	MinMessageLen     = HeaderLen
	ASTrans           = 23456 // RFC 6793 §2
	Version           = 4
	DefaultHoldTime   = 90
	KeepaliveLen      = HeaderLen
	MaxPathIDLen      = 4 // RFC 7911 §3
	MaxIPv4PrefixBits = 32
	MaxIPv6PrefixBits = 128
)

// AFI is an address family identifier (IANA).
type AFI uint16

// SAFI is a subsequent address family identifier (IANA).
type SAFI uint8

// Address families kbgp routes.
const (
	AFIIPv4     AFI  = 1
	AFIIPv6     AFI  = 2
	SAFIUnicast SAFI = 1
)

// Family is an AFI/SAFI pair. It is comparable and usable as a map key.
type Family struct {
	AFI  AFI
	SAFI SAFI
}

// The unicast families.
var (
	IPv4Unicast = Family{AFIIPv4, SAFIUnicast}
	IPv6Unicast = Family{AFIIPv6, SAFIUnicast}
)

// NLRI is one reachability entry: a prefix and, when ADD-PATH is negotiated
// for its family and direction, a path identifier (RFC 7911). The prefix is
// always masked (host bits cleared).
type NLRI struct {
	Prefix netip.Prefix
	PathID uint32
}

// Options carry per-session negotiated state that changes how messages are
// encoded and decoded. The zero value is a plain RFC 4271 session (2-octet
// AS numbers in AS_PATH, no ADD-PATH, 4096-byte messages).
type Options struct {
	// AS4 is true when both sides advertised the 4-octet AS capability
	// (RFC 6793): AS_PATH and AGGREGATOR carry 4-octet AS numbers.
	AS4 bool
	// AddPath lists the families for which NLRI carry a path identifier in
	// this direction (receive for decode, send for encode).
	AddPath []Family
	// ExtendedMessage allows messages up to 65535 bytes (RFC 8654).
	ExtendedMessage bool
	// EBGP is true on an external session (peer AS differs from ours, and
	// not a confederation member). UPDATE decode then discards LOCAL_PREF,
	// ORIGINATOR_ID and CLUSTER_LIST (RFC 7606 §7.5, §7.9, §7.10).
	EBGP bool
}

// Capability codes (IANA "Capability Codes").
type CapCode uint8

// Capability codes kbgp understands.
const (
	CapMultiprotocol        CapCode = 1
	CapRouteRefresh         CapCode = 2
	CapExtendedNextHop      CapCode = 5
	CapExtendedMessage      CapCode = 6
	CapGracefulRestart      CapCode = 64
	CapFourOctetAS          CapCode = 65
	CapAddPath              CapCode = 69
	CapEnhancedRouteRefresh CapCode = 70
	CapLongLivedGR          CapCode = 71
	CapFQDN                 CapCode = 73
)

// AttrType is a path attribute type code.
type AttrType uint8

// Path attribute type codes.
const (
	AttrOrigin           AttrType = 1
	AttrASPath           AttrType = 2
	AttrNextHop          AttrType = 3
	AttrMED              AttrType = 4
	AttrLocalPref        AttrType = 5
	AttrAtomicAggregate  AttrType = 6
	AttrAggregator       AttrType = 7
	AttrCommunities      AttrType = 8
	AttrOriginatorID     AttrType = 9
	AttrClusterList      AttrType = 10
	AttrMPReach          AttrType = 14
	AttrMPUnreach        AttrType = 15
	AttrExtCommunities   AttrType = 16
	AttrAS4Path          AttrType = 17
	AttrAS4Aggregator    AttrType = 18
	AttrLargeCommunities AttrType = 32
)

// Attribute flag bits (RFC 4271 §4.3).
const (
	FlagOptional   uint8 = 0x80
	FlagTransitive uint8 = 0x40
	FlagPartial    uint8 = 0x20
	FlagExtLen     uint8 = 0x10
)

// Origin is the ORIGIN attribute value.
type Origin uint8

// ORIGIN values.
const (
	OriginIGP        Origin = 0
	OriginEGP        Origin = 1
	OriginIncomplete Origin = 2
)

// AS_PATH segment types (RFC 4271, RFC 5065).
const (
	ASSet            uint8 = 1
	ASSequence       uint8 = 2
	ASConfedSequence uint8 = 3
	ASConfedSet      uint8 = 4
)

// ASPathSegment is one AS_PATH segment. AS numbers are always held as
// 4-octet values in memory, whatever the session encodes.
type ASPathSegment struct {
	Type uint8
	ASNs []uint32
}

// Community is an RFC 1997 community.
type Community uint32

// Well-known communities.
const (
	CommunityNoExport          Community = 0xFFFFFF01
	CommunityNoAdvertise       Community = 0xFFFFFF02
	CommunityNoExportSubconfed Community = 0xFFFFFF03
	CommunityLLGRStale         Community = 0xFFFF0006 // RFC 9494
	CommunityNoLLGR            Community = 0xFFFF0007 // RFC 9494
	CommunityGracefulShutdown  Community = 0xFFFF0000 // RFC 8326
)

// ExtCommunity is an RFC 4360 extended community, kept as its 8 octets.
type ExtCommunity [8]byte

// LargeCommunity is an RFC 8092 large community.
type LargeCommunity struct {
	GlobalAdmin, LocalData1, LocalData2 uint32
}

// Aggregator is the AGGREGATOR attribute (AS held as 4 octets in memory).
type Aggregator struct {
	AS   uint32
	Addr netip.Addr
}

// RawAttr is a path attribute kbgp does not interpret, kept for
// pass-through. Value aliases the decoded buffer.
type RawAttr struct {
	Flags uint8
	Type  AttrType
	Value []byte
}

// MPReach is MP_REACH_NLRI (RFC 4760) for a family. For IPv6 NextHop is the
// global address and LinkLocal the optional link-local one (RFC 2545).
// For IPv4 NLRI with an IPv6 next hop see RFC 8950.
type MPReach struct {
	Family    Family
	NextHop   netip.Addr
	LinkLocal netip.Addr
	NLRI      []NLRI
	// RawNextHop/RawNLRI hold the undecoded bytes for families kbgp does
	// not route (anything but IPv4/IPv6 unicast); they alias the input.
	RawNextHop []byte
	RawNLRI    []byte
}

// MPUnreach is MP_UNREACH_NLRI (RFC 4760).
type MPUnreach struct {
	Family  Family
	NLRI    []NLRI
	RawNLRI []byte // families kbgp does not route; aliases the input
}

// Attrs is the set of path attributes of one UPDATE. Presence is tracked by
// Has/Set because zero values are legal attribute values (MED 0, ORIGIN IGP).
// MP_REACH_NLRI and MP_UNREACH_NLRI are in Update, not here, so an Attrs is
// the route's attribute set proper (what the RIB interns).
type Attrs struct {
	present [4]uint64 // bit per AttrType

	Origin           Origin
	ASPath           []ASPathSegment
	AS4Path          []ASPathSegment // only on 2-octet sessions; merged by Update decode per RFC 6793 §4.2.3
	NextHop          netip.Addr
	MED              uint32
	LocalPref        uint32
	Aggregator       Aggregator
	AS4Aggregator    Aggregator
	Communities      []Community
	OriginatorID     netip.Addr
	ClusterList      []netip.Addr
	ExtCommunities   []ExtCommunity
	LargeCommunities []LargeCommunity
	// Unknown holds attributes kbgp does not interpret, in ascending type
	// order (the order they are encoded in).
	// Optional transitive ones are passed on with the Partial bit set.
	Unknown []RawAttr
}

// Has reports whether attribute t is present.
func (a *Attrs) Has(t AttrType) bool { return a.present[t>>6]&(1<<(t&63)) != 0 }

// Set marks attribute t present. Setting a field without Set means it is
// not encoded.
func (a *Attrs) Set(t AttrType) { a.present[t>>6] |= 1 << (t & 63) }

// Clear marks attribute t absent.
func (a *Attrs) Clear(t AttrType) { a.present[t>>6] &^= 1 << (t & 63) }

// Update is an UPDATE message. IPv4 unicast routes travel in Withdrawn and
// NLRI; other families in MPReach/MPUnreach.
type Update struct {
	Withdrawn []NLRI
	Attrs     Attrs
	NLRI      []NLRI
	MPReach   *MPReach
	MPUnreach *MPUnreach

	// Storage kept across Decode calls so a reused Update does not allocate.
	spareReach   *MPReach
	spareUnreach *MPUnreach
	as4Scratch   []ASPathSegment
}

// Open is an OPEN message. MyAS is the 2-octet field as sent (AS_TRANS for
// 4-octet ASNs); the real AS of a 4-octet speaker is in Caps.FourOctetAS.
type Open struct {
	Version  uint8
	MyAS     uint16
	HoldTime uint16
	BGPID    netip.Addr // IPv4
	Caps     Capabilities
	// ExtendedParams forces the RFC 9072 extended optional parameters
	// encoding; the encoder also uses it when the parameters exceed 255 bytes.
	ExtendedParams bool
}

// AddPathMode is the Send/Receive field of the ADD-PATH capability.
type AddPathMode uint8

// ADD-PATH modes (RFC 7911 §4).
const (
	AddPathReceive AddPathMode = 1
	AddPathSend    AddPathMode = 2
	AddPathBoth    AddPathMode = 3
)

// AddPathFamily is one tuple of the ADD-PATH capability.
type AddPathFamily struct {
	Family Family
	Mode   AddPathMode
}

// GRFamily is one AFI/SAFI tuple of the graceful restart capability.
type GRFamily struct {
	Family     Family
	Forwarding bool // F bit: forwarding state preserved
}

// GracefulRestart is the RFC 4724 capability (with RFC 8538's N bit).
type GracefulRestart struct {
	Restarting   bool   // R bit
	Notification bool   // N bit (RFC 8538)
	Time         uint16 // restart time in seconds, 12 bits
	Families     []GRFamily
}

// LLGRFamily is one tuple of the long-lived graceful restart capability
// (RFC 9494): the family, its F bit and its long-lived stale time (24 bits, s).
type LLGRFamily struct {
	Family     Family
	Forwarding bool
	StaleTime  uint32
}

// ExtNextHopFamily is one tuple of the extended next hop capability
// (RFC 8950): NLRI of Family may carry a next hop of NextHopAFI.
type ExtNextHopFamily struct {
	Family     Family
	NextHopAFI AFI
}

// RawCapability is a capability kbgp does not interpret. Value aliases the
// input buffer.
type RawCapability struct {
	Code  CapCode
	Value []byte
}

// Capabilities is the decoded set of capabilities of an OPEN.
// Multiprotocol lists families in received order. A nil pointer or empty
// slice means the capability was absent.
type Capabilities struct {
	Multiprotocol        []Family
	RouteRefresh         bool
	EnhancedRouteRefresh bool
	ExtendedMessage      bool
	// FourOctetAS is the speaker's AS from the 4-octet AS capability, valid
	// when HasFourOctetAS.
	HasFourOctetAS  bool
	FourOctetAS     uint32
	AddPath         []AddPathFamily
	GracefulRestart *GracefulRestart
	LongLivedGR     []LLGRFamily
	HasLongLivedGR  bool // capability present (it may list no families)
	ExtendedNextHop []ExtNextHopFamily
	// FQDN (draft-walton-bgp-hostname-capability).
	HasFQDN    bool
	Hostname   string
	DomainName string
	Unknown    []RawCapability
}
