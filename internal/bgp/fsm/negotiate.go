package fsm

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/kbgp/kbgp/internal/bgp/wire"
)

// Negotiated is the state both sides agreed on in the OPEN exchange.
type Negotiated struct {
	PeerAS       uint32
	PeerRouterID netip.Addr
	// HoldTime is min(local, peer) (RFC 4271 §4.2); 0 means no hold timer
	// and no keepalives.
	HoldTime          time.Duration
	KeepaliveInterval time.Duration
	// Families are those both sides advertised (RFC 4760 §8).
	Families             []wire.Family
	AS4                  bool
	RouteRefresh         bool
	EnhancedRouteRefresh bool
	ExtendedMessage      bool
	// AddPathRecv/AddPathSend are the families whose NLRI carry path
	// identifiers from the peer / to the peer (RFC 7911 §4).
	AddPathRecv []wire.Family
	AddPathSend []wire.Family
	// PeerGR is the peer's graceful restart capability (nil if absent), and
	// LocalGR ours. GR is in effect for a family when both list it.
	PeerGR  *wire.GracefulRestart
	LocalGR *wire.GracefulRestart
	// PeerLLGR is the peer's long-lived GR capability tuples.
	PeerLLGR    []wire.LLGRFamily
	HasPeerLLGR bool
	// PeerHostname is the peer's FQDN capability hostname, if any.
	PeerHostname string
	// Recv decodes messages from the peer; Send encodes messages to it.
	Recv, Send wire.Options
}

// MaxMessageLen is the largest message size in either direction.
func (n *Negotiated) MaxMessageLen() int {
	if n.ExtendedMessage {
		return wire.MaxExtMessageLen
	}
	return wire.MaxMessageLen
}

// HasFamily reports whether f was negotiated.
func (n *Negotiated) HasFamily(f wire.Family) bool { return hasFamily(n.Families, f) }

// localOpen builds the OPEN kbgp sends for c.
func localOpen(c *Config) *wire.Open {
	o := &wire.Open{Version: wire.Version, BGPID: c.RouterID}
	// RFC 6793 §3: a speaker with a 4-octet AS "MUST use AS_TRANS in the
	// My Autonomous System field of the OPEN message".
	if c.LocalAS > 0xffff {
		o.MyAS = wire.ASTrans
	} else {
		o.MyAS = uint16(c.LocalAS)
	}
	if c.HoldTime != NoHoldTime {
		o.HoldTime = uint16(c.HoldTime / time.Second)
	}
	caps := &o.Caps
	caps.Multiprotocol = append([]wire.Family(nil), c.Families...)
	caps.HasFourOctetAS = true
	caps.FourOctetAS = c.LocalAS
	if !c.DisableRouteRefresh {
		caps.RouteRefresh = true
		caps.EnhancedRouteRefresh = true
	}
	caps.ExtendedMessage = c.ExtendedMessage
	for _, a := range c.AddPath {
		caps.AddPath = append(caps.AddPath, wire.AddPathFamily{Family: a.Family, Mode: a.Mode})
	}
	if gr := c.GracefulRestart; gr != nil {
		g := &wire.GracefulRestart{
			Restarting:   gr.Restarting,
			Notification: true, // RFC 8538: we understand Hard Reset.
			Time:         uint16(gr.RestartTime / time.Second),
		}
		for _, f := range c.Families {
			g.Families = append(g.Families, wire.GRFamily{Family: f, Forwarding: gr.Forwarding})
		}
		caps.GracefulRestart = g
		if gr.LLGRStaleTime > 0 {
			caps.HasLongLivedGR = true
			for _, f := range c.Families {
				caps.LongLivedGR = append(caps.LongLivedGR, wire.LLGRFamily{Family: f, Forwarding: gr.Forwarding, StaleTime: uint32(gr.LLGRStaleTime / time.Second)})
			}
		}
	}
	if c.Hostname != "" {
		caps.HasFQDN = true
		caps.Hostname = c.Hostname
	}
	return o
}

