package config

import (
	"cmp"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kbgp/kbgp/api"
)

// peers builds the sessions of one address family (notes §2.3 / calico.md
// §7 item 3): the mesh, then global and node-specific BGPPeers (forward and
// reverse), dropping duplicates and the node's own address.
func (c *compiler) peers(fam int) []Peer {
	self := c.self
	myIP := self.ip(fam)
	var out []Peer
	seen := map[netip.AddrPort]string{} // session -> what configured it first
	add := func(p Peer) {
		if p.Address == myIP {
			return // "Peers with the node's own IP are skipped"
		}
		key := netip.AddrPortFrom(p.Address, p.Port)
		if first, dup := seen[key]; dup {
			if !sameSource(first, p.From) {
				c.warnf("%s: session to %s is already configured by %s; ignored", p.From, key, first)
			}
			return
		}
		seen[key] = p.From
		out = append(out, p)
	}

	// 1. Mesh: only when enabled and this node is not a route reflector;
	// peer with every other node with an address in this family and no
	// cluster ID.
	if c.mesh && !self.clusterID.IsValid() {
		for _, n := range c.nodes {
			ip := n.ip(fam)
			if n == self || !ip.IsValid() || n.clusterID.IsValid() {
				continue
			}
			p := c.newPeer(PeerMesh, "mesh", ip, n.listenPort, n.asn, self.asn)
			p.RemoteNode = n.name
			// Passive rule: "passive on if peerIP > myIP as a string
			// comparison", so only the lower-addressed side connects.
			p.Passive = ip.String() > myIP.String()
			p.SourceAddress = myIP
			p.Password = c.password(c.global.NodeMeshPassword)
			if t := c.global.NodeMeshMaxRestartTime; t != nil {
				p.RestartTime = *t
			}
			add(p)
		}
	}

	// 2. Global BGPPeers first, then node-specific ones (a node-specific
	// peer to an address a global peer already covers is dropped), each in
	// name order; reverse peerings last.
	peers := slices.Clone(c.in.Peers)
	slices.SortFunc(peers, func(a, b *api.BGPPeer) int {
		return cmp.Or(cmp.Compare(scopeOrder(a), scopeOrder(b)), strings.Compare(a.Name(), b.Name()))
	})
	var reverse []Peer
	for _, bp := range peers {
		if bp.Spec.LocalWorkloadSelector != "" {
			c.warnf("BGPPeer/%s: localWorkloadSelector peerings are not compiled yet; ignored", bp.Name())
			continue
		}
		for _, p := range c.forward(bp, fam) {
			add(p)
		}
		reverse = append(reverse, c.reverse(bp, fam)...)
	}
	for _, p := range reverse {
		add(p)
	}
	slices.SortFunc(out, func(a, b Peer) int { return strings.Compare(a.Name, b.Name) })
	return out
}

func sameSource(a, b string) bool {
	return strings.TrimSuffix(a, " (reverse)") == strings.TrimSuffix(b, " (reverse)")
}

func scopeOrder(p *api.BGPPeer) int {
	if p.Spec.Node == "" && p.Spec.NodeSelector == "" {
		return 0
	}
	return 1
}

// selectsLocal reports whether BGPPeer bp applies to node n (its node /
// nodeSelector, or every node for a global peer).
func (c *compiler) selectsLocal(bp *api.BGPPeer, n *nodeInfo) bool {
	switch {
	case bp.Spec.Node != "":
		return bp.Spec.Node == n.name
	case bp.Spec.NodeSelector != "":
		return c.matches(bp.Spec.NodeSelector, n.labels)
	}
	return true
}

// remoteNode returns the node a peerIP peering points at: "peerIP without
// port matching a Calico node (IP+AS)".
func (c *compiler) remoteNode(bp *api.BGPPeer) *nodeInfo {
	a := bp.Spec.PeerIP
	if a.IsZero() {
		return nil
	}
	for _, n := range c.nodes {
		if n.ip(family(a.Addr)) == a.Addr && n.asn == bp.Spec.ASNumber && (a.Port == 0 || a.Port == n.listenPort) {
			return n
		}
	}
	return nil
}

