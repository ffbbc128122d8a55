package agent

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/kbgp/kbgp/internal/bgp/fsm"
	"github.com/kbgp/kbgp/internal/bgp/speaker"
	"github.com/kbgp/kbgp/internal/bgp/wire"
	"github.com/kbgp/kbgp/internal/status"
)

// Node implements status.Provider: the node, its sessions (configured
// state joined with the speaker's live status), the RIB and FIB counters,
// the loops and the last reconcile (with the configuration errors, if any).
func (a *Agent) Node(ctx context.Context) (status.Node, error) {
	if err := ctx.Err(); err != nil {
		return status.Node{}, err
	}
	a.mu.Lock()
	st, sp := a.state, a.sp
	n := status.Node{
		Name:            a.opts.Node,
		Running:         sp != nil,
		StartedAt:       a.started,
		GracefulRestart: a.fibHeld,
		FIB:             a.fibStats,
		Reconcile:       a.reconcile,
	}
	if errs := a.configErrors(); len(errs) > 0 {
		n.Reconcile.Error = strings.Join(errs, "; ")
	}
	for name, t := range a.loops {
		n.Loops = append(n.Loops, status.Loop{Name: name, LastProgress: t})
	}
	for p, bp := range a.best {
		if p.Addr().Is4() {
			n.RIB.Prefixes4++
		} else {
			n.RIB.Prefixes6++
		}
		n.RIB.Paths += uint64(max(1, len(bp.NextHops)))
	}
	a.mu.Unlock()
	slices.SortFunc(n.Loops, func(x, y status.Loop) int { return strings.Compare(x.Name, y.Name) })
	n.Peers = []status.Peer{}
	if st == nil {
		return n, nil
	}
	n.RouterID, n.ASN = st.RouterID, uint32(st.ASNumber)
	live := map[string]speaker.PeerStatus{}
	if sp != nil {
		for _, ps := range sp.Peers() {
			live[ps.Name] = ps
		}
	}
	for i := range st.Peers {
		p := &st.Peers[i]
		sp := status.Peer{
			Name: p.Name, Address: p.Address, Port: p.Port, Type: status.PeerType(p.Type),
			LocalAddress: p.SourceAddress, LocalASN: uint32(p.LocalAS), PeerASN: uint32(p.RemoteAS),
			Passive: p.Passive, RouteReflectorClient: p.RouteReflectorClient, State: status.Idle,
			Timers: status.Timers{HoldTime: status.Duration(p.HoldTime.Duration), KeepaliveTime: status.Duration(p.KeepaliveTime.Duration)},
		}
		if ps, ok := live[p.Name]; ok {
			fillPeer(&sp, &ps)
		}
		n.Peers = append(n.Peers, sp)
	}
	return n, nil
}

// fillPeer copies the speaker's view of a session into a status.Peer.
func fillPeer(sp *status.Peer, ps *speaker.PeerStatus) {
	sp.State = status.SessionState(ps.State.String())
	sp.Since = ps.Since
	if ps.AdminDown {
		sp.Admin = status.AdminDown
	}
	if ps.Local.IsValid() {
		sp.LocalAddress = ps.Local.Addr().Unmap()
	}
	sp.Timers.ConnectRetry = 0
	if ng := ps.Negotiated; ng != nil {
		sp.RouterID = ng.PeerRouterID
		sp.PeerASN = ng.PeerAS
		sp.Timers.NegotiatedHold = status.Duration(ng.HoldTime)
		sp.Timers.NegotiatedKeepalive = status.Duration(ng.KeepaliveInterval)
		c := &sp.Capabilities
		for _, f := range ng.Families {
			c.Families = append(c.Families, familyName(f))
		}
		c.RouteRefresh, c.EnhancedRefresh = ng.RouteRefresh, ng.EnhancedRouteRefresh
		c.FourOctetASN, c.ExtendedMessage = ng.AS4, ng.ExtendedMessage
		for _, f := range ng.Families {
			dir := ""
			switch s, r := slices.Contains(ng.AddPathSend, f), slices.Contains(ng.AddPathRecv, f); {
			case s && r:
				dir = "send/receive"
			case s:
				dir = "send"
			case r:
				dir = "receive"
			}
			if dir != "" {
				c.AddPath = append(c.AddPath, status.AddPath{Family: familyName(f), Direction: dir})
			}
		}
		if ng.PeerGR != nil && ng.LocalGR != nil {
			gr := &status.GracefulRestart{RestartTime: status.Duration(time.Duration(ng.PeerGR.Time) * time.Second)}
			for _, g := range ng.PeerGR.Families {
				if g.Forwarding {
					gr.Families = append(gr.Families, familyName(g.Family))
				}
			}
			c.GracefulRestart = gr
		}
		for _, l := range ng.PeerLLGR {
			c.LongLivedStaleTime = status.Duration(time.Duration(l.StaleTime) * time.Second)
		}
	}
	// Like BIRD (bgp_conn_enter_established clears last_error_class), an
	// error from before the current Established period is not shown: the
	// seed's calicoctl output reads just "Established".
	if e := ps.LastError; e != nil && !(ps.State == fsm.Established && !e.At.After(ps.Since)) {
		sp.LastError = peerError(e)
	}
	fams := map[wire.Family]bool{}
	for f := range ps.PrefixesReceived {
		fams[f] = true
	}
	for f := range ps.Advertised {
		fams[f] = true
	}
	for f := range fams {
		sp.Prefixes = append(sp.Prefixes, status.Prefixes{Family: familyName(f),
			Received: uint64(ps.PrefixesReceived[f]), Accepted: uint64(ps.Accepted[f]), Advertised: uint64(ps.Advertised[f])})
	}
	slices.SortFunc(sp.Prefixes, func(x, y status.Prefixes) int { return strings.Compare(x.Family, y.Family) })
	k := &sp.Counters
	k.MessagesIn, k.MessagesOut = ps.In.Total(), ps.Out.Total()
	k.UpdatesIn, k.UpdatesOut = ps.In[wire.MsgUpdate], ps.Out[wire.MsgUpdate]
	k.KeepalivesIn, k.KeepalivesOut = ps.In[wire.MsgKeepalive], ps.Out[wire.MsgKeepalive]
	k.RouteRefreshIn, k.RouteRefreshOut = ps.In[wire.MsgRouteRefresh], ps.Out[wire.MsgRouteRefresh]
	k.EstablishedCount = ps.Established
}

