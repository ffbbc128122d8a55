// Package lab builds the seed network of the user's notes (and other
// layouts described by a topology file) on one machine out of Linux network
// namespaces: an external client, a router running FRR (standing in for the
// seed's MikroTik), Kubernetes "nodes" each running `kbgp agent` with its own
// file store, pods answering HTTP with their names, and ClusterIP services
// implemented the way kube-proxy does it (iptables DNAT with
// `-m statistic --mode random`, no SNAT).
//
// The package is what `kbgp lab up|check|exec|down|scenario` call. It keeps
// a state file listing everything it created, so Down removes exactly that
// and nothing else.
package lab

import (
	_ "embed"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strings"

	"sigs.k8s.io/yaml"
)

// Topology is a lab layout. The YAML schema is documented field by field
// here and in examples/README.md; [Default] is the seed.
type Topology struct {
	// Name names the lab (shown in the picture and the state file).
	Name string `json:"name"`
	// Description is free text.
	Description string `json:"description,omitempty"`
	// Client is the external client host.
	Client Client `json:"client"`
	// Router is the FRR router between the client and the cluster segment.
	Router Router `json:"router"`
	// Cluster holds the cluster-wide settings.
	Cluster Cluster `json:"cluster"`
	// Nodes are the Kubernetes nodes, all on one bridge with the router.
	Nodes []Node `json:"nodes"`
	// Services are the ClusterIP services the nodes implement with DNAT.
	Services []Service `json:"services,omitempty"`
	// Files are datastore manifests by file name, written to the lab
	// directory so that Setup can refer to them with `apply -f NAME`.
	Files map[string]string `json:"files,omitempty"`
	// Setup are kbgp datastore commands (without the leading "kbgp"), run
	// in order against every node's store after the lab has registered the
	// nodes and the IP pool, exactly as the seed runs calicoctl and kubectl:
	// "apply -f peer-1.yaml", "label node ubuntu-2 rack=rack-1",
	// "annotate node ubuntu-2 projectcalico.org/RouteReflectorClusterID=244.0.0.1".
	Setup []string `json:"setup,omitempty"`
}

// Client is the external client.
type Client struct {
	// Name is the host (and namespace) name; default "client".
	Name string `json:"name,omitempty"`
	// Addresses are the client's addresses with prefix length
	// (172.16.81.199/24); its default route goes to the router's address
	// in the same subnet.
	Addresses []netip.Prefix `json:"addresses"`
}

// Router is the FRR router.
type Router struct {
	// Name is the host name; default "router".
	Name string `json:"name,omitempty"`
	// ASN is the router's AS (64513 for iBGP with the seed cluster, 65000
	// for the seed's eBGP variant).
	ASN uint32 `json:"asn"`
	// ClientAddresses are the router's addresses on the client side.
	ClientAddresses []netip.Prefix `json:"clientAddresses"`
	// ClusterAddresses are the router's addresses on the node bridge.
	ClusterAddresses []netip.Prefix `json:"clusterAddresses"`
	// Peers are the nodes the router has a BGP session with (the seed:
	// only ubuntu-2, the reflector). "all" means every node.
	Peers []string `json:"peers"`
	// MaximumPaths is FRR's maximum-paths (ECMP width); default 8.
	MaximumPaths int `json:"maximumPaths,omitempty"`
	// Masquerade adds the seed's RouterOS `/ip/firewall/nat/add
	// action=masquerade chain=srcnat` as an iptables MASQUERADE rule for
	// traffic leaving towards the cluster.
	Masquerade bool `json:"masquerade,omitempty"`
}

// Cluster holds cluster-wide settings.
type Cluster struct {
	// ASN is the nodes' AS (the BGPConfiguration's asNumber).
	ASN uint32 `json:"asn"`
	// PodCIDR is the IP pool (192.168.0.0/16).
	PodCIDR netip.Prefix `json:"podCIDR"`
	// BlockSize is the prefix length of each node's block; default 26
	// (Calico's IPAM default).
	BlockSize int `json:"blockSize,omitempty"`
	// PodsPerNode is the number of pods per node; default 2.
	PodsPerNode int `json:"podsPerNode,omitempty"`
}

