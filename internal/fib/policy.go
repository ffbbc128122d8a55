package fib

import (
	"fmt"
	"net/netip"
	"slices"
)

// Policy keeps routes the agent learned from peers from breaking the node.
// It applies to Unicast routes only: Blackhole and Unreachable routes are
// the node's own (see [Blackholes]) and are installed as asked.
type Policy struct {
	// Exclude are ranges no learned route may be installed inside, e.g.
	// the Service cluster and external IP ranges, which kube-proxy
	// handles on every node: a BGP route for a Service IP would steer
	// traffic away from the local proxy. A route is inside a range when
	// the range contains its whole prefix; a covering route (a default
	// route) is not excluded.
	Exclude []netip.Prefix
	// LocalAddrs are the node's own addresses. A next hop pointing at one
	// of them is dropped (a route via ourselves loops); a route left with
	// no next hop is skipped.
	LocalAddrs []netip.Addr
}

// Skip is a desired route the policy kept out of the kernel, and why.
type Skip struct {
	Route  Route
	Reason string
}

// apply returns r with the next hops the policy allows, or a non-empty
// reason why r must not be installed.
func (p Policy) apply(r Route) (Route, string) {
	if r.Type != Unicast {
		return r, ""
	}
	for _, e := range p.Exclude {
		if e.Bits() <= r.Prefix.Bits() && e.Contains(r.Prefix.Addr()) {
			return r, fmt.Sprintf("inside excluded range %v", e)
		}
	}
	if len(p.LocalAddrs) == 0 {
		return r, ""
	}
	kept := r.NextHops[:0:0]
	for _, nh := range r.NextHops {
		if nh.Gateway.IsValid() && slices.Contains(p.LocalAddrs, nh.Gateway) {
			continue
		}
		kept = append(kept, nh)
	}
	if len(kept) == 0 {
		return r, "every next hop is this node's own address"
	}
	r.NextHops = kept
	return r, ""
}

// Blackholes returns a Blackhole route for each of the node's own address
// blocks (pod CIDR blocks affine to this node). With them, packets for an
// address in a local block that has no pod are dropped on the node instead
// of following a less specific route, possibly back to the sender.
func Blackholes(blocks []netip.Prefix) []Route {
	rs := make([]Route, 0, len(blocks))
	for _, b := range blocks {
		rs = append(rs, Route{Prefix: b.Masked(), Type: Blackhole})
	}
	return rs
}
