package doctor

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/kbgp/kbgp/api"
	"github.com/kbgp/kbgp/internal/selector"
	"github.com/kbgp/kbgp/internal/status"
)

// proxyMode returns kube-proxy's mode and the evidence for it.
func (c *cluster) proxyMode() (string, string) {
	if c.in.KubeProxyMode != "" {
		return c.in.KubeProxyMode, "kube-proxy mode " + c.in.KubeProxyMode + " (given)"
	}
	if vs := ipvsServices(c.in.IPVS); vs > 0 {
		return ProxyIPVS, fmt.Sprintf("%s ipvsadm -Ln lists %d virtual services", c.source(), vs)
	}
	if r := c.rules(); r != nil && r.hasSet("KUBE-CLUSTER-IP") {
		return ProxyIPVS, fmt.Sprintf("%s iptables-save matches the ipset KUBE-CLUSTER-IP (kube-proxy IPVS mode)", c.source())
	}
	return "", ""
}

func (c *cluster) source() string {
	if c.in.Source != "" {
		return c.in.Source
	}
	return "the"
}

// ipvsServices counts the virtual services in `ipvsadm -Ln` output.
func ipvsServices(b []byte) int {
	n := 0
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && (f[0] == "TCP" || f[0] == "UDP" || f[0] == "SCTP") {
			n++
		}
	}
	return n
}

// checkAsymmetricServices: the seed's problem 1. Service traffic that
// enters a node which DNATs it (IPVS) to a pod on another node returns
// from that other node straight to the client, unless the ingress node
// also SNATs it.
func (c *cluster) checkAsymmetricServices() {
	mode, modeEv := c.proxyMode()
	if mode != ProxyIPVS {
		return
	}
	var svcEv []string
	for _, sc := range c.global.ServiceClusterIPs {
		svcEv = append(svcEv, fmt.Sprintf("BGPConfiguration/default serviceClusterIPs %s: every node advertises the range (cluster IPs have no externalTrafficPolicy Local)", sc.CIDR))
	}
	for _, s := range c.in.Resources.Services {
		if s.ExternalTrafficPolicy == "Cluster" && (len(s.ExternalIPs) > 0 || len(s.LoadBalancerIPs) > 0) {
			svcEv = append(svcEv, fmt.Sprintf("Service %s/%s externalTrafficPolicy: Cluster", s.Namespace, s.Name))
		}
	}
	if len(svcEv) == 0 {
		return
	}
	all := c.bgpNodes()
	for _, e := range c.external {
		if len(e.peers) >= len(all) && len(all) > 0 {
			continue
		}
		if r := c.rules(); r != nil && r.kubeProxyMasqueradesExternal() {
			continue
		}
		ev := []string{modeEv}
		ev = append(ev, svcEv...)
		ev = append(ev, fmt.Sprintf("the router %s peers only with %s, so service traffic enters the cluster there", e.addr, strings.Join(sortedKeys(e.peers), ", ")))
		if r := c.rules(); r != nil {
			ev = append(ev, fmt.Sprintf("%s iptables-save has no kube-proxy masquerade for sources outside the cluster (KUBE-MARK-MASQ for ! -s <cluster CIDR>)", c.source()))
		} else {
			ev = append(ev, "no iptables-save given: assuming kube-proxy does not SNAT external sources (no clusterCIDR / masqueradeAll)")
		}
		c.add(Finding{Check: "asymmetric-service-return", Severity: Error, Seed: []int{1},
			Summary:  "A client outside the cluster reaches services only on pods of the node the router sends it to: for pods on other nodes the SYN/ACK returns directly from the pod's node, not through the node that did the IPVS DNAT, and the TCP handshake fails.",
			Evidence: ev,
			Fix: "Options, and what each does and does not fix:\n" +
				"1. externalTrafficPolicy: Local, advertised as a /32 (LoadBalancer/NodePort services, their IPs in serviceLoadBalancerIPs or serviceExternalIPs): only nodes with a ready endpoint advertise the /32 and kube-proxy DNATs only to local endpoints, so the reply leaves through the node the request entered and the client address is kept. Fixes the return path. Alone, through one reflector without ADD-PATH, the router gets one path per /32 and sends a service's traffic to one endpoint node; add 2 or 3 to spread it. Cluster IPs advertised as the serviceClusterIPs range are not covered.\n" +
				"2. Every node peering with the router plus router multipath (set the router BGPPeer's nodeSelector to all(), then kbgp router-config --vendor VENDOR --node-peering all): the router spreads the service range over every node (ECMP), the reflector leaves the data path (seed problem 3) and the router keeps its routes when the reflector fails (problem 5). Does not fix the return path: the ingress node still DNATs to a random endpoint and endpoints on other nodes answer the client directly (with endpoints spread evenly over N nodes, about (N-1)/N of the connections fail).\n" +
				"3. ADD-PATH toward the router (RFC 7911; FRR, BIRD, Cisco, Junos and H3C receive it, RouterOS does not; kbgp router-config enables it): the reflector passes every node's path, giving the same ECMP spread as 2 without more sessions, but the router's routes still depend on the reflector's session, and the return path is broken as in 2.\n" +
				"4. kube-proxy SNAT for external sources (kube-proxy --cluster-cidr=" + c.poolCIDRs(4) + ", or masqueradeAll: true): replies go back through the ingress node, which fixes the return path for cluster IPs too, but pods see the node's address instead of the client's and cross-node traffic takes an extra hop.\n" +
				"Use 1 (or 4 where the client address does not matter) for the return path, and 2 or 3 to spread the ingress."})
	}
}

