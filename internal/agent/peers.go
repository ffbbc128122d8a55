package agent

import (
	"time"

	"github.com/kbgp/kbgp/internal/bgp/fsm"
	"github.com/kbgp/kbgp/internal/bgp/speaker"
	"github.com/kbgp/kbgp/internal/bgp/wire"
	"github.com/kbgp/kbgp/internal/config"
	"github.com/kbgp/kbgp/internal/rib"
)

// peerConfig maps one compiled session to the speaker's configuration.
// restarting sets the graceful-restart R bit (RFC 4724 §3: "Restart State
// (R): ... When set (value 1), this bit indicates that the BGP speaker has
// restarted"); the agent sets it on the sessions it opens while recovering
// from its own restart.
func peerConfig(st *config.NodeState, p *config.Peer, o *Options, restarting bool) speaker.PeerConfig {
	fam := wire.IPv4Unicast
	if p.Family == 6 {
		fam = wire.IPv6Unicast
	}
	src := p.SourceAddress
	if !src.IsValid() {
		// Never rely on the kernel's source selection (or a MASQUERADE
		// rule) for the session: seed problem 2. Use the node's address of
		// the peer's family.
		if p.Family == 6 {
			src = st.IPv6Address.Addr()
		} else {
			src = st.IPv4Address.Addr()
		}
	}
	s := fsm.Config{
		LocalAS:           uint32(p.LocalAS),
		RouterID:          st.RouterID,
		PeerAS:            uint32(p.RemoteAS),
		PeerAddr:          p.Address,
		PeerPort:          p.Port,
		LocalAddr:         src,
		Passive:           p.Passive,
		HoldTime:          p.HoldTime.Duration,
		KeepaliveInterval: p.KeepaliveTime.Duration,
		ConnectRetry:      o.ConnectRetry,
		IdleHoldTime:      o.IdleHoldTime,
		Families:          []wire.Family{fam},
		TTLSecurity:       p.TTLSecurity > 0,
		Hostname:          st.Node,
	}
	if p.Password != nil && p.Password.Resolved {
		s.Password = p.Password.Value
	}
	// RFC 7911 §4: Send/Receive "1 ... receive", "2 ... send", "3 ... both".
	switch {
	case p.AddPathSend && p.AddPathReceive:
		s.AddPath = []fsm.AddPathConfig{{Family: fam, Mode: wire.AddPathBoth}}
	case p.AddPathSend:
		s.AddPath = []fsm.AddPathConfig{{Family: fam, Mode: wire.AddPathSend}}
	case p.AddPathReceive:
		s.AddPath = []fsm.AddPathConfig{{Family: fam, Mode: wire.AddPathReceive}}
	}
	if p.GracefulRestart {
		rt := p.RestartTime.Duration
		if rt <= 0 {
			rt = config.DefaultRestartTime
		}
		// RFC 4724 §3: "Forwarding State (F) ... indicates whether the
		// peer has been able to preserve the forwarding state". The agent
		// never flushes its kernel routes on exit or restart (the FIB adopts
		// them), so it always can.
		s.GracefulRestart = &fsm.GRConfig{RestartTime: min(rt, 4095*time.Second), Restarting: restarting,
			Forwarding: true, LLGRStaleTime: p.LLGRStaleTime.Duration}
	}
	if p.MaxPrefix > 0 {
		s.MaxPrefix = map[wire.Family]int{fam: int(p.MaxPrefix)}
		s.MaxPrefixRestart = p.MaxPrefixRestart.Duration
	}
	nh := rib.NextHopAuto
	switch p.NextHop {
	case config.NextHopSelf:
		nh = rib.NextHopSelf
	case config.NextHopKeep:
		nh = rib.NextHopKeep
	}
	c := speaker.PeerConfig{
		Name:       p.Name,
		Session:    s,
		RRClient:   p.RouteReflectorClient,
		NextHop:    nh,
		AllowOwnAS: p.AllowLocalAS,
		// A rule change is applied in place (new functions: no reset; RFC
		// 2918 refresh for import). The export policy is named by its
		// rules, because the RIB shares one update group, and one
		// encoding of every UPDATE, among the sessions whose exports are
		// identical: a reflector's hundreds of clients are then one group,
		// not one each. The speaker moves a session between groups when
		// its rules change (speaker.UpdatePeers).
		// Rules without operations only accept or reject: the RIB can then
		// share attributes instead of copying them per route.
		Import: rib.Policy{Name: p.Name + "/import", Func: policyFunc(p.Import), ReadOnly: readOnly(p.Import)},
		Export: rib.Policy{Name: exportPolicyName(p.Export), Func: policyFunc(p.Export), ReadOnly: readOnly(p.Export)},
	}
	if p.Family == 6 {
		c.NextHopSelf6 = src
		if o.NextHop6.IsValid() {
			c.NextHopSelf6 = o.NextHop6
		}
	} else {
		c.NextHopSelf4 = src
		if o.NextHop4.IsValid() {
			c.NextHopSelf4 = o.NextHop4
		}
	}
	return c
}
