package config

import (
	"cmp"
	"errors"
	"fmt"
	"hash/fnv"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/kbgp/kbgp/api"
	"github.com/kbgp/kbgp/internal/selector"
)

// Calico's defaults (confd globalDefaults and BIRD's built-in values; see
// docs/reference.md).
const (
	DefaultASNumber    api.ASNumber = 64512
	DefaultListenPort  uint16       = 179
	DefaultHoldTime                 = 240 * time.Second
	DefaultRestartTime              = 120 * time.Second
	DefaultRoutePrio                = 1024
	defaultBlockSizeV4              = 26
	defaultBlockSizeV6              = 122
)

// nodeInfo is a node's effective BGP identity.
type nodeInfo struct {
	name       string
	labels     map[string]string
	asn        api.ASNumber
	addr       [2]netip.Prefix // [0] IPv4, [1] IPv6
	clusterID  netip.Addr
	listenPort uint16
	bgp        bool
	node       *api.Node
}

func (n *nodeInfo) ip(fam int) netip.Addr {
	if p := n.addr[famIndex(fam)]; p.IsValid() {
		return p.Addr()
	}
	return netip.Addr{}
}

func famIndex(fam int) int {
	if fam == 6 {
		return 1
	}
	return 0
}

func family(a netip.Addr) int {
	if a.Is4() {
		return 4
	}
	return 6
}

// compiler holds the cluster-wide view while compiling one node.
type compiler struct {
	in        *Input
	global    api.BGPConfigurationSpec // the "default" BGPConfiguration
	override  api.BGPConfigurationSpec // "node.<name>"
	mesh      bool
	globalAS  api.ASNumber
	nodes     []*nodeInfo // sorted by name
	byName    map[string]*nodeInfo
	filters   map[string]*api.BGPFilter
	self      *nodeInfo
	state     *NodeState
	warnings  []string
	selectors map[string]*selector.Selector
}

// Compile computes the desired BGP state of node from in. It is a pure
// function: the same input gives the same (sorted) output. It follows
// Calico's confd rules (see the comments at each step and
// docs/reference.md). Input problems that Calico would ignore become
// NodeState.Warnings; an error is returned only when node is unknown or
// the input does not validate.
func Compile(in *Input, node string) (*NodeState, error) {
	c := &compiler{in: in, byName: map[string]*nodeInfo{}, filters: map[string]*api.BGPFilter{},
		selectors: map[string]*selector.Selector{}}
	if err := c.load(node); err != nil {
		return nil, err
	}
	s := c.state
	for _, fam := range []int{4, 6} {
		if !c.self.ip(fam).IsValid() {
			continue
		}
		s.Peers = append(s.Peers, c.peers(fam)...)
	}
	c.originate()
	for i := range s.Peers {
		c.policies(&s.Peers[i])
	}
	slices.Sort(c.warnings)
	s.Warnings = slices.Compact(c.warnings)
	return s, nil
}

func (c *compiler) warnf(format string, args ...any) {
	c.warnings = append(c.warnings, fmt.Sprintf(format, args...))
}

func (c *compiler) selector(s string) *selector.Selector {
	if sel, ok := c.selectors[s]; ok {
		return sel
	}
	sel, err := selector.Parse(s)
	if err != nil {
		sel = nil // validation reports it; an invalid selector matches nothing
	}
	c.selectors[s] = sel
	return sel
}

func (c *compiler) matches(sel string, labels map[string]string) bool {
	s := c.selector(sel)
	return s != nil && s.Matches(labels)
}