// forward returns the sessions bp gives this node.
func (c *compiler) forward(bp *api.BGPPeer, fam int) []Peer {
	self := c.self
	if !c.selectsLocal(bp, self) {
		return nil
	}
	typ := PeerNodeSpecific
	if scopeOrder(bp) == 0 {
		typ = PeerGlobal
	}
	from := "BGPPeer/" + bp.Name()
	var out []Peer
	if a := bp.Spec.PeerIP; !a.IsZero() {
		if family(a.Addr) != fam {
			return nil
		}
		port := a.Port
		rn := c.remoteNode(bp)
		if port == 0 {
			port = DefaultListenPort
			if rn != nil {
				port = rn.listenPort
			}
		}
		p := c.peerFrom(bp, typ, from, a.Addr, port, bp.Spec.ASNumber, rn)
		out = append(out, p)
		return out
	}
	if bp.Spec.PeerSelector != "" {
		for _, n := range c.nodes {
			ip := n.ip(fam)
			if n == self || !ip.IsValid() || !c.matches(bp.Spec.PeerSelector, n.labels) {
				continue
			}
			out = append(out, c.peerFrom(bp, typ, from, ip, n.listenPort, n.asn, n))
		}
	}
	return out
}

// reverse returns the sessions this node gets because it is the remote
// end of bp (reversePeering: Auto): back to every node bp selects.
func (c *compiler) reverse(bp *api.BGPPeer, fam int) []Peer {
	self := c.self
	if bp.Spec.ReversePeering == "Manual" {
		return nil
	}
	switch {
	case bp.Spec.PeerSelector != "":
		if !c.matches(bp.Spec.PeerSelector, self.labels) {
			return nil
		}
	case !bp.Spec.PeerIP.IsZero():
		if c.remoteNode(bp) != self || family(bp.Spec.PeerIP.Addr) != fam {
			return nil
		}
	default:
		return nil
	}
	var out []Peer
	for _, n := range c.nodes {
		ip := n.ip(fam)
		if n == self || !ip.IsValid() || !c.selectsLocal(bp, n) {
			continue
		}
		// Calico names generated reverse sessions Node_ ("node specific").
		out = append(out, c.peerFrom(bp, PeerNodeSpecific, "BGPPeer/"+bp.Name()+" (reverse)", ip, n.listenPort, n.asn, n))
	}
	return out
}

// newPeer fills the attributes every session has.
func (c *compiler) newPeer(typ PeerType, from string, ip netip.Addr, port uint16, remoteAS, localAS api.ASNumber) Peer {
	p := Peer{Type: typ, From: from, Family: family(ip), Address: ip, Port: port,
		RemoteAS: remoteAS, LocalAS: localAS, Internal: remoteAS == localAS,
		NextHop: NextHopAuto, HoldTime: api.Duration{Duration: DefaultHoldTime},
		GracefulRestart: true, RestartTime: api.Duration{Duration: DefaultRestartTime},
		AddPathSend: true, AddPathReceive: true}
	p.KeepaliveTime = api.Duration{Duration: p.HoldTime.Duration / 3}
	prefix := map[PeerType]string{PeerMesh: "Mesh_", PeerGlobal: "Global_", PeerNodeSpecific: "Node_"}[typ]
	p.Name = prefix + strings.NewReplacer(".", "_", ":", "_").Replace(ip.String())
	if port != DefaultListenPort {
		p.Name += "_port_" + strconv.Itoa(int(port))
	}
	c.routeReflection(&p, nil)
	return p
}

// routeReflection applies notes §2.3 rule 4: "If this node has cluster ID
// X, and the peer is iBGP, and the peer's rr_cluster_id ≠ X, then emit rr
// client; rr cluster id X" (RFC 4456 §7: the cluster ID identifies the
// reflector's cluster).
func (c *compiler) routeReflection(p *Peer, remote *nodeInfo) {
	x := c.self.clusterID
	if !x.IsValid() || !p.Internal {
		p.RouteReflectorClient, p.ClusterID = false, netip.Addr{}
		return
	}
	var theirs netip.Addr
	if remote != nil {
		theirs = remote.clusterID
	} else if rn := c.nodeAt(p.Address); rn != nil {
		theirs = rn.clusterID
	}
	if theirs != x {
		p.RouteReflectorClient, p.ClusterID = true, x
	}
}

func (c *compiler) nodeAt(a netip.Addr) *nodeInfo {
	for _, n := range c.nodes {
		if n.ip(family(a)) == a {
			return n
		}
	}
	return nil
}

