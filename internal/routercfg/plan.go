package routercfg

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kbgp/kbgp/api"
	"github.com/kbgp/kbgp/internal/config"
)

// Node peering modes: which nodes the router opens sessions to.
const (
	// PeerReflectors peers with the route reflectors (nodes with a
	// routeReflectorClusterID); in a cluster without reflectors, with the
	// nodes whose BGPPeers point at the router.
	PeerReflectors = "reflectors"
	// PeerAll peers with every node that has an address in the family.
	PeerAll = "all"
)

// DefaultRouterOSVersion is the RouterOS version assumed when
// Options.RouterOSVersion is empty: the seed's router runs 7.10.2.
const DefaultRouterOSVersion = "7.10"

// DefaultMaxPaths is the multipath (ECMP) width when Options.MaxPaths is 0.
const DefaultMaxPaths = 8

// Options select the dialect and the router's identity.
type Options struct {
	Vendor Vendor
	// NodePeering is PeerReflectors (default) or PeerAll.
	NodePeering string
	// EBGPAS, when non-zero, is the router's own AS; it overrides the
	// asNumber of the BGPPeers that point at the router (the seed's eBGP
	// variant runs the router as AS 65000).
	EBGPAS api.ASNumber
	// RouterAddresses are the router's addresses facing the cluster, at
	// most one per family. Empty means: the peerIP of the BGPPeers that
	// point at an address no node has.
	RouterAddresses []netip.Addr
	// RouterID defaults to the router's IPv4 address.
	RouterID netip.Addr
	// RouterOSVersion is "7.x" (default DefaultRouterOSVersion). 7.1 to
	// 7.19 put the AS on each connection; 7.20 and later use a
	// /routing/bgp/instance.
	RouterOSVersion string
	// MaxPaths is the multipath width (default DefaultMaxPaths).
	MaxPaths int
	// Hostname names the router in FRR output (default "router").
	Hostname string
	// RouterOSRRClientRole makes RouterOS iBGP sessions to reflectors
	// that treat the router as their client use local.role=ibgp-rr-client
	// instead of the seed's (working) local.role=ibgp.
	RouterOSRRClientRole bool
	// ConnectRetry, when non-zero, sets the router's connect-retry timer
	// (FRR "timers connect", BIRD "connect retry time"); the lab uses 1s
	// to converge in seconds. Zero keeps the vendor default.
	ConnectRetry time.Duration
	// LogFile, when set, makes FRR and BIRD log to this file ("log file"
	// in bgpd.conf, `log "FILE" all;` in bird.conf); the lab keeps each
	// router's log in its host directory. Other dialects ignore it.
	LogFile string
}

// Router is the vendor-neutral plan of the router side.
type Router struct {
	ASN      api.ASNumber
	RouterID netip.Addr
	// Addresses are the router's own addresses per family (index 0 IPv4,
	// 1 IPv6; invalid when the family has no sessions).
	Addresses [2]netip.Addr
	// PeeringDesc says which nodes the sessions go to, for comments.
	PeeringDesc string
	Sessions    []Session
	// Import are the ranges the router accepts from the cluster (pod
	// pools and service ranges), each with every longer prefix.
	Import   []ImportRange
	MaxPaths int
	// GracefulRestart is on when any node session uses it; RestartTime
	// and LLGRStaleTime are the longest the nodes announce.
	GracefulRestart bool
	RestartTime     time.Duration
	LLGRStaleTime   time.Duration
	// Warnings describe resources that do not match the generated
	// router side, each with the fix.
	Warnings []string
}

// ImportRange is one accepted range and why.
type ImportRange struct {
	Prefix netip.Prefix
	From   string // e.g. "IPPool/default-ipv4-ippool" or "serviceClusterIPs"
}

// Session is one BGP session from the router to a node.
type Session struct {
	// Name is "k8s-peer-N", numbered from 1 in node then family order
	// (the seed's RouterOS connection is k8s-peer-1).
	Name      string
	Node      string
	Reflector bool
	Family    int
	Address   netip.Addr // the node's address
	Port      uint16     // the node's listen port
	Local     netip.Addr // the router's address in this family
	RemoteAS  api.ASNumber
	Internal  bool
	// RRClient: the node (a reflector) treats the router as its route
	// reflector client (RFC 4456).
	RRClient bool
	// Multihop is set when the router's address is outside the node's
	// subnet.
	Multihop      bool
	TTLSecurity   uint8
	Password      string
	HoldTime      time.Duration
	KeepaliveTime time.Duration
	BFD           *config.BFD
	// AddPathReceive: the node sends ADD-PATH (RFC 7911) and the router
	// should accept it, so a reflector passes every node's path.
	AddPathReceive bool
	// Configured is false when no BGPPeer gives the node a session to
	// the router (the router side alone cannot bring it up).
	Configured bool
}

