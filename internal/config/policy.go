package config

import (
	"fmt"
	"net/netip"

	"github.com/kbgp/kbgp/api"
)

// policies fills p.Import and p.Export in Calico's exact order (notes
// §2.4-§2.6, calico.md §7 items 9-10).
func (c *compiler) policies(p *Peer) {
	v6 := p.Family == 6
	exp, imp := "exportV4", "importV4"
	if v6 {
		exp, imp = "exportV6", "importV6"
	}
	// Import: the BGPFilter import rules in order, then accept.
	for _, name := range p.Filters {
		f := c.filters[name]
		if f == nil {
			c.warnf("%s: BGPFilter/%s not found; skipped", p.From, name)
			continue
		}
		rules := f.Spec.ImportV4
		if v6 {
			rules = f.Spec.ImportV6
		}
		p.Import = append(p.Import, c.filterRules(p, f.Name(), imp, rules)...)
	}
	p.Import = append(p.Import, Rule{From: "default import", Action: Accept})

	// Export 1: BGPFilter export rules (first match wins, no match falls
	// through).
	for _, name := range p.Filters {
		if f := c.filters[name]; f != nil {
			rules := f.Spec.ExportV4
			if v6 {
				rules = f.Spec.ExportV6
			}
			p.Export = append(p.Export, c.filterRules(p, f.Name(), exp, rules)...)
		}
	}
	// 2. Pools with disableBGPExport: reject.
	for _, pool := range sortedPools(c.in.Pools) {
		if pool.Spec.DisableBGPExport && pool.Spec.CIDR.Addr().Is6() == v6 {
			p.Export = append(p.Export, Rule{From: "IPPool/" + pool.Name() + " disableBGPExport",
				Match: in(pool.Spec.CIDR.Masked()), Action: Reject})
		}
	}
	// 3. To iBGP peers: never re-advertise routes Felix programs over
	// VXLAN/WireGuard (and IPIP when Felix owns it); bpf*.cali never.
	if p.Internal {
		ifaces := []string{"*.cali", "*.calico"}
		switch c.global.ProgramClusterRoutes {
		case "Enabled", "EnabledIPIPOnly":
		default:
			ifaces = append(ifaces, "tunl0")
		}
		for _, i := range ifaces {
			p.Export = append(p.Export, Rule{From: "Felix-programmed routes (iBGP)", Match: Match{Interface: i}, Action: Reject})
		}
	}
	p.Export = append(p.Export, Rule{From: "local BPF routes", Match: Match{Interface: "bpf*.cali"}, Action: Reject})
	// 4. prefixAdvertisements communities (no decision).
	c.communityRules(p)
	// 5. Aggregation: an exact own block is accepted, routes inside it are
	// not, except elevated-priority ones.
	prio := DefaultRoutePrio
	if pp := c.global.IPv4NormalRoutePriority; pp != nil && !v6 {
		prio = *pp
	}
	if pp := c.global.IPv6NormalRoutePriority; pp != nil && v6 {
		prio = *pp
	}
	for _, b := range c.ownBlocks() {
		if b.Addr().Is6() != v6 {
			continue
		}
		from := "affine block " + b.String()
		p.Export = append(p.Export,
			Rule{From: from, Match: Match{Prefix: b, Operator: "Equal"}, Action: Accept},
			Rule{From: from + " (elevated priority)", Match: Match{Prefix: b, Operator: "In", MinLength: b.Bits(), MaxLength: b.Addr().BitLen(), PriorityBelow: prio}, Action: Accept},
			Rule{From: from + " (aggregated)", Match: in(b), Action: Reject})
	}
	// 6. Service static routes and anything inside them.
	for _, r := range c.state.Originate {
		if r.Prefix.Addr().Is6() != v6 || (len(r.Reasons) == 1 && r.Reasons[0] == ReasonBlock) {
			continue
		}
		p.Export = append(p.Export, Rule{From: "service route", Match: in(r.Prefix), Action: Accept})
	}
	// 7. Route reflectors re-advertise LB and external IPs learned from
	// clients.
	if c.self.clusterID.IsValid() {
		for _, l := range []struct {
			name string
			list []api.ServiceCIDR
		}{{"serviceLoadBalancerIPs", c.global.ServiceLoadBalancerIPs}, {"serviceExternalIPs", c.global.ServiceExternalIPs}} {
			for _, sc := range l.list {
				if sc.CIDR.Addr().Is6() == v6 {
					p.Export = append(p.Export, Rule{From: "route reflector " + l.name, Match: in(sc.CIDR.Masked()), Action: Accept})
				}
			}
		}
	}
	// 8. Anything inside an enabled pool.
	for _, pool := range sortedPools(c.in.Pools) {
		if !pool.Spec.Disabled && pool.Spec.CIDR.Addr().Is6() == v6 {
			p.Export = append(p.Export, Rule{From: "IPPool/" + pool.Name(), Match: in(pool.Spec.CIDR.Masked()), Action: Accept})
		}
	}
	// 9. Reject everything else.
	p.Export = append(p.Export, Rule{From: "default export", Action: Reject})
}

