package fsm

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"syscall"
)

// Listener accepts BGP connections for a speaker. TCP MD5 keys must be set
// on the listening socket before a peer connects (RFC 2385 signs the SYN),
// so the speaker registers each peer's password with SetPassword.
type Listener struct {
	ln   *net.TCPListener
	rc   syscall.RawConn
	v6   bool
	mu   sync.Mutex // guards keys
	keys map[netip.Addr]string
}

// Listen opens a listening socket on addr (port 0 picks an ephemeral port).
func Listen(ctx context.Context, addr netip.AddrPort) (*Listener, error) {
	network := "tcp4"
	if addr.Addr().Is6() {
		network = "tcp6"
	}
	var lc net.ListenConfig
	// Go enables MPTCP on listeners by default (Go 1.24+), and MPTCP
	// sockets refuse TCP_MD5SIG with ENOPROTOOPT: BGP needs plain TCP.
	lc.SetMultipathTCP(false)
	ln, err := lc.Listen(ctx, network, addr.String())
	if err != nil {
		return nil, fmt.Errorf("listening for BGP on %v: %w", addr, err)
	}
	tl := ln.(*net.TCPListener)
	rc, err := tl.SyscallConn()
	if err != nil {
		tl.Close()
		return nil, fmt.Errorf("listening for BGP on %v: %w", addr, err)
	}
	return &Listener{ln: tl, rc: rc, v6: network == "tcp6", keys: map[netip.Addr]string{}}, nil
}

// Addr is the address the listener is bound to.
func (l *Listener) Addr() netip.AddrPort {
	return l.ln.Addr().(*net.TCPAddr).AddrPort()
}

// SetPassword installs the TCP MD5 key for peer on the listening socket, or
// removes it when password is empty.
func (l *Listener) SetPassword(peer netip.Addr, password string) error {
	peer = peer.Unmap()
	if !l.v6 && peer.Is6() {
		return fmt.Errorf("TCP MD5 key for %v: listener %v is IPv4", peer, l.Addr())
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	old, had := l.keys[peer]
	if password == "" && !had || had && old == password {
		return nil
	}
	if err := controlFunc(l.rc, func(fd int) error { return setMD5(fd, l.v6, peer, password) }); err != nil {
		return fmt.Errorf("listener %v: %w", l.Addr(), err)
	}
	if password == "" {
		delete(l.keys, peer)
	} else {
		l.keys[peer] = password
	}
	return nil
}

// EnableGTSM makes the listening socket send with TTL (hop limit) 255, so
// the SYN-ACK to a GTSM peer (RFC 5082) passes the peer's minimum-TTL
// check. Accepted sockets of GTSM peers get TTL and minimum TTL 255 from
// their session.
func (l *Listener) EnableGTSM() error {
	if err := controlFunc(l.rc, func(fd int) error { return setTTL(fd, l.v6, 255) }); err != nil {
		return fmt.Errorf("listener %v: %w", l.Addr(), err)
	}
	return nil
}

// Accept waits for the next connection.
func (l *Listener) Accept() (*net.TCPConn, error) {
	return l.ln.AcceptTCP()
}

// Close closes the listener; a blocked Accept returns an error.
func (l *Listener) Close() error { return l.ln.Close() }
