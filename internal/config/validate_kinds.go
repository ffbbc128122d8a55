package config

import (
	"fmt"
	"net/netip"
	"strconv"
	"time"

	"github.com/kbgp/kbgp/api"
)

func (v *validator) bgpPeer(s *api.BGPPeerSpec) {
	if s.Node != "" && s.NodeSelector != "" {
		v.add("spec.nodeSelector", s.NodeSelector, "node and nodeSelector are both set; use one (node %q names a single node)", s.Node)
	}
	if s.NodeSelector != "" {
		v.selector("spec.nodeSelector", s.NodeSelector)
	}
	if s.PeerSelector != "" {
		v.selector("spec.peerSelector", s.PeerSelector)
	}
	if s.LocalWorkloadSelector != "" {
		v.selector("spec.localWorkloadSelector", s.LocalWorkloadSelector)
	}
	switch {
	case !s.PeerIP.IsZero() && s.PeerSelector != "":
		v.add("spec.peerSelector", s.PeerSelector, "peerIP and peerSelector are both set; use one")
	case s.LocalWorkloadSelector != "" && (!s.PeerIP.IsZero() || s.PeerSelector != ""):
		v.add("spec.localWorkloadSelector", s.LocalWorkloadSelector, "cannot be combined with peerIP or peerSelector")
	case s.PeerIP.IsZero() && s.PeerSelector == "" && s.LocalWorkloadSelector == "":
		v.add("spec.peerIP", "", "one of peerIP, peerSelector or localWorkloadSelector is required")
	}
	if s.PeerSelector != "" && s.ASNumber != 0 {
		v.add("spec.asNumber", s.ASNumber.String(), "must be empty with peerSelector: the remote AS is the selected node's AS")
	}
	if !s.PeerIP.IsZero() && s.ASNumber == 0 {
		v.add("spec.asNumber", "", "required with peerIP")
	}
	if s.LocalWorkloadSelector != "" && s.ASNumber == 0 {
		v.add("spec.asNumber", "", "required with localWorkloadSelector")
	}
	if a := s.PeerIP.Addr; a.IsValid() && (a.IsUnspecified() || a.IsMulticast()) {
		v.add("spec.peerIP", s.PeerIP.String(), "not a unicast address")
	}
	if s.LocalASNumber != nil {
		v.asn("spec.localASNumber", *s.LocalASNumber)
	}
	if s.KeepOriginalNextHop && s.NextHopMode != "" {
		v.add("spec.keepOriginalNextHop", "true", "cannot be combined with nextHopMode; use nextHopMode: Keep")
	}
	v.oneOf("spec.nextHopMode", s.NextHopMode, "Auto", "Self", "Keep")
	v.password("spec.password", s.Password)
	v.oneOf("spec.sourceAddress", s.SourceAddress, "UseNodeIP", "None")
	// RFC 4724 §3: "Restart Time: This is the estimated time (in seconds)
	// it will take for the BGP session to be re-established" (12 bits).
	v.seconds("spec.maxRestartTime", s.MaxRestartTime, 0, 4095*time.Second, " (RFC 4724 §3: the restart time is a 12-bit number of seconds)")
	v.seconds("spec.keepaliveTime", s.KeepaliveTime, time.Second, 21845*time.Second, "")
	// RFC 4271 §4.2: "Hold Time ... MUST be either zero or at least three
	// seconds."
	if h := s.HoldTime; h != nil {
		if h.Duration != 0 && (h.Duration < 3*time.Second || h.Duration > 65535*time.Second) {
			v.add("spec.holdTime", h.Duration.String(), "must be 0 or between 3s and 65535s (RFC 4271 §4.2)")
		}
		if k := s.KeepaliveTime; k != nil && h.Duration != 0 && k.Duration > h.Duration/3 {
			v.add("spec.keepaliveTime", k.Duration.String(), "must be at most a third of holdTime %s (RFC 4271 §10)", h.Duration)
		}
	}
	if n := s.NumAllowedLocalASNumbers; n != nil && (*n < 0 || *n > 10) {
		v.add("spec.numAllowedLocalASNumbers", strconv.Itoa(int(*n)), "must be 0-10")
	}
	if g := s.ReachableBy; g.IsValid() {
		switch {
		case s.PeerIP.IsZero():
			v.add("spec.reachableBy", g.String(), "requires peerIP")
		case g.Is4() != s.PeerIP.Addr.Is4():
			v.add("spec.reachableBy", g.String(), "must be the same address family as peerIP %s", s.PeerIP.Addr)
		}
	}
	for i, f := range s.Filters {
		if f == "" || !nameRE.MatchString(f) {
			v.add(fmt.Sprintf("spec.filters[%d]", i), f, "not a valid BGPFilter name")
		}
	}
	v.oneOf("spec.reversePeering", s.ReversePeering, "Auto", "Manual")
	v.oneOf("spec.gracefulRestart", s.GracefulRestart, "Enabled", "Disabled")
	// RFC 9494 §3: the LLGR stale time is a 24-bit number of seconds.
	v.seconds("spec.llgrStaleTime", s.LLGRStaleTime, 0, (1<<24-1)*time.Second, " (RFC 9494: 24-bit seconds)")
	if m := s.MaxPrefix; m != nil {
		if m.Limit == 0 {
			v.add("spec.maxPrefix.limit", "0", "must be at least 1")
		}
		v.seconds("spec.maxPrefix.restartTime", m.RestartTime, 0, 65535*time.Second, "")
	}
	if b := s.BFD; b != nil {
		v.seconds("spec.bfd.minRxInterval", b.MinRxInterval, time.Millisecond, time.Hour, "")
		v.seconds("spec.bfd.minTxInterval", b.MinTxInterval, time.Millisecond, time.Hour, "")
		if b.Multiplier != nil && *b.Multiplier == 0 {
			v.add("spec.bfd.multiplier", "0", "must be at least 1 (RFC 5880 §4.1: Detect Mult MUST NOT be zero)")
		}
	}
}