// load validates the input and computes the global and per-node views.
func (c *compiler) load(node string) error {
	in := c.in
	var errs []error
	check := func(r api.Resource) {
		if err := Validate(r); err != nil {
			errs = append(errs, err)
		}
	}
	for _, r := range in.Configurations {
		check(r)
		switch r.Name() {
		case "default":
			c.global = r.Spec
		case "node." + node:
			c.override = r.Spec
		}
	}
	for _, r := range in.Peers {
		check(r)
	}
	for _, r := range in.Filters {
		check(r)
		c.filters[r.Name()] = r
	}
	for _, r := range in.Pools {
		check(r)
	}
	for _, r := range in.Nodes {
		check(r)
	}
	if len(errs) > 0 {
		return fmt.Errorf("invalid input:\n%w", errors.Join(errs...))
	}
	for _, r := range in.Configurations {
		if strings.HasPrefix(r.Name(), "node.") {
			o := r.Spec
			o.ListenPort, o.LogSeverityScreen, o.PrefixAdvertisements, o.Communities = nil, "", nil, nil
			if !reflect.ValueOf(o).IsZero() {
				c.warnf("BGPConfiguration/%s: only listenPort, logSeverityScreen and prefixAdvertisements apply per node; the other fields are ignored", r.Name())
			}
		}
	}
	c.mesh = c.global.NodeToNodeMeshEnabled == nil || *c.global.NodeToNodeMeshEnabled
	c.globalAS = DefaultASNumber
	if c.global.ASNumber != nil {
		c.globalAS = *c.global.ASNumber
	}
	globalPort := DefaultListenPort
	if c.global.ListenPort != nil {
		globalPort = *c.global.ListenPort
	}
	// Per-node listen ports come from node.<name> BGPConfigurations.
	ports := map[string]uint16{}
	for _, r := range in.Configurations {
		if n, ok := strings.CutPrefix(r.Name(), "node."); ok && r.Spec.ListenPort != nil {
			ports[n] = *r.Spec.ListenPort
		}
	}
	for _, n := range in.Nodes {
		ni := &nodeInfo{name: n.Name(), labels: n.Metadata.Labels, asn: c.globalAS, listenPort: globalPort, node: n}
		if p, ok := ports[n.Name()]; ok {
			ni.listenPort = p
		}
		ann := n.Metadata.Annotations
		b := n.Spec.BGP
		if b == nil {
			b = &api.NodeBGPSpec{}
		}
		// Calico's Kubernetes datastore keeps the BGP fields as Node
		// annotations; kbgp uses each annotation when the field is empty.
		ni.addr[0], ni.addr[1] = b.IPv4Address, b.IPv6Address
		// validate has rejected malformed annotations, so an error here
		// means the annotation is absent.
		if v, ok := ann[AnnotationIPv4Address]; ok && !ni.addr[0].IsValid() {
			if p, err := parseCIDROrIP(v); err == nil {
				ni.addr[0] = p
			}
		}
		if v, ok := ann[AnnotationIPv6Address]; ok && !ni.addr[1].IsValid() {
			if p, err := parseCIDROrIP(v); err == nil {
				ni.addr[1] = p
			}
		}
		if b.ASNumber != nil {
			ni.asn = *b.ASNumber
		} else if a, err := api.ParseASNumber(ann[AnnotationASNumber]); err == nil && a != 0 {
			ni.asn = a
		}
		ni.clusterID = b.RouteReflectorClusterID
		if v, ok := ann[AnnotationRouteReflectorClusterID]; ok && !ni.clusterID.IsValid() {
			if a, err := netip.ParseAddr(v); err == nil {
				ni.clusterID = a
			}
		}
		ni.bgp = ni.addr[0].IsValid() || ni.addr[1].IsValid()
		if _, dup := c.byName[ni.name]; dup {
			return fmt.Errorf("Node/%s is given twice", ni.name)
		}
		c.byName[ni.name] = ni
		c.nodes = append(c.nodes, ni)
	}
	slices.SortFunc(c.nodes, func(a, b *nodeInfo) int { return strings.Compare(a.name, b.name) })
	c.self = c.byName[node]
	if c.self == nil {
		names := make([]string, len(c.nodes))
		for i, n := range c.nodes {
			names[i] = n.name
		}
		return fmt.Errorf("Node/%s not found (known nodes: %s)", node, strings.Join(names, ", "))
	}
	self := c.self
	s := &NodeState{Node: node, ASNumber: self.asn, IPv4Address: self.addr[0], IPv6Address: self.addr[1],
		ListenPort: self.listenPort, RouteReflectorClusterID: self.clusterID,
		LogSeverity:       cmp.Or(c.override.LogSeverityScreen, c.global.LogSeverityScreen, "Info"),
		IgnoredInterfaces: c.global.IgnoredInterfaces, Peers: []Peer{}, Originate: []Route{}}
	if !self.bgp {
		c.warnf("Node/%s has no BGP address (spec.bgp.ipv4Address/ipv6Address or the projectcalico.org/IPv4Address annotation): no sessions", node)
	}
	s.RouterID = self.ip(4)
	if !s.RouterID.IsValid() {
		s.RouterID = hashRouterID(node)
	}
	if c.global.BindMode == "NodeIP" {
		for _, fam := range []int{4, 6} {
			if a := self.ip(fam); a.IsValid() {
				s.ListenAddresses = append(s.ListenAddresses, a)
			}
		}
	}
	c.state = s
	return nil
}

// parseCIDROrIP parses a Node address annotation the way libcalico-go does
// (ParseCIDROrIP): "10.0.0.1/24", or a bare address taken as a host prefix
// (/32 or /128).
func parseCIDROrIP(s string) (netip.Prefix, error) {
	if !strings.Contains(s, "/") {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return netip.Prefix{}, err
		}
		if a.Zone() != "" {
			return netip.Prefix{}, fmt.Errorf("address %q has a zone", s)
		}
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	return netip.ParsePrefix(s)
}

// hashRouterID derives a stable IPv4-formatted router ID from a node name
// for nodes without an IPv4 address (RFC 6286 §2.1: the BGP Identifier is
// a 4-octet unsigned, non-zero integer).
func hashRouterID(name string) netip.Addr {
	h := fnv.New32a()
	h.Write([]byte(name))
	v := h.Sum32()
	if v == 0 {
		v = 1
	}
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}
