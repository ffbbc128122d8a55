package config

import (
	"net/netip"
	"slices"
	"strings"

	"github.com/kbgp/kbgp/api"
)

// Input is everything Compile needs: the resources and the services.
type Input struct {
	Configurations []*api.BGPConfiguration
	Peers          []*api.BGPPeer
	Filters        []*api.BGPFilter
	Nodes          []*api.Node
	Pools          []*api.IPPool
	Services       []Service
	// Secrets holds resolved Secret data by Secret name then key, for
	// BGPPeer password and nodeMeshPassword secretKeyRefs. A missing entry
	// leaves the password unresolved (see Password.Resolved).
	Secrets map[string]map[string]string
}

// NewInput sorts resources into an Input.
func NewInput(rs []api.Resource, services []Service) *Input {
	in := &Input{Services: services}
	in.Add(rs...)
	return in
}

// Add appends resources to the matching lists.
func (in *Input) Add(rs ...api.Resource) {
	for _, r := range rs {
		switch r := r.(type) {
		case *api.BGPConfiguration:
			in.Configurations = append(in.Configurations, r)
		case *api.BGPPeer:
			in.Peers = append(in.Peers, r)
		case *api.BGPFilter:
			in.Filters = append(in.Filters, r)
		case *api.Node:
			in.Nodes = append(in.Nodes, r)
		case *api.IPPool:
			in.Pools = append(in.Pools, r)
		}
	}
}

// Service is the part of a Kubernetes Service (and its EndpointSlices)
// that decides which service addresses a node advertises (Calico's rules,
// see Compile). The Kubernetes watcher fills it.
type Service struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	// Type is ClusterIP, NodePort, LoadBalancer or ExternalName.
	Type string `json:"type"`
	// ClusterIPs are spec.clusterIPs; empty for headless services.
	ClusterIPs []netip.Addr `json:"clusterIPs,omitempty"`
	// ExternalIPs are spec.externalIPs.
	ExternalIPs []netip.Addr `json:"externalIPs,omitempty"`
	// LoadBalancerIPs are spec.loadBalancerIP and
	// status.loadBalancer.ingress[].ip.
	LoadBalancerIPs []netip.Addr `json:"loadBalancerIPs,omitempty"`
	// ExternalTrafficPolicy is Cluster, Local or empty (ClusterIP
	// services).
	ExternalTrafficPolicy string `json:"externalTrafficPolicy,omitempty"`
	// Endpoints are the service's endpoints from its EndpointSlices.
	Endpoints []Endpoint `json:"endpoints,omitempty"`
}

// Endpoint is one EndpointSlice endpoint address.
type Endpoint struct {
	Addr  netip.Addr `json:"addr"`
	Node  string     `json:"node,omitempty"` // nodeName
	Ready bool       `json:"ready"`
}

func slicesSortByName[R api.Resource](rs []R) {
	slices.SortFunc(rs, func(a, b R) int { return strings.Compare(a.Name(), b.Name()) })
}