func (v *validator) bgpFilter(s *api.BGPFilterSpec) {
	for _, l := range []struct {
		name  string
		rules []api.BGPFilterRule
		fam   int
	}{{"exportV4", s.ExportV4, 4}, {"importV4", s.ImportV4, 4}, {"exportV6", s.ExportV6, 6}, {"importV6", s.ImportV6, 6}} {
		for i, r := range l.rules {
			v.filterRule(fmt.Sprintf("spec.%s[%d]", l.name, i), r, l.fam)
		}
	}
}

func (v *validator) filterRule(p string, r api.BGPFilterRule, fam int) {
	if r.Action == "" {
		v.add(p+".action", "", "required: Accept or Reject")
	}
	v.oneOf(p+".action", r.Action, "Accept", "Reject")
	v.prefix(p+".cidr", r.CIDR, fam, false)
	if r.CIDR.IsValid() != (r.MatchOperator != "") {
		v.add(p+".matchOperator", r.MatchOperator, "cidr and matchOperator must be set together")
	}
	v.oneOf(p+".matchOperator", r.MatchOperator, "Equal", "NotEqual", "In", "NotIn")
	if pl := r.PrefixLength; pl != nil {
		if !r.CIDR.IsValid() {
			v.add(p+".prefixLength", "", "requires cidr")
		}
		maxLen := int32(32)
		if fam == 6 {
			maxLen = 128
		}
		lo, hi := int32(0), maxLen
		if pl.Min != nil {
			lo = *pl.Min
		}
		if pl.Max != nil {
			hi = *pl.Max
		}
		if lo < 0 || lo > maxLen {
			v.add(p+".prefixLength.min", strconv.Itoa(int(lo)), "must be 0-%d", maxLen)
		}
		if hi < 0 || hi > maxLen {
			v.add(p+".prefixLength.max", strconv.Itoa(int(hi)), "must be 0-%d", maxLen)
		}
		if lo > hi {
			v.add(p+".prefixLength", "", "min %d is greater than max %d", lo, hi)
		}
	}
	v.oneOf(p+".source", r.Source, "RemotePeers")
	if len(r.Interface) > 15 {
		v.add(p+".interface", r.Interface, "at most 15 characters (an interface name glob)")
	}
	v.oneOf(p+".peerType", r.PeerType, "eBGP", "iBGP")
	if c := r.Communities; c != nil {
		if len(c.Values) != 1 {
			v.add(p+".communities.values", "", "exactly one value is supported")
		}
		for i, val := range c.Values {
			if _, err := ParseCommunity(val); err != nil {
				v.add(fmt.Sprintf("%s.communities.values[%d]", p, i), val, "%v", err)
			}
		}
	}
	if r.Priority != nil && (*r.Priority < 1 || *r.Priority > 2147483646) {
		v.add(p+".priority", strconv.Itoa(*r.Priority), "must be 1-2147483646")
	}
	if len(r.Operations) > 0 && r.Action != "Accept" {
		v.add(p+".operations", "", "only allowed with action Accept")
	}
	if len(r.Operations) > 10 {
		v.add(p+".operations", "", "at most 10 operations")
	}
	for i, op := range r.Operations {
		q := fmt.Sprintf("%s.operations[%d]", p, i)
		n := 0
		if op.AddCommunity != nil {
			n++
			if _, err := ParseCommunity(op.AddCommunity.Value); err != nil {
				v.add(q+".addCommunity.value", op.AddCommunity.Value, "%v", err)
			}
		}
		if op.PrependASPath != nil {
			n++
			if len(op.PrependASPath.Prefix) == 0 {
				v.add(q+".prependASPath.prefix", "", "at least one AS is required")
			}
		}
		if op.SetPriority != nil {
			n++
			if x := op.SetPriority.Value; x < 1 || x > 2147483646 {
				v.add(q+".setPriority.value", strconv.Itoa(x), "must be 1-2147483646")
			}
		}
		if n != 1 {
			v.add(q, "", "exactly one of addCommunity, prependASPath or setPriority must be set")
		}
	}
}

