package k8s

import (
	"net/netip"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"

	"github.com/kbgp/kbgp/api"
	"github.com/kbgp/kbgp/internal/config"
)

// ServiceResource carries one Kubernetes Service (with its EndpointSlices)
// through store.Datastore's resource events: Watch reports it with kind
// KindService and name "namespace/name". It is not one of the kinds
// config.NewInput sorts, so a consumer hands the services to the compiler
// separately, with Services:
//
//	config.Compile(config.NewInput(rs, k8s.Services(rs)), node)
//
// or, without importing this package, by asserting
// interface{ ConfigService() config.Service } on each resource.
type ServiceResource struct {
	api.TypeMeta
	Metadata api.ObjectMeta `json:"metadata"`
	Spec     config.Service `json:"spec"`
}

// Kind implements api.Resource.
func (*ServiceResource) Kind() string { return KindService }

// Name implements api.Resource: "namespace/name".
func (s *ServiceResource) Name() string { return s.Metadata.Name }

// Meta implements api.Resource.
func (s *ServiceResource) Meta() *api.ObjectMeta { return &s.Metadata }

// SpecValue implements api.Resource.
func (s *ServiceResource) SpecValue() any { return &s.Spec }

// ConfigService returns the service as the compiler takes it.
func (s *ServiceResource) ConfigService() config.Service { return s.Spec }

// Services picks the services out of a resource list (as store.Cache
// returns it), sorted by namespace and name.
func Services(rs []api.Resource) []config.Service {
	var out []config.Service
	for _, r := range rs {
		if s, ok := r.(interface{ ConfigService() config.Service }); ok {
			out = append(out, s.ConfigService())
		}
	}
	slices.SortFunc(out, func(a, b config.Service) int {
		if c := strings.Compare(a.Namespace, b.Namespace); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	return out
}

// FromService builds the compiler's view of a Service and the
// EndpointSlices that belong to it (label kubernetes.io/service-name):
// cluster IPs, external IPs, LoadBalancer IPs (spec.loadBalancerIP and
// status.loadBalancer.ingress[].ip), the external traffic policy, and
// every endpoint address with its node and readiness. Whether and where
// the addresses are advertised is the compiler's decision (Calico's
// rules, notes/calico.md §2.9). Unparseable addresses are skipped: the
// API server validates them, so only a future format could trip this.
func FromService(svc *corev1.Service, epSlices []*discoveryv1.EndpointSlice) *ServiceResource {
	s := config.Service{Namespace: svc.Namespace, Name: svc.Name, Type: string(svc.Spec.Type)}
	if s.Type == "" {
		s.Type = string(corev1.ServiceTypeClusterIP)
	}
	ips := svc.Spec.ClusterIPs
	if len(ips) == 0 && svc.Spec.ClusterIP != "" {
		ips = []string{svc.Spec.ClusterIP}
	}
	s.ClusterIPs = parseAddrs(ips) // "None" (headless) parses to nothing
	s.ExternalIPs = parseAddrs(svc.Spec.ExternalIPs)
	var lb []string
	if svc.Spec.LoadBalancerIP != "" {
		lb = append(lb, svc.Spec.LoadBalancerIP)
	}
	for _, in := range svc.Status.LoadBalancer.Ingress {
		if in.IP != "" {
			lb = append(lb, in.IP)
		}
	}
	s.LoadBalancerIPs = dedup(parseAddrs(lb))
	switch svc.Spec.Type {
	case corev1.ServiceTypeNodePort, corev1.ServiceTypeLoadBalancer:
		s.ExternalTrafficPolicy = string(svc.Spec.ExternalTrafficPolicy)
		if s.ExternalTrafficPolicy == "" {
			s.ExternalTrafficPolicy = string(corev1.ServiceExternalTrafficPolicyCluster)
		}
	default:
		if len(s.ExternalIPs) > 0 {
			// externalTrafficPolicy applies to external IPs of any
			// service type (Kubernetes API reference, ServiceSpec).
			s.ExternalTrafficPolicy = string(svc.Spec.ExternalTrafficPolicy)
		}
	}
	for _, es := range epSlices {
		for _, ep := range es.Endpoints {
			// EndpointConditions.Ready: "nil should be interpreted as
			// ready" (k8s.io/api/discovery/v1).
			ready := ep.Conditions.Ready == nil || *ep.Conditions.Ready
			node := ""
			if ep.NodeName != nil {
				node = *ep.NodeName
			}
			for _, a := range parseAddrs(ep.Addresses) {
				s.Endpoints = append(s.Endpoints, config.Endpoint{Addr: a, Node: node, Ready: ready})
			}
		}
	}
	sortEndpoints(s.Endpoints)
	r := &ServiceResource{Metadata: api.ObjectMeta{Name: svc.Namespace + "/" + svc.Name, UID: string(svc.UID)}, Spec: s}
	r.SetAPIVersion("v1")
	return r
}

func parseAddrs(ss []string) []netip.Addr {
	var out []netip.Addr
	for _, s := range ss {
		if a, err := netip.ParseAddr(s); err == nil {
			out = append(out, a.Unmap())
		}
	}
	return out
}

func dedup(as []netip.Addr) []netip.Addr {
	var out []netip.Addr
	for _, a := range as {
		if !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	return out
}

func sortEndpoints(eps []config.Endpoint) {
	slices.SortFunc(eps, func(a, b config.Endpoint) int {
		if c := a.Addr.Compare(b.Addr); c != 0 {
			return c
		}
		if c := strings.Compare(a.Node, b.Node); c != 0 {
			return c
		}
		switch {
		case a.Ready == b.Ready:
			return 0
		case a.Ready:
			return -1
		}
		return 1
	})
}