// Node is one Kubernetes node.
type Node struct {
	// Name is the node (and host) name, e.g. ubuntu-2.
	Name string `json:"name"`
	// Addresses are the node's addresses on the bridge, with prefix length.
	Addresses []netip.Prefix `json:"addresses"`
}

// Service is a ClusterIP service with endpoints on pods.
type Service struct {
	// Name is the service name.
	Name string `json:"name"`
	// IP is the cluster IP.
	IP netip.Addr `json:"ip"`
	// Port is the service port; default 80. Pods listen on 80.
	Port uint16 `json:"port,omitempty"`
	// ExternalTrafficPolicy is Cluster (default) or Local.
	ExternalTrafficPolicy string `json:"externalTrafficPolicy,omitempty"`
	// Nodes are the nodes whose pods are endpoints; empty means all.
	Nodes []string `json:"nodes,omitempty"`
}

//go:embed topologies/seed-ibgp.yaml
var seedIBGP []byte

// DefaultYAML is the default topology's file (examples/seed-ibgp.yaml).
func DefaultYAML() []byte { return slices.Clone(seedIBGP) }

// Default is the seed topology (iBGP, one reflector, mesh off).
func Default() *Topology {
	t, err := Parse(seedIBGP)
	if err != nil {
		panic("lab: embedded default topology is invalid: " + err.Error()) // a build defect, caught by TestDefault
	}
	return t
}

// Load reads and validates a topology file. Unknown fields are errors.
func Load(path string) (*Topology, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("lab: read topology: %w", err)
	}
	t, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("lab: topology %s: %w", path, err)
	}
	return t, nil
}

// Parse decodes (strictly) and validates a topology, filling defaults.
func Parse(b []byte) (*Topology, error) {
	var t Topology
	if err := yaml.UnmarshalStrict(b, &t); err != nil {
		return nil, err
	}
	if err := t.normalize(); err != nil {
		return nil, err
	}
	return &t, nil
}

// Marshal encodes the topology as YAML (after defaults are filled).
func (t *Topology) Marshal() ([]byte, error) { return yaml.Marshal(t) }

func (t *Topology) normalize() error {
	if t.Client.Name == "" {
		t.Client.Name = "client"
	}
	if t.Router.Name == "" {
		t.Router.Name = "router"
	}
	if t.Router.MaximumPaths == 0 {
		t.Router.MaximumPaths = 8
	}
	if t.Cluster.BlockSize == 0 {
		t.Cluster.BlockSize = 26
	}
	if t.Cluster.PodsPerNode == 0 {
		t.Cluster.PodsPerNode = 2
	}
	for i := range t.Services {
		s := &t.Services[i]
		if s.Port == 0 {
			s.Port = 80
		}
		if s.ExternalTrafficPolicy == "" {
			s.ExternalTrafficPolicy = "Cluster"
		}
	}
	if slices.Equal(t.Router.Peers, []string{"all"}) {
		t.Router.Peers = nil
		for _, n := range t.Nodes {
			t.Router.Peers = append(t.Router.Peers, n.Name)
		}
	}
	return t.validate()
}