// checkRanges: service ranges overlapping pod pools, blocks outside every
// pool, IPv6 on some nodes only.
func (c *cluster) checkRanges() {
	pools := c.podPools()
	var svc []struct {
		p    netip.Prefix
		from string
	}
	for _, l := range []struct {
		list []api.ServiceCIDR
		name string
	}{{c.global.ServiceClusterIPs, "serviceClusterIPs"}, {c.global.ServiceExternalIPs, "serviceExternalIPs"}, {c.global.ServiceLoadBalancerIPs, "serviceLoadBalancerIPs"}} {
		for _, sc := range l.list {
			svc = append(svc, struct {
				p    netip.Prefix
				from string
			}{sc.CIDR, "BGPConfiguration/default " + l.name + " " + sc.CIDR.String()})
		}
	}
	var ov []string
	for _, s := range svc {
		for _, p := range pools {
			if s.p.Overlaps(p.Spec.CIDR) {
				ov = append(ov, fmt.Sprintf("%s overlaps IPPool/%s %s", s.from, p.Name(), p.Spec.CIDR))
			}
		}
	}
	if len(ov) > 0 {
		c.add(Finding{Check: "service-range-overlaps-pool", Severity: Error,
			Summary:  "Service addresses and pod addresses overlap, so routes for one hide the other: some pods or services become unreachable depending on which prefix is longer.",
			Evidence: ov, Fix: "Use disjoint ranges: serviceClusterIPs must equal kube-apiserver --service-cluster-ip-range and lie outside every IPPool cidr."})
	}
	var outside []string
	for _, n := range c.in.Resources.Nodes {
		for _, b := range n.Spec.AffineBlocks {
			in := false
			for _, p := range pools {
				in = in || p.Spec.CIDR.Contains(b.CIDR.Addr()) && p.Spec.CIDR.Bits() <= b.CIDR.Bits()
			}
			if !in {
				outside = append(outside, fmt.Sprintf("Node/%s affineBlocks %s is in no enabled IPPool", n.Name(), b.CIDR))
			}
		}
	}
	if len(outside) > 0 {
		slices.Sort(outside)
		c.add(Finding{Check: "block-outside-pools", Severity: Warning,
			Summary:  "Pod blocks outside every pool are advertised but not accepted by routers that filter on the pool ranges (kbgp router-config does), so those pods are unreachable from outside.",
			Evidence: outside, Fix: "Add an IPPool covering the block, or release the block (delete the pods and let IPAM reallocate from a pool)."})
	}
	var v4only, v6 []string
	for _, n := range c.bgpNodes() {
		if n.state.IPv6Address.IsValid() {
			v6 = append(v6, n.name)
		} else {
			v4only = append(v4only, n.name)
		}
	}
	if len(v6) > 0 && len(v4only) > 0 {
		c.add(Finding{Check: "partial-ipv6", Severity: Warning,
			Summary:  "IPv6 is configured on some nodes only: IPv6 pods on them cannot reach IPv6 pods elsewhere, and the nodes without IPv6 have no IPv6 sessions.",
			Evidence: []string{"nodes with an IPv6 BGP address: " + strings.Join(v6, ", "), "nodes without: " + strings.Join(v4only, ", ")},
			Fix:      "Give every node spec.bgp.ipv6Address (or the projectcalico.org/IPv6Address annotation), or none."})
	}
}

