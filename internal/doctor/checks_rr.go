package doctor

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/kbgp/kbgp/internal/config"
)

// checkReflectors: a single route reflector, and clients that do not peer
// with every reflector of their cluster ID (Calico #2735).
func (c *cluster) checkReflectors() {
	rrs := c.reflectors()
	if len(rrs) == 0 || c.mesh && len(rrs) > 1 {
		return
	}
	if len(rrs) == 1 {
		rr := rrs[0]
		ev := []string{fmt.Sprintf("Node/%s is the only node with a routeReflectorClusterID (%s)", rr.name, rr.state.RouteReflectorClusterID)}
		if !c.mesh {
			ev = append(ev, "BGPConfiguration/default nodeToNodeMeshEnabled: false: the other nodes learn routes only through the reflector")
		}
		for _, n := range c.bgpNodes() {
			if n == rr {
				continue
			}
			ps := n.peersWith(rr)
			others := 0
			for _, p := range n.state.Peers {
				if p.RemoteNode != "" && p.RemoteNode != rr.name {
					others++
				}
			}
			if len(ps) > 0 && others == 0 {
				ev = append(ev, fmt.Sprintf("Node/%s learns other nodes' routes only from %s (%s)", n.name, rr.name, froms(ps)))
			}
		}
		for _, e := range c.external {
			if _, ok := e.peers[rr.name]; ok && len(e.peers) == 1 {
				ev = append(ev, fmt.Sprintf("the router %s peers only with %s (%s)", e.addr, rr.name, e.peers[rr.name].From))
			}
		}
		c.add(Finding{Check: "single-route-reflector", Severity: Error, Seed: []int{5},
			Summary:  fmt.Sprintf("When %s fails, every other node and the router lose their routes to pods on other nodes once graceful restart runs out, and the cluster network is cut off.", rr.name),
			Evidence: ev, Fix: c.secondReflectorFix(rr)})
		return
	}
	// RFC 4456 §8: "a RR ... MUST ignore [a route] if the CLUSTER_LIST
	// contains its own CLUSTER_ID", so reflectors sharing a cluster ID do
	// not pass each other's client routes; each client must peer with all.
	byID := map[netip.Addr][]*node{}
	for _, rr := range rrs {
		id := rr.state.RouteReflectorClusterID
		byID[id] = append(byID[id], rr)
	}
	ids := slices.SortedFunc(maps.Keys(byID), netip.Addr.Compare)
	for _, id := range ids {
		group := byID[id]
		if len(group) < 2 {
			continue
		}
		var ev []string
		for _, n := range c.bgpNodes() {
			if n.reflector() {
				continue
			}
			var with, without []*node
			for _, rr := range group {
				if len(n.peersWith(rr)) > 0 {
					with = append(with, rr)
				} else {
					without = append(without, rr)
				}
			}
			if len(with) > 0 && len(without) > 0 {
				ev = append(ev, fmt.Sprintf("Node/%s peers with %s but not with %s", n.name, names(with), names(without)))
			}
		}
		if len(ev) == 0 {
			continue
		}
		ev = append([]string{fmt.Sprintf("reflectors %s share cluster ID %s", names(group), id)}, ev...)
		c.add(Finding{Check: "partial-reflector-peering", Severity: Error, Seed: []int{5},
			Summary:  fmt.Sprintf("Reflectors with cluster ID %s drop each other's reflected routes (RFC 4456 §8), so nodes on different reflectors of that cluster cannot reach each other's pods (Calico #2735).", id),
			Evidence: ev,
			Fix: "Peer every client with every reflector of the cluster ID:\n" +
				"apiVersion: projectcalico.org/v3\nkind: BGPPeer\nmetadata:\n  name: peer-with-route-reflectors\nspec:\n  nodeSelector: all()\n  peerSelector: route-reflector == 'true'\n" +
				"and label every reflector route-reflector=true; or give each reflector its own routeReflectorClusterID."})
	}
}

