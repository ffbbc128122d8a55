package k8s

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/kbgp/kbgp/api"
	"github.com/kbgp/kbgp/internal/config"
)

// Annotation prefixes carried from a Kubernetes Node to the kbgp Node:
// Calico's BGP annotations (config.AnnotationIPv4Address, ...) and kbgp's
// own. Other annotations (kubelet, kubeadm, CNI) are not the compiler's
// business and would only cause needless recompiles.
var nodeAnnotationPrefixes = []string{"projectcalico.org/", "kbgp.io/"}

func keepNodeAnnotation(k string) bool {
	for _, p := range nodeAnnotationPrefixes {
		if strings.HasPrefix(k, p) {
			return true
		}
	}
	return false
}

// FromNode builds the kbgp Node for a Kubernetes Node, the way Calico's
// Kubernetes datastore does:
//   - metadata.labels are the node's labels (what nodeSelector and
//     peerSelector match);
//   - the projectcalico.org/IPv4Address, IPv6Address, ASNumber and
//     RouteReflectorClusterID annotations are kept as annotations, and the
//     compiler reads them as the spec.bgp fields (config.Annotation*);
//   - without an IPv4Address annotation, the first IPv4 InternalIP (as a
//     /32) is spec.bgp.ipv4Address, the default BGP address; IPv6 is only
//     used when annotated, as Calico autodetects IPv6 only on request;
//   - spec.podCIDRs (or the older spec.podCIDR) are the node's affine
//     blocks and status.podCIDRs.
//
// A malformed annotation or podCIDR is an error naming the node and field.
func FromNode(n *corev1.Node) (*api.Node, error) {
	out := &api.Node{Metadata: api.ObjectMeta{
		Name:            n.Name,
		ResourceVersion: n.ResourceVersion,
		UID:             string(n.UID),
	}}
	out.SetAPIVersion(api.KBGPV1)
	if !n.CreationTimestamp.IsZero() {
		out.Metadata.CreationTimestamp = n.CreationTimestamp.UTC().Truncate(time.Second)
	}
	if len(n.Labels) > 0 {
		out.Metadata.Labels = maps.Clone(n.Labels)
	}
	for k, v := range n.Annotations {
		if keepNodeAnnotation(k) {
			if out.Metadata.Annotations == nil {
				out.Metadata.Annotations = map[string]string{}
			}
			out.Metadata.Annotations[k] = v
		}
	}
	ann := out.Metadata.Annotations
	for _, a := range []struct{ key, want string }{
		{config.AnnotationIPv4Address, "an IPv4 CIDR such as 172.16.30.101/24"},
		{config.AnnotationIPv6Address, "an IPv6 CIDR such as fd00::101/64"},
	} {
		if v, ok := ann[a.key]; ok {
			p, err := netip.ParsePrefix(v)
			if err != nil || p.Addr().Is4() != (a.key == config.AnnotationIPv4Address) {
				return nil, fmt.Errorf("nodes/%s: annotation %s=%q: want %s", n.Name, a.key, v, a.want)
			}
		}
	}
	if v, ok := ann[config.AnnotationASNumber]; ok {
		if _, err := api.ParseASNumber(v); err != nil {
			return nil, fmt.Errorf("nodes/%s: annotation %s: %v", n.Name, config.AnnotationASNumber, err)
		}
	}
	if v, ok := ann[config.AnnotationRouteReflectorClusterID]; ok {
		if a, err := netip.ParseAddr(v); err != nil || !a.Is4() {
			return nil, fmt.Errorf("nodes/%s: annotation %s=%q: want an IPv4-formatted cluster ID such as 244.0.0.1", n.Name, config.AnnotationRouteReflectorClusterID, v)
		}
	}

	var internal4 netip.Addr
	for _, a := range n.Status.Addresses {
		if a.Type != corev1.NodeInternalIP && a.Type != corev1.NodeExternalIP {
			continue
		}
		ip, err := netip.ParseAddr(a.Address)
		if err != nil {
			continue // hostnames and garbage: not an address kbgp can use
		}
		ip = ip.Unmap()
		out.Spec.Addresses = append(out.Spec.Addresses, api.NodeAddress{Address: ip.String(), Type: string(a.Type)})
		if a.Type == corev1.NodeInternalIP && ip.Is4() && !internal4.IsValid() {
			internal4 = ip
		}
	}
	if _, annotated := ann[config.AnnotationIPv4Address]; !annotated && internal4.IsValid() {
		out.Spec.BGP = &api.NodeBGPSpec{IPv4Address: netip.PrefixFrom(internal4, 32)}
	}
	out.Spec.OrchRefs = []api.OrchRef{{NodeName: n.Name, Orchestrator: "k8s"}}

	cidrs := n.Spec.PodCIDRs
	if len(cidrs) == 0 && n.Spec.PodCIDR != "" {
		cidrs = []string{n.Spec.PodCIDR}
	}
	for i, c := range cidrs {
		p, err := netip.ParsePrefix(c)
		if err != nil {
			return nil, fmt.Errorf("nodes/%s: spec.podCIDRs[%d]=%q: want a CIDR such as 192.168.1.0/24", n.Name, i, c)
		}
		out.Spec.AffineBlocks = append(out.Spec.AffineBlocks, api.AffineBlock{CIDR: p.Masked()})
		out.Status.PodCIDRs = append(out.Status.PodCIDRs, p.Masked().String())
	}
	if err := config.Validate(out); err != nil {
		return nil, fmt.Errorf("nodes/%s: %w", n.Name, err)
	}
	return out, nil
}