// peerError maps a session error to BIRD's error classes.
func peerError(e *fsm.SessionError) *status.PeerError {
	pe := &status.PeerError{At: e.At}
	switch e.Class {
	case fsm.ClassTransport:
		pe.Class = status.ErrorSocket
	case fsm.ClassNotificationReceived:
		pe.Class = status.ErrorReceived
	case fsm.ClassNotificationSent, fsm.ClassHoldTimerExpired:
		pe.Class = status.ErrorSent
	case fsm.ClassMaxPrefix:
		pe.Class = status.ErrorAutoShutdown
	default:
		pe.Class = status.ErrorMisc
	}
	switch {
	case e.Notification != nil:
		pe.Code, pe.Subcode = e.Notification.Code, e.Notification.Subcode
		pe.Message = e.Notification.String()
	case e.Err != nil:
		pe.Message = e.Err.Error()
	default:
		pe.Message = e.Class.String()
	}
	return pe
}

func familyName(f wire.Family) string {
	switch f {
	case wire.IPv4Unicast:
		return "ipv4-unicast"
	case wire.IPv6Unicast:
		return "ipv6-unicast"
	}
	return f.String()
}

// Routes implements status.Provider from the speaker's best paths: one
// path per prefix (the best), with the rest of its multipath set's next
// hops as multipath entries.
func (a *Agent) Routes(ctx context.Context, q status.RouteQuery) (status.RIB, error) {
	a.mu.Lock()
	sp := a.sp
	a.mu.Unlock()
	if sp == nil {
		return status.RIB{Routes: []status.Route{}}, nil
	}
	bps, err := sp.BestPaths(ctx)
	if err != nil {
		return status.RIB{}, fmt.Errorf("reading the RIB: %w", err)
	}
	rib := status.RIB{Routes: make([]status.Route, 0, len(bps))}
	for _, bp := range bps {
		if bp.Withdrawn() && !bp.Local {
			continue
		}
		r := status.Route{Prefix: bp.Prefix}
		nhs := bp.NextHops
		if len(nhs) == 0 {
			nhs = nhs[:0:0]
		}
		for i := range max(1, len(nhs)) {
			p := status.Path{Best: i == 0, Multipath: i > 0}
			if bp.Local {
				p.PeerName = "local"
			}
			if i < len(nhs) {
				p.NextHop = nhs[i]
			}
			fillAttrs(&p, bp.Attrs)
			r.Paths = append(r.Paths, p)
		}
		rib.Routes = append(rib.Routes, r)
	}
	return rib.Select(q), nil
}

func fillAttrs(p *status.Path, at *wire.Attrs) {
	if at == nil {
		return
	}
	p.Origin = map[wire.Origin]string{wire.OriginIGP: "IGP", wire.OriginEGP: "EGP", wire.OriginIncomplete: "incomplete"}[at.Origin]
	var segs []string
	for _, s := range at.ASPath {
		var asns []string
		for _, n := range s.ASNs {
			asns = append(asns, fmt.Sprint(n))
		}
		if s.Type == wire.ASSet {
			segs = append(segs, "{"+strings.Join(asns, ",")+"}")
		} else {
			segs = append(segs, asns...)
		}
	}
	p.ASPath = strings.Join(segs, " ")
	if at.Has(wire.AttrMED) {
		v := at.MED
		p.MED = &v
	}
	if at.Has(wire.AttrLocalPref) {
		v := at.LocalPref
		p.LocalPref = &v
	}
	for _, c := range at.Communities {
		p.Communities = append(p.Communities, c.String())
	}
	for _, c := range at.LargeCommunities {
		p.LargeCommunities = append(p.LargeCommunities, c.String())
	}
	if at.Has(wire.AttrOriginatorID) {
		p.OriginatorID = at.OriginatorID
	}
	p.ClusterList = slices.Clone(at.ClusterList)
}

// configGauges are the agent's own metrics beside the status collector.
type configGauges struct {
	valid  prometheus.GaugeFunc
	errors prometheus.Counter
}

func newConfigGauges(a *Agent) *configGauges {
	return &configGauges{
		valid: prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "kbgp_config_valid",
			Help: "1 if every resource in the datastore decodes and the node's desired state compiles; 0 while the agent runs on its last good state."},
			func() float64 {
				a.mu.Lock()
				defer a.mu.Unlock()
				if len(a.configErrors()) > 0 {
					return 0
				}
				return 1
			}),
		errors: prometheus.NewCounter(prometheus.CounterOpts{Name: "kbgp_config_errors_total",
			Help: "Resources the agent rejected and reconcile passes that failed."}),
	}
}

// metricsHandler serves the status collector, the config metrics and the
// Go runtime and process metrics.
func (a *Agent) metricsHandler() http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(a.metrics, a.gauges.valid, a.gauges.errors,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}
