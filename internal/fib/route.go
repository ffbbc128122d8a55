package fib

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// Type is the kind of a route (the kernel's rtm_type).
type Type uint8

const (
	// Unicast forwards to one or more next hops (RTN_UNICAST).
	Unicast Type = iota
	// Blackhole silently drops matching packets (RTN_BLACKHOLE). The agent
	// installs one for each of the node's own pod blocks, so traffic to an
	// unallocated address in a block is dropped instead of following a
	// less specific route back out.
	Blackhole
	// Unreachable drops matching packets with ICMP unreachable
	// (RTN_UNREACHABLE).
	Unreachable
)

func (t Type) String() string {
	switch t {
	case Unicast:
		return "unicast"
	case Blackhole:
		return "blackhole"
	case Unreachable:
		return "unreachable"
	}
	return "Type(" + strconv.Itoa(int(t)) + ")"
}

// NextHop is one path of a unicast route.
type NextHop struct {
	// Gateway is the next-hop router. It must have the route's address
	// family; the zero Addr means a directly connected route out of the
	// link (scope link).
	Gateway netip.Addr
	// LinkIndex is the outgoing interface; 0 lets the kernel pick it from
	// Gateway. Dev names the interface instead; Set resolves it to
	// LinkIndex in the FIB's namespace.
	LinkIndex int
	Dev       string
	// Weight is the relative share of an ECMP path, 1..256; 0 means 1.
	Weight int
}

// Route is one kernel route owned by kbgp. Table, Metric and Prefix
// identify it: two Routes with the same three are the same kernel route.
type Route struct {
	Prefix netip.Prefix
	Type   Type
	// NextHops are the paths of a Unicast route; several make an ECMP
	// (RTA_MULTIPATH) route. Blackhole and Unreachable routes have none.
	NextHops []NextHop
	// Metric is the route priority (RTA_PRIORITY); 0 means the FIB's
	// Options.Metric. IPv6 routes with metric 0 get 1024 from the kernel,
	// so the FIB uses 1024 for them too.
	Metric int
	// Table is the routing table; 0 means the FIB's Options.Table.
	Table int
}

// maxNextHops bounds an ECMP route: RTA_MULTIPATH has a 16-bit length,
// and an IPv6 next hop takes 28 bytes of it.
const maxNextHops = 1024

// Key identifies a kernel route.
type Key struct {
	Table  int
	Prefix netip.Prefix
	Metric int
}

// Key returns the route's identity (after defaults are applied by the FIB).
func (r Route) Key() Key { return Key{Table: r.Table, Prefix: r.Prefix, Metric: r.Metric} }

// Compare orders keys by table, family (IPv4 first), address, prefix
// length and metric: the order of the FIB's operations and listings.
func (a Key) Compare(b Key) int {
	if c := cmp.Compare(a.Table, b.Table); c != 0 {
		return c
	}
	if c := a.Prefix.Addr().Compare(b.Prefix.Addr()); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Prefix.Bits(), b.Prefix.Bits()); c != 0 {
		return c
	}
	return cmp.Compare(a.Metric, b.Metric)
}

func compareNextHops(a, b NextHop) int {
	if c := a.Gateway.Compare(b.Gateway); c != 0 {
		return c
	}
	return cmp.Compare(a.LinkIndex, b.LinkIndex)
}

// String renders the route the way `ip route` arguments would spell it,
// e.g. "10.0.0.0/24 table 254 metric 0 nexthop via 192.0.2.1 weight 1
// nexthop via 192.0.2.2 weight 1". It is used in errors and golden tests.
func (r Route) String() string {
	var b strings.Builder
	if r.Type != Unicast {
		b.WriteString(r.Type.String())
		b.WriteByte(' ')
	}
	b.WriteString(r.Prefix.String())
	if len(r.NextHops) == 1 {
		writeNextHop(&b, r.NextHops[0], false)
	} else {
		for _, nh := range r.NextHops {
			b.WriteString(" nexthop")
			writeNextHop(&b, nh, true)
		}
	}
	fmt.Fprintf(&b, " table %d metric %d", r.Table, r.Metric)
	return b.String()
}

func writeNextHop(b *strings.Builder, nh NextHop, weight bool) {
	if nh.Gateway.IsValid() {
		b.WriteString(" via ")
		b.WriteString(nh.Gateway.String())
	}
	switch {
	case nh.Dev != "":
		b.WriteString(" dev ")
		b.WriteString(nh.Dev)
	case nh.LinkIndex != 0:
		b.WriteString(" oif ")
		b.WriteString(strconv.Itoa(nh.LinkIndex))
	}
	if weight {
		w := nh.Weight
		if w == 0 {
			w = 1
		}
		b.WriteString(" weight ")
		b.WriteString(strconv.Itoa(w))
	}
}

