package api

import "net/netip"

// IPPool is a pod address pool. For BGP it decides which prefixes are
// exported (routes inside enabled pools) and which are never exported
// (disableBGPExport).
type IPPool struct {
	TypeMeta
	Metadata ObjectMeta `json:"metadata"`
	Spec     IPPoolSpec `json:"spec"`
}

// Kind implements Resource.
func (*IPPool) Kind() string { return KindIPPool }

// Name implements Resource.
func (r *IPPool) Name() string { return r.Metadata.Name }

// Meta implements Resource.
func (r *IPPool) Meta() *ObjectMeta { return &r.Metadata }

// SpecValue implements Resource.
func (r *IPPool) SpecValue() any { return &r.Spec }

// IPPoolSpec is the spec of an IPPool.
type IPPoolSpec struct {
	// CIDR of the pool, masked. Required.
	CIDR netip.Prefix `json:"cidr"`
	// BlockSize is the prefix length of the pool's affine blocks: 20-32
	// for IPv4, 116-128 for IPv6.
	BlockSize *int `json:"blockSize,omitempty" default:"26 (IPv4), 122 (IPv6)"`
	// IPIPMode is Never, Always or CrossSubnet.
	IPIPMode string `json:"ipipMode,omitempty" default:"Never"`
	// VXLANMode is Never, Always or CrossSubnet.
	VXLANMode string `json:"vxlanMode,omitempty" default:"Never"`
	// NATOutgoing masquerades traffic from pods to outside the pools (no
	// BGP effect).
	NATOutgoing bool `json:"natOutgoing,omitempty" default:"false"`
	// Disabled stops allocation from the pool; a disabled pool is not
	// exported.
	Disabled bool `json:"disabled,omitempty" default:"false"`
	// DisableBGPExport keeps routes inside the pool from being exported.
	DisableBGPExport bool `json:"disableBGPExport,omitempty" default:"false"`
	// NodeSelector selects the nodes that allocate from the pool.
	NodeSelector string `json:"nodeSelector,omitempty" default:"all()"`
	// NamespaceSelector selects namespaces that allocate from the pool.
	NamespaceSelector string `json:"namespaceSelector,omitempty"`
	// AllowedUses are Workload, Tunnel and/or LoadBalancer.
	AllowedUses []string `json:"allowedUses,omitempty" default:"[Workload, Tunnel]"`
	// AssignmentMode is Automatic or Manual.
	AssignmentMode string `json:"assignmentMode,omitempty" default:"Automatic"`
}