// nodeView is one node's compiled state.
type nodeView struct {
	name  string
	state *config.NodeState
}

// Plan computes the router side from the resources.
func Plan(in *config.Input, opts Options) (*Router, error) {
	switch opts.NodePeering {
	case "":
		opts.NodePeering = PeerReflectors
	case PeerReflectors, PeerAll:
	default:
		return nil, fmt.Errorf("node peering %q: want %s or %s", opts.NodePeering, PeerReflectors, PeerAll)
	}
	var nodes []nodeView
	names := make([]string, 0, len(in.Nodes))
	for _, n := range in.Nodes {
		names = append(names, n.Name())
	}
	slices.Sort(names)
	nodeAddr := map[netip.Addr]string{}
	for _, name := range names {
		s, err := config.Compile(in, name)
		if err != nil {
			return nil, fmt.Errorf("compiling Node/%s: %w", name, err)
		}
		nodes = append(nodes, nodeView{name, s})
		for _, p := range []netip.Prefix{s.IPv4Address, s.IPv6Address} {
			if p.IsValid() {
				nodeAddr[p.Addr()] = name
			}
		}
	}
	if len(nodes) == 0 {
		return nil, fmt.Errorf("no Node resources: nothing to peer with (apply the Node resources, or run kbgp agent on the nodes first)")
	}
	r := &Router{MaxPaths: cmp.Or(opts.MaxPaths, DefaultMaxPaths)}

	// The router's addresses and AS: from the options, else from the
	// BGPPeers whose peerIP is no node's address.
	asBy := map[netip.Addr][]string{} // router address -> "BGPPeer/x asNumber N"
	routerAS := map[netip.Addr]api.ASNumber{}
	for _, bp := range in.Peers {
		a := bp.Spec.PeerIP.Addr
		if bp.Spec.PeerIP.IsZero() || nodeAddr[a] != "" {
			continue
		}
		if old, ok := routerAS[a]; ok && old != bp.Spec.ASNumber {
			return nil, fmt.Errorf("BGPPeer/%s gives %s asNumber %s but %s: fix one of them", bp.Name(), a, bp.Spec.ASNumber, strings.Join(asBy[a], ", "))
		}
		routerAS[a] = bp.Spec.ASNumber
		asBy[a] = append(asBy[a], fmt.Sprintf("BGPPeer/%s asNumber %s", bp.Name(), bp.Spec.ASNumber))
	}
	addrs := opts.RouterAddresses
	if len(addrs) == 0 {
		for a := range routerAS {
			addrs = append(addrs, a)
		}
		slices.SortFunc(addrs, netip.Addr.Compare)
	}
	for _, a := range addrs {
		a = a.Unmap()
		i := famIndex(a)
		if r.Addresses[i].IsValid() {
			return nil, fmt.Errorf("several possible router addresses in IPv%d: %s and %s (BGPPeers with a peerIP that is no node's address); choose one with --router-address",
				famOf(a), r.Addresses[i], a)
		}
		r.Addresses[i] = a
	}
	if !r.Addresses[0].IsValid() && !r.Addresses[1].IsValid() {
		return nil, fmt.Errorf("no router address: no BGPPeer has a peerIP outside the cluster's nodes; give the router's address with --router-address (and apply a BGPPeer with that peerIP)")
	}
	var clusterAS api.ASNumber = config.DefaultASNumber
	for _, c := range in.Configurations {
		if c.Name() == "default" && c.Spec.ASNumber != nil {
			clusterAS = *c.Spec.ASNumber
		}
	}
	for _, a := range r.Addresses {
		if !a.IsValid() {
			continue
		}
		as, ok := routerAS[a]
		switch {
		case opts.EBGPAS != 0:
			if ok && as != opts.EBGPAS {
				r.warnf("%s: the nodes expect the router at %s to be AS %s; with router AS %s set spec.asNumber: %s in those BGPPeers, or the nodes reject the OPEN (RFC 4271 §6.2: Bad Peer AS)",
					strings.Join(asBy[a], ", "), a, as, opts.EBGPAS, opts.EBGPAS)
			}
			as = opts.EBGPAS
		case !ok:
			as = clusterAS
			r.warnf("no BGPPeer has peerIP %s: apply one (spec: {peerIP: %s, asNumber: %s, nodeSelector: ...}) or the nodes never open sessions to the router", a, a, as)
		}
		if r.ASN != 0 && r.ASN != as {
			return nil, fmt.Errorf("the router's IPv4 and IPv6 addresses have different AS numbers (%s, %s): one router has one AS; fix the BGPPeers' asNumber", r.ASN, as)
		}
		r.ASN = as
	}
	r.RouterID = opts.RouterID
	if !r.RouterID.IsValid() {
		r.RouterID = r.Addresses[0]
	}
	if !r.RouterID.IsValid() || !r.RouterID.Is4() {
		return nil, fmt.Errorf("the router needs an IPv4 router ID (RFC 6286 §2.1: a 4-octet BGP Identifier) and has no IPv4 address: give one with --router-id")
	}

	// Which nodes.
	var reflectors []string
	for _, n := range nodes {
		if n.state.RouteReflectorClusterID.IsValid() {
			reflectors = append(reflectors, n.name)
		}
	}
	selected := map[string]bool{}
	switch {
	case opts.NodePeering == PeerAll:
		r.PeeringDesc = "every node"
		for _, n := range nodes {
			selected[n.name] = true
		}
	case len(reflectors) > 0:
		r.PeeringDesc = "the route reflectors"
		for _, n := range reflectors {
			selected[n] = true
		}
	default:
		r.PeeringDesc = "the nodes whose BGPPeers point at the router"
		for _, n := range nodes {
			if routerPeer(n.state, r.Addresses) != nil {
				selected[n.name] = true
			}
		}
		if len(selected) == 0 {
			return nil, fmt.Errorf("the cluster has no route reflectors and no node peers with the router: use --node-peering all, or apply a BGPPeer with peerIP %s", r.addrList())
		}
	}

	for _, n := range nodes {
		s := n.state
		for fi, prefix := range []netip.Prefix{s.IPv4Address, s.IPv6Address} {
			local := r.Addresses[fi]
			if !prefix.IsValid() || !local.IsValid() {
				continue
			}
			cp := findPeer(s, local)
			if !selected[n.name] {
				if cp != nil {
					r.warnf("Node/%s peers with the router (%s) but the generated config has no session to it: its session stays in Active; use --node-peering all or narrow the BGPPeer's nodeSelector", n.name, cp.From)
				}
				continue
			}
			sess := Session{Node: n.name, Reflector: s.RouteReflectorClusterID.IsValid(), Family: famOf(local),
				Address: prefix.Addr(), Port: s.ListenPort, Local: local, RemoteAS: s.ASNumber,
				Multihop: !prefix.Masked().Contains(local), HoldTime: config.DefaultHoldTime,
				KeepaliveTime: config.DefaultHoldTime / 3, AddPathReceive: true}
			if cp == nil {
				r.warnf("Node/%s has no BGPPeer to %s: the router's session to it stays in Active until you apply one (e.g. set the router BGPPeer's nodeSelector to all())", n.name, local)
			} else {
				sess.Configured = true
				sess.RemoteAS = cp.LocalAS
				if cp.RemoteAS != r.ASN {
					r.warnf("%s on Node/%s expects the router to be AS %s, the router is AS %s: set spec.asNumber: %s", cp.From, n.name, cp.RemoteAS, r.ASN, r.ASN)
				}
				sess.HoldTime, sess.KeepaliveTime = cp.HoldTime.Duration, cp.KeepaliveTime.Duration
				sess.TTLSecurity = cp.TTLSecurity
				sess.RRClient = cp.RouteReflectorClient
				sess.BFD = cp.BFD
				sess.AddPathReceive = cp.AddPathSend
				if pw := cp.Password; pw != nil {
					sess.Password = pw.Value
					if !pw.Resolved {
						sess.Password = "CHANGE-ME-" + pw.Secret + "-" + pw.Key
						r.warnf("the password of %s (secret %s key %s) is not known here: replace %s with the secret's value", cp.From, pw.Secret, pw.Key, sess.Password)
					}
				}
				if cp.GracefulRestart {
					r.GracefulRestart = true
					r.RestartTime = max(r.RestartTime, cp.RestartTime.Duration)
					r.LLGRStaleTime = max(r.LLGRStaleTime, cp.LLGRStaleTime.Duration)
				}
			}
			sess.Internal = sess.RemoteAS == r.ASN
			r.Sessions = append(r.Sessions, sess)
		}
	}
	if len(r.Sessions) == 0 {
		return nil, fmt.Errorf("no sessions: the selected nodes (%s) have no address in the router's families (%s)", r.PeeringDesc, r.addrList())
	}
	for i := range r.Sessions {
		r.Sessions[i].Name = "k8s-peer-" + strconv.Itoa(i+1)
	}
	r.Import = importRanges(in)
	if len(r.Import) == 0 {
		r.warnf("no IPPool and no service range: the import filter accepts nothing")
	}
	slices.Sort(r.Warnings)
	r.Warnings = slices.Compact(r.Warnings)
	return r, nil
}

