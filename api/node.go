package api

import "net/netip"

// Node is a cluster node's BGP identity. Its labels are what
// nodeSelector/peerSelector match.
type Node struct {
	TypeMeta
	Metadata ObjectMeta `json:"metadata"`
	Spec     NodeSpec   `json:"spec"`
	Status   NodeStatus `json:"status,omitzero"`
}

// Kind implements Resource.
func (*Node) Kind() string { return KindNode }

// Name implements Resource.
func (r *Node) Name() string { return r.Metadata.Name }

// Meta implements Resource.
func (r *Node) Meta() *ObjectMeta { return &r.Metadata }

// SpecValue implements Resource.
func (r *Node) SpecValue() any { return &r.Spec }

// NodeSpec is the spec of a Node.
type NodeSpec struct {
	// BGP holds the node's BGP settings; a node without it does not run
	// BGP.
	BGP *NodeBGPSpec `json:"bgp,omitempty"`
	// Addresses lists the node's addresses.
	Addresses []NodeAddress `json:"addresses,omitempty"`
	// OrchRefs ties the node to orchestrator node names.
	OrchRefs []OrchRef `json:"orchRefs,omitempty"`
	// IPv4VXLANTunnelAddr is the IPv4 VXLAN tunnel address (set by the
	// system).
	IPv4VXLANTunnelAddr netip.Addr `json:"ipv4VXLANTunnelAddr,omitzero"`
	// VXLANTunnelMACAddr is the IPv4 VXLAN tunnel MAC (set by the system).
	VXLANTunnelMACAddr string `json:"vxlanTunnelMACAddr,omitempty"`
	// IPv6VXLANTunnelAddr is the IPv6 VXLAN tunnel address (set by the
	// system).
	IPv6VXLANTunnelAddr netip.Addr `json:"ipv6VXLANTunnelAddr,omitzero"`
	// VXLANTunnelMACAddrV6 is the IPv6 VXLAN tunnel MAC (set by the system).
	VXLANTunnelMACAddrV6 string `json:"vxlanTunnelMACAddrV6,omitempty"`
	// Wireguard holds WireGuard interface addresses (set by the system).
	Wireguard *NodeWireguardSpec `json:"wireguard,omitempty"`

	// AffineBlocks are the IPAM blocks affine to this node; each is
	// originated as a blackhole route and aggregates the /32s inside it
	// (kbgp extension; Calico keeps these in IPAM, kbgp's Kubernetes
	// watcher fills them from IPAM blocks or from the node's podCIDRs).
	AffineBlocks []AffineBlock `json:"affineBlocks,omitempty" kbgp:"ext"`
}

// NodeBGPSpec is a node's BGP identity.
type NodeBGPSpec struct {
	// ASNumber is the node's AS; falls back to the default
	// BGPConfiguration's asNumber.
	ASNumber *ASNumber `json:"asNumber,omitempty"`
	// IPv4Address is the node's BGP IPv4 address with its subnet,
	// e.g. 172.16.30.101/24. It is the session source, the next hop and
	// the default router ID.
	IPv4Address netip.Prefix `json:"ipv4Address,omitzero"`
	// IPv6Address is the node's BGP IPv6 address with its subnet.
	IPv6Address netip.Prefix `json:"ipv6Address,omitzero"`
	// IPv4IPIPTunnelAddr is the IPIP tunnel address (set by the system).
	IPv4IPIPTunnelAddr netip.Addr `json:"ipv4IPIPTunnelAddr,omitzero"`
	// RouteReflectorClusterID makes the node a route reflector with this
	// IPv4-formatted cluster ID and removes it from the mesh.
	RouteReflectorClusterID netip.Addr `json:"routeReflectorClusterID,omitzero"`
}

// NodeAddress is one node address.
type NodeAddress struct {
	// Address is an IP or CIDR.
	Address string `json:"address"`
	// Type is CalicoNodeIP, InternalIP or ExternalIP.
	Type string `json:"type,omitempty"`
}

// OrchRef names the node in an orchestrator.
type OrchRef struct {
	// NodeName is the orchestrator's node name.
	NodeName string `json:"nodeName,omitempty"`
	// Orchestrator is e.g. k8s.
	Orchestrator string `json:"orchestrator"`
}

// NodeWireguardSpec are WireGuard interface addresses.
type NodeWireguardSpec struct {
	// InterfaceIPv4Address is the IPv4 address of the WireGuard interface.
	InterfaceIPv4Address netip.Addr `json:"interfaceIPv4Address,omitzero"`
	// InterfaceIPv6Address is the IPv6 address of the WireGuard interface.
	InterfaceIPv6Address netip.Addr `json:"interfaceIPv6Address,omitzero"`
}

// NodeStatus is the observed state of a node.
type NodeStatus struct {
	// WireguardPublicKey is the node's WireGuard public key.
	WireguardPublicKey string `json:"wireguardPublicKey,omitempty"`
	// WireguardPublicKeyV6 is the node's IPv6 WireGuard public key.
	WireguardPublicKeyV6 string `json:"wireguardPublicKeyV6,omitempty"`
	// PodCIDRs mirrors the Kubernetes node's spec.podCIDRs.
	PodCIDRs []string `json:"podCIDRs,omitempty"`
}

// AffineBlock is an IPAM block affine to a node.
type AffineBlock struct {
	// CIDR of the block, masked, e.g. 192.168.1.64/26.
	CIDR netip.Prefix `json:"cidr"`
	// State is confirmed (advertised), pending or pendingDeletion
	// (not advertised). Empty means confirmed.
	State string `json:"state,omitempty" default:"confirmed"`
}
