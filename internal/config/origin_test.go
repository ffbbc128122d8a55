package config

import (
	"net/netip"
	"slices"
	"testing"

	"github.com/kbgp/kbgp/api"
)

// TestServiceAdvertisement covers Calico's per-service rules (notes §2.9)
// on node "n1"; want are the per-service routes only (ranges excluded).
func TestServiceAdvertisement(t *testing.T) {
	ready := func(node string) []Endpoint {
		return []Endpoint{{Addr: mustAddr("192.168.0.9"), Node: node, Ready: true}}
	}
	addrs := func(s ...string) []netip.Addr {
		var out []netip.Addr
		for _, a := range s {
			out = append(out, mustAddr(a))
		}
		return out
	}
	tests := []struct {
		name      string
		aggregate string
		exclude   bool
		svc       Service
		want      []string
	}{
		{name: "ClusterIP service: range only",
			svc: Service{Type: "ClusterIP", ClusterIPs: addrs("10.96.0.10"), Endpoints: ready("n1")}},
		{name: "Local with local endpoint",
			svc:  Service{Type: "NodePort", ClusterIPs: addrs("10.96.0.10"), ExternalTrafficPolicy: "Local", Endpoints: ready("n1")},
			want: []string{"10.96.0.10/32"}},
		{name: "Local with remote endpoint only",
			svc: Service{Type: "NodePort", ClusterIPs: addrs("10.96.0.10"), ExternalTrafficPolicy: "Local", Endpoints: ready("n2")}},
		{name: "Local with an unready local endpoint",
			svc: Service{Type: "NodePort", ClusterIPs: addrs("10.96.0.10"), ExternalTrafficPolicy: "Local",
				Endpoints: []Endpoint{{Addr: mustAddr("192.168.0.9"), Node: "n1"}}}},
		{name: "Local, endpoint of the other family",
			svc: Service{Type: "NodePort", ClusterIPs: addrs("10.96.0.10"), ExternalTrafficPolicy: "Local",
				Endpoints: []Endpoint{{Addr: mustAddr("fd00::9"), Node: "n1", Ready: true}}}},
		{name: "headless", svc: Service{Type: "ClusterIP", ExternalTrafficPolicy: "Local", Endpoints: ready("n1")}},
		{name: "ExternalName", svc: Service{Type: "ExternalName", ClusterIPs: addrs("10.96.0.10"), ExternalTrafficPolicy: "Local", Endpoints: ready("n1")}},
		{name: "external IP outside the allow-list is not advertised",
			svc:  Service{Type: "LoadBalancer", ClusterIPs: addrs("10.96.0.10"), ExternalIPs: addrs("8.8.8.8", "203.0.113.5"), ExternalTrafficPolicy: "Local", Endpoints: ready("n1")},
			want: []string{"10.96.0.10/32", "203.0.113.5/32"}},
		{name: "aggregation disabled: Cluster service with an endpoint anywhere",
			aggregate: "Disabled",
			svc:       Service{Type: "LoadBalancer", ClusterIPs: addrs("10.96.0.10"), LoadBalancerIPs: addrs("198.51.100.7"), ExternalTrafficPolicy: "Cluster", Endpoints: ready("n2")},
			want:      []string{"10.96.0.10/32", "198.51.100.7/32"}},
		{name: "aggregation disabled: Cluster service without ready endpoints",
			aggregate: "Disabled",
			svc:       Service{Type: "LoadBalancer", ClusterIPs: addrs("10.96.0.10"), LoadBalancerIPs: addrs("198.51.100.7"), ExternalTrafficPolicy: "Cluster"}},
		{name: "excluded node advertises nothing", exclude: true,
			svc: Service{Type: "NodePort", ClusterIPs: addrs("10.96.0.10"), ExternalTrafficPolicy: "Local", Endpoints: ready("n1")}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.svc.Namespace, tc.svc.Name = "ns", "svc"
			in := &Input{Services: []Service{tc.svc}}
			in.Configurations = []*api.BGPConfiguration{{Metadata: api.ObjectMeta{Name: "default"}, Spec: api.BGPConfigurationSpec{
				ServiceClusterIPs:              []api.ServiceCIDR{{CIDR: netip.MustParsePrefix("10.96.0.0/16")}},
				ServiceExternalIPs:             []api.ServiceCIDR{{CIDR: netip.MustParsePrefix("203.0.113.0/24")}},
				ServiceLoadBalancerIPs:         []api.ServiceCIDR{{CIDR: netip.MustParsePrefix("198.51.100.0/24")}},
				ServiceLoadBalancerAggregation: tc.aggregate}}}
			labels := map[string]string{}
			if tc.exclude {
				labels[LabelExcludeFromLB] = "true"
			}
			in.Nodes = []*api.Node{{Metadata: api.ObjectMeta{Name: "n1", Labels: labels},
				Spec: api.NodeSpec{BGP: &api.NodeBGPSpec{IPv4Address: netip.MustParsePrefix("10.0.0.1/24")}}}}
			s, err := Compile(in, "n1")
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range s.Originate {
				if slices.Contains(r.Reasons, "Service ns/svc") {
					got = append(got, r.Prefix.String())
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("per-service routes %v, want %v", got, tc.want)
			}
			wantReject := 3
			if tc.aggregate == "Disabled" {
				wantReject = 2 // no LB range
			}
			if len(s.KernelReject) != wantReject {
				t.Errorf("kernelReject %v", s.KernelReject)
			}
			if tc.exclude && len(s.Originate) != 0 {
				t.Errorf("excluded node originates %v", s.Originate)
			}
		})
	}
}