// checkTopology: isolated nodes, selectors that select nothing, duplicate
// router IDs and addresses, AS mismatches with the router, peers no node
// is on a subnet with.
func (c *cluster) checkTopology() {
	var isolated []string
	for _, n := range c.bgpNodes() {
		if len(n.state.Peers) == 0 {
			isolated = append(isolated, fmt.Sprintf("Node/%s has no BGP session", n.name))
		}
	}
	if len(isolated) > 0 {
		ev := isolated
		if !c.mesh {
			ev = append(ev, "BGPConfiguration/default nodeToNodeMeshEnabled: false")
		}
		c.add(Finding{Check: "isolated-nodes", Severity: Error,
			Summary:  "These nodes exchange routes with nobody: their pods are unreachable from other nodes and from outside.",
			Evidence: ev,
			Fix:      "Enable the mesh (nodeToNodeMeshEnabled: true in BGPConfiguration/default), or make route reflectors (annotate projectcalico.org/RouteReflectorClusterID, label route-reflector=true) and apply a BGPPeer {nodeSelector: all(), peerSelector: route-reflector == 'true'}."})
	}
	labels := make([]map[string]string, 0, len(c.nodes))
	for _, n := range c.nodes {
		labels = append(labels, n.labels)
	}
	matchesNone := func(s string) (bool, error) {
		sel, err := selector.Parse(s)
		if err != nil {
			return false, err
		}
		for _, l := range labels {
			if sel.Matches(l) {
				return false, nil
			}
		}
		return true, nil
	}
	var empty []string
	for _, p := range c.in.Resources.Peers {
		for _, f := range []struct{ field, sel string }{{"nodeSelector", p.Spec.NodeSelector}, {"peerSelector", p.Spec.PeerSelector}} {
			if f.sel == "" {
				continue
			}
			if none, err := matchesNone(f.sel); err == nil && none {
				empty = append(empty, fmt.Sprintf("BGPPeer/%s spec.%s %q matches no node", p.Name(), f.field, f.sel))
			}
		}
	}
	for _, p := range c.in.Resources.Pools {
		if s := p.Spec.NodeSelector; s != "" {
			if none, err := matchesNone(s); err == nil && none {
				empty = append(empty, fmt.Sprintf("IPPool/%s spec.nodeSelector %q matches no node", p.Name(), s))
			}
		}
	}
	if len(empty) > 0 {
		slices.Sort(empty)
		c.add(Finding{Check: "selector-matches-nothing", Severity: Warning,
			Summary:  "These selectors select no node, so the sessions or pools they configure do not exist.",
			Evidence: empty, Fix: "Label the intended nodes (kbgp label node NAME key=value) or correct the selector; list labels with kbgp get nodes -o yaml."})
	}
	dup := func(what string, key func(n *node) []netip.Addr) {
		seen := map[netip.Addr][]string{}
		for _, n := range c.bgpNodes() {
			for _, a := range key(n) {
				seen[a] = append(seen[a], n.name)
			}
		}
		var ev []string
		for a, ns := range seen {
			if len(ns) > 1 {
				ev = append(ev, fmt.Sprintf("%s %s: Node/%s", what, a, strings.Join(ns, ", Node/")))
			}
		}
		if len(ev) == 0 {
			return
		}
		slices.Sort(ev)
		c.add(Finding{Check: "duplicate-" + strings.ReplaceAll(what, " ", "-"), Severity: Error,
			Summary:  fmt.Sprintf("Several nodes share a %s: peers reject or confuse their sessions (RFC 4271 §6.8 collision detection, RFC 6286 §2.1) and routes flap between them.", what),
			Evidence: ev, Fix: "Give each node its own address in spec.bgp.ipv4Address / ipv6Address (the router ID is the IPv4 address)."})
	}
	dup("router ID", func(n *node) []netip.Addr { return []netip.Addr{n.state.RouterID} })
	dup("node address", (*node).addrs)

	for _, e := range c.external {
		var unreachable []string
		for _, name := range sortedKeys(e.peers) {
			p := e.peers[name]
			n := c.byName[name]
			if c.in.RouterAS != 0 && p.RemoteAS != c.in.RouterAS {
				c.add(Finding{Check: "router-as-mismatch", Severity: Error,
					Summary:  fmt.Sprintf("The router %s is AS %s but %s says AS %s: the node rejects its OPEN (RFC 4271 §6.2, Bad Peer AS) and the session never comes up.", e.addr, c.in.RouterAS, p.From, p.RemoteAS),
					Evidence: []string{fmt.Sprintf("%s spec.asNumber %s; the router: AS %s", p.From, p.RemoteAS, c.in.RouterAS)},
					Fix:      fmt.Sprintf("Merge into %s:\nspec:\n  asNumber: %s", strings.TrimSuffix(p.From, " (reverse)"), c.in.RouterAS)})
			}
			onLink := false
			for _, pf := range []netip.Prefix{n.state.IPv4Address, n.state.IPv6Address} {
				onLink = onLink || pf.IsValid() && pf.Masked().Contains(e.addr)
			}
			if !onLink && !p.ReachableBy.IsValid() {
				unreachable = append(unreachable, fmt.Sprintf("Node/%s (%s, %s) is not on a subnet with %s and %s has no reachableBy", name, n.state.IPv4Address, p.From, e.addr, strings.TrimSuffix(p.From, " (reverse)")))
			}
		}
		if len(unreachable) > 0 {
			c.add(Finding{Check: "peer-not-on-link", Severity: Info,
				Summary:  fmt.Sprintf("The nodes reach the peer %s only through their routing table; if the default route does not lead there, the session stays in Connect.", e.addr),
				Evidence: unreachable, Fix: fmt.Sprintf("Set spec.reachableBy: <gateway to %s> in the BGPPeer, or check with: ip route get %s (on the node)", e.addr, e.addr)})
		}
	}
}

// checkLiveSessions reports sessions the agents say are not Established.
func (c *cluster) checkLiveSessions() {
	var ev []string
	for _, node := range sortedKeys(c.in.Sessions) {
		for _, p := range c.in.Sessions[node] {
			if p.State == status.Established {
				continue
			}
			why := ""
			if p.LastError != nil {
				why = ": " + p.LastError.Message
			}
			ev = append(ev, fmt.Sprintf("Node/%s session %s to %s is %s%s", node, p.Name, p.Address, p.State, why))
		}
	}
	if len(ev) > 0 {
		c.add(Finding{Check: "session-down", Severity: Error,
			Summary:  "These BGP sessions are not Established: no routes flow over them.",
			Evidence: ev, Fix: "Inspect each with: kbgp node status (on the node), and the findings above for configuration causes."})
	}
}
