package doctor

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os/exec"
	"slices"
	"strconv"
	"strings"

	"github.com/kbgp/kbgp/internal/status"
)

// KernelRoute is one kernel route carrying the agent's protocol number,
// as `ip -j route show proto N` lists it.
type KernelRoute struct {
	Prefix netip.Prefix
	// Type is "unicast", "blackhole", "unreachable", "prohibit", ...
	Type string
	// Gateways are the next hops (several for an ECMP route).
	Gateways []netip.Addr
}

// ipRoute is one element of `ip -j route` output (iproute2's
// print_route: dst is "default", an address or a prefix; type is absent
// for unicast).
type ipRoute struct {
	Type     string `json:"type"`
	Dst      string `json:"dst"`
	Gateway  string `json:"gateway"`
	Nexthops []struct {
		Gateway string `json:"gateway"`
	} `json:"nexthops"`
}

// ParseIPRouteJSON parses the output of `ip -j route show proto N` (IPv4
// or IPv6; several outputs may be concatenated). name names the input in
// errors.
func ParseIPRouteJSON(name string, b []byte) ([]KernelRoute, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	var out []KernelRoute
	for i := 0; ; i++ {
		var rs []ipRoute
		if err := dec.Decode(&rs); err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return nil, fmt.Errorf("%s: not `ip -j route` output (a JSON array of routes): %w", name, err)
		}
		for j, r := range rs {
			kr, err := r.route()
			if err != nil {
				return nil, fmt.Errorf("%s: array %d route %d: %w", name, i+1, j+1, err)
			}
			out = append(out, kr)
		}
	}
}

func (r ipRoute) route() (KernelRoute, error) {
	kr := KernelRoute{Type: r.Type}
	if kr.Type == "" {
		kr.Type = "unicast"
	}
	var gws []string
	if r.Gateway != "" {
		gws = append(gws, r.Gateway)
	}
	for _, nh := range r.Nexthops {
		if nh.Gateway != "" {
			gws = append(gws, nh.Gateway)
		}
	}
	for _, g := range gws {
		a, err := netip.ParseAddr(g)
		if err != nil {
			return kr, fmt.Errorf("gateway %q: %w", g, err)
		}
		kr.Gateways = append(kr.Gateways, a)
	}
	switch {
	case r.Dst == "default":
		// The family follows the gateway; without one, IPv4.
		if len(kr.Gateways) > 0 && kr.Gateways[0].Is6() {
			kr.Prefix = netip.PrefixFrom(netip.IPv6Unspecified(), 0)
		} else {
			kr.Prefix = netip.PrefixFrom(netip.IPv4Unspecified(), 0)
		}
	case strings.Contains(r.Dst, "/"):
		p, err := netip.ParsePrefix(r.Dst)
		if err != nil {
			return kr, fmt.Errorf("dst %q: %w", r.Dst, err)
		}
		kr.Prefix = p
	default:
		a, err := netip.ParseAddr(r.Dst)
		if err != nil {
			return kr, fmt.Errorf("dst %q: want default, an address or a prefix", r.Dst)
		}
		kr.Prefix = netip.PrefixFrom(a, a.BitLen())
	}
	return kr, nil
}

// KernelRoutes reads the routes with protocol number proto from the main
// table of this network namespace (or of the named one, with ip -n),
// IPv4 and IPv6, with `ip -j route show proto N`.
func KernelRoutes(ctx context.Context, netns string, proto uint8) ([]KernelRoute, error) {
	var all []KernelRoute
	for _, fam := range []string{"-4", "-6"} {
		args := []string{"-j", fam, "route", "show", "proto", strconv.Itoa(int(proto))}
		if netns != "" {
			args = append([]string{"-n", netns}, args...)
		}
		out, err := exec.CommandContext(ctx, "ip", args...).Output()
		if err != nil {
			return nil, fmt.Errorf("ip %s: %w", strings.Join(args, " "), err)
		}
		if strings.TrimSpace(string(out)) == "" {
			continue
		}
		rs, err := ParseIPRouteJSON("ip "+strings.Join(args, " "), out)
		if err != nil {
			return nil, err
		}
		all = append(all, rs...)
	}
	return all, nil
}