// applyToNode writes the writable parts of want onto the Kubernetes Node
// n (a copy the caller owns) and reports an error for changes that
// Kubernetes owns. Writable: labels, the projectcalico.org/ and kbgp.io/
// annotations, and spec.bgp, which is stored as Calico's annotations
// (ipv4Address -> projectcalico.org/IPv4Address, ...), except where it is
// just the InternalIP default FromNode derived.
func applyToNode(n *corev1.Node, want *api.Node) error {
	cur, err := FromNode(n)
	if err != nil {
		// The node's current annotations are bad; the new ones replace them.
		cur = &api.Node{}
	}
	// Kubernetes-owned fields must not change.
	for _, f := range []struct {
		name     string
		cur, got any
	}{
		{"spec.addresses", cur.Spec.Addresses, want.Spec.Addresses},
		{"spec.affineBlocks", cur.Spec.AffineBlocks, want.Spec.AffineBlocks},
		{"status.podCIDRs", cur.Status.PodCIDRs, want.Status.PodCIDRs},
	} {
		if !emptyOrEqual(f.cur, f.got) {
			return fmt.Errorf("nodes/%s: %s comes from the Kubernetes Node (status.addresses, spec.podCIDRs) and cannot be set through kbgp; edit the Node with kubectl instead", n.Name, f.name)
		}
	}
	n.Labels = maps.Clone(want.Metadata.Labels)
	ann := map[string]string{}
	for k, v := range n.Annotations {
		if !keepNodeAnnotation(k) {
			ann[k] = v
		}
	}
	for k, v := range want.Metadata.Annotations {
		if keepNodeAnnotation(k) {
			ann[k] = v
		}
	}
	if b := want.Spec.BGP; b != nil {
		var def netip.Prefix
		if cur.Spec.BGP != nil {
			def = cur.Spec.BGP.IPv4Address
		}
		if b.IPv4Address.IsValid() && (b.IPv4Address != def || ann[config.AnnotationIPv4Address] != "") {
			ann[config.AnnotationIPv4Address] = b.IPv4Address.String()
		}
		if b.IPv6Address.IsValid() {
			ann[config.AnnotationIPv6Address] = b.IPv6Address.String()
		}
		if b.ASNumber != nil {
			ann[config.AnnotationASNumber] = b.ASNumber.String()
		}
		if b.RouteReflectorClusterID.IsValid() {
			ann[config.AnnotationRouteReflectorClusterID] = b.RouteReflectorClusterID.String()
		}
	}
	if len(ann) == 0 {
		ann = nil
	}
	n.Annotations = ann
	return nil
}

func emptyOrEqual(cur, got any) bool {
	switch g := got.(type) {
	case []api.NodeAddress:
		return len(g) == 0 || slices.Equal(g, cur.([]api.NodeAddress))
	case []api.AffineBlock:
		return len(g) == 0 || slices.Equal(g, cur.([]api.AffineBlock))
	case []string:
		return len(g) == 0 || slices.Equal(g, cur.([]string))
	}
	return false
}
