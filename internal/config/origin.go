package config

import (
	"net/netip"
	"slices"

	"github.com/kbgp/kbgp/api"
)

// Reasons for originated routes.
const (
	ReasonBlock            = "affine block"
	ReasonClusterIPs       = "serviceClusterIPs"
	ReasonExternalIPs      = "serviceExternalIPs"
	ReasonLoadBalancerIPs  = "serviceLoadBalancerIPs"
	reasonServicePrefix    = "Service "
	annotationTrueLabelVal = "true"
)

// single reports whether p is one address.
func single(p netip.Prefix) bool { return p.Bits() == p.Addr().BitLen() }

// ownBlocks are the node's advertised affine blocks: state confirmed or
// empty, never /32 (/128) "blocks" (notes §2.6).
func (c *compiler) ownBlocks() []netip.Prefix {
	var out []netip.Prefix
	for _, b := range c.self.node.Spec.AffineBlocks {
		if (b.State == "" || b.State == "confirmed") && !single(b.CIDR) {
			out = append(out, b.CIDR.Masked())
		}
	}
	slices.SortFunc(out, comparePrefix)
	return slices.Compact(out)
}

// excluded reports whether the node carries
// node.kubernetes.io/exclude-from-external-load-balancers=true: it then
// advertises no service addresses but still keeps service ranges out of
// its kernel.
func (c *compiler) excluded() bool {
	return c.self.labels[LabelExcludeFromLB] == annotationTrueLabelVal
}

// originate computes NodeState.Originate and KernelReject (notes §2.6,
// §2.9, calico.md §7 items 8 and 12).
func (c *compiler) originate() {
	routes := map[netip.Prefix][]string{}
	add := func(p netip.Prefix, why string) {
		if !slices.Contains(routes[p], why) {
			routes[p] = append(routes[p], why)
		}
	}
	for _, b := range c.ownBlocks() {
		add(b, ReasonBlock)
	}
	g := &c.global
	aggregate := g.ServiceLoadBalancerAggregation != "Disabled"
	type svcRange struct {
		p   netip.Prefix
		why string
	}
	var ranges []svcRange
	for _, sc := range g.ServiceClusterIPs {
		ranges = append(ranges, svcRange{sc.CIDR.Masked(), ReasonClusterIPs})
	}
	for _, sc := range g.ServiceExternalIPs {
		if !single(sc.CIDR) {
			ranges = append(ranges, svcRange{sc.CIDR.Masked(), ReasonExternalIPs})
		}
	}
	if aggregate {
		for _, sc := range g.ServiceLoadBalancerIPs {
			if !single(sc.CIDR) {
				ranges = append(ranges, svcRange{sc.CIDR.Masked(), ReasonLoadBalancerIPs})
			}
		}
	}
	excluded := c.excluded()
	var reject []netip.Prefix
	for _, r := range ranges {
		reject = append(reject, r.p)
		if !excluded {
			add(r.p, r.why)
		}
	}
	if !excluded {
		for _, svc := range c.in.Services {
			if !c.advertise(svc, aggregate) {
				continue
			}
			why := reasonServicePrefix + svc.Namespace + "/" + svc.Name
			for _, a := range c.serviceIPs(svc) {
				add(netip.PrefixFrom(a, a.BitLen()), why)
			}
		}
	}
	s := c.state
	for p, why := range routes {
		slices.Sort(why)
		s.Originate = append(s.Originate, Route{Prefix: p, Reasons: why})
	}
	slices.SortFunc(s.Originate, func(a, b Route) int { return comparePrefix(a.Prefix, b.Prefix) })
	slices.SortFunc(reject, comparePrefix)
	s.KernelReject = slices.Compact(reject)
}

func inAny(a netip.Addr, list []api.ServiceCIDR, singleOnly bool) bool {
	for _, sc := range list {
		if (!singleOnly || single(sc.CIDR)) && sc.CIDR.Masked().Contains(a) {
			return true
		}
	}
	return false
}

// advertise is Calico's advertiseThisService for this node (notes §2.9).
func (c *compiler) advertise(svc Service, aggregate bool) bool {
	switch svc.Type {
	case "ClusterIP", "NodePort", "LoadBalancer":
	default:
		return false
	}
	if len(svc.ClusterIPs) == 0 {
		return false // headless
	}
	g := &c.global
	// 1. Cluster policy and an LB/external IP matching a single-address
	// allow-list entry: advertised from every node.
	if svc.ExternalTrafficPolicy == "Cluster" {
		for _, a := range svc.LoadBalancerIPs {
			if inAny(a, g.ServiceLoadBalancerIPs, true) {
				return true
			}
		}
		for _, a := range svc.ExternalIPs {
			if inAny(a, g.ServiceExternalIPs, true) {
				return true
			}
		}
	}
	// 2. Not Local and aggregation on: the ranges cover it.
	if svc.ExternalTrafficPolicy != "Local" && aggregate {
		return false
	}
	// 3. Ready endpoints of a matching family: any (Cluster) or on this
	// node (Local).
	fams := map[bool]bool{}
	for _, a := range svc.ClusterIPs {
		fams[a.Is4()] = true
	}
	for _, ep := range svc.Endpoints {
		if !ep.Ready || !fams[ep.Addr.Is4()] {
			continue
		}
		if svc.ExternalTrafficPolicy != "Local" || ep.Node == c.self.name {
			return true
		}
	}
	return false
}

// serviceIPs are the addresses of an advertised service: cluster IPs (if
// serviceClusterIPs is configured) and allow-listed external and LB IPs.
func (c *compiler) serviceIPs(svc Service) []netip.Addr {
	g := &c.global
	var out []netip.Addr
	if len(g.ServiceClusterIPs) > 0 {
		out = append(out, svc.ClusterIPs...)
	}
	for _, a := range svc.ExternalIPs {
		if inAny(a, g.ServiceExternalIPs, false) {
			out = append(out, a)
		}
	}
	for _, a := range svc.LoadBalancerIPs {
		if inAny(a, g.ServiceLoadBalancerIPs, false) {
			out = append(out, a)
		}
	}
	for i, a := range out {
		out[i] = a.Unmap()
	}
	return out
}
