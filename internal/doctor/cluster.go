package doctor

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/kbgp/kbgp/api"
	"github.com/kbgp/kbgp/internal/config"
	"github.com/kbgp/kbgp/internal/fib"
)

// node is one node's compiled state.
type node struct {
	name   string
	labels map[string]string
	state  *config.NodeState
}

func (n *node) reflector() bool { return n.state.RouteReflectorClusterID.IsValid() }

func (n *node) addrs() []netip.Addr {
	var out []netip.Addr
	for _, p := range []netip.Prefix{n.state.IPv4Address, n.state.IPv6Address} {
		if p.IsValid() {
			out = append(out, p.Addr())
		}
	}
	return out
}

// external is an address outside the cluster that nodes peer with (the
// router), and the node sessions to it.
type external struct {
	addr  netip.Addr
	peers map[string]config.Peer // node name -> its session
}

// cluster is the whole-cluster view the checks share.
type cluster struct {
	in       Inputs
	global   api.BGPConfigurationSpec
	mesh     bool
	nodes    []*node // sorted by name
	byAddr   map[netip.Addr]*node
	byName   map[string]*node
	external []*external // sorted by address
	findings []Finding
	parsed   bool
	ruleset  *Ruleset
}

func newCluster(in Inputs) (*cluster, error) {
	if in.Resources == nil {
		return nil, fmt.Errorf("doctor: no resources given")
	}
	if in.Outage == 0 {
		in.Outage = DefaultOutage
	}
	if in.RouteProtocol == 0 {
		in.RouteProtocol = fib.DefaultProtocol
	}
	c := &cluster{in: in, byAddr: map[netip.Addr]*node{}, byName: map[string]*node{}}
	for _, r := range in.Resources.Configurations {
		if r.Name() == "default" {
			c.global = r.Spec
		}
	}
	c.mesh = c.global.NodeToNodeMeshEnabled == nil || *c.global.NodeToNodeMeshEnabled
	for _, r := range in.Resources.Nodes {
		s, err := config.Compile(in.Resources, r.Name())
		if err != nil {
			return nil, fmt.Errorf("compiling Node/%s: %w", r.Name(), err)
		}
		n := &node{name: r.Name(), labels: r.Metadata.Labels, state: s}
		c.nodes = append(c.nodes, n)
		c.byName[n.name] = n
	}
	slices.SortFunc(c.nodes, func(a, b *node) int { return strings.Compare(a.name, b.name) })
	for _, n := range c.nodes {
		for _, a := range n.addrs() {
			if _, dup := c.byAddr[a]; !dup {
				c.byAddr[a] = n
			}
		}
	}
	ext := map[netip.Addr]*external{}
	for _, n := range c.nodes {
		for _, p := range n.state.Peers {
			if c.byAddr[p.Address] != nil {
				continue
			}
			e := ext[p.Address]
			if e == nil {
				e = &external{addr: p.Address, peers: map[string]config.Peer{}}
				ext[p.Address] = e
				c.external = append(c.external, e)
			}
			e.peers[n.name] = p
		}
	}
	slices.SortFunc(c.external, func(a, b *external) int { return a.addr.Compare(b.addr) })
	return c, nil
}

func (c *cluster) add(f Finding) { c.findings = append(c.findings, f) }

// reflectors returns the reflector nodes.
func (c *cluster) reflectors() []*node {
	var out []*node
	for _, n := range c.nodes {
		if n.reflector() {
			out = append(out, n)
		}
	}
	return out
}

// bgpNodes are the nodes with a BGP address.
func (c *cluster) bgpNodes() []*node {
	var out []*node
	for _, n := range c.nodes {
		if len(n.addrs()) > 0 {
			out = append(out, n)
		}
	}
	return out
}

// peersWith returns n's sessions to node m.
func (n *node) peersWith(m *node) []config.Peer {
	var out []config.Peer
	for _, p := range n.state.Peers {
		if p.RemoteNode == m.name {
			out = append(out, p)
		}
	}
	return out
}

func names(ns []*node) string {
	s := make([]string, len(ns))
	for i, n := range ns {
		s[i] = n.name
	}
	return strings.Join(s, ", ")
}

// sortedKeys returns a map's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// froms lists the distinct From of sessions.
func froms(ps []config.Peer) string {
	var s []string
	for _, p := range ps {
		s = append(s, strings.TrimSuffix(p.From, " (reverse)"))
	}
	slices.Sort(s)
	return strings.Join(slices.Compact(s), ", ")
}

// podPools are the enabled pools' CIDRs.
func (c *cluster) podPools() []*api.IPPool {
	var out []*api.IPPool
	for _, p := range c.in.Resources.Pools {
		if !p.Spec.Disabled && p.Spec.CIDR.IsValid() {
			out = append(out, p)
		}
	}
	slices.SortFunc(out, func(a, b *api.IPPool) int { return cmp.Compare(a.Name(), b.Name()) })
	return out
}

func (c *cluster) poolCIDRs(fam int) string {
	var s []string
	for _, p := range c.podPools() {
		if (fam == 4) == p.Spec.CIDR.Addr().Is4() {
			s = append(s, p.Spec.CIDR.String())
		}
	}
	if len(s) == 0 {
		if fam == 4 {
			return "<pod CIDR>"
		}
		return ""
	}
	return s[0]
}

func (c *cluster) compileWarnings() {
	seen := map[string]bool{}
	var ev []string
	for _, n := range c.nodes {
		for _, w := range n.state.Warnings {
			if !seen[w] {
				seen[w] = true
				ev = append(ev, fmt.Sprintf("Node/%s: %s", n.name, w))
			}
		}
	}
	if len(ev) > 0 {
		c.add(Finding{Check: "ignored-input", Severity: Info,
			Summary:  "Some resources are ignored when the nodes' BGP state is compiled; the agents run without them.",
			Evidence: ev, Fix: "Fix each resource as its message says, then check with: kbgp node config NODE"})
	}
}
