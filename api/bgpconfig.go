package api

import "net/netip"

// BGPConfiguration holds cluster-wide BGP settings (name "default") or
// per-node overrides (name "node.<nodename>"; only prefixAdvertisements,
// listenPort and logSeverityScreen are honoured there, as in Calico).
type BGPConfiguration struct {
	TypeMeta
	Metadata ObjectMeta           `json:"metadata"`
	Spec     BGPConfigurationSpec `json:"spec"`
}

// Kind implements Resource.
func (*BGPConfiguration) Kind() string { return KindBGPConfiguration }

// Name implements Resource.
func (r *BGPConfiguration) Name() string { return r.Metadata.Name }

// Meta implements Resource.
func (r *BGPConfiguration) Meta() *ObjectMeta { return &r.Metadata }

// SpecValue implements Resource.
func (r *BGPConfiguration) SpecValue() any { return &r.Spec }

// BGPConfigurationSpec is the spec of a BGPConfiguration.
type BGPConfigurationSpec struct {
	// LogSeverityScreen is the BGP log level: Trace, Debug, Info, Warning,
	// Error or Fatal.
	LogSeverityScreen string `json:"logSeverityScreen,omitempty" default:"Info"`
	// NodeToNodeMeshEnabled turns on the full iBGP mesh among all nodes that
	// are not route reflectors.
	NodeToNodeMeshEnabled *bool `json:"nodeToNodeMeshEnabled,omitempty" default:"true"`
	// ASNumber is the default local AS, overridden per node by
	// Node spec.bgp.asNumber.
	ASNumber *ASNumber `json:"asNumber,omitempty" default:"64512"`
	// ServiceClusterIPs are advertised from every node as blackhole ranges;
	// per-service /32 (/128) for externalTrafficPolicy Local services with a
	// ready local endpoint.
	ServiceClusterIPs []ServiceCIDR `json:"serviceClusterIPs,omitempty"`
	// ServiceExternalIPs is the allow-list for Service spec.externalIPs.
	// Ranges wider than one address are advertised from every node.
	ServiceExternalIPs []ServiceCIDR `json:"serviceExternalIPs,omitempty"`
	// ServiceLoadBalancerIPs is the allow-list for Service
	// status.loadBalancer.ingress IPs, with the same rules as external IPs.
	ServiceLoadBalancerIPs []ServiceCIDR `json:"serviceLoadBalancerIPs,omitempty"`
	// ServiceLoadBalancerAggregation: Enabled advertises the LB ranges;
	// Disabled advertises a /32 per LB IP from nodes with endpoints instead.
	ServiceLoadBalancerAggregation string `json:"serviceLoadBalancerAggregation,omitempty" default:"Enabled"`
	// Communities names community values ("aa:nn" standard or "aa:nn:mm"
	// large) for prefixAdvertisements.
	Communities []Community `json:"communities,omitempty"`
	// PrefixAdvertisements adds communities to exported routes inside cidr.
	PrefixAdvertisements []PrefixAdvertisement `json:"prefixAdvertisements,omitempty"`
	// ListenPort is the TCP port the BGP speaker listens on.
	ListenPort *uint16 `json:"listenPort,omitempty" default:"179"`
	// NodeMeshPassword is the TCP MD5 password for mesh sessions.
	NodeMeshPassword *BGPPassword `json:"nodeMeshPassword,omitempty"`
	// NodeMeshMaxRestartTime is the graceful restart time advertised on mesh
	// sessions.
	NodeMeshMaxRestartTime *Duration `json:"nodeMeshMaxRestartTime,omitempty" default:"120s"`
	// BindMode: None listens on all addresses; NodeIP listens on the node's
	// BGP address only.
	BindMode string `json:"bindMode,omitempty" default:"None"`
	// IgnoredInterfaces are interface globs whose connected routes are not
	// imported.
	IgnoredInterfaces []string `json:"ignoredInterfaces,omitempty"`
	// LocalWorkloadPeeringIPV4 is the virtual node IPv4 address local
	// workloads peer with.
	LocalWorkloadPeeringIPV4 netip.Addr `json:"localWorkloadPeeringIPV4,omitzero"`
	// LocalWorkloadPeeringIPV6 is the virtual node IPv6 address local
	// workloads peer with.
	LocalWorkloadPeeringIPV6 netip.Addr `json:"localWorkloadPeeringIPV6,omitzero"`
	// ProgramClusterRoutes says which pools' routes the BGP daemon programs
	// into the kernel: Enabled, Disabled, EnabledIPIPOnly or
	// EnabledNoEncapOnly.
	ProgramClusterRoutes string `json:"programClusterRoutes,omitempty" default:"EnabledNoEncapOnly"`
	// IPv4NormalRoutePriority is the kernel metric of normal IPv4 routes.
	IPv4NormalRoutePriority *int `json:"ipv4NormalRoutePriority,omitempty" default:"1024"`
	// IPv6NormalRoutePriority is the kernel metric of normal IPv6 routes.
	IPv6NormalRoutePriority *int `json:"ipv6NormalRoutePriority,omitempty" default:"1024"`
}

// ServiceCIDR is one service address range.
type ServiceCIDR struct {
	// CIDR is a masked prefix, e.g. 10.96.0.0/12.
	CIDR netip.Prefix `json:"cidr"`
}

// Community is a named community value.
type Community struct {
	// Name used in prefixAdvertisements.
	Name string `json:"name"`
	// Value is "aa:nn" (standard, 16-bit parts) or "aa:nn:mm" (large,
	// 32-bit parts).
	Value string `json:"value"`
}

// PrefixAdvertisement attaches communities to exported routes inside CIDR.
type PrefixAdvertisement struct {
	// CIDR selects exported routes (net inside CIDR).
	CIDR netip.Prefix `json:"cidr"`
	// Communities are community names or literal values.
	Communities []string `json:"communities,omitempty"`
}
