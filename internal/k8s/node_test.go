package k8s

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kbgp/kbgp/api"
	"github.com/kbgp/kbgp/internal/config"
)

// seedNode is ubuntu-2 of the seed notes after `kubectl label node
// ubuntu-2 rack=rack-1 route-reflector=true` and `kubectl annotate node
// ubuntu-2 projectcalico.org/RouteReflectorClusterID=244.0.0.1`.
func seedNode(name, ip string, labels, ann map[string]string, podCIDRs ...string) *corev1.Node {
	n := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels, Annotations: ann},
		Spec:       corev1.NodeSpec{PodCIDRs: podCIDRs},
		Status: corev1.NodeStatus{Addresses: []corev1.NodeAddress{
			{Type: corev1.NodeHostName, Address: name},
			{Type: corev1.NodeInternalIP, Address: ip},
		}},
	}
	if len(podCIDRs) > 0 {
		n.Spec.PodCIDR = podCIDRs[0]
	}
	return n
}

func TestFromNode(t *testing.T) {
	pfx := netip.MustParsePrefix
	tests := []struct {
		name    string
		node    *corev1.Node
		want    func(*api.Node)
		wantErr string
	}{
		{
			name: "seed route reflector: labels, cluster ID annotation, InternalIP default, podCIDR block",
			node: seedNode("ubuntu-2", "172.16.30.102",
				map[string]string{"rack": "rack-1", "route-reflector": "true", "kubernetes.io/hostname": "ubuntu-2"},
				map[string]string{config.AnnotationRouteReflectorClusterID: "244.0.0.1", "node.alpha.kubernetes.io/ttl": "0"},
				"192.168.1.0/24"),
			want: func(n *api.Node) {
				n.Metadata.Labels = map[string]string{"rack": "rack-1", "route-reflector": "true", "kubernetes.io/hostname": "ubuntu-2"}
				n.Metadata.Annotations = map[string]string{config.AnnotationRouteReflectorClusterID: "244.0.0.1"}
				n.Spec.BGP = &api.NodeBGPSpec{IPv4Address: pfx("172.16.30.102/32")}
				n.Spec.Addresses = []api.NodeAddress{{Address: "172.16.30.102", Type: "InternalIP"}}
				n.Spec.AffineBlocks = []api.AffineBlock{{CIDR: pfx("192.168.1.0/24")}}
				n.Status.PodCIDRs = []string{"192.168.1.0/24"}
			},
		},
		{
			name: "IPv4Address annotation wins over the InternalIP",
			node: seedNode("ubuntu-1", "10.0.0.1", nil, map[string]string{
				config.AnnotationIPv4Address: "172.16.30.101/24", config.AnnotationASNumber: "64513"}),
			want: func(n *api.Node) {
				n.Metadata.Annotations = map[string]string{config.AnnotationIPv4Address: "172.16.30.101/24", config.AnnotationASNumber: "64513"}
				n.Spec.Addresses = []api.NodeAddress{{Address: "10.0.0.1", Type: "InternalIP"}}
			},
		},
		{
			name: "dual-stack podCIDRs, IPv6 InternalIP is not a BGP address",
			node: seedNode("ubuntu-3", "fd00::3", nil, nil, "192.168.2.0/24", "fd00:10::/64"),
			want: func(n *api.Node) {
				n.Spec.Addresses = []api.NodeAddress{{Address: "fd00::3", Type: "InternalIP"}}
				n.Spec.AffineBlocks = []api.AffineBlock{{CIDR: pfx("192.168.2.0/24")}, {CIDR: pfx("fd00:10::/64")}}
				n.Status.PodCIDRs = []string{"192.168.2.0/24", "fd00:10::/64"}
			},
		},
		{
			name:    "bad IPv4Address annotation",
			node:    seedNode("bad", "10.0.0.1", nil, map[string]string{config.AnnotationIPv4Address: "fd00::1/64"}),
			wantErr: `nodes/bad: annotation projectcalico.org/IPv4Address="fd00::1/64": want an IPv4 CIDR`,
		},
		{
			name:    "bad cluster ID",
			node:    seedNode("bad", "10.0.0.1", nil, map[string]string{config.AnnotationRouteReflectorClusterID: "rr1"}),
			wantErr: `nodes/bad: annotation projectcalico.org/RouteReflectorClusterID="rr1"`,
		},
		{
			name:    "bad AS number",
			node:    seedNode("bad", "10.0.0.1", nil, map[string]string{config.AnnotationASNumber: "-1"}),
			wantErr: `nodes/bad: annotation projectcalico.org/ASNumber`,
		},
		{
			name:    "bad podCIDR",
			node:    seedNode("bad", "10.0.0.1", nil, nil, "192.168.1.0"),
			wantErr: `nodes/bad: spec.podCIDRs[0]="192.168.1.0"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := FromNode(tt.node)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("FromNode error = %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := &api.Node{Metadata: api.ObjectMeta{Name: tt.node.Name}}
			want.SetAPIVersion(api.KBGPV1)
			want.Spec.OrchRefs = []api.OrchRef{{NodeName: tt.node.Name, Orchestrator: "k8s"}}
			tt.want(want)
			if d := cmp.Diff(want, got, netipEqual); d != "" {
				t.Errorf("FromNode (-want +got):\n%s", d)
			}
		})
	}
}

func TestApplyToNode(t *testing.T) {
	base := func() *corev1.Node {
		return seedNode("ubuntu-2", "172.16.30.102", map[string]string{"kubernetes.io/hostname": "ubuntu-2"},
			map[string]string{"kubeadm.alpha.kubernetes.io/cri-socket": "unix:///run/containerd.sock"}, "192.168.1.0/24")
	}
	asn := api.ASNumber(64513)
	tests := []struct {
		name     string
		edit     func(*api.Node)
		wantAnn  map[string]string
		wantLbls map[string]string
		wantErr  string
	}{
		{
			name: "label and annotate like the seed",
			edit: func(n *api.Node) {
				n.Metadata.Labels["rack"] = "rack-1"
				n.Metadata.Annotations = map[string]string{config.AnnotationRouteReflectorClusterID: "244.0.0.1"}
			},
			wantLbls: map[string]string{"kubernetes.io/hostname": "ubuntu-2", "rack": "rack-1"},
			wantAnn: map[string]string{"kubeadm.alpha.kubernetes.io/cri-socket": "unix:///run/containerd.sock",
				config.AnnotationRouteReflectorClusterID: "244.0.0.1"},
		},
		{
			name:     "the InternalIP default is not written back",
			edit:     func(n *api.Node) {},
			wantLbls: map[string]string{"kubernetes.io/hostname": "ubuntu-2"},
			wantAnn:  map[string]string{"kubeadm.alpha.kubernetes.io/cri-socket": "unix:///run/containerd.sock"},
		},
		{
			name: "spec.bgp becomes Calico's annotations",
			edit: func(n *api.Node) {
				n.Spec.BGP = &api.NodeBGPSpec{IPv4Address: netip.MustParsePrefix("172.16.30.102/24"), ASNumber: &asn,
					RouteReflectorClusterID: netip.MustParseAddr("244.0.0.1")}
			},
			wantLbls: map[string]string{"kubernetes.io/hostname": "ubuntu-2"},
			wantAnn: map[string]string{"kubeadm.alpha.kubernetes.io/cri-socket": "unix:///run/containerd.sock",
				config.AnnotationIPv4Address: "172.16.30.102/24", config.AnnotationASNumber: "64513",
				config.AnnotationRouteReflectorClusterID: "244.0.0.1"},
		},
		{
			name: "pod CIDRs belong to Kubernetes",
			edit: func(n *api.Node) {
				n.Spec.AffineBlocks = []api.AffineBlock{{CIDR: netip.MustParsePrefix("10.0.0.0/26")}}
			},
			wantErr: "nodes/ubuntu-2: spec.affineBlocks comes from the Kubernetes Node",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := base()
			n, err := FromNode(k)
			if err != nil {
				t.Fatal(err)
			}
			tt.edit(n)
			err = applyToNode(k, n)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("applyToNode error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tt.wantLbls, k.Labels, netipEqual); d != "" {
				t.Errorf("labels (-want +got):\n%s", d)
			}
			if d := cmp.Diff(tt.wantAnn, k.Annotations, netipEqual); d != "" {
				t.Errorf("annotations (-want +got):\n%s", d)
			}
			// What was written reads back as what was asked for.
			back, err := FromNode(k)
			if err != nil {
				t.Fatal(err)
			}
			st1, err1 := config.Compile(config.NewInput([]api.Resource{n}, nil), k.Name)
			st2, err2 := config.Compile(config.NewInput([]api.Resource{back}, nil), k.Name)
			if err1 != nil || err2 != nil {
				t.Fatalf("compile: %v, %v", err1, err2)
			}
			if d := cmp.Diff(st1, st2, netipEqual); d != "" {
				t.Errorf("compiled state of the written node differs (-asked +read back):\n%s", d)
			}
		})
	}
}

// netipEqual compares netip values with ==.
var netipEqual = cmpopts.EquateComparable(netip.Addr{}, netip.Prefix{})
