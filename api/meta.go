// Package api defines kbgp's resource types: the Calico-compatible
// BGPConfiguration, BGPPeer, BGPFilter, Node and IPPool kinds, accepted under
// apiVersion projectcalico.org/v3 exactly as calicoctl writes them, and the
// same kinds under kbgp.io/v1, which additionally accepts kbgp's extension
// fields (fields whose doc comment says "kbgp extension").
//
// The types only describe data. Decoding (strict, with positions),
// validation, defaulting and compilation to per-node state live in
// internal/config.
package api

import "time"

// API groups and versions accepted in apiVersion.
const (
	// CalicoV3 is Calico's API group/version. Resources in this group must
	// contain only fields Calico itself knows; kbgp extension fields are
	// rejected as unknown.
	CalicoV3 = "projectcalico.org/v3"
	// KBGPV1 is kbgp's API group/version: the Calico fields plus the kbgp
	// extensions (per-peer hold time, BFD, LLGR, ADD-PATH, max-prefix,
	// graceful-restart switch, node affine blocks).
	KBGPV1 = "kbgp.io/v1"
)

// Kind names.
const (
	KindBGPConfiguration = "BGPConfiguration"
	KindBGPPeer          = "BGPPeer"
	KindBGPFilter        = "BGPFilter"
	KindNode             = "Node"
	KindIPPool           = "IPPool"
)

// Kinds lists every resource kind, in the order the reference documents them.
var Kinds = []string{KindBGPConfiguration, KindBGPPeer, KindBGPFilter, KindNode, KindIPPool}

// ObjectMeta is the metadata every resource carries.
type ObjectMeta struct {
	// Name of the resource, unique per kind. Required.
	Name string `json:"name"`
	// Labels are matched by selectors (nodeSelector, peerSelector).
	Labels map[string]string `json:"labels,omitempty"`
	// Annotations hold non-identifying data. On a Node,
	// projectcalico.org/RouteReflectorClusterID sets the route reflector
	// cluster ID when spec.bgp.routeReflectorClusterID is empty.
	Annotations map[string]string `json:"annotations,omitempty"`
	// ResourceVersion is an opaque version string set by the store.
	ResourceVersion string `json:"resourceVersion,omitempty"`
	// CreationTimestamp is set by the store (RFC 3339).
	CreationTimestamp time.Time `json:"creationTimestamp,omitzero"`
	// UID is a unique ID set by the store or by Kubernetes.
	UID string `json:"uid,omitempty"`
	// Generation is set by Kubernetes; kbgp ignores it.
	Generation int64 `json:"generation,omitempty"`
}

// Resource is any of the kinds in this package.
type Resource interface {
	// Kind is the resource kind, e.g. "BGPPeer".
	Kind() string
	// Name is metadata.name.
	Name() string
	// Meta returns the resource's metadata for reading and writing.
	Meta() *ObjectMeta
	// APIVersion is the group/version the resource was written in
	// (CalicoV3 or KBGPV1); empty means "pick": CalicoV3 unless a kbgp
	// extension field is set.
	APIVersion() string
	// SetAPIVersion records the group/version.
	SetAPIVersion(v string)
	// SpecValue returns a pointer to the spec struct.
	SpecValue() any
}

// TypeMeta holds the apiVersion a resource was decoded from.
type TypeMeta struct {
	Version string `json:"-"`
}

// APIVersion implements Resource.
func (t *TypeMeta) APIVersion() string { return t.Version }

// SetAPIVersion implements Resource.
func (t *TypeMeta) SetAPIVersion(v string) { t.Version = v }

// New returns a new empty resource of the given kind, or nil if the kind is
// unknown.
func New(kind string) Resource {
	switch kind {
	case KindBGPConfiguration:
		return &BGPConfiguration{}
	case KindBGPPeer:
		return &BGPPeer{}
	case KindBGPFilter:
		return &BGPFilter{}
	case KindNode:
		return &Node{}
	case KindIPPool:
		return &IPPool{}
	}
	return nil
}

// SecretKeySelector names one key of a Kubernetes Secret in the agent's
// namespace.
type SecretKeySelector struct {
	// Name of the Secret.
	Name string `json:"name"`
	// Key within the Secret's data.
	Key string `json:"key"`
	// Optional: when true a missing secret or key is not an error.
	Optional *bool `json:"optional,omitempty"`
}

// BGPPassword is a TCP MD5 password source.
type BGPPassword struct {
	// SecretKeyRef selects the Secret key holding the password (at most 80
	// characters).
	SecretKeyRef *SecretKeySelector `json:"secretKeyRef,omitempty"`
}
