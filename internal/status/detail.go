package status

import (
	"bufio"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/kbgp/kbgp/internal/bgp/wire"
)

// WritePeers writes a one-line-per-peer summary table (`kbgp node peers`),
// IPv4 peers first, each family sorted by session name.
func WritePeers(w io.Writer, peers []Peer, now time.Time, loc *time.Location) error {
	if len(peers) == 0 {
		_, err := fmt.Fprintln(w, "No peers found.")
		return err
	}
	t := Table{Header: []string{"Name", "Peer address", "Peer type", "Peer AS", "State", "Since", "Rcvd/Acc/Adv", "Info"}}
	for _, fam := range []int{4, 6} {
		for _, p := range familyPeers(peers, fam) {
			var rcv, acc, adv uint64
			for _, f := range p.Prefixes {
				rcv += f.Received
				acc += f.Accepted
				adv += f.Advertised
			}
			t.Rows = append(t.Rows, []string{
				p.SessionName(),
				p.Address.Unmap().String(),
				string(p.Type),
				asn(p.PeerASN),
				p.ProtocolState(),
				SinceText(p.Since, now, loc),
				fmt.Sprintf("%d/%d/%d", rcv, acc, adv),
				p.Info(),
			})
		}
	}
	return t.Render(w)
}

// WritePeerDetail writes everything the node knows about one session
// (`kbgp node peers ADDRESS`), in the spirit of BIRD's `show protocols all`.
func WritePeerDetail(w io.Writer, p *Peer, loc *time.Location) error {
	if loc == nil {
		loc = time.Local
	}
	bw := bufio.NewWriter(w)
	line := func(label, format string, args ...any) {
		fmt.Fprintf(bw, "  %-24s%s\n", label+":", fmt.Sprintf(format, args...))
	}
	ts := func(t time.Time) string {
		if t.IsZero() {
			return "never"
		}
		return t.In(loc).Format("2006-01-02 15:04:05")
	}
	fmt.Fprintf(bw, "%s (%s, %s)\n", p.SessionName(), p.Address.Unmap(), p.Type)
	line("State", "%s, %s since %s", p.ProtocolState(), p.Info(), ts(p.Since))
	port := p.Port
	if port == 0 {
		port = 179
	}
	line("Neighbor address", "%s port %d", p.Address.Unmap(), port)
	line("Neighbor AS", "%s", asn(p.PeerASN))
	line("Neighbor ID", "%s", addr(p.RouterID))
	line("Local address", "%s", addr(p.LocalAddress))
	line("Local AS", "%s", asn(p.LocalASN))
	line("Passive", "%s", yesNo(p.Passive))
	line("Route reflector client", "%s", yesNo(p.RouteReflectorClient))
	if p.LastError != nil {
		e := p.LastError.String()
		if p.LastError.Code != 0 {
			e += fmt.Sprintf(" (NOTIFICATION %d/%d)", p.LastError.Code, p.LastError.Subcode)
		}
		line("Last error", "%s at %s", e, ts(p.LastError.At))
	} else {
		line("Last error", "none")
	}

	tm := p.Timers
	line("Hold time", "configured %s, negotiated %s", dur(tm.HoldTime), dur(tm.NegotiatedHold))
	line("Keepalive time", "configured %s, negotiated %s", dur(tm.KeepaliveTime), dur(tm.NegotiatedKeepalive))
	line("Connect retry", "%s", dur(tm.ConnectRetry))

	c := p.Capabilities
	fmt.Fprintln(bw, "  Capabilities (negotiated):")
	cline := func(label, format string, args ...any) {
		fmt.Fprintf(bw, "    %-24s%s\n", label+":", fmt.Sprintf(format, args...))
	}
	cline("Multiprotocol", "%s", list(c.Families))
	cline("Route refresh", "%s", yesNo(c.RouteRefresh))
	cline("Enhanced route refresh", "%s", yesNo(c.EnhancedRefresh))
	cline("4-octet AS numbers", "%s", yesNo(c.FourOctetASN))
	cline("Extended message", "%s", yesNo(c.ExtendedMessage))
	cline("Extended next hop", "%s", list(c.ExtendedNextHop))
	var ap []string
	for _, a := range c.AddPath {
		ap = append(ap, a.Family+" "+a.Direction)
	}
	cline("ADD-PATH", "%s", list(ap))
	if gr := c.GracefulRestart; gr != nil {
		cline("Graceful restart", "restart time %s, families %s", dur(gr.RestartTime), list(gr.Families))
	} else {
		cline("Graceful restart", "no")
	}
	if c.LongLivedStaleTime > 0 {
		cline("Long-lived GR", "stale time %s", dur(c.LongLivedStaleTime))
	} else {
		cline("Long-lived GR", "no")
	}

	fmt.Fprintln(bw, "  Prefixes:")
	if len(p.Prefixes) == 0 {
		fmt.Fprintln(bw, "    none")
	}
	for _, f := range p.Prefixes {
		fmt.Fprintf(bw, "    %-24sreceived %d, accepted %d, advertised %d\n", f.Family+":", f.Received, f.Accepted, f.Advertised)
	}

	n := p.Counters
	fmt.Fprintln(bw, "  Messages:")
	fmt.Fprintf(bw, "    %-24s%d (updates %d, keepalives %d, route-refresh %d)\n", "received:", n.MessagesIn, n.UpdatesIn, n.KeepalivesIn, n.RouteRefreshIn)
	fmt.Fprintf(bw, "    %-24s%d (updates %d, keepalives %d, route-refresh %d)\n", "sent:", n.MessagesOut, n.UpdatesOut, n.KeepalivesOut, n.RouteRefreshOut)
	fmt.Fprintf(bw, "    %-24s%d\n", "established:", n.EstablishedCount)
	if len(n.Notifications) > 0 {
		fmt.Fprintln(bw, "  Notifications:")
		for _, nc := range n.Notifications {
			dir := "received"
			if nc.Sent {
				dir = "sent"
			}
			fmt.Fprintf(bw, "    %-9s%d/%d %s: %d\n", dir, nc.Code, nc.Subcode, wire.NotificationName(nc.Code, nc.Subcode), nc.Count)
		}
	}
	return bw.Flush()
}

