package config

import (
	"net/netip"

	"github.com/kbgp/kbgp/api"
)

// NodeState is the desired BGP state of one node, the output of Compile.
// Every list is sorted, so equal inputs give equal (and equally encoded)
// states.
type NodeState struct {
	Node     string       `json:"node"`
	ASNumber api.ASNumber `json:"asNumber"`
	// RouterID is the node's IPv4 address, or for a node without one a
	// hash of the node name in IPv4 form (Calico's "hash" router ID).
	RouterID netip.Addr `json:"routerID"`
	// IPv4Address and IPv6Address are the node's BGP addresses with
	// subnet; a family without an address has no sessions.
	IPv4Address netip.Prefix `json:"ipv4Address,omitzero"`
	IPv6Address netip.Prefix `json:"ipv6Address,omitzero"`
	// ListenAddresses is empty for "all addresses" (bindMode None).
	ListenAddresses []netip.Addr `json:"listenAddresses,omitempty"`
	ListenPort      uint16       `json:"listenPort"`
	// RouteReflectorClusterID is set when the node is a route reflector.
	RouteReflectorClusterID netip.Addr `json:"routeReflectorClusterID,omitzero"`
	LogSeverity             string     `json:"logSeverity"`
	// IgnoredInterfaces are globs excluded from connected-route import, in
	// addition to cali* and kube-ipvs*.
	IgnoredInterfaces []string `json:"ignoredInterfaces,omitempty"`
	// Peers are the BGP sessions, sorted by family then name.
	Peers []Peer `json:"peers"`
	// Originate are the routes this node originates (blackholes for its
	// affine blocks and service addresses), sorted by prefix.
	Originate []Route `json:"originate"`
	// KernelReject are prefixes never programmed into the kernel (service
	// ranges), even when learned from peers.
	KernelReject []netip.Prefix `json:"kernelReject,omitempty"`
	// StaticRoutes are routes to peers via a gateway (BGPPeer reachableBy).
	StaticRoutes []StaticRoute `json:"staticRoutes,omitempty"`
	// Warnings describe input that was ignored, e.g. a missing BGPFilter.
	Warnings []string `json:"warnings,omitempty"`
}

// PeerType is the kind of peering, in calicoctl node status's words.
type PeerType string

// Peer types.
const (
	PeerMesh         PeerType = "node-to-node mesh"
	PeerGlobal       PeerType = "global"
	PeerNodeSpecific PeerType = "node specific"
)

// NextHopMode says how the next hop of routes sent to a peer is set.
type NextHopMode string

// Next-hop modes.
const (
	// NextHopAuto: own routes get the node IP, iBGP-reflected routes keep
	// their next hop, eBGP gets next hop self.
	NextHopAuto NextHopMode = "auto"
	NextHopSelf NextHopMode = "self"
	NextHopKeep NextHopMode = "keep"
)

// Peer is one desired BGP session.
type Peer struct {
	// Name is Calico's session name: Mesh_, Global_ or Node_ followed by
	// the address with '.' and ':' replaced by '_' (and _port_N for a
	// non-default port).
	Name string   `json:"name"`
	Type PeerType `json:"type"`
	// From names what configured the session: "mesh", "BGPPeer/x" or
	// "BGPPeer/x (reverse)".
	From    string     `json:"from"`
	Family  int        `json:"family"` // 4 or 6
	Address netip.Addr `json:"address"`
	Port    uint16     `json:"port"`
	// RemoteNode is the remote kbgp/Calico node's name, if the peer is one.
	RemoteNode    string       `json:"remoteNode,omitempty"`
	RemoteAS      api.ASNumber `json:"remoteAS"`
	LocalAS       api.ASNumber `json:"localAS"`
	Internal      bool         `json:"internal"` // iBGP: remoteAS == localAS
	Passive       bool         `json:"passive,omitempty"`
	SourceAddress netip.Addr   `json:"sourceAddress,omitzero"`
	Password      *Password    `json:"password,omitempty"`
	// Multihop: every session is multihop (no directly-connected check),
	// like Calico's "multihop;". TTLSecurity > 0 enables GTSM with that
	// many hops (RFC 5082).
	TTLSecurity uint8 `json:"ttlSecurity,omitempty"`
	// RouteReflectorClient marks the peer as this RR's client, with
	// ClusterID as the cluster ID (RFC 4456).
	RouteReflectorClient bool         `json:"routeReflectorClient,omitempty"`
	ClusterID            netip.Addr   `json:"clusterID,omitzero"`
	NextHop              NextHopMode  `json:"nextHop"`
	HoldTime             api.Duration `json:"holdTime"`
	KeepaliveTime        api.Duration `json:"keepaliveTime"`
	GracefulRestart      bool         `json:"gracefulRestart"`
	RestartTime          api.Duration `json:"restartTime,omitzero"`
	LLGRStaleTime        api.Duration `json:"llgrStaleTime,omitzero"`
	AddPathSend          bool         `json:"addPathSend"`
	AddPathReceive       bool         `json:"addPathReceive"`
	AllowLocalAS         int          `json:"allowLocalAS,omitempty"`
	MaxPrefix            uint32       `json:"maxPrefix,omitempty"`
	MaxPrefixRestart     api.Duration `json:"maxPrefixRestart,omitzero"`
	BFD                  *BFD         `json:"bfd,omitempty"`
	ReachableBy          netip.Addr   `json:"reachableBy,omitzero"`
	// Filters are the BGPFilter names, in order.
	Filters []string `json:"filters,omitempty"`
	// Import and Export are the complete ordered policies: the first rule
	// whose match holds and whose action is accept or reject decides.
	Import []Rule `json:"import"`
	Export []Rule `json:"export"`
}