func (v *validator) node(n *api.Node) {
	ann := n.Metadata.Annotations
	for _, k := range []string{AnnotationRouteReflectorClusterID, AnnotationIPv4Address, AnnotationIPv6Address, AnnotationASNumber} {
		val, ok := ann[k]
		if !ok {
			continue
		}
		p := "metadata.annotations." + k
		var err error
		switch k {
		case AnnotationRouteReflectorClusterID:
			var a netip.Addr
			if a, err = netip.ParseAddr(val); err == nil && !a.Is4() {
				err = fmt.Errorf("must be an IPv4-formatted cluster ID")
			}
		case AnnotationIPv4Address, AnnotationIPv6Address:
			var pfx netip.Prefix
			if pfx, err = parseCIDROrIP(val); err == nil && pfx.Addr().Is4() != (k == AnnotationIPv4Address) {
				err = fmt.Errorf("wrong address family")
			}
		case AnnotationASNumber:
			_, err = api.ParseASNumber(val)
		}
		if err != nil {
			v.add(p, val, "%s", cleanErr(err, val))
		}
	}
	b := n.Spec.BGP
	if b != nil {
		if b.ASNumber != nil {
			v.asn("spec.bgp.asNumber", *b.ASNumber)
		}
		if b.IPv4Address.IsValid() {
			v.family("spec.bgp.ipv4Address", b.IPv4Address.Addr(), b.IPv4Address.String(), 4)
		}
		if b.IPv6Address.IsValid() {
			v.family("spec.bgp.ipv6Address", b.IPv6Address.Addr(), b.IPv6Address.String(), 6)
		}
		if a := b.IPv4IPIPTunnelAddr; a.IsValid() {
			v.family("spec.bgp.ipv4IPIPTunnelAddr", a, a.String(), 4)
		}
		if a := b.RouteReflectorClusterID; a.IsValid() {
			v.family("spec.bgp.routeReflectorClusterID", a, a.String(), 4)
		}
	}
	for i, blk := range n.Spec.AffineBlocks {
		p := fmt.Sprintf("spec.affineBlocks[%d]", i)
		v.prefix(p+".cidr", blk.CIDR, 0, true)
		v.oneOf(p+".state", blk.State, "confirmed", "pending", "pendingDeletion")
	}
}

func (v *validator) ipPool(s *api.IPPoolSpec) {
	v.prefix("spec.cidr", s.CIDR, 0, true)
	if bs := s.BlockSize; bs != nil && s.CIDR.IsValid() {
		lo, hi := 20, 32
		if s.CIDR.Addr().Is6() {
			lo, hi = 116, 128
		}
		switch {
		case *bs < lo || *bs > hi:
			v.add("spec.blockSize", strconv.Itoa(*bs), "must be %d-%d for this address family", lo, hi)
		case *bs < s.CIDR.Bits():
			v.add("spec.blockSize", strconv.Itoa(*bs), "must not be shorter than the pool's prefix length /%d", s.CIDR.Bits())
		}
	}
	v.oneOf("spec.ipipMode", s.IPIPMode, "Never", "Always", "CrossSubnet")
	v.oneOf("spec.vxlanMode", s.VXLANMode, "Never", "Always", "CrossSubnet")
	if on(s.IPIPMode) && on(s.VXLANMode) {
		v.add("spec.vxlanMode", s.VXLANMode, "ipipMode and vxlanMode cannot both be enabled")
	}
	if on(s.IPIPMode) && s.CIDR.IsValid() && s.CIDR.Addr().Is6() {
		v.add("spec.ipipMode", s.IPIPMode, "IPIP is IPv4 only")
	}
	if s.NodeSelector != "" {
		v.selector("spec.nodeSelector", s.NodeSelector)
	}
	if s.NamespaceSelector != "" {
		v.selector("spec.namespaceSelector", s.NamespaceSelector)
	}
	lb := false
	for i, u := range s.AllowedUses {
		v.oneOf(fmt.Sprintf("spec.allowedUses[%d]", i), u, "Workload", "Tunnel", "LoadBalancer")
		lb = lb || u == "LoadBalancer"
	}
	if lb && s.DisableBGPExport {
		v.add("spec.disableBGPExport", "true", "not allowed on a LoadBalancer pool")
	}
	v.oneOf("spec.assignmentMode", s.AssignmentMode, "Automatic", "Manual")
}

func on(mode string) bool { return mode == "Always" || mode == "CrossSubnet" }