func (r *Router) warnf(format string, args ...any) {
	r.Warnings = append(r.Warnings, fmt.Sprintf(format, args...))
}

func (r *Router) addrList() string {
	var s []string
	for _, a := range r.Addresses {
		if a.IsValid() {
			s = append(s, a.String())
		}
	}
	return strings.Join(s, ", ")
}

// families reports which families have sessions.
func (r *Router) families() (v4, v6 bool) {
	for _, s := range r.Sessions {
		if s.Family == 4 {
			v4 = true
		} else {
			v6 = true
		}
	}
	return v4, v6
}

// imports returns the import ranges of one family.
func (r *Router) imports(fam int) []ImportRange {
	var out []ImportRange
	for _, ir := range r.Import {
		if famOf(ir.Prefix.Addr()) == fam {
			out = append(out, ir)
		}
	}
	return out
}

func routerPeer(s *config.NodeState, addrs [2]netip.Addr) *config.Peer {
	for _, a := range addrs {
		if a.IsValid() {
			if p := findPeer(s, a); p != nil {
				return p
			}
		}
	}
	return nil
}

func findPeer(s *config.NodeState, a netip.Addr) *config.Peer {
	for i := range s.Peers {
		if s.Peers[i].Address == a {
			return &s.Peers[i]
		}
	}
	return nil
}

