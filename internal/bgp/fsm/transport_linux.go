package fsm

import (
	"fmt"
	"net/netip"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// setMD5 installs (key != "") or removes (key == "") the RFC 2385 TCP MD5
// key for peer on socket fd. v6sock says whether fd is an AF_INET6 socket;
// an IPv4 peer on an IPv6 socket is keyed by its v4-mapped address.
func setMD5(fd int, v6sock bool, peer netip.Addr, key string) error {
	var sig unix.TCPMD5Sig
	if v6sock {
		sa := (*unix.RawSockaddrInet6)(unsafe.Pointer(&sig.Addr))
		sa.Family = unix.AF_INET6
		sa.Addr = netip.AddrFrom16(peer.As16()).As16()
	} else {
		if !peer.Is4() {
			return fmt.Errorf("TCP MD5 key for IPv6 peer %v on an IPv4 socket", peer)
		}
		sa := (*unix.RawSockaddrInet4)(unsafe.Pointer(&sig.Addr))
		sa.Family = unix.AF_INET
		sa.Addr = peer.As4()
	}
	sig.Keylen = uint16(len(key))
	copy(sig.Key[:], key)
	if err := unix.SetsockoptTCPMD5Sig(fd, unix.IPPROTO_TCP, unix.TCP_MD5SIG, &sig); err != nil {
		return fmt.Errorf("setting TCP MD5 key for %v: %w", peer, err)
	}
	return nil
}

// setTTL sets the TTL (hop limit) of outgoing packets.
func setTTL(fd int, v6sock bool, ttl int) error {
	var err error
	if v6sock {
		err = unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_UNICAST_HOPS, ttl)
		// A dual-stack socket talking IPv4 uses IP_TTL too.
		_ = unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_TTL, ttl)
	} else {
		err = unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_TTL, ttl)
	}
	if err != nil {
		return fmt.Errorf("setting TTL %d: %w", ttl, err)
	}
	return nil
}

// setMinTTL makes the kernel drop segments that arrive with a TTL (hop
// limit) below ttl: RFC 5082 §3 "GTSM".
func setMinTTL(fd int, v6sock bool, ttl int) error {
	var err error
	if v6sock {
		err = unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_MINHOPCOUNT, ttl)
		_ = unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_MINTTL, ttl)
	} else {
		err = unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_MINTTL, ttl)
	}
	if err != nil {
		return fmt.Errorf("setting minimum TTL %d (GTSM): %w", ttl, err)
	}
	return nil
}

func isV6Socket(fd int) bool {
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return false
	}
	_, ok := sa.(*unix.SockaddrInet6)
	return ok
}

// controlFunc runs f on the file descriptor of rc.
func controlFunc(rc syscall.RawConn, f func(fd int) error) error {
	var ferr error
	if err := rc.Control(func(fd uintptr) { ferr = f(int(fd)) }); err != nil {
		return err
	}
	return ferr
}

// socketOptions applies c's transport security to an outgoing socket (from
// net.Dialer.Control) or an accepted one. The GTSM minimum TTL is set only
// when connected is true: before the handshake completes, the SYN-ACK from
// a listener that does not send with TTL 255 would be dropped.
func socketOptions(c *Config, rc syscall.RawConn, network string, connected bool) error {
	return controlFunc(rc, func(fd int) error {
		v6 := network == "tcp6" || isV6Socket(fd)
		if c.Password != "" {
			if err := setMD5(fd, v6, c.PeerAddr, c.Password); err != nil {
				return err
			}
		}
		switch {
		case c.TTLSecurity:
			// RFC 5082 §3: "The sender ... MUST set the TTL to 255" and
			// the receiver discards packets below 255 - hops (one hop).
			if err := setTTL(fd, v6, 255); err != nil {
				return err
			}
			if !connected {
				return nil
			}
			if err := setMinTTL(fd, v6, 255); err != nil {
				return err
			}
		case c.TTL > 0:
			if err := setTTL(fd, v6, int(c.TTL)); err != nil {
				return err
			}
		}
		return nil
	})
}