// checkKernelRoutes compares each node's kernel routes (Inputs.Routes)
// with its pod blocks and sessions: a node blackholes its own blocks
// (Calico's static blackhole routes; otherwise traffic to an unallocated
// pod address follows a less specific route back out), and while it has
// an Established session to a block's node or to a route reflector it
// has a route for every other node's block.
func (c *cluster) checkKernelRoutes() {
	var missing, noBlackhole []string
	exported := func(b netip.Prefix) bool {
		for _, p := range c.podPools() {
			if p.Spec.CIDR.Contains(b.Addr()) && p.Spec.CIDR.Bits() <= b.Bits() {
				return !p.Spec.DisableBGPExport
			}
		}
		return true // outside every pool: block-outside-pools reports it
	}
	for _, name := range sortedKeys(c.in.Routes) {
		routes := c.in.Routes[name]
		has := func(p netip.Prefix, typ string) bool {
			return slices.ContainsFunc(routes, func(r KernelRoute) bool { return r.Prefix == p && r.Type == typ })
		}
		for _, r := range c.in.Resources.Nodes {
			for _, b := range r.Spec.AffineBlocks {
				if r.Name() == name && !has(b.CIDR, "blackhole") {
					noBlackhole = append(noBlackhole, fmt.Sprintf("Node/%s has no blackhole route for its block %s (protocol %d routes: %s)", name, b.CIDR, c.in.RouteProtocol, routeList(routes)))
				}
			}
		}
		sessions, ok := c.in.Sessions[name]
		if !ok {
			continue // without the node's sessions, missing routes may have a reason
		}
		for _, m := range c.bgpNodes() {
			if m.name == name {
				continue
			}
			via := c.establishedVia(sessions, m)
			if via == "" {
				continue
			}
			for _, r := range c.in.Resources.Nodes {
				if r.Name() != m.name {
					continue
				}
				for _, b := range r.Spec.AffineBlocks {
					if exported(b.CIDR) && !has(b.CIDR, "unicast") {
						missing = append(missing, fmt.Sprintf("Node/%s has no kernel route for %s (block of Node/%s) although its session %s is Established", name, b.CIDR, m.name, via))
					}
				}
			}
		}
	}
	if len(missing) > 0 {
		c.add(Finding{Check: "kernel-route-missing", Severity: Error,
			Summary:  "The agent has an Established session that should carry these pod blocks, but the kernel has no route for them: pods there are unreachable from this node although BGP looks healthy.",
			Evidence: missing,
			Fix: fmt.Sprintf("Check the agent's log for route programming errors and what it received: kbgp node status (routes received per session); compare with: ip route show proto %d\n"+
				"If the block's node does not advertise it, check that node's kbgp node status and its Node affineBlocks; restarting the agent reprograms every route (graceful restart keeps the others).", c.in.RouteProtocol)})
	}
	if len(noBlackhole) > 0 {
		c.add(Finding{Check: "blackhole-missing", Severity: Warning,
			Summary:  "The node has no blackhole route for its own pod block: packets to unallocated addresses of the block follow a less specific route (often the default route, back to the router) and loop until their TTL runs out.",
			Evidence: noBlackhole,
			Fix:      fmt.Sprintf("The agent installs them (protocol %d) for the Node's affineBlocks; check its log for route errors and that spec.affineBlocks is set (kbgp get node NAME -o yaml), then restart the agent.", c.in.RouteProtocol)})
	}
}

// establishedVia names a session of sessions over which m's routes
// arrive: one to m itself, or to a route reflector; "" if none is
// Established.
func (c *cluster) establishedVia(sessions []status.Peer, m *node) string {
	for _, p := range sessions {
		if p.State != status.Established {
			continue
		}
		peer := c.byAddr[p.Address]
		if peer == nil {
			continue
		}
		if peer == m || peer.reflector() {
			name := p.Name
			if name == "" {
				name = p.Address.String()
			}
			role := ""
			if peer != m {
				role = ", reflector"
			}
			return fmt.Sprintf("%s (to %s%s)", name, peer.name, role)
		}
	}
	return ""
}

func routeList(rs []KernelRoute) string {
	if len(rs) == 0 {
		return "none"
	}
	var s []string
	for _, r := range rs {
		x := r.Prefix.String()
		if r.Type != "unicast" {
			x = r.Type + " " + x
		}
		s = append(s, x)
	}
	return strings.Join(s, ", ")
}
