package k8s

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kbgp/kbgp/api"
	"github.com/kbgp/kbgp/internal/config"
)

// FuzzFromNode: whatever a Node's annotations, addresses and pod CIDRs
// hold (they are free-form strings to the API server), FromNode never
// panics, and a node it accepts compiles and survives applyToNode.
func FuzzFromNode(f *testing.F) {
	f.Add("172.16.30.102/24", "", "64513", "244.0.0.1", "172.16.30.102", "192.168.1.0/24", "rack-1")
	f.Add("", "fd00::2/64", "1.10", "", "fd00::2", "fd00:10::/64", "")
	f.Add("fd00::1/64", "10.0.0.1/8", "-1", "rr1", "host", "192.168.1.0", "a b")
	f.Fuzz(func(t *testing.T, v4, v6, asn, cluster, ip, podCIDR, rack string) {
		ann := map[string]string{}
		for k, v := range map[string]string{config.AnnotationIPv4Address: v4, config.AnnotationIPv6Address: v6,
			config.AnnotationASNumber: asn, config.AnnotationRouteReflectorClusterID: cluster} {
			if v != "" {
				ann[k] = v
			}
		}
		n := &corev1.Node{
			ObjectMeta: metav1.ObjectMeta{Name: "fuzz", Labels: map[string]string{"rack": rack}, Annotations: ann},
			Spec:       corev1.NodeSpec{PodCIDRs: []string{podCIDR}},
			Status:     corev1.NodeStatus{Addresses: []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: ip}}},
		}
		got, err := FromNode(n)
		if err != nil {
			return
		}
		if _, err := config.Compile(config.NewInput([]api.Resource{got}, nil), "fuzz"); err != nil {
			t.Fatalf("accepted node does not compile: %v", err)
		}
		if err := applyToNode(n.DeepCopy(), got); err != nil {
			t.Fatalf("accepted node does not write back: %v", err)
		}
	})
}