func in(p netip.Prefix) Match {
	return Match{Prefix: p, Operator: "In", MinLength: p.Bits(), MaxLength: p.Addr().BitLen()}
}

// filterRules compiles BGPFilter rules for peer p. peerType rules that do
// not apply to p (iBGP vs eBGP) are dropped here.
func (c *compiler) filterRules(p *Peer, filter, list string, rules []api.BGPFilterRule) []Rule {
	var out []Rule
	for i, r := range rules {
		if (r.PeerType == "iBGP" && !p.Internal) || (r.PeerType == "eBGP" && p.Internal) {
			continue
		}
		rule := Rule{From: fmt.Sprintf("BGPFilter/%s %s[%d]", filter, list, i), Action: Reject}
		if r.Action == "Accept" {
			rule.Action = Accept
		}
		m := Match{Source: r.Source, Interface: r.Interface, ASPathPrefix: r.ASPathPrefix}
		if r.CIDR.IsValid() {
			m.Prefix, m.Operator = r.CIDR.Masked(), r.MatchOperator
			if r.MatchOperator == "In" || r.MatchOperator == "NotIn" {
				// Bounds default to [len(cidr), 32|128] and are clamped as
				// Calico renders them: c{max(min,len(c)), min(max,32/128)}.
				m.MinLength, m.MaxLength = m.Prefix.Bits(), m.Prefix.Addr().BitLen()
				if pl := r.PrefixLength; pl != nil {
					if pl.Min != nil {
						m.MinLength = max(int(*pl.Min), m.Prefix.Bits())
					}
					if pl.Max != nil {
						m.MaxLength = min(int(*pl.Max), m.Prefix.Addr().BitLen())
					}
				}
			}
		}
		if r.Communities != nil && len(r.Communities.Values) > 0 {
			m.Community = r.Communities.Values[0]
		}
		if r.Priority != nil {
			m.Priority = *r.Priority
		}
		rule.Match = m
		for _, op := range r.Operations {
			switch {
			case op.AddCommunity != nil:
				rule.Operations = append(rule.Operations, Operation{AddCommunity: op.AddCommunity.Value})
			case op.PrependASPath != nil:
				rule.Operations = append(rule.Operations, Operation{PrependASPath: op.PrependASPath.Prefix})
			case op.SetPriority != nil:
				rule.Operations = append(rule.Operations, Operation{SetPriority: op.SetPriority.Value})
			}
		}
		out = append(out, rule)
	}
	return out
}

// communityRules adds the prefixAdvertisements communities; per-node
// BGPConfiguration overrides replace the global list.
func (c *compiler) communityRules(p *Peer) {
	ads := c.global.PrefixAdvertisements
	comms := c.global.Communities
	if c.override.PrefixAdvertisements != nil {
		ads = c.override.PrefixAdvertisements
		if c.override.Communities != nil {
			comms = c.override.Communities
		}
	}
	named := map[string]string{}
	for _, cm := range comms {
		named[cm.Name] = cm.Value
	}
	for i, ad := range ads {
		if ad.CIDR.Addr().Is6() != (p.Family == 6) {
			continue
		}
		r := Rule{From: fmt.Sprintf("prefixAdvertisements[%d]", i), Match: in(ad.CIDR.Masked()), Action: Continue}
		for _, name := range ad.Communities {
			v := name
			if nv, ok := named[name]; ok {
				v = nv
			}
			r.Operations = append(r.Operations, Operation{AddCommunity: v})
		}
		p.Export = append(p.Export, r)
	}
}

func sortedPools(pools []*api.IPPool) []*api.IPPool {
	out := make([]*api.IPPool, len(pools))
	copy(out, pools)
	slicesSortByName(out)
	return out
}
