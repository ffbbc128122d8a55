package routercfg

import (
	"fmt"
	"strings"
)

// appendCisco writes Cisco IOS / IOS-XE configuration (notes testdata.md
// §4.5).
func appendCisco(b []byte, r *Router) []byte {
	l := lines(b)
	l.comments(header(r, "!", "Cisco IOS / IOS-XE"))
	prefixLists(&l, r, "ip prefix-list", "ipv6 prefix-list", "le")
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
	}
	l.f("route-map KBGP-OUT deny 10")
	l.f("!")
	l.f("router bgp %s", r.ASN)
	l.f(" bgp router-id %s", r.RouterID)
	l.f(" bgp log-neighbor-changes")
	l.f(" no bgp default ipv4-unicast")
	if r.GracefulRestart {
		l.f(" bgp graceful-restart")
		l.f(" bgp graceful-restart restart-time %d", min(int(r.RestartTime.Seconds()), 3600))
		stale := r.RestartTime + r.LLGRStaleTime
		l.f(" bgp graceful-restart stalepath-time %d", min(int(stale.Seconds()), 3600))
	}
	for _, s := range r.Sessions {
		n := s.Address
		l.f(" neighbor %s remote-as %s", n, s.RemoteAS)
		l.f(" neighbor %s description kbgp %s %s", n, s.Name, s.Node)
		l.f(" neighbor %s update-source %s", n, s.Local)
		if s.Port != 0 && s.Port != 179 {
			l.f(" ! %s listens on port %d: IOS cannot connect to a non-standard port; set the node's listenPort to 179", s.Node, s.Port)
		}
		if s.Password != "" {
			l.f(" neighbor %s password %s", n, s.Password)
		}
		l.f(" neighbor %s timers %s %s", n, secs(s.KeepaliveTime), secs(s.HoldTime))
		switch {
		case s.TTLSecurity > 0:
			l.f(" neighbor %s ttl-security hops %d", n, s.TTLSecurity)
		case s.Multihop && !s.Internal:
			l.f(" neighbor %s ebgp-multihop 255", n)
		}
		if s.BFD != nil {
			l.f(" neighbor %s fall-over bfd", n)
		}
	}
	for _, fam := range []int{4, 6} {
		if !r.hasFamily(fam) {
			continue
		}
		l.f(" address-family %s", afiName(fam))
		addPath := false
		for _, s := range r.Sessions {
			addPath = addPath || s.Family == fam && s.AddPathReceive
		}
		if addPath {
			// RFC 7911 §4: advertise the ability to receive paths.
			l.f("  bgp additional-paths receive")
		}
		for _, s := range r.Sessions {
			if s.Family != fam {
				continue
			}
			n := s.Address
			l.f("  neighbor %s activate", n)
			if s.AddPathReceive {
				l.f("  neighbor %s additional-paths receive", n)
			}
			l.f("  neighbor %s route-map KBGP-IN-V%d in", n, fam)
			l.f("  neighbor %s route-map KBGP-OUT out", n)
		}
		l.f("  maximum-paths %d", r.MaxPaths)
		l.f("  maximum-paths ibgp %d", r.MaxPaths)
		l.f(" exit-address-family")
	}
	l.f("end")
	return l
}