// importRanges are the pools the nodes export and the service ranges
// they advertise.
func importRanges(in *config.Input) []ImportRange {
	var out []ImportRange
	for _, p := range in.Pools {
		if p.Spec.Disabled || p.Spec.DisableBGPExport || !p.Spec.CIDR.IsValid() {
			continue
		}
		out = append(out, ImportRange{p.Spec.CIDR.Masked(), "IPPool/" + p.Name()})
	}
	for _, c := range in.Configurations {
		if c.Name() != "default" {
			continue
		}
		for _, l := range []struct {
			list []api.ServiceCIDR
			why  string
		}{{c.Spec.ServiceClusterIPs, config.ReasonClusterIPs}, {c.Spec.ServiceExternalIPs, config.ReasonExternalIPs},
			{c.Spec.ServiceLoadBalancerIPs, config.ReasonLoadBalancerIPs}} {
			for _, sc := range l.list {
				if sc.CIDR.IsValid() {
					out = append(out, ImportRange{sc.CIDR.Masked(), l.why})
				}
			}
		}
	}
	slices.SortFunc(out, func(a, b ImportRange) int {
		return cmp.Or(cmp.Compare(famOf(a.Prefix.Addr()), famOf(b.Prefix.Addr())),
			a.Prefix.Addr().Compare(b.Prefix.Addr()), cmp.Compare(a.Prefix.Bits(), b.Prefix.Bits()), strings.Compare(a.From, b.From))
	})
	return slices.CompactFunc(out, func(a, b ImportRange) bool { return a.Prefix == b.Prefix })
}

func famIndex(a netip.Addr) int {
	if a.Is4() {
		return 0
	}
	return 1
}

func famOf(a netip.Addr) int {
	if a.Is4() {
		return 4
	}
	return 6
}

// secs formats a duration as whole seconds.
func secs(d time.Duration) string { return strconv.Itoa(int(d / time.Second)) }