// resolve applies the FIB's defaults to r and checks it, returning the
// canonical form the FIB stores and programs: masked prefix, explicit table
// and metric, weights set, Dev names turned into link indexes and next hops
// sorted.
func (f *FIB) resolve(r Route) (Route, error) {
	if !r.Prefix.IsValid() {
		return r, fmt.Errorf("fib: route %v: invalid prefix", r)
	}
	r.Prefix = r.Prefix.Masked()
	if r.Table == 0 {
		r.Table = f.opts.Table
	}
	if r.Metric == 0 {
		r.Metric = f.opts.Metric
	}
	if r.Metric == 0 && r.Prefix.Addr().Is6() {
		r.Metric = 1024 // IP6_RT_PRIO_USER, what the kernel stores for 0
	}
	if r.Table < 0 || r.Table > 0xFFFFFFFF || r.Metric < 0 || r.Metric > 0xFFFFFFFF {
		return r, fmt.Errorf("fib: route %v: table and metric must fit in 32 bits", r)
	}
	switch r.Type {
	case Blackhole, Unreachable:
		if len(r.NextHops) != 0 {
			return r, fmt.Errorf("fib: route %v: a %s route has no next hops", r, r.Type)
		}
		return r, nil
	case Unicast:
	default:
		return r, fmt.Errorf("fib: route %v: unknown type %d", r, r.Type)
	}
	if len(r.NextHops) == 0 {
		return r, fmt.Errorf("fib: route %v: unicast route without next hops (use Blackhole to drop)", r)
	}
	if len(r.NextHops) > maxNextHops {
		return r, fmt.Errorf("fib: route %v: %d next hops, at most %d fit in one RTA_MULTIPATH", r.Prefix, len(r.NextHops), maxNextHops)
	}
	nhs := make([]NextHop, len(r.NextHops))
	for i, nh := range r.NextHops {
		if nh.Gateway.IsValid() {
			nh.Gateway = nh.Gateway.WithZone("").Unmap()
			if nh.Gateway.Is4() != r.Prefix.Addr().Is4() {
				return r, fmt.Errorf("fib: route %v: gateway %v is not in the prefix's address family", r, nh.Gateway)
			}
		}
		if nh.Dev != "" {
			idx, err := f.kernel.LinkIndex(nh.Dev)
			if err != nil {
				return r, fmt.Errorf("fib: route %v: next hop dev %q: %w", r, nh.Dev, err)
			}
			if nh.LinkIndex != 0 && nh.LinkIndex != idx {
				return r, fmt.Errorf("fib: route %v: next hop dev %q is link %d, not LinkIndex %d", r, nh.Dev, idx, nh.LinkIndex)
			}
			nh.LinkIndex, nh.Dev = idx, ""
		}
		if !nh.Gateway.IsValid() && nh.LinkIndex == 0 {
			return r, fmt.Errorf("fib: route %v: next hop %d has neither a gateway nor a link", r, i)
		}
		if nh.Weight == 0 {
			nh.Weight = 1
		}
		if nh.Weight < 1 || nh.Weight > 256 {
			return r, fmt.Errorf("fib: route %v: next hop weight %d outside 1..256", r, nh.Weight)
		}
		nhs[i] = nh
	}
	slices.SortFunc(nhs, compareNextHops)
	for i := 1; i < len(nhs); i++ {
		if compareNextHops(nhs[i-1], nhs[i]) == 0 {
			return r, fmt.Errorf("fib: route %v: duplicate next hop %v", r, nhs[i].Gateway)
		}
	}
	r.NextHops = nhs
	return r, nil
}

// matches reports whether the kernel route have already is what want asks
// for. A wanted next hop with LinkIndex 0 matches any link, because the
// kernel fills in the interface it resolved the gateway through.
func matches(want, have Route) bool {
	if want.Key() != have.Key() || want.Type != have.Type {
		return false
	}
	if want.Type != Unicast {
		return true
	}
	if len(want.NextHops) != len(have.NextHops) {
		return false
	}
	hs := slices.Clone(have.NextHops)
	for _, w := range want.NextHops {
		i := slices.IndexFunc(hs, func(h NextHop) bool {
			return h.Gateway == w.Gateway && (w.LinkIndex == 0 || w.LinkIndex == h.LinkIndex) &&
				(len(want.NextHops) == 1 || h.Weight == w.Weight)
		})
		if i < 0 {
			return false
		}
		hs = slices.Delete(hs, i, i+1)
	}
	return true
}
