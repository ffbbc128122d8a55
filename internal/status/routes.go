package status

import (
	"cmp"
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// RIB is a dump of the Loc-RIB: every prefix with all its paths.
type RIB struct {
	Routes []Route `json:"routes"`
}

// Route is one prefix and all paths the node holds for it.
type Route struct {
	Prefix netip.Prefix `json:"prefix"`
	Paths  []Path       `json:"paths"`
}

// Path is one path for a prefix.
type Path struct {
	// Peer is the neighbor the path was learned from; invalid for paths
	// this node originates.
	Peer     netip.Addr `json:"peer,omitzero"`
	PeerName string     `json:"peerName,omitempty"` // session name, or "local"
	PathID   uint32     `json:"pathID,omitempty"`   // RFC 7911 path identifier
	// Best marks the path the decision process (RFC 4271 §9.1.2) selected;
	// Multipath marks the paths installed alongside it for ECMP.
	Best      bool `json:"best,omitempty"`
	Multipath bool `json:"multipath,omitempty"`
	// Stale marks paths retained across a peer's restart (RFC 4724 §4.2);
	// LLGRStale the ones kept under RFC 9494 long-lived graceful restart.
	Stale     bool `json:"stale,omitempty"`
	LLGRStale bool `json:"llgrStale,omitempty"`
	// Reason says why a non-best path lost, e.g. "higher local-pref".
	Reason string    `json:"reason,omitempty"`
	Since  time.Time `json:"since,omitzero"`

	NextHop          netip.Addr   `json:"nextHop,omitzero"`
	Origin           string       `json:"origin"` // IGP, EGP, incomplete
	ASPath           string       `json:"asPath"` // "64512 65000 {65001,65002}"
	MED              *uint32      `json:"med,omitempty"`
	LocalPref        *uint32      `json:"localPref,omitempty"`
	Communities      []string     `json:"communities,omitempty"`      // "64512:100"
	LargeCommunities []string     `json:"largeCommunities,omitempty"` // "64512:1:2"
	ExtCommunities   []string     `json:"extCommunities,omitempty"`   // "rt:64512:1"
	OriginatorID     netip.Addr   `json:"originatorID,omitzero"`
	ClusterList      []netip.Addr `json:"clusterList,omitempty"`
}

// RouteQuery selects routes.
type RouteQuery struct {
	// Prefix, when valid, selects the routes equal to or more specific
	// than it ("show route in").
	Prefix netip.Prefix
	// Address, when valid, selects the longest-match route covering it
	// ("show route for").
	Address netip.Addr
}

// ParseRouteQuery parses the CLI/API form: empty (all routes), a prefix
// ("10.244.0.0/16": that prefix and everything inside it) or an address
// ("10.244.1.5": the longest-match route for it). IPv4-mapped IPv6 forms
// are turned into IPv4.
func ParseRouteQuery(s string) (RouteQuery, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return RouteQuery{}, nil
	}
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return RouteQuery{}, fmt.Errorf("route query %q: not a prefix (want e.g. 10.244.0.0/16): %w", s, err)
		}
		if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
		}
		return RouteQuery{Prefix: p.Masked()}, nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return RouteQuery{}, fmt.Errorf("route query %q: not an address or prefix (want e.g. 10.244.1.5 or 10.244.0.0/16): %w", s, err)
	}
	return RouteQuery{Address: a.Unmap()}, nil
}

// String is the query in ParseRouteQuery's form.
func (q RouteQuery) String() string {
	switch {
	case q.Prefix.IsValid():
		return q.Prefix.String()
	case q.Address.IsValid():
		return q.Address.String()
	}
	return ""
}

// Select returns the routes q selects, sorted (IPv4 before IPv6, then by
// address and prefix length). The receiver is not modified.
func (r RIB) Select(q RouteQuery) RIB {
	var out []Route
	switch {
	case q.Prefix.IsValid():
		for _, rt := range r.Routes {
			if rt.Prefix.Bits() >= q.Prefix.Bits() && q.Prefix.Contains(rt.Prefix.Addr()) {
				out = append(out, rt)
			}
		}
	case q.Address.IsValid():
		best := -1
		for i, rt := range r.Routes {
			if rt.Prefix.Contains(q.Address) && (best < 0 || rt.Prefix.Bits() > r.Routes[best].Prefix.Bits()) {
				best = i
			}
		}
		if best >= 0 {
			out = append(out, r.Routes[best])
		}
	default:
		out = append(out, r.Routes...)
	}
	out = slices.Clone(out)
	slices.SortStableFunc(out, func(a, b Route) int {
		if c := a.Prefix.Addr().Compare(b.Prefix.Addr()); c != 0 {
			return c
		}
		return cmp.Compare(a.Prefix.Bits(), b.Prefix.Bits())
	})
	if out == nil {
		out = []Route{}
	}
	return RIB{Routes: out}
}

// Snapshot is a Provider serving a fixed state: what `kbgp` tests use in
// place of the agent, and what a tool that replays a saved
// `kbgp node status -o json` can serve.
type Snapshot struct {
	State Node
	Table RIB
}

// Node returns a copy of s.State.
func (s *Snapshot) Node(ctx context.Context) (Node, error) {
	if err := ctx.Err(); err != nil {
		return Node{}, err
	}
	n := s.State
	n.Peers = slices.Clone(n.Peers)
	return n, nil
}

// Routes returns s.Table.Select(q).
func (s *Snapshot) Routes(ctx context.Context, q RouteQuery) (RIB, error) {
	if err := ctx.Err(); err != nil {
		return RIB{}, err
	}
	return s.Table.Select(q), nil
}
