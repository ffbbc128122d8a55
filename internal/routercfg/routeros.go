package routercfg

import (
	"cmp"
	"fmt"
	"strconv"
	"strings"
)

// rosVersion parses "7.x[.y]" into the minor version.
func rosVersion(s string) (int, error) {
	s = cmp.Or(s, DefaultRouterOSVersion)
	maj, rest, _ := strings.Cut(s, ".")
	minor, _, _ := strings.Cut(rest, ".")
	m, err := strconv.Atoi(minor)
	if maj != "7" || err != nil || m < 1 {
		return 0, fmt.Errorf("RouterOS version %q: want 7.1 or later, e.g. 7.10 or 7.20 (RouterOS 6 has a different BGP menu and is not supported)", s)
	}
	return m, nil
}

// rosQuote quotes a RouterOS CLI value when it needs it.
func rosQuote(s string) string {
	if s != "" && !strings.ContainsAny(s, " \t\"\\$;=") {
		return s
	}
	return strconv.Quote(s)
}

// appendRouterOS writes RouterOS 7 CLI commands (notes testdata.md §4.1).
// 7.1 to 7.19 carry the AS and router ID on each connection; 7.20
// reintroduced /routing/bgp/instance, which holds them (and multipath),
// and connections refer to it with instance=.
func appendRouterOS(b []byte, r *Router, opts Options) ([]byte, error) {
	minor, err := rosVersion(opts.RouterOSVersion)
	if err != nil {
		return nil, err
	}
	instance := minor >= 20
	dialect := fmt.Sprintf("MikroTik RouterOS %s (7.1-7.19 syntax)", cmp.Or(opts.RouterOSVersion, DefaultRouterOSVersion))
	if instance {
		dialect = fmt.Sprintf("MikroTik RouterOS %s (7.20+ /routing/bgp/instance syntax)", opts.RouterOSVersion)
	}
	l := lines(b)
	l.comments(header(r, "#", dialect))
	l.f("# RouterOS has no ADD-PATH receive: peer with every node (--node-peering all) for ECMP over all of them.")
	if !instance {
		l.f("# RouterOS before 7.20 has no BGP multipath setting.")
	}
	if r.GracefulRestart {
		l.f("# RouterOS 7 has no graceful-restart setting; it is a GR helper, keeping the nodes' routes while they restart.")
	}
	// Filters: a chain's default action is reject, so each accepted
	// range gets a rule and the final reject is explicit.
	for _, fam := range []int{4, 6} {
		if !r.hasFamily(fam) {
			continue
		}
		for _, ir := range r.imports(fam) {
			l.f("/routing/filter/rule/add chain=kbgp-in rule=\"if (dst in %s) { accept }\" comment=%s", ir.Prefix, rosQuote("kbgp: "+ir.From))
		}
	}
	l.f("/routing/filter/rule/add chain=kbgp-in rule=\"reject\" comment=%s", rosQuote("kbgp: only pod and service ranges"))
	l.f("/routing/filter/rule/add chain=kbgp-out rule=\"reject\" comment=%s", rosQuote("kbgp: send nothing to the cluster"))
	if instance {
		l.f("/routing/bgp/instance/add name=kbgp as=%s router-id=%s multipath=%d", r.ASN, r.RouterID, r.MaxPaths)
	}
	for _, s := range r.Sessions {
		// local.role describes the router's side; the seed's sessions
		// worked with plain ibgp toward the reflector.
		role := "ibgp"
		switch {
		case !s.Internal:
			role = "ebgp"
		case s.RRClient && opts.RouterOSRRClientRole:
			role = "ibgp-rr-client"
		}
		// The seed's command first: name remote.address remote.as
		// local.role, then as (7.1-7.19) or instance (7.20+).
		c := fmt.Sprintf("/routing/bgp/connection/add name=%s remote.address=%s remote.as=%s local.role=%s", s.Name, s.Address, s.RemoteAS, role)
		if instance {
			c += " instance=kbgp"
		} else {
			c += fmt.Sprintf(" as=%s router-id=%s", r.ASN, r.RouterID)
		}
		c += " local.address=" + s.Local.String()
		if s.Port != 0 && s.Port != 179 {
			c += fmt.Sprintf(" remote.port=%d", s.Port)
		}
		if s.Family == 6 {
			c += " address-families=ipv6"
		}
		if s.Multihop || s.TTLSecurity > 0 {
			c += " multihop=yes"
		}
		if s.TTLSecurity > 0 {
			// RFC 5082: accept only packets with TTL >= 256 - hops.
			c += fmt.Sprintf(" remote.ttl=%d", 256-int(s.TTLSecurity))
		}
		if s.Password != "" {
			c += " tcp-md5-key=" + rosQuote(s.Password)
		}
		if s.BFD != nil {
			c += " use-bfd=yes"
		}
		c += fmt.Sprintf(" hold-time=%ss keepalive-time=%ss", secs(s.HoldTime), secs(s.KeepaliveTime))
		c += " input.filter=kbgp-in output.filter-chain=kbgp-out"
		c += " comment=" + rosQuote("kbgp node "+s.Node)
		l.f("%s", c)
	}
	return l, nil
}
