package api

import "net/netip"

// BGPPeer configures BGP sessions: from the nodes chosen by node or
// nodeSelector (every node if both are empty: a "global" peer) to peerIP,
// or to the nodes chosen by peerSelector.
type BGPPeer struct {
	TypeMeta
	Metadata ObjectMeta  `json:"metadata"`
	Spec     BGPPeerSpec `json:"spec"`
}

// Kind implements Resource.
func (*BGPPeer) Kind() string { return KindBGPPeer }

// Name implements Resource.
func (r *BGPPeer) Name() string { return r.Metadata.Name }

// Meta implements Resource.
func (r *BGPPeer) Meta() *ObjectMeta { return &r.Metadata }

// SpecValue implements Resource.
func (r *BGPPeer) SpecValue() any { return &r.Spec }

// BGPPeerSpec is the spec of a BGPPeer.
type BGPPeerSpec struct {
	// Node is the one node that gets this peering. Cannot be combined with
	// nodeSelector.
	Node string `json:"node,omitempty"`
	// NodeSelector selects the local nodes that get this peering.
	NodeSelector string `json:"nodeSelector,omitempty"`
	// PeerIP is the remote address: "IP", "IPv4:port" or "[IPv6]:port".
	PeerIP PeerAddress `json:"peerIP,omitzero"`
	// ASNumber is the remote AS. Must be empty with peerSelector.
	ASNumber ASNumber `json:"asNumber,omitempty"`
	// LocalASNumber overrides the local AS on this session.
	LocalASNumber *ASNumber `json:"localASNumber,omitempty"`
	// PeerSelector selects Calico/kbgp nodes as the remote peers. Cannot be
	// combined with peerIP.
	PeerSelector string `json:"peerSelector,omitempty"`
	// KeepOriginalNextHop (deprecated) keeps the next hop towards eBGP
	// peers. Cannot be combined with nextHopMode.
	KeepOriginalNextHop bool `json:"keepOriginalNextHop,omitempty"`
	// NextHopMode is Auto (BIRD default behaviour), Self or Keep.
	NextHopMode string `json:"nextHopMode,omitempty" default:"Auto"`
	// Password is the TCP MD5 password (at most 80 characters).
	Password *BGPPassword `json:"password,omitempty"`
	// SourceAddress is UseNodeIP (bind the session to the node's IP) or
	// None.
	SourceAddress string `json:"sourceAddress,omitempty" default:"UseNodeIP"`
	// MaxRestartTime is the graceful restart time this node advertises.
	MaxRestartTime *Duration `json:"maxRestartTime,omitempty" default:"120s"`
	// KeepaliveTime is the keepalive interval.
	KeepaliveTime *Duration `json:"keepaliveTime,omitempty" default:"hold time / 3"`
	// NumAllowedLocalASNumbers is how often the local AS may appear in a
	// received AS path.
	NumAllowedLocalASNumbers *int32 `json:"numAllowedLocalASNumbers,omitempty" default:"0"`
	// TTLSecurity enables GTSM with this hop count when > 0.
	TTLSecurity *uint8 `json:"ttlSecurity,omitempty" default:"off"`
	// ReachableBy is a gateway; a static /32 (/128) route to peerIP via it
	// is added.
	ReachableBy netip.Addr `json:"reachableBy,omitzero"`
	// Filters are BGPFilter names applied in order.
	Filters []string `json:"filters,omitempty"`
	// LocalWorkloadSelector selects local workloads to peer with.
	LocalWorkloadSelector string `json:"localWorkloadSelector,omitempty"`
	// ReversePeering: Auto also configures the reverse session on selected
	// nodes; Manual leaves that to another BGPPeer.
	ReversePeering string `json:"reversePeering,omitempty" default:"Auto"`

	// HoldTime is the hold time offered in OPEN (kbgp extension; 0 or
	// 3s-65535s).
	HoldTime *Duration `json:"holdTime,omitempty" default:"240s" kbgp:"ext"`
	// GracefulRestart is Enabled or Disabled (kbgp extension).
	GracefulRestart string `json:"gracefulRestart,omitempty" default:"Enabled" kbgp:"ext"`
	// LLGRStaleTime is the long-lived graceful restart stale time; 0
	// disables LLGR (kbgp extension).
	LLGRStaleTime *Duration `json:"llgrStaleTime,omitempty" default:"0s" kbgp:"ext"`
	// AddPath controls ADD-PATH send/receive (kbgp extension).
	AddPath *AddPath `json:"addPath,omitempty" kbgp:"ext"`
	// MaxPrefix limits the prefixes accepted from the peer (kbgp
	// extension).
	MaxPrefix *MaxPrefix `json:"maxPrefix,omitempty" kbgp:"ext"`
	// BFD enables Bidirectional Forwarding Detection for the session (kbgp
	// extension).
	BFD *BFD `json:"bfd,omitempty" kbgp:"ext"`
}

// AddPath is the ADD-PATH (RFC 7911) capability setting.
type AddPath struct {
	// Send offers to send multiple paths.
	Send *bool `json:"send,omitempty" default:"true"`
	// Receive offers to receive multiple paths.
	Receive *bool `json:"receive,omitempty" default:"true"`
}

// MaxPrefix is a maximum-prefix limit (RFC 4486 Cease subcode 1).
type MaxPrefix struct {
	// Limit is the maximum number of prefixes accepted.
	Limit uint32 `json:"limit"`
	// RestartTime is how long to wait before reconnecting after the limit
	// was exceeded; 0 means stay down.
	RestartTime *Duration `json:"restartTime,omitempty" default:"0s"`
}

// BFD are BFD session parameters.
type BFD struct {
	// MinRxInterval is the required minimum receive interval.
	MinRxInterval *Duration `json:"minRxInterval,omitempty" default:"300ms"`
	// MinTxInterval is the desired minimum transmit interval.
	MinTxInterval *Duration `json:"minTxInterval,omitempty" default:"300ms"`
	// Multiplier is the detection multiplier.
	Multiplier *uint8 `json:"multiplier,omitempty" default:"3"`
}
