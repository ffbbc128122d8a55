package k8s

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kbgp/kbgp/api"
	"github.com/kbgp/kbgp/internal/config"
)

func ptr[T any](v T) *T { return &v }

func endpointSlice(ns, svc, name string, eps ...discoveryv1.Endpoint) *discoveryv1.EndpointSlice {
	return &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Namespace: ns, Name: name, Labels: map[string]string{discoveryv1.LabelServiceName: svc}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints:   eps,
	}
}

func TestFromService(t *testing.T) {
	addr := netip.MustParseAddr
	tests := []struct {
		name   string
		svc    *corev1.Service
		slices []*discoveryv1.EndpointSlice
		want   config.Service
	}{
		{
			name: "ClusterIP with ready and not-ready endpoints",
			svc: &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "web"},
				Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP, ClusterIP: "10.96.0.10", ClusterIPs: []string{"10.96.0.10"}}},
			slices: []*discoveryv1.EndpointSlice{endpointSlice("default", "web", "web-abc",
				discoveryv1.Endpoint{Addresses: []string{"192.168.1.5"}, NodeName: ptr("ubuntu-2"), Conditions: discoveryv1.EndpointConditions{Ready: ptr(true)}},
				discoveryv1.Endpoint{Addresses: []string{"192.168.2.5"}, NodeName: ptr("ubuntu-3"), Conditions: discoveryv1.EndpointConditions{Ready: ptr(false)}},
				discoveryv1.Endpoint{Addresses: []string{"192.168.0.5"}}, // Ready nil means ready
			)},
			want: config.Service{Namespace: "default", Name: "web", Type: "ClusterIP", ClusterIPs: []netip.Addr{addr("10.96.0.10")},
				Endpoints: []config.Endpoint{{Addr: addr("192.168.0.5"), Ready: true}, {Addr: addr("192.168.1.5"), Node: "ubuntu-2", Ready: true},
					{Addr: addr("192.168.2.5"), Node: "ubuntu-3"}}},
		},
		{
			name: "LoadBalancer Local with spec and status IPs",
			svc: &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "prod", Name: "lb"},
				Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, ClusterIPs: []string{"10.96.0.20", "fd00:96::20"},
					LoadBalancerIP: "198.51.100.7", ExternalIPs: []string{"203.0.113.1"}, ExternalTrafficPolicy: corev1.ServiceExternalTrafficPolicyLocal},
				Status: corev1.ServiceStatus{LoadBalancer: corev1.LoadBalancerStatus{Ingress: []corev1.LoadBalancerIngress{
					{IP: "198.51.100.7"}, {IP: "198.51.100.8"}, {Hostname: "lb.example.com"}}}}},
			want: config.Service{Namespace: "prod", Name: "lb", Type: "LoadBalancer",
				ClusterIPs: []netip.Addr{addr("10.96.0.20"), addr("fd00:96::20")}, ExternalIPs: []netip.Addr{addr("203.0.113.1")},
				LoadBalancerIPs: []netip.Addr{addr("198.51.100.7"), addr("198.51.100.8")}, ExternalTrafficPolicy: "Local"},
		},
		{
			name: "headless",
			svc: &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "db"},
				Spec: corev1.ServiceSpec{ClusterIP: "None", ClusterIPs: []string{"None"}}},
			want: config.Service{Namespace: "default", Name: "db", Type: "ClusterIP"},
		},
		{
			name: "NodePort defaults to Cluster policy",
			svc: &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "np"},
				Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort, ClusterIPs: []string{"10.96.0.30"}}},
			want: config.Service{Namespace: "default", Name: "np", Type: "NodePort", ClusterIPs: []netip.Addr{addr("10.96.0.30")}, ExternalTrafficPolicy: "Cluster"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := FromService(tt.svc, tt.slices)
			if d := cmp.Diff(tt.want, got.Spec, netipEqual); d != "" {
				t.Errorf("FromService (-want +got):\n%s", d)
			}
			if got.Name() != tt.svc.Namespace+"/"+tt.svc.Name || got.Kind() != KindService {
				t.Errorf("resource is %s %s", got.Kind(), got.Name())
			}
		})
	}
}

// TestServicesCompile: the seed's web-local service (externalTrafficPolicy
// Local, endpoint on ubuntu-3) is advertised as a /32 by ubuntu-3 only,
// and services reach the compiler through Services.
func TestServicesCompile(t *testing.T) {
	rs := seedResources(t)
	svc := FromService(&corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "web-local"},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, ClusterIPs: []string{"10.96.0.11"}, ExternalTrafficPolicy: corev1.ServiceExternalTrafficPolicyLocal}},
		[]*discoveryv1.EndpointSlice{endpointSlice("default", "web-local", "x",
			discoveryv1.Endpoint{Addresses: []string{"192.168.3.4"}, NodeName: ptr("ubuntu-3")})})
	rs = append(rs, svc)
	for node, want := range map[string]bool{"ubuntu-1": false, "ubuntu-2": false, "ubuntu-3": true} {
		st, err := config.Compile(config.NewInput(rs, Services(rs)), node)
		if err != nil {
			t.Fatal(err)
		}
		if got := originates(st, "10.96.0.11/32"); got != want {
			t.Errorf("%s originates 10.96.0.11/32 = %v, want %v", node, got, want)
		}
	}
}

func originates(st *config.NodeState, p string) bool {
	for _, r := range st.Originate {
		if r.Prefix.String() == p {
			return true
		}
	}
	return false
}

// seedResources are the seed's BGPConfiguration, peers and three nodes
// as the Kubernetes datastore reports them.
func seedResources(t *testing.T) []api.Resource {
	t.Helper()
	rs, err := config.Decode("seed.yaml", []byte(seedYAML))
	if err != nil {
		t.Fatal(err)
	}
	for i, ip := range []string{"172.16.30.101", "172.16.30.102", "172.16.30.103"} {
		name := []string{"ubuntu-1", "ubuntu-2", "ubuntu-3"}[i]
		var lbl, ann map[string]string
		if name == "ubuntu-2" {
			lbl = map[string]string{"rack": "rack-1", "route-reflector": "true"}
			ann = map[string]string{config.AnnotationRouteReflectorClusterID: "244.0.0.1"}
		}
		n, err := FromNode(seedNode(name, ip, lbl, ann, []string{"192.168.1.0/24", "192.168.2.0/24", "192.168.3.0/24"}[i]))
		if err != nil {
			t.Fatal(err)
		}
		rs = append(rs, n)
	}
	return rs
}

// seedYAML is the seed notes' Calico configuration, verbatim.
const seedYAML = `apiVersion: projectcalico.org/v3
kind: BGPPeer
metadata:
  name: rack1-tor
spec:
  peerIP: 172.16.30.254
  asNumber: 64513
  nodeSelector: rack == 'rack-1'
---
kind: BGPPeer
apiVersion: projectcalico.org/v3
metadata:
  name: peer-with-route-reflectors
spec:
  nodeSelector: all()
  peerSelector: route-reflector == 'true'
---
apiVersion: projectcalico.org/v3
kind: BGPConfiguration
metadata:
  name: default
spec:
  logSeverityScreen: Info
  nodeToNodeMeshEnabled: false
  asNumber: 64513
  serviceClusterIPs:
  - cidr: 10.96.0.0/24
`