// secondReflectorFix proposes a second reflector labelled like rr.
func (c *cluster) secondReflectorFix(rr *node) string {
	var cand *node
	for _, n := range c.bgpNodes() {
		if n != rr {
			cand = n // the last by name: often a worker
		}
	}
	name := "NODE"
	if cand != nil {
		name = cand.name
	}
	var labels []string
	for _, k := range sortedKeys(rr.labels) {
		if k != "kubernetes.io/hostname" {
			labels = append(labels, k+"="+rr.labels[k])
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Make a second route reflector with the same cluster ID and the same labels (so the same BGPPeers select it):\n")
	fmt.Fprintf(&b, "  kbgp annotate node %s projectcalico.org/RouteReflectorClusterID=%s\n", name, rr.state.RouteReflectorClusterID)
	if len(labels) > 0 {
		fmt.Fprintf(&b, "  kbgp label node %s %s\n", name, strings.Join(labels, " "))
	}
	if len(c.external) > 0 {
		fmt.Fprintf(&b, "then add the router's side for it: kbgp router-config --vendor VENDOR\n")
	}
	fmt.Fprintf(&b, "and keep routes through a longer outage with long-lived graceful restart (check graceful-restart-too-short).")
	return b.String()
}

// checkGracefulRestart: the time routes from a reflector (or the router)
// survive its outage is the restart time (RFC 4724 §4.2) plus the LLGR
// stale time (RFC 9494 §4.3); shorter than a realistic outage means the
// routes are flushed while it is down.
func (c *cluster) checkGracefulRestart() {
	short := map[string][]string{}
	keep := map[string]time.Duration{}
	for _, n := range c.bgpNodes() {
		for _, p := range n.state.Peers {
			rn := c.byName[p.RemoteNode]
			if rn == nil || !rn.reflector() || n.reflector() {
				continue
			}
			d := time.Duration(0)
			if p.GracefulRestart {
				d = p.RestartTime.Duration
			}
			d += p.LLGRStaleTime.Duration
			if d >= c.in.Outage {
				continue
			}
			from := strings.TrimSuffix(p.From, " (reverse)")
			if _, ok := short[from]; !ok || d < keep[from] {
				keep[from] = d
			}
			gr := "gracefulRestart Disabled"
			if p.GracefulRestart {
				gr = "maxRestartTime " + p.RestartTime.Duration.String()
			}
			short[from] = append(short[from], fmt.Sprintf("Node/%s session to reflector %s: %s, llgrStaleTime %s: routes kept %s after it fails", n.name, rn.name, gr, p.LLGRStaleTime.Duration, d))
		}
	}
	for _, from := range sortedKeys(short) {
		ev := short[from]
		slices.Sort(ev)
		ev = slices.Compact(ev)
		d := keep[from]
		sev := Warning
		if len(c.reflectors()) == 1 && !c.mesh {
			sev = Error
		}
		name := strings.TrimPrefix(from, "BGPPeer/")
		patch := fmt.Sprintf("Merge into %s (kbgp.io/v1 for the extension field):\napiVersion: kbgp.io/v1\nkind: BGPPeer\nmetadata:\n  name: %s\nspec:\n  maxRestartTime: 120s\n  llgrStaleTime: 1h", from, name)
		if from == "mesh" || !strings.HasPrefix(from, "BGPPeer/") {
			patch = "Set nodeMeshMaxRestartTime in BGPConfiguration/default, or peer through BGPPeers with llgrStaleTime: 1h (kbgp.io/v1)."
		}
		c.add(Finding{Check: "graceful-restart-too-short", Severity: sev, Seed: []int{5},
			Summary:  fmt.Sprintf("If a route reflector is down longer than %s (a reboot or kernel upgrade takes longer than that; %s assumed), its clients flush the routes learned from it and traffic to pods on other nodes stops.", d, c.in.Outage),
			Evidence: ev, Fix: patch})
	}
}

// checkNextHopAndECMP: a reflector's eBGP session to the router sets
// next hop self unless told to keep it (Calico #6451, RFC 4271 §5.1.3),
// and a router that peers only with reflectors and has no ADD-PATH gets
// one path per prefix (RFC 7911 §1).
func (c *cluster) checkNextHopAndECMP() {
	for _, e := range c.external {
		var selfEv []string
		fixes := map[string]bool{}
		for _, name := range sortedKeys(e.peers) {
			p := e.peers[name]
			n := c.byName[name]
			if !n.reflector() || p.Internal || p.NextHop == config.NextHopKeep {
				continue
			}
			selfEv = append(selfEv, fmt.Sprintf("Node/%s (reflector) to %s: eBGP (AS %s to AS %s), %s nextHopMode %s", name, e.addr, p.LocalAS, p.RemoteAS, p.From, p.NextHop))
			fixes[p.From] = true
		}
		if len(selfEv) > 0 {
			var fix strings.Builder
			for _, from := range sortedKeys(fixes) {
				fmt.Fprintf(&fix, "Merge into %s:\napiVersion: projectcalico.org/v3\nkind: BGPPeer\nmetadata:\n  name: %s\nspec:\n  nextHopMode: Keep\n", from, strings.TrimPrefix(from, "BGPPeer/"))
			}
			fix.WriteString("(the router must reach every node's address directly; keepOriginalNextHop: true is the older spelling)")
			c.add(Finding{Check: "ebgp-next-hop-self", Severity: Error, Seed: []int{3},
				Summary:  fmt.Sprintf("The reflector rewrites the next hop of every route it sends to %s to itself (eBGP, RFC 4271 §5.1.3), so all traffic from outside enters through the reflector (Calico #6451).", e.addr),
				Evidence: selfEv, Fix: strings.TrimSpace(fix.String())})
		}
		all := c.bgpNodes()
		if len(e.peers) >= len(all) || c.in.RouterAddPath {
			continue
		}
		var rrs []string
		for _, name := range sortedKeys(e.peers) {
			if c.byName[name].reflector() {
				rrs = append(rrs, name)
			}
		}
		if len(rrs) == 0 {
			continue
		}
		c.add(Finding{Check: "ecmp-lost-through-reflector", Severity: Warning, Seed: []int{3},
			Summary: fmt.Sprintf("The router %s learns each prefix only as the reflectors' best path, so a service range every node advertises reaches it with one next hop and all service traffic enters through one node instead of being spread over the nodes (ECMP).", e.addr),
			Evidence: []string{
				fmt.Sprintf("the router %s peers with %d of %d nodes: %s (reflector)", e.addr, len(e.peers), len(all), strings.Join(rrs, ", ")),
				"the router is not known to accept ADD-PATH (doctor --router-add-path if it does)",
			},
			Fix: "Peer every node with the router and enable multipath there: set the router BGPPeer's nodeSelector to all() and run\n" +
				"  kbgp router-config --vendor VENDOR --node-peering all\n" +
				"or, if the router supports ADD-PATH receive (FRR, BIRD, Cisco, Junos, H3C; not RouterOS), kbgp router-config enables it."})
	}
}