// negotiate checks the peer's OPEN against c and the OPEN kbgp sent and
// computes the session state. On refusal it returns the NOTIFICATION to send
// and an error saying why.
func negotiate(c *Config, local, peer *wire.Open) (*Negotiated, *wire.Notification, error) {
	refuse := func(sub uint8, data []byte, format string, args ...any) (*Negotiated, *wire.Notification, error) {
		n := &wire.Notification{Code: wire.NotifOpen, Subcode: sub, Data: data}
		return nil, n, fmt.Errorf("peer %v: refusing OPEN: %s (sent %s)", c.PeerAddr, fmt.Sprintf(format, args...), wire.NotificationName(n.Code, n.Subcode))
	}
	n := &Negotiated{PeerRouterID: peer.BGPID}
	n.AS4 = peer.Caps.HasFourOctetAS
	n.PeerAS = peer.ASN()
	// RFC 4271 §6.2: "If the Autonomous System field of the OPEN message is
	// unacceptable, then the Error Subcode MUST be set to Bad Peer AS."
	// RFC 6793 §4.1: with the 4-octet AS capability the capability's AS is
	// the peer's AS.
	if c.PeerAS != 0 && n.PeerAS != c.PeerAS {
		return refuse(wire.OpenBadPeerAS, nil, "peer announced AS %d, configured AS %d", n.PeerAS, c.PeerAS)
	}
	if n.PeerAS == 0 {
		return refuse(wire.OpenBadPeerAS, nil, "peer announced AS 0")
	}
	// RFC 6286 §2.2: "If the BGP Identifier field of the OPEN message is
	// zero, or if it is the same as the BGP Identifier of the local BGP
	// speaker and the message is from an internal peer, then the Error
	// Subcode is set to 'Bad BGP Identifier'."
	if !peer.BGPID.IsValid() || peer.BGPID.IsUnspecified() {
		return refuse(wire.OpenBadBGPID, nil, "peer BGP Identifier is 0.0.0.0")
	}
	if n.PeerAS == c.LocalAS && peer.BGPID == c.RouterID {
		return refuse(wire.OpenBadBGPID, nil, "internal peer uses our BGP Identifier %v", peer.BGPID)
	}
	// RFC 4271 §6.2: "An implementation MUST reject Hold Time values of one
	// or two seconds." §4.2: "the calculated value ... MUST be the smaller
	// of its configured Hold Time and the Hold Time received in the OPEN".
	if peer.HoldTime == 1 || peer.HoldTime == 2 {
		return refuse(wire.OpenUnacceptableHoldTime, nil, "peer proposed hold time %d s", peer.HoldTime)
	}
	hold := min(local.HoldTime, peer.HoldTime)
	n.HoldTime = time.Duration(hold) * time.Second
	if n.HoldTime > 0 {
		// RFC 4271 §10: "A reasonable maximum time between KEEPALIVE
		// messages would be one third of the Hold Time interval."
		n.KeepaliveInterval = n.HoldTime / 3
		if c.KeepaliveInterval > 0 && c.KeepaliveInterval < n.KeepaliveInterval {
			n.KeepaliveInterval = c.KeepaliveInterval
		}
	}
	// RFC 4760 §8 / RFC 5492 §3: exchange only families both advertise; a
	// speaker without the Multiprotocol capability does IPv4 unicast only.
	for _, f := range c.Families {
		if peer.Caps.HasFamily(f) && local.Caps.HasFamily(f) {
			n.Families = append(n.Families, f)
		}
	}
	// RFC 5492 §5: "If a BGP speaker that supports a certain capability
	// determines that its peer doesn't support this capability, the speaker
	// MAY send a NOTIFICATION message to the peer and terminate peering ...
	// the Error Subcode ... is set to Unsupported Capability ... The Data
	// field ... contains the capability or capabilities that cause the
	// speaker to send the message."
	var missing []wire.Family
	for _, f := range c.RequiredFamilies {
		if !hasFamily(n.Families, f) {
			missing = append(missing, f)
		}
	}
	if len(n.Families) == 0 && len(missing) == 0 {
		missing = c.Families
	}
	if len(missing) > 0 {
		data := wire.AppendCapabilities(nil, &wire.Capabilities{Multiprotocol: missing})
		return refuse(wire.OpenUnsupportedCapability, data, "peer does not support required families %v", familyList(missing))
	}
	n.RouteRefresh = local.Caps.RouteRefresh && peer.Caps.RouteRefresh
	n.EnhancedRouteRefresh = local.Caps.EnhancedRouteRefresh && peer.Caps.EnhancedRouteRefresh
	// RFC 8654 §3: "A BGP speaker that has advertised the BGP Extended
	// Message capability to its peer may receive messages from its peer
	// that are larger than 4,096 octets" once both have advertised it.
	n.ExtendedMessage = local.Caps.ExtendedMessage && peer.Caps.ExtendedMessage
	// RFC 7911 §4: paths may be sent for a family "if the Send/Receive field
	// of the ADD-PATH Capability sent by the local speaker is set to 2 or 3
	// and the Send/Receive field of the ADD-PATH Capability received from
	// the peer is set to 1 or 3"; and symmetrically for receiving.
	for _, f := range n.Families {
		lm, pm := local.Caps.AddPathFor(f), peer.Caps.AddPathFor(f)
		if lm&wire.AddPathSend != 0 && pm&wire.AddPathReceive != 0 {
			n.AddPathSend = append(n.AddPathSend, f)
		}
		if lm&wire.AddPathReceive != 0 && pm&wire.AddPathSend != 0 {
			n.AddPathRecv = append(n.AddPathRecv, f)
		}
	}
	if g := peer.Caps.GracefulRestart; g != nil {
		cp := *g
		cp.Families = append([]wire.GRFamily(nil), g.Families...)
		n.PeerGR = &cp
	}
	n.LocalGR = local.Caps.GracefulRestart
	n.HasPeerLLGR = peer.Caps.HasLongLivedGR
	n.PeerLLGR = append([]wire.LLGRFamily(nil), peer.Caps.LongLivedGR...)
	n.PeerHostname = peer.Caps.Hostname
	// RFC 7606 §7.5, §7.9, §7.10: LOCAL_PREF, ORIGINATOR_ID and CLUSTER_LIST
	// received from an external neighbor are discarded, so the decoder must
	// know whether the session is external (kbgp has no confederations).
	ebgp := n.PeerAS != c.LocalAS
	n.Recv = wire.Options{AS4: n.AS4, AddPath: n.AddPathRecv, ExtendedMessage: n.ExtendedMessage, EBGP: ebgp}
	n.Send = wire.Options{AS4: n.AS4, AddPath: n.AddPathSend, ExtendedMessage: n.ExtendedMessage, EBGP: ebgp}
	return n, nil, nil
}

func familyList(fs []wire.Family) []string {
	s := make([]string, len(fs))
	for i, f := range fs {
		s[i] = f.String()
	}
	return s
}

// GRFamilies returns the families for which graceful restart is in effect:
// both sides advertised the GR capability and the peer listed the family.
func (n *Negotiated) GRFamilies() []wire.Family {
	if n.PeerGR == nil || n.LocalGR == nil {
		return nil
	}
	var fs []wire.Family
	for _, g := range n.PeerGR.Families {
		if n.HasFamily(g.Family) {
			fs = append(fs, g.Family)
		}
	}
	return fs
}