// peerFrom builds a session configured by BGPPeer bp.
func (c *compiler) peerFrom(bp *api.BGPPeer, typ PeerType, from string, ip netip.Addr, port uint16, remoteAS api.ASNumber, remote *nodeInfo) Peer {
	s := &bp.Spec
	localAS := c.self.asn
	if s.LocalASNumber != nil {
		localAS = *s.LocalASNumber
	}
	p := c.newPeer(typ, from, ip, port, remoteAS, localAS)
	if remote != nil {
		p.RemoteNode = remote.name
		// Passive rule for Calico-node peers reached as global peers.
		if typ == PeerGlobal {
			p.Passive = ip.String() > c.self.ip(family(ip)).String()
		}
	}
	c.routeReflection(&p, remote)
	if s.SourceAddress != "None" {
		p.SourceAddress = c.self.ip(family(ip))
	}
	switch {
	case s.NextHopMode == "Self":
		p.NextHop = NextHopSelf
	case s.NextHopMode == "Keep":
		p.NextHop = NextHopKeep
	case s.KeepOriginalNextHop && !p.Internal:
		// Legacy keepOriginalNextHop: "next hop keep only when the peer AS
		// ≠ the effective local AS".
		p.NextHop = NextHopKeep
	}
	p.Password = c.password(s.Password)
	if s.MaxRestartTime != nil {
		p.RestartTime = *s.MaxRestartTime
	}
	if s.HoldTime != nil {
		p.HoldTime = *s.HoldTime
		p.KeepaliveTime = api.Duration{Duration: s.HoldTime.Duration / 3}
	}
	if s.KeepaliveTime != nil {
		p.KeepaliveTime = *s.KeepaliveTime
	}
	if s.GracefulRestart == "Disabled" {
		p.GracefulRestart, p.RestartTime = false, api.Duration{}
	}
	if s.LLGRStaleTime != nil {
		p.LLGRStaleTime = *s.LLGRStaleTime
	}
	if ap := s.AddPath; ap != nil {
		if ap.Send != nil {
			p.AddPathSend = *ap.Send
		}
		if ap.Receive != nil {
			p.AddPathReceive = *ap.Receive
		}
	}
	if m := s.MaxPrefix; m != nil {
		p.MaxPrefix = m.Limit
		if m.RestartTime != nil {
			p.MaxPrefixRestart = *m.RestartTime
		}
	}
	if b := s.BFD; b != nil {
		bfd := &BFD{MinRx: api.Duration{Duration: 300 * time.Millisecond}, MinTx: api.Duration{Duration: 300 * time.Millisecond}, Multiplier: 3}
		if b.MinRxInterval != nil {
			bfd.MinRx = *b.MinRxInterval
		}
		if b.MinTxInterval != nil {
			bfd.MinTx = *b.MinTxInterval
		}
		if b.Multiplier != nil {
			bfd.Multiplier = *b.Multiplier
		}
		p.BFD = bfd
	}
	if s.TTLSecurity != nil {
		p.TTLSecurity = *s.TTLSecurity
	}
	if s.NumAllowedLocalASNumbers != nil {
		p.AllowLocalAS = int(*s.NumAllowedLocalASNumbers)
	}
	if s.ReachableBy.IsValid() && !s.PeerIP.IsZero() {
		p.ReachableBy = s.ReachableBy
		bits := 32
		if ip.Is6() {
			bits = 128
		}
		c.addStatic(StaticRoute{Prefix: netip.PrefixFrom(ip, bits), Via: s.ReachableBy})
	}
	p.Filters = s.Filters
	return p
}

func (c *compiler) addStatic(r StaticRoute) {
	if !slices.Contains(c.state.StaticRoutes, r) {
		c.state.StaticRoutes = append(c.state.StaticRoutes, r)
		slices.SortFunc(c.state.StaticRoutes, func(a, b StaticRoute) int { return comparePrefix(a.Prefix, b.Prefix) })
	}
}

func (c *compiler) password(pw *api.BGPPassword) *Password {
	if pw == nil || pw.SecretKeyRef == nil {
		return nil
	}
	ref := pw.SecretKeyRef
	p := &Password{Secret: ref.Name, Key: ref.Key}
	if v, ok := c.in.Secrets[ref.Name][ref.Key]; ok {
		p.Value, p.Resolved = v, true
	} else if ref.Optional == nil || !*ref.Optional {
		c.warnf("secret %s key %s not found: sessions using it are configured without the password until it appears", ref.Name, ref.Key)
	}
	return p
}

func comparePrefix(a, b netip.Prefix) int {
	return cmp.Or(a.Addr().Compare(b.Addr()), cmp.Compare(a.Bits(), b.Bits()))
}