func (t *Topology) validate() error {
	var errs []string
	bad := func(field, format string, a ...any) {
		errs = append(errs, field+": "+fmt.Sprintf(format, a...))
	}
	if !validHost(t.Name) {
		bad("name", "%q must be 1-40 characters of a-z, 0-9 and '-'", t.Name)
	}
	names := map[string]string{}
	host := func(field, name string) {
		if !validHost(name) {
			bad(field, "%q must be 1-40 characters of a-z, 0-9 and '-'", name)
			return
		}
		if prev, ok := names[name]; ok {
			bad(field, "host name %q is already used by %s", name, prev)
		}
		names[name] = field
	}
	host("client.name", t.Client.Name)
	host("router.name", t.Router.Name)
	if t.Router.ASN == 0 {
		bad("router.asn", "missing (the router's AS, e.g. 64513)")
	}
	if t.Cluster.ASN == 0 {
		bad("cluster.asn", "missing (the nodes' AS, e.g. 64513)")
	}
	if len(t.Client.Addresses) == 0 {
		bad("client.addresses", "missing (e.g. [172.16.81.199/24])")
	}
	if len(t.Router.ClusterAddresses) == 0 {
		bad("router.clusterAddresses", "missing (e.g. [172.16.30.254/24])")
	}
	for i, a := range t.Client.Addresses {
		if _, ok := sameSubnet(a, t.Router.ClientAddresses); !ok {
			bad(fmt.Sprintf("client.addresses[%d]", i), "%s is in no subnet of router.clientAddresses %v", a, t.Router.ClientAddresses)
		}
	}
	if !t.Cluster.PodCIDR.IsValid() {
		bad("cluster.podCIDR", "missing (e.g. 192.168.0.0/16)")
	} else if !t.Cluster.PodCIDR.Addr().Is4() {
		bad("cluster.podCIDR", "%s: the lab's pods and services are IPv4 only (hosts and sessions may be dual stack)", t.Cluster.PodCIDR)
	} else {
		bs := t.Cluster.BlockSize
		maxBits := t.Cluster.PodCIDR.Addr().BitLen()
		if bs < t.Cluster.PodCIDR.Bits() || bs > maxBits-2 {
			bad("cluster.blockSize", "%d must be between the pool's /%d and /%d", bs, t.Cluster.PodCIDR.Bits(), maxBits-2)
		} else if len(t.Nodes) > 1<<min(bs-t.Cluster.PodCIDR.Bits(), 16) {
			bad("nodes", "%d nodes do not fit in %s with /%d blocks", len(t.Nodes), t.Cluster.PodCIDR, bs)
		} else if t.Cluster.PodsPerNode < 1 || t.Cluster.PodsPerNode > (1<<(maxBits-bs))-2 || t.Cluster.PodsPerNode > 16 {
			bad("cluster.podsPerNode", "%d must be between 1 and 16 and fit in a /%d block", t.Cluster.PodsPerNode, bs)
		}
	}
	if len(t.Nodes) == 0 {
		bad("nodes", "at least one node is needed")
	}
	nodeSet := map[string]bool{}
	for i, n := range t.Nodes {
		f := fmt.Sprintf("nodes[%d]", i)
		host(f+".name", n.Name)
		nodeSet[n.Name] = true
		if len(n.Addresses) == 0 {
			bad(f+".addresses", "missing (e.g. [172.16.30.101/24])")
		}
		for j, a := range n.Addresses {
			if _, ok := sameSubnet(a, t.Router.ClusterAddresses); !ok {
				bad(fmt.Sprintf("%s.addresses[%d]", f, j), "%s is in no subnet of router.clusterAddresses %v", a, t.Router.ClusterAddresses)
			}
		}
	}
	for i, p := range t.Router.Peers {
		if !nodeSet[p] {
			bad(fmt.Sprintf("router.peers[%d]", i), "%q is not a node (want a node name or [all])", p)
		}
	}
	if t.Router.MaximumPaths < 1 || t.Router.MaximumPaths > 64 {
		bad("router.maximumPaths", "%d must be between 1 and 64", t.Router.MaximumPaths)
	}
	svcNames := map[string]bool{}
	for i, s := range t.Services {
		f := fmt.Sprintf("services[%d]", i)
		if !validHost(s.Name) || svcNames[s.Name] {
			bad(f+".name", "%q must be a unique name of a-z, 0-9 and '-'", s.Name)
		}
		svcNames[s.Name] = true
		if !s.IP.Is4() {
			bad(f+".ip", "%q: want an IPv4 cluster IP, e.g. 10.96.0.10", s.IP)
		}
		if s.ExternalTrafficPolicy != "Cluster" && s.ExternalTrafficPolicy != "Local" {
			bad(f+".externalTrafficPolicy", "%q must be Cluster or Local", s.ExternalTrafficPolicy)
		}
		for j, n := range s.Nodes {
			if !nodeSet[n] {
				bad(fmt.Sprintf("%s.nodes[%d]", f, j), "%q is not a node", n)
			}
		}
	}
	for name := range t.Files {
		if !validFile(name) {
			bad("files", "%q must be a plain file name (no '/')", name)
		}
	}
	for i, s := range t.Setup {
		args := strings.Fields(s)
		f := fmt.Sprintf("setup[%d]", i)
		if len(args) == 0 || !slices.Contains([]string{"apply", "delete", "label", "annotate"}, args[0]) {
			bad(f, "%q must start with apply, delete, label or annotate", s)
			continue
		}
		for j := 0; j+1 < len(args); j++ {
			if args[j] == "-f" || args[j] == "--filename" {
				if _, ok := t.Files[args[j+1]]; !ok {
					bad(f, "%q refers to %s, which is not in files", s, args[j+1])
				}
			}
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("invalid topology:\n  %s", strings.Join(errs, "\n  "))
	}
	return nil
}

func validHost(s string) bool {
	if len(s) == 0 || len(s) > 40 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return s[0] != '-'
}

func validFile(s string) bool {
	return s != "" && s != "." && s != ".." && !strings.ContainsAny(s, "/\x00")
}

// sameSubnet returns the address of ps in the same subnet as a.
func sameSubnet(a netip.Prefix, ps []netip.Prefix) (netip.Addr, bool) {
	for _, p := range ps {
		if p.Bits() == a.Bits() && p.Masked() == a.Masked() && p.Addr() != a.Addr() {
			return p.Addr(), true
		}
	}
	return netip.Addr{}, false
}

// Node returns the node called name.
func (t *Topology) Node(name string) (Node, bool) {
	for _, n := range t.Nodes {
		if n.Name == name {
			return n, true
		}
	}
	return Node{}, false
}

// Block is node i's pod block: the i-th block of BlockSize in PodCIDR.
func (t *Topology) Block(i int) netip.Prefix {
	base := t.Cluster.PodCIDR.Masked().Addr()
	return netip.PrefixFrom(addN(base, uint64(i)<<(base.BitLen()-t.Cluster.BlockSize)), t.Cluster.BlockSize)
}

// Pod is one pod of the lab.
type Pod struct {
	Name string     // web-ubuntu-1-0
	Node string     // ubuntu-1
	Addr netip.Addr // 192.168.0.1
	Host string     // the node-side veth, cali0
}

// Pods lists every pod: PodsPerNode per node, addresses from the node's
// block starting at its first address + 1.
func (t *Topology) Pods() []Pod {
	var pods []Pod
	for i, n := range t.Nodes {
		b := t.Block(i)
		for j := 0; j < t.Cluster.PodsPerNode; j++ {
			pods = append(pods, Pod{
				Name: fmt.Sprintf("web-%s-%d", n.Name, j),
				Node: n.Name,
				Addr: addN(b.Addr(), uint64(j+1)),
				Host: fmt.Sprintf("cali%d", j),
			})
		}
	}
	return pods
}

// Endpoints are the service's endpoint pods, in topology order.
func (t *Topology) Endpoints(s Service) []Pod {
	var eps []Pod
	for _, p := range t.Pods() {
		if len(s.Nodes) == 0 || slices.Contains(s.Nodes, p.Node) {
			eps = append(eps, p)
		}
	}
	return eps
}

func addN(a netip.Addr, n uint64) netip.Addr {
	b := a.AsSlice()
	for i := len(b) - 1; i >= 0 && n > 0; i-- {
		s := uint64(b[i]) + n&0xff
		b[i] = byte(s)
		n = n>>8 + s>>8
	}
	r, _ := netip.AddrFromSlice(b)
	return r
}
