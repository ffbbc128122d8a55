package routercfg

import (
	"fmt"
	"strings"
)

// appendBIRD writes a BIRD 2 configuration (doc/bird.sgml).
func appendBIRD(b []byte, r *Router, opts Options) []byte {
	l := lines(b)
	l.comments(header(r, "#", "BIRD 2 (check with: bird -p -c FILE)"))
	if opts.LogFile != "" {
		l.f("log %q all;", opts.LogFile)
	}
	l.f("router id %s;", r.RouterID)
	l.f("")
	l.f("protocol device { }")
	for _, s := range r.Sessions {
		if s.BFD != nil {
			l.f("")
			l.f("protocol bfd { }")
			break
		}
	}
	l.f("")
	// The connected routes resolve the next hops of multihop sessions
	// (BIRD's "gateway recursive" looks them up in the IGP table).
	l.f("protocol direct {")
	for _, fam := range []int{4, 6} {
		if r.hasFamily(fam) {
			l.f("  %s;", afiName(fam))
		}
	}
	l.f("}")
	for _, fam := range []int{4, 6} {
		if !r.hasFamily(fam) {
			continue
		}
		l.f("")
		// "merge paths on" installs equal paths as one multipath kernel
		// route: the router's ECMP.
		l.f("protocol kernel kernel%d {", fam)
		l.f("  %s { import none; export where source = RTS_BGP; };", afiName(fam))
		l.f("  merge paths on limit %d;", r.MaxPaths)
		l.f("}")
	}
	for _, fam := range []int{4, 6} {
		if !r.hasFamily(fam) {
			continue
		}
		l.f("")
		var set []string
		for _, ir := range r.imports(fam) {
			set = append(set, ir.Prefix.String()+"+")
		}
		l.f("filter kbgp_import_v%d {", fam)
		if len(set) > 0 {
			l.f("  if net ~ [ %s ] then accept;", strings.Join(set, ", "))
		}
		l.f("  reject;")
		l.f("}")
	}
	for _, s := range r.Sessions {
		l.f("")
		l.f("protocol bgp %s {", strings.ReplaceAll(s.Name, "-", "_"))
		l.f("  description \"kbgp node %s\";", s.Node)
		l.f("  local %s as %s;", s.Local, r.ASN)
		port := ""
		if s.Port != 0 && s.Port != 179 {
			port = fmt.Sprintf(" port %d", s.Port)
		}
		l.f("  neighbor %s%s as %s;", s.Address, port, s.RemoteAS)
		switch {
		case s.TTLSecurity > 0:
			l.f("  ttl security on;")
			l.f("  multihop %d;", s.TTLSecurity)
		case s.Multihop:
			l.f("  multihop;")
		default:
			l.f("  direct;")
		}
		l.f("  hold time %s;", secs(s.HoldTime))
		l.f("  keepalive time %s;", secs(s.KeepaliveTime))
		if opts.ConnectRetry > 0 {
			l.f("  connect delay time 1;")
			l.f("  connect retry time %d;", max(1, int(opts.ConnectRetry.Seconds())))
		}
		if s.Password != "" {
			l.f("  password \"%s\";", s.Password)
		}
		if s.BFD != nil {
			l.f("  bfd on;")
		}
		if r.GracefulRestart {
			l.f("  graceful restart on;")
			l.f("  graceful restart time %d;", min(int(r.RestartTime.Seconds()), 4095))
			if r.LLGRStaleTime > 0 {
				l.f("  long lived graceful restart on;")
				l.f("  long lived stale time %s;", secs(r.LLGRStaleTime))
			}
		}
		addPath := ""
		if s.AddPathReceive {
			// RFC 7911: receive every path the node (reflector) sends.
			addPath = " add paths rx;"
		}
		l.f("  %s { import filter kbgp_import_v%d; export none;%s };", afiName(s.Family), s.Family, addPath)
		l.f("}")
	}
	return l
}
