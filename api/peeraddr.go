package api

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// PeerAddress is a BGPPeer peerIP: an IP address with an optional port,
// written "10.0.0.1", "10.0.0.1:1179", "fd00::1" or "[fd00::1]:1179".
// Port 0 means "not given".
type PeerAddress struct {
	Addr netip.Addr
	Port uint16
}

// ParsePeerAddress parses a peerIP value.
func ParsePeerAddress(s string) (PeerAddress, error) {
	if a, err := netip.ParseAddr(s); err == nil {
		if a.Zone() != "" {
			return PeerAddress{}, fmt.Errorf("peer address %q: zones are not supported", s)
		}
		return PeerAddress{Addr: a.Unmap()}, nil
	}
	if strings.HasPrefix(s, "[") || strings.Count(s, ":") == 1 {
		ap, err := netip.ParseAddrPort(s)
		if err != nil {
			return PeerAddress{}, fmt.Errorf("peer address %q: want IP, IPv4:port or [IPv6]:port", s)
		}
		if ap.Port() == 0 {
			return PeerAddress{}, fmt.Errorf("peer address %q: port must be 1-65535", s)
		}
		if ap.Addr().Zone() != "" {
			return PeerAddress{}, fmt.Errorf("peer address %q: zones are not supported", s)
		}
		return PeerAddress{Addr: ap.Addr().Unmap(), Port: ap.Port()}, nil
	}
	return PeerAddress{}, fmt.Errorf("peer address %q: want IP, IPv4:port or [IPv6]:port", s)
}

// IsZero reports whether no address is set.
func (p PeerAddress) IsZero() bool { return !p.Addr.IsValid() }

// String formats the address as written in YAML.
func (p PeerAddress) String() string {
	if !p.Addr.IsValid() {
		return ""
	}
	if p.Port == 0 {
		return p.Addr.String()
	}
	if p.Addr.Is6() {
		return "[" + p.Addr.String() + "]:" + strconv.Itoa(int(p.Port))
	}
	return p.Addr.String() + ":" + strconv.Itoa(int(p.Port))
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (p *PeerAddress) UnmarshalText(b []byte) error {
	v, err := ParsePeerAddress(string(b))
	if err != nil {
		return err
	}
	*p = v
	return nil
}

// MarshalText implements encoding.TextMarshaler.
func (p PeerAddress) MarshalText() ([]byte, error) { return []byte(p.String()), nil }