// WriteRoutes writes a RIB dump (`kbgp node routes`): each prefix, then
// its paths, the best marked ">", ECMP multipaths "=", stale "S" (RFC 4724
// §4.2) or "L" (long-lived stale).
func WriteRoutes(w io.Writer, rib *RIB) error {
	bw := bufio.NewWriter(w)
	if len(rib.Routes) == 0 {
		fmt.Fprintln(bw, "No routes found.")
		return bw.Flush()
	}
	fmt.Fprintln(bw, "Flags: > best, = multipath, S stale, L long-lived stale")
	for _, r := range rib.Routes {
		fmt.Fprintf(bw, "%s\n", r.Prefix)
		for _, p := range r.Paths {
			flags := []byte("   ")
			if p.Best {
				flags[0] = '>'
			} else if p.Multipath {
				flags[0] = '='
			}
			if p.Stale {
				flags[1] = 'S'
			}
			if p.LLGRStale {
				flags[2] = 'L'
			}
			from := "local"
			if p.Peer.IsValid() {
				from = p.Peer.Unmap().String()
				if p.PeerName != "" {
					from += " (" + p.PeerName + ")"
				}
			}
			fmt.Fprintf(bw, "  %s via %s from %s", flags, addr(p.NextHop), from)
			if p.PathID != 0 {
				fmt.Fprintf(bw, " path-id %d", p.PathID)
			}
			if p.Reason != "" {
				fmt.Fprintf(bw, " [%s]", p.Reason)
			}
			bw.WriteByte('\n')
			attrs := []string{"origin " + p.Origin, "as-path " + orNone(p.ASPath)}
			if p.LocalPref != nil {
				attrs = append(attrs, "local-pref "+strconv.FormatUint(uint64(*p.LocalPref), 10))
			}
			if p.MED != nil {
				attrs = append(attrs, "med "+strconv.FormatUint(uint64(*p.MED), 10))
			}
			fmt.Fprintf(bw, "        %s\n", strings.Join(attrs, ", "))
			if len(p.Communities) > 0 {
				fmt.Fprintf(bw, "        communities %s\n", strings.Join(p.Communities, " "))
			}
			if len(p.LargeCommunities) > 0 {
				fmt.Fprintf(bw, "        large-communities %s\n", strings.Join(p.LargeCommunities, " "))
			}
			if len(p.ExtCommunities) > 0 {
				fmt.Fprintf(bw, "        ext-communities %s\n", strings.Join(p.ExtCommunities, " "))
			}
			if p.OriginatorID.IsValid() {
				var cl []string
				for _, c := range p.ClusterList {
					cl = append(cl, c.String())
				}
				fmt.Fprintf(bw, "        originator %s, cluster-list %s\n", p.OriginatorID, orNone(strings.Join(cl, " ")))
			}
		}
	}
	return bw.Flush()
}

func asn(a uint32) string {
	if a == 0 {
		return "-"
	}
	return strconv.FormatUint(uint64(a), 10)
}

func addr(a netip.Addr) string {
	if !a.IsValid() {
		return "-"
	}
	return a.Unmap().String()
}

func dur(d Duration) string {
	if d == 0 {
		return "-"
	}
	return d.String()
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func list(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

func orNone(s string) string {
	if s == "" {
		return "(empty)"
	}
	return s
}
