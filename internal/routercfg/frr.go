package routercfg

import (
	"cmp"
	"fmt"
	"net/netip"
)

// lines is an append-style line writer.
type lines []byte

func (l *lines) f(format string, args ...any) {
	*l = fmt.Appendf(*l, format, args...)
	*l = append(*l, '\n')
}

func (l *lines) comments(ls []string) {
	for _, s := range ls {
		l.f("%s", s)
	}
}

// le returns the " le N" suffix that makes a prefix-list entry match p
// and every longer prefix (none for a host prefix, where it is invalid).
func le(p netip.Prefix, kw string) string {
	if p.Bits() == p.Addr().BitLen() {
		return ""
	}
	return fmt.Sprintf(" %s %d", kw, p.Addr().BitLen())
}

// appendFRR writes an FRR bgpd configuration (doc/user/bgp.rst). Cisco IOS
// output shares the shape; the differences are called out there.
func appendFRR(b []byte, r *Router, opts Options) []byte {
	l := lines(b)
	l.comments(header(r, "!", "FRR bgpd (check with: bgpd -C -f FILE)"))
	l.f("frr defaults traditional")
	l.f("hostname %s", cmp.Or(opts.Hostname, "router"))
	if opts.LogFile != "" {
		l.f("log file %s", opts.LogFile)
	}
	l.f("!")
	prefixLists(&l, r, "ip prefix-list", "ipv6 prefix-list", "le")
	l.f("!")
	l.f("router bgp %s", r.ASN)
	l.f(" bgp router-id %s", r.RouterID)
	// "no bgp default ipv4-unicast": only the sessions activated below
	// carry IPv4 (an IPv6 session must not be activated for IPv4).
	l.f(" no bgp default ipv4-unicast")
	if r.GracefulRestart {
		// RFC 4724 §4.2: the receiving speaker keeps the peer's routes
		// stale for the restart time the peer announced; the router
		// announces the same so a router restart is survived as well.
		l.f(" bgp graceful-restart")
		l.f(" bgp graceful-restart restart-time %d", min(int(r.RestartTime.Seconds()), 4095))
		if r.LLGRStaleTime > 0 {
			// RFC 9494 §4.3: routes are kept as LLGR_STALE for the
			// long-lived stale time after the restart time ends.
			l.f(" bgp long-lived-graceful-restart stale-time %d", min(int(r.LLGRStaleTime.Seconds()), 16777215))
		}
	}
	for _, s := range r.Sessions {
		n := s.Address
		l.f(" neighbor %s remote-as %s", n, s.RemoteAS)
		// The node first: "show bgp summary" cuts the description to
		// its Desc column's width.
		l.f(" neighbor %s description %s kbgp %s", n, s.Node, s.Name)
		if s.Port != 0 && s.Port != 179 {
			l.f(" neighbor %s port %d", n, s.Port)
		}
		l.f(" neighbor %s update-source %s", n, s.Local)
		if s.Password != "" {
			l.f(" neighbor %s password %s", n, s.Password)
		}
		l.f(" neighbor %s timers %s %s", n, secs(s.KeepaliveTime), secs(s.HoldTime))
		if opts.ConnectRetry > 0 {
			l.f(" neighbor %s timers connect %d", n, max(1, int(opts.ConnectRetry.Seconds())))
		}
		switch {
		case s.TTLSecurity > 0:
			// RFC 5082 §3: GTSM; the nodes send with TTL 255.
			l.f(" neighbor %s ttl-security hops %d", n, s.TTLSecurity)
		case s.Multihop && !s.Internal:
			l.f(" neighbor %s ebgp-multihop 255", n)
		}
		if s.BFD != nil {
			l.f(" neighbor %s bfd %d %d %d", n, s.BFD.Multiplier, s.BFD.MinRx.Milliseconds(), s.BFD.MinTx.Milliseconds())
		}
	}
	for _, fam := range []int{4, 6} {
		if !r.hasFamily(fam) {
			continue
		}
		l.f(" !")
		l.f(" address-family %s unicast", afiName(fam))
		for _, s := range r.Sessions {
			if s.Family != fam {
				continue
			}
			n := s.Address
			l.f("  neighbor %s activate", n)
			// FRR advertises ADD-PATH receive by default (RFC 7911 §4),
			// so a reflector can send every node's path.
			if !s.AddPathReceive {
				l.f("  neighbor %s disable-addpath-rx", n)
			}
			l.f("  neighbor %s route-map KBGP-IN-V%d in", n, fam)
			l.f("  neighbor %s route-map KBGP-OUT out", n)
		}
		l.f("  maximum-paths %d", r.MaxPaths)
		l.f("  maximum-paths ibgp %d", r.MaxPaths)
		l.f(" exit-address-family")
	}
	l.f("exit")
	l.f("!")
	routeMaps(&l, r)
	l.f("end")
	return l
}

func afiName(fam int) string {
	if fam == 4 {
		return "ipv4"
	}
	return "ipv6"
}

func (r *Router) hasFamily(fam int) bool {
	v4, v6 := r.families()
	return fam == 4 && v4 || fam == 6 && v6
}

// prefixLists writes KBGP-V4 / KBGP-V6 (FRR and Cisco share the syntax).
func prefixLists(l *lines, r *Router, kw4, kw6, lekw string) {
	for _, fam := range []int{4, 6} {
		if !r.hasFamily(fam) {
			continue
		}
		kw := kw4
		if fam == 6 {
			kw = kw6
		}
		for i, ir := range r.imports(fam) {
			l.f("%s KBGP-V%d seq %d permit %s%s", kw, fam, (i+1)*5, ir.Prefix, le(ir.Prefix, lekw))
		}
	}
}

// routeMaps writes the import maps (accept only the cluster's ranges) and
// the export map (send nothing: the nodes learn each other's routes from
// their mesh or reflectors, and a router re-advertising them over eBGP
// would be preferred, RFC 4271 §9.1.2.2 (d), pulling node-to-node traffic
// through the router).
func routeMaps(l *lines, r *Router) {
	for _, fam := range []int{4, 6} {
		if !r.hasFamily(fam) {
			continue
		}
		if len(r.imports(fam)) == 0 {
			l.f("route-map KBGP-IN-V%d deny 10", fam)
		} else {
			l.f("route-map KBGP-IN-V%d permit 10", fam)
			if fam == 4 {
				l.f(" match ip address prefix-list KBGP-V4")
			} else {
				l.f(" match ipv6 address prefix-list KBGP-V6")
			}
		}
		l.f("exit")
		l.f("!")
	}
	l.f("route-map KBGP-OUT deny 10")
	l.f("exit")
	l.f("!")
}
