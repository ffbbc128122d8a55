package status

import (
	"net/netip"
	"strconv"
	"strings"
	"time"
)

var addrUnderscores = strings.NewReplacer(".", "_", ":", "_")

// SessionName is the deterministic session name Calico's confd gives a
// peer and that calicoctl and the readiness probe depend on: the type
// prefix (Mesh_, Node_, Global_) followed by the address with '.' or ':'
// replaced by '_', plus "_port_N" when the port is not 179.
func SessionName(t PeerType, addr netip.Addr, port uint16) string {
	var prefix string
	switch t {
	case PeerMesh:
		prefix = "Mesh_"
	case PeerGlobal:
		prefix = "Global_"
	default:
		prefix = "Node_"
	}
	name := prefix + addrUnderscores.Replace(addr.Unmap().String())
	if port != 0 && port != 179 {
		name += "_port_" + strconv.Itoa(int(port))
	}
	return name
}

// SessionName is p.Name, or the derived name when the provider left it
// empty.
func (p *Peer) SessionName() string {
	if p.Name != "" {
		return p.Name
	}
	return SessionName(p.Type, p.Address, p.Port)
}

// ProtocolState is the BIRD protocol state calicoctl shows in its STATE
// column (BIRD nest/proto.c proto_state_name): "up" once Established,
// "start" while the FSM is trying, "stop" while closing and "down" when
// disabled.
func (p *Peer) ProtocolState() string {
	switch p.Admin {
	case AdminDown:
		return "down"
	case AdminStopping:
		return "stop"
	}
	if p.State == Established {
		return "up"
	}
	return "start"
}

// StateText is the BGP state as BIRD describes it (bgp_state_dsc): the
// FSM state, or "Passive" for a passive session waiting for the peer to
// connect.
func (p *Peer) StateText() string {
	if p.Passive && (p.State == Idle || p.State == Active) {
		return "Passive"
	}
	if p.State == "" {
		return string(Idle)
	}
	return string(p.State)
}

// Info is calicoctl's INFO column: the BGP state followed by the last
// error with its class prefix, e.g. "Active Socket: Connection refused".
// calicoctl rebuilds INFO from whitespace-separated fields, so runs of
// spaces collapse to one.
//
// A disabled session shows only its last error, as BIRD does; where BIRD
// would then show nothing (and calicoctl would skip the row because it has
// fewer than six columns) we show "Down" instead, so that a disabled peer
// is visible.
func (p *Peer) Info() string {
	errText := p.LastError.String()
	var s string
	if p.Admin == AdminDown {
		s = errText
		if s == "" {
			s = "Down"
		}
	} else {
		s = p.StateText()
		if errText != "" {
			s += " " + errText
		}
	}
	return strings.Join(strings.Fields(s), " ")
}

// sinceLimit is BIRD's default "timeformat protocol" switch-over (conf/conf.c:
// "%T" below 20 hours, "%F" beyond).
const sinceLimit = 20 * time.Hour

// SinceText formats a state-change time as BIRD's default protocol time
// format does: HH:MM:SS if it was less than 20 hours before now,
// YYYY-MM-DD otherwise, in loc (nil means time.Local). A zero since is
// shown as now.
func SinceText(since, now time.Time, loc *time.Location) string {
	if loc == nil {
		loc = time.Local
	}
	if since.IsZero() {
		since = now
	}
	if now.Sub(since) < sinceLimit {
		return since.In(loc).Format("15:04:05")
	}
	return since.In(loc).Format("2006-01-02")
}