// appendJunos writes a Junos configuration in curly-brace form (load
// merge terminal).
func appendJunos(b []byte, r *Router) []byte {
	l := lines(b)
	l.comments(header(r, "#", "Junos (load merge terminal)"))
	l.f("routing-options {")
	l.f("    router-id %s;", r.RouterID)
	l.f("    autonomous-system %s;", r.ASN)
	// Junos installs only one next hop unless the forwarding table is
	// told to load-balance.
	l.f("    forwarding-table {")
	l.f("        export kbgp-ecmp;")
	l.f("    }")
	l.f("}")
	l.f("protocols {")
	l.f("    bgp {")
	for _, internal := range []bool{true, false} {
		var ss []Session
		ases := map[string]bool{}
		for _, s := range r.Sessions {
			if s.Internal == internal {
				ss = append(ss, s)
				ases[s.RemoteAS.String()] = true
			}
		}
		if len(ss) == 0 {
			continue
		}
		name, typ := "kbgp-ibgp", "internal"
		if !internal {
			name, typ = "kbgp-ebgp", "external"
		}
		l.f("        group %s {", name)
		l.f("            type %s;", typ)
		l.f("            hold-time %s;", secs(ss[0].HoldTime))
		l.f("            import kbgp-in;")
		l.f("            export kbgp-out;")
		if len(ases) > 1 {
			l.f("            multipath multiple-as;")
		} else {
			l.f("            multipath;")
		}
		for _, fam := range []int{4, 6} {
			addPath := false
			for _, s := range ss {
				addPath = addPath || s.Family == fam && s.AddPathReceive
			}
			fn := "inet"
			if fam == 6 {
				fn = "inet6"
			}
			if r.hasFamily(fam) {
				if addPath {
					l.f("            family %s {", fn)
					l.f("                unicast {")
					l.f("                    add-path {")
					l.f("                        receive;")
					l.f("                    }")
					l.f("                }")
					l.f("            }")
				} else {
					l.f("            family %s {", fn)
					l.f("                unicast;")
					l.f("            }")
				}
			}
		}
		if r.GracefulRestart {
			l.f("            graceful-restart {")
			l.f("                restart-time %d;", min(int(r.RestartTime.Seconds()), 600))
			if r.LLGRStaleTime > 0 {
				l.f("                long-lived {")
				l.f("                    receiver {")
				l.f("                        enable;")
				l.f("                    }")
				l.f("                }")
			}
			l.f("            }")
		}
		for _, s := range ss {
			l.f("            neighbor %s {", s.Address)
			l.f("                description \"kbgp %s %s\";", s.Name, s.Node)
			l.f("                local-address %s;", s.Local)
			if !internal {
				l.f("                peer-as %s;", s.RemoteAS)
				if s.Multihop {
					l.f("                multihop;")
				}
			}
			if s.Password != "" {
				l.f("                authentication-key \"%s\";", s.Password)
			}
			if s.BFD != nil {
				l.f("                bfd-liveness-detection {")
				l.f("                    minimum-interval %d;", max(s.BFD.MinRx.Milliseconds(), s.BFD.MinTx.Milliseconds()))
				l.f("                    multiplier %d;", s.BFD.Multiplier)
				l.f("                }")
			}
			if s.Port != 0 && s.Port != 179 {
				l.f("                /* %s listens on port %d: Junos connects to 179; set the node's listenPort to 179 */", s.Node, s.Port)
			}
			l.f("            }")
		}
		l.f("        }")
	}
	l.f("    }")
	l.f("}")
	l.f("policy-options {")
	l.f("    policy-statement kbgp-in {")
	var filters []string
	for _, ir := range r.Import {
		filters = append(filters, fmt.Sprintf("                route-filter %s orlonger;", ir.Prefix))
	}
	if len(filters) > 0 {
		l.f("        term k8s-ranges {")
		l.f("            from {")
		l.f("%s", strings.Join(filters, "\n"))
		l.f("            }")
		l.f("            then accept;")
		l.f("        }")
	}
	l.f("        then reject;")
	l.f("    }")
	l.f("    policy-statement kbgp-out {")
	l.f("        then reject;")
	l.f("    }")
	l.f("    policy-statement kbgp-ecmp {")
	l.f("        then {")
	l.f("            load-balance per-packet;")
	l.f("        }")
	l.f("    }")
	l.f("}")
	return l
}

// appendH3C writes H3C Comware 7 configuration (notes testdata.md §4.4).
// Policies come first: Comware checks references when they are applied.
func appendH3C(b []byte, r *Router) []byte {
	l := lines(b)
	l.comments(header(r, "#", "H3C Comware 7"))
	for _, fam := range []int{4, 6} {
		if !r.hasFamily(fam) {
			continue
		}
		kw := "ip prefix-list"
		if fam == 6 {
			kw = "ipv6 prefix-list"
		}
		for i, ir := range r.imports(fam) {
			lee := ""
			if ir.Prefix.Bits() < ir.Prefix.Addr().BitLen() {
				lee = fmt.Sprintf(" less-equal %d", ir.Prefix.Addr().BitLen())
			}
			l.f("%s KBGP-V%d index %d permit %s %d%s", kw, fam, (i+1)*10, ir.Prefix.Addr(), ir.Prefix.Bits(), lee)
		}
		if len(r.imports(fam)) == 0 {
			l.f("route-policy KBGP-IN-V%d deny node 10", fam)
		} else {
			l.f("route-policy KBGP-IN-V%d permit node 10", fam)
			if fam == 4 {
				l.f(" if-match ip address prefix-list KBGP-V4")
			} else {
				l.f(" if-match ipv6 address prefix-list KBGP-V6")
			}
		}
		l.f("#")
	}
	l.f("route-policy KBGP-OUT deny node 10")
	l.f("#")
	l.f("bgp %s", r.ASN)
	l.f(" router-id %s", r.RouterID)
	if r.GracefulRestart {
		l.f(" graceful-restart")
		l.f(" graceful-restart timer restart %d", min(int(r.RestartTime.Seconds()), 3600))
	}
	for _, s := range r.Sessions {
		n := s.Address
		l.f(" peer %s as-number %s", n, s.RemoteAS)
		l.f(" peer %s description kbgp-%s-%s", n, s.Name, s.Node)
		if s.Password != "" {
			l.f(" peer %s password simple %s", n, s.Password)
		}
		l.f(" peer %s timer keepalive %s hold %s", n, secs(s.KeepaliveTime), secs(s.HoldTime))
		switch {
		case s.TTLSecurity > 0:
			l.f(" peer %s ttl-security hops %d", n, s.TTLSecurity)
		case s.Multihop && !s.Internal:
			l.f(" peer %s ebgp-max-hop 255", n)
		}
		if s.BFD != nil {
			l.f(" peer %s bfd", n)
		}
	}
	for _, fam := range []int{4, 6} {
		if !r.hasFamily(fam) {
			continue
		}
		l.f(" address-family %s unicast", afiName(fam))
		l.f("  balance %d", r.MaxPaths)
		for _, s := range r.Sessions {
			if s.Family != fam {
				continue
			}
			n := s.Address
			l.f("  peer %s enable", n)
			if s.AddPathReceive {
				l.f("  peer %s additional-paths receive", n)
			}
			l.f("  peer %s route-policy KBGP-IN-V%d import", n, fam)
			l.f("  peer %s route-policy KBGP-OUT export", n)
		}
	}
	l.f("#")
	return l
}
