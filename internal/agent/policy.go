package agent

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"

	"github.com/kbgp/kbgp/api"
	"github.com/kbgp/kbgp/internal/bgp/wire"
	"github.com/kbgp/kbgp/internal/config"
	"github.com/kbgp/kbgp/internal/rib"
)

// policyFunc turns a compiled rule list (config.Peer Import or Export) into
// a rib.PolicyFunc. Rules are evaluated in order: a matching accept or reject
// rule decides, a matching continue rule applies its operations and goes on
// (config.Rule). A list that decides nothing rejects, as BIRD's filters do
// when they fall off the end; config always ends its lists with a
// catch-all rule.
//
// Routes learned over BGP have no interface and no kernel priority, so
// rules that match on those (Felix-programmed interfaces, elevated-priority
// /32s) never match here; they exist for the kernel-route sources Calico's
// BIRD also exports and that kbgp does not import.
func policyFunc(rules []config.Rule) rib.PolicyFunc {
	rules = slices.Clone(rules)
	return func(in rib.PolicyInput, a *wire.Attrs) bool {
		for i := range rules {
			r := &rules[i]
			if !matches(&r.Match, in, a) {
				continue
			}
			if r.Action == config.Reject {
				return false
			}
			for _, op := range r.Operations {
				applyOperation(op, a)
			}
			if r.Action == config.Accept {
				return true
			}
		}
		return false
	}
}

// matches reports whether every set field of m holds for the route.
func matches(m *config.Match, in rib.PolicyInput, a *wire.Attrs) bool {
	if m.Prefix.IsValid() && !prefixMatches(m, in.Prefix) {
		return false
	}
	if m.Source == "RemotePeers" && (in.Source == nil || in.Source.Name == "local") {
		return false
	}
	if m.Interface != "" || m.Priority != 0 || m.PriorityBelow != 0 {
		// BGP routes have neither an interface nor a kernel priority.
		return false
	}
	if m.Community != "" && !hasCommunity(a, m.Community) {
		return false
	}
	if len(m.ASPathPrefix) > 0 && !asPathHasPrefix(a, m.ASPathPrefix) {
		return false
	}
	return true
}

func prefixMatches(m *config.Match, p netip.Prefix) bool {
	if p.Addr().Is4() != m.Prefix.Addr().Is4() {
		return false
	}
	inRange := func() bool {
		lo, hi := m.MinLength, m.MaxLength
		if lo == 0 {
			lo = m.Prefix.Bits()
		}
		if hi == 0 {
			hi = m.Prefix.Addr().BitLen()
		}
		return p.Bits() >= m.Prefix.Bits() && m.Prefix.Contains(p.Addr()) && p.Bits() >= lo && p.Bits() <= hi
	}
	switch m.Operator {
	case "NotEqual":
		return p != m.Prefix
	case "In":
		return inRange()
	case "NotIn":
		return !inRange()
	default: // "Equal" and unset
		return p == m.Prefix
	}
}

func hasCommunity(a *wire.Attrs, s string) bool {
	v, err := config.ParseCommunity(s)
	if err != nil {
		return false
	}
	switch len(v) {
	case 2:
		c := wire.Community(v[0]<<16 | v[1])
		return a.Has(wire.AttrCommunities) && slices.Contains(a.Communities, c)
	case 3:
		c := wire.LargeCommunity{GlobalAdmin: v[0], LocalData1: v[1], LocalData2: v[2]}
		return a.Has(wire.AttrLargeCommunities) && slices.Contains(a.LargeCommunities, c)
	}
	return false
}

// asPathHasPrefix reports whether the AS_PATH starts with want (the
// neighbour's AS first), reading AS_SEQUENCE segments in order.
func asPathHasPrefix(a *wire.Attrs, want []api.ASNumber) bool {
	var seq []uint32
	for _, s := range a.ASPath {
		if s.Type != wire.ASSequence {
			break
		}
		seq = append(seq, s.ASNs...)
		if len(seq) >= len(want) {
			break
		}
	}
	if len(seq) < len(want) {
		return false
	}
	for i, w := range want {
		if seq[i] != uint32(w) {
			return false
		}
	}
	return true
}

func applyOperation(op config.Operation, a *wire.Attrs) {
	if op.AddCommunity != "" {
		if v, err := config.ParseCommunity(op.AddCommunity); err == nil {
			switch len(v) {
			case 2:
				c := wire.Community(v[0]<<16 | v[1])
				if !slices.Contains(a.Communities, c) {
					a.Communities = append(a.Communities, c)
				}
				a.Set(wire.AttrCommunities)
			case 3:
				c := wire.LargeCommunity{GlobalAdmin: v[0], LocalData1: v[1], LocalData2: v[2]}
				if !slices.Contains(a.LargeCommunities, c) {
					a.LargeCommunities = append(a.LargeCommunities, c)
				}
				a.Set(wire.AttrLargeCommunities)
			}
		}
	}
	if len(op.PrependASPath) > 0 {
		asns := make([]uint32, len(op.PrependASPath))
		for i, n := range op.PrependASPath {
			asns[i] = uint32(n)
		}
		if len(a.ASPath) > 0 && a.ASPath[0].Type == wire.ASSequence && len(a.ASPath[0].ASNs)+len(asns) <= 255 {
			a.ASPath[0].ASNs = append(asns, a.ASPath[0].ASNs...)
		} else {
			a.ASPath = append([]wire.ASPathSegment{{Type: wire.ASSequence, ASNs: asns}}, a.ASPath...)
		}
		a.Set(wire.AttrASPath)
	}
	// SetPriority changes the kernel metric of imported routes; the FIB
	// programs every learned route with the agent's metric, so it has no
	// BGP attribute to change.
}

// exportPolicyName names an export policy by what it does: a hash of its
// rules without their From (which only says where a rule came from), so
// that sessions with the same rules get the same name and share an
// update group.
func exportPolicyName(rules []config.Rule) string {
	h := sha256.New()
	for _, r := range rules {
		r.From = ""
		b, err := json.Marshal(r)
		if err != nil {
			// Rules are plain data; a failure would be a bug. An unshared
			// name keeps exports correct.
			return fmt.Sprintf("export/unshared-%p", &rules)
		}
		h.Write(b)
		h.Write([]byte{'\n'})
	}
	return fmt.Sprintf("export/%x", h.Sum(nil)[:8])
}

// readOnly reports whether a policy never modifies a route's attributes:
// no rule has operations (rib.Policy.ReadOnly).
func readOnly(rules []config.Rule) bool {
	for _, r := range rules {
		if len(r.Operations) > 0 {
			return false
		}
	}
	return true
}
