package fib

import (
	"context"
	"errors"
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/kbgp/kbgp/internal/netns"
)

// Watch implements [Watcher]: it listens to the IPv4 and IPv6 route
// multicast groups in the kernel's namespace and calls notify for every
// RTM_DELROUTE and for every RTM_NEWROUTE carrying protocol, and when the
// socket overflowed (ENOBUFS: events were lost).
func (k *Netlink) Watch(ctx context.Context, protocol uint8, notify func()) error {
	var fd int
	open := func() error {
		var err error
		fd, err = unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
		return err
	}
	var err error
	if k.nsName == "" {
		err = open()
	} else {
		var ns *netns.NS
		if ns, err = netns.Open(k.nsName); err == nil {
			err = ns.Do(open)
		}
	}
	if err != nil {
		return fmt.Errorf("fib: route monitor socket: %w", err)
	}
	defer unix.Close(fd)
	if unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, rcvBufBytes) != nil {
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, rcvBufBytes)
	}
	// Wake up twice a second to notice ctx ending.
	tv := unix.Timeval{Usec: 500_000}
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		return fmt.Errorf("fib: route monitor SO_RCVTIMEO: %w", err)
	}
	// Link events too: a link going down takes our routes through it with
	// it (re-adding fails while it is down), and nothing else tells us when
	// it is back.
	groups := uint32(unix.RTMGRP_IPV4_ROUTE | unix.RTMGRP_IPV6_ROUTE | unix.RTMGRP_LINK)
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: groups}); err != nil {
		return fmt.Errorf("fib: route monitor bind: %w", err)
	}
	buf := make([]byte, 1<<16)
	for ctx.Err() == nil {
		n, _, err := unix.Recvfrom(fd, buf, 0)
		switch {
		case errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR):
			continue
		case errors.Is(err, unix.ENOBUFS):
			notify()
			continue
		case err != nil:
			return fmt.Errorf("fib: route monitor: %w", err)
		}
		if routeEventMatters(buf[:n], protocol) {
			notify()
		}
	}
	return nil
}

// routeEventMatters reports whether a datagram of route and link
// notifications calls for a resync: a route deletion, a route of ours, a
// connected (kernel) route appearing — a link or address came back, so
// routes through it can be installed again — or a link change. Only
// headers are read.
func routeEventMatters(b []byte, protocol uint8) bool {
	for len(b) >= nlmsgHdrLen+rtmsgLen {
		l := int(ne.Uint32(b))
		if l < nlmsgHdrLen || l > len(b) {
			return true // malformed: resync to be safe
		}
		switch ne.Uint16(b[4:]) {
		case rtmDelRoute:
			return true
		case rtmNewRoute:
			if l >= nlmsgHdrLen+rtmsgLen {
				if p := b[nlmsgHdrLen+5]; p == protocol || p == unix.RTPROT_KERNEL {
					return true
				}
			}
		case unix.RTM_NEWLINK:
			return true
		}
		b = b[min((l+3)&^3, len(b)):]
	}
	return false
}