// Password is a TCP MD5 password and where it came from.
type Password struct {
	Secret string `json:"secret"`
	Key    string `json:"key"`
	// Resolved is true when Input.Secrets held the value.
	Resolved bool `json:"resolved"`
	// Value is never encoded.
	Value string `json:"-"`
}

// BFD are the BFD parameters of a session.
type BFD struct {
	MinRx      api.Duration `json:"minRx"`
	MinTx      api.Duration `json:"minTx"`
	Multiplier uint8        `json:"multiplier"`
}

// Route is an originated prefix, installed as a blackhole route (like
// Calico's static blackholes) and exported per the export policy.
type Route struct {
	Prefix netip.Prefix `json:"prefix"`
	// Reasons lists why the route exists (e.g. "affine block",
	// "serviceClusterIPs", "Service default/web"); a route stays while any
	// reason remains.
	Reasons []string `json:"reasons"`
}

// StaticRoute is a route via a gateway.
type StaticRoute struct {
	Prefix netip.Prefix `json:"prefix"`
	Via    netip.Addr   `json:"via"`
}

// Action is a policy rule's outcome.
type Action string

// Actions.
const (
	Accept Action = "accept"
	Reject Action = "reject"
	// Continue applies the rule's operations and goes on with the next
	// rule.
	Continue Action = "continue"
)

// Rule is one policy step. All set match fields must hold.
type Rule struct {
	// From says where the rule comes from, e.g. "BGPFilter/edge exportV4[0]"
	// or "IPPool/default-ipv4-ippool disableBGPExport".
	From       string      `json:"from"`
	Match      Match       `json:"match,omitzero"`
	Action     Action      `json:"action"`
	Operations []Operation `json:"operations,omitempty"`
}

// Match is a rule's condition; the zero Match matches every route.
type Match struct {
	Prefix netip.Prefix `json:"prefix,omitzero"`
	// Operator is Equal, NotEqual, In or NotIn. In matches prefixes inside
	// Prefix whose length is within [MinLength, MaxLength].
	Operator  string `json:"operator,omitempty"`
	MinLength int    `json:"minLength,omitempty"`
	MaxLength int    `json:"maxLength,omitempty"`
	// Source "RemotePeers" matches routes learned over BGP.
	Source string `json:"source,omitempty"`
	// Interface is a glob on the route's interface.
	Interface    string         `json:"interface,omitempty"`
	Community    string         `json:"community,omitempty"`
	ASPathPrefix []api.ASNumber `json:"asPathPrefix,omitempty"`
	Priority     int            `json:"priority,omitempty"`
	// PriorityBelow matches routes whose priority (kernel metric) is lower
	// than this, i.e. elevated-priority routes.
	PriorityBelow int `json:"priorityBelow,omitempty"`
}

// Operation modifies an accepted route.
type Operation struct {
	AddCommunity  string         `json:"addCommunity,omitempty"`
	PrependASPath []api.ASNumber `json:"prependASPath,omitempty"`
	SetPriority   int            `json:"setPriority,omitempty"`
}
