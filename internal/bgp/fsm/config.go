package fsm

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/kbgp/kbgp/internal/bgp/wire"
)

// Defaults for zero Config fields.
const (
	DefaultPort         = 179
	DefaultHoldTime     = 90 * time.Second
	DefaultConnectRetry = 5 * time.Second
	// OpenSentHoldTime is the "large value" the hold timer is set to after
	// sending OPEN (RFC 4271 §8.2.2: "A HoldTimer value of 4 minutes is
	// suggested").
	OpenSentHoldTime = 4 * time.Minute
	// DefaultIdleHoldMax caps the exponential IdleHold backoff of a flapping
	// peer (RFC 4271 §8.1.1 DampPeerOscillations).
	DefaultIdleHoldMax = 2 * time.Minute
	// DefaultQueueLen is the outbound queue length of one connection, in
	// entries: a message, or a batch of them (Session.SendBatch).
	DefaultQueueLen = 16
)

// AddPathConfig is the ADD-PATH capability kbgp advertises for one family.
type AddPathConfig struct {
	Family wire.Family
	Mode   wire.AddPathMode
}

// GRConfig configures graceful restart (RFC 4724) and long-lived graceful
// restart (RFC 9494) capabilities.
type GRConfig struct {
	// RestartTime is advertised as the restart time (at most 4095 s).
	RestartTime time.Duration
	// Restarting sets the R bit: kbgp has restarted and defers its own
	// best-path selection until End-of-RIB.
	Restarting bool
	// Forwarding sets the F bit for every family: kbgp preserved forwarding
	// state across the restart.
	Forwarding bool
	// LLGRStaleTime, when non-zero, advertises LLGR for every family with
	// this long-lived stale time.
	LLGRStaleTime time.Duration
}

// Config is one peer's session configuration. The zero values of optional
// fields select the defaults given on each field. A Config is immutable once
// passed to New; changing it means a new Session.
type Config struct {
	// LocalAS is kbgp's AS. Required.
	LocalAS uint32
	// RouterID is kbgp's BGP Identifier (an IPv4 address). Required.
	RouterID netip.Addr
	// PeerAS is the AS the peer must announce; 0 accepts any AS (dynamic
	// peers). A mismatch is refused with Bad Peer AS (RFC 4271 §6.2).
	PeerAS uint32
	// PeerAddr is the peer's address. Required.
	PeerAddr netip.Addr
	// PeerPort is the TCP port to connect to (default 179).
	PeerPort uint16
	// LocalAddr is the source address of outgoing connections (optional).
	LocalAddr netip.Addr
	// LocalPort is the source port of outgoing connections (0: ephemeral).
	LocalPort uint16
	// Passive peers are never connected to; kbgp only accepts their
	// connections (RFC 4271 §8.1.1 PassiveTcpEstablishment).
	Passive bool
	// HoldTime is the hold time kbgp proposes (default 90 s). Use
	// NoHoldTime to propose 0 (no keepalives). Values of 1 or 2 s are
	// invalid (RFC 4271 §4.2).
	HoldTime time.Duration
	// KeepaliveInterval overrides the negotiated hold time / 3.
	KeepaliveInterval time.Duration
	// ConnectRetry is the ConnectRetryTimer (default 5 s).
	ConnectRetry time.Duration
	// DelayOpen waits this long after the TCP connection is up before
	// sending OPEN, unless the peer's OPEN arrives first (RFC 4271 §8.1.1
	// DelayOpen).
	DelayOpen time.Duration
	// IdleHoldTime is how long a session rests in Idle after a failure
	// before it restarts (default 1 s). DampPeerOscillations doubles it
	// for each consecutive failure up to IdleHoldMax (default 2 min) and
	// refuses the peer's connections meanwhile (RFC 4271 §8.1.1).
	DampPeerOscillations bool
	IdleHoldTime         time.Duration
	IdleHoldMax          time.Duration
	// Password enables TCP MD5 signatures (RFC 2385).
	Password string
	// TTLSecurity enables GTSM (RFC 5082): send with TTL 255 and accept
	// only TTL 255 (IPv6: hop limit 255).
	TTLSecurity bool
	// TTL is the TTL of outgoing packets (eBGP multihop); 0 is the system
	// default (which is 64 on Linux; set 1 for strict single-hop eBGP).
	TTL uint8
	// Families kbgp offers (default IPv4 unicast). RequiredFamilies must be
	// negotiated or the session is refused with Unsupported Capability.
	Families         []wire.Family
	RequiredFamilies []wire.Family
	// AddPath lists ADD-PATH modes offered per family (RFC 7911).
	AddPath []AddPathConfig
	// DisableRouteRefresh stops advertising Route Refresh and Enhanced Route
	// Refresh (RFC 2918, RFC 7313); both are on by default.
	DisableRouteRefresh bool
	// ExtendedMessage advertises RFC 8654 extended messages.
	ExtendedMessage bool
	// GracefulRestart, when non-nil, advertises the GR capability.
	GracefulRestart *GRConfig
	// MaxPrefix limits the prefixes accepted per family (0: no limit). On
	// excess the session is closed with Cease / Maximum Number of Prefixes
	// Reached (RFC 4486 §4) and restarted after MaxPrefixRestart (0: stays
	// down until reconfigured or restarted by the caller).
	//
	// Enforcing a limit needs the exact Adj-RIB-In size, so the session
	// keeps a set of the received NLRI of each limited family (about 22
	// bytes per IPv4 prefix). Families without a limit are not counted
	// unless CountPrefixes is set: the RIB already stores every received
	// path and a speaker can count there.
	MaxPrefix        map[wire.Family]int
	MaxPrefixRestart time.Duration
	// CountPrefixes counts the received prefixes of every family in
	// Status.PrefixesReceived, not only of families with a MaxPrefix
	// limit, at the cost of the set described there.
	CountPrefixes bool
	// Hostname advertises the FQDN capability when non-empty.
	Hostname string
	// QueueLen is the outbound queue length in entries, each a message or
	// a batch (default 16).
	QueueLen int
	// Dial, when set, makes outgoing connections instead of d.DialContext:
	// e.g. to dial from inside a network namespace. It must use d (which
	// carries the source address and the MD5/TTL socket options) and
	// return a *net.TCPConn.
	Dial func(ctx context.Context, d *net.Dialer, network, address string) (net.Conn, error) `json:"-"`
}

// NoHoldTime in Config.HoldTime proposes a hold time of zero.
const NoHoldTime time.Duration = -1

// IBGP reports whether the session is internal (PeerAS equals LocalAS).
func (c *Config) IBGP() bool { return c.PeerAS == c.LocalAS }

// validate checks c and fills in defaults in a copy.
func (c Config) validate() (Config, error) {
	var errs []error
	if c.LocalAS == 0 {
		errs = append(errs, errors.New("LocalAS is required"))
	}
	if !c.RouterID.Is4() || c.RouterID.IsUnspecified() {
		errs = append(errs, fmt.Errorf("RouterID %v must be a non-zero IPv4 address", c.RouterID))
	}
	if !c.PeerAddr.IsValid() {
		errs = append(errs, errors.New("PeerAddr is required"))
	}
	c.PeerAddr = c.PeerAddr.Unmap()
	c.LocalAddr = c.LocalAddr.Unmap()
	if c.LocalAddr.IsValid() && c.LocalAddr.Is4() != c.PeerAddr.Is4() {
		errs = append(errs, fmt.Errorf("LocalAddr %v and PeerAddr %v are of different address families", c.LocalAddr, c.PeerAddr))
	}
	if c.PeerPort == 0 {
		c.PeerPort = DefaultPort
	}
	switch {
	case c.HoldTime == 0:
		c.HoldTime = DefaultHoldTime
	case c.HoldTime == NoHoldTime:
	case c.HoldTime < 3*time.Second || c.HoldTime > 65535*time.Second:
		// RFC 4271 §4.2: "The Hold Time MUST be either zero or at least
		// three seconds."
		errs = append(errs, fmt.Errorf("HoldTime %v must be 0 (NoHoldTime) or 3s..65535s", c.HoldTime))
	}
	if c.KeepaliveInterval < 0 {
		errs = append(errs, fmt.Errorf("KeepaliveInterval %v is negative", c.KeepaliveInterval))
	}
	if c.ConnectRetry <= 0 {
		c.ConnectRetry = DefaultConnectRetry
	}
	if c.IdleHoldTime <= 0 {
		c.IdleHoldTime = time.Second
	}
	if c.IdleHoldMax <= 0 {
		c.IdleHoldMax = DefaultIdleHoldMax
	}
	if len(c.Password) > 80 {
		// TCP_MD5SIG_MAXKEYLEN in linux/tcp.h.
		errs = append(errs, fmt.Errorf("Password is %d bytes, Linux allows at most 80", len(c.Password)))
	}
	if len(c.Families) == 0 {
		c.Families = []wire.Family{wire.IPv4Unicast}
	}
	for _, f := range c.RequiredFamilies {
		if !hasFamily(c.Families, f) {
			errs = append(errs, fmt.Errorf("RequiredFamilies lists %v which is not in Families", f))
		}
	}
	for _, a := range c.AddPath {
		if !hasFamily(c.Families, a.Family) {
			errs = append(errs, fmt.Errorf("AddPath lists %v which is not in Families", a.Family))
		}
		if a.Mode < wire.AddPathReceive || a.Mode > wire.AddPathBoth {
			errs = append(errs, fmt.Errorf("AddPath mode %d for %v is not 1 (receive), 2 (send) or 3 (both)", a.Mode, a.Family))
		}
	}
	if gr := c.GracefulRestart; gr != nil && (gr.RestartTime < 0 || gr.RestartTime > 4095*time.Second) {
		errs = append(errs, fmt.Errorf("GracefulRestart.RestartTime %v must be 0..4095s", gr.RestartTime))
	}
	if gr := c.GracefulRestart; gr != nil && (gr.LLGRStaleTime < 0 || gr.LLGRStaleTime > 0xffffff*time.Second) {
		errs = append(errs, fmt.Errorf("GracefulRestart.LLGRStaleTime %v must be 0..16777215s", gr.LLGRStaleTime))
	}
	for f, n := range c.MaxPrefix {
		if n < 0 {
			errs = append(errs, fmt.Errorf("MaxPrefix for %v is negative", f))
		}
	}
	if c.QueueLen <= 0 {
		c.QueueLen = DefaultQueueLen
	}
	if err := errors.Join(errs...); err != nil {
		return c, fmt.Errorf("peer %v: invalid session config: %w", c.PeerAddr, err)
	}
	return c, nil
}

func hasFamily(fs []wire.Family, f wire.Family) bool {
	for _, g := range fs {
		if g == f {
			return true
		}
	}
	return false
}
