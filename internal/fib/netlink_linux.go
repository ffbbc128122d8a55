package fib

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"syscall"
	"time"
	"unsafe"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/kbgp/kbgp/internal/netns"
)

const (
	// batchBytes caps one sendmsg. The kernel processes every message of a
	// datagram before sendmsg returns and queues one ack per message, so a
	// batch must also leave the acks room in the receive buffer: at ~60
	// bytes per request and 36 (plus an error string) per ack, 128 KiB of
	// requests produce well under rcvBufBytes of acks.
	batchBytes  = 128 << 10
	sndBufBytes = 1 << 20
	rcvBufBytes = 4 << 20
	// ackTimeout bounds the wait for the acks of one batch; the kernel
	// answers synchronously, so hitting it means acks were lost.
	ackTimeout = 10 * time.Second

	netlinkCapAck = 10 // NETLINK_CAP_ACK: do not echo requests in acks
	netlinkExtAck = 11 // NETLINK_EXT_ACK: add the kernel's error string
)

// Netlink is the real [Kernel]: a NETLINK_ROUTE socket of its own for
// batched writes, and a vishvananda/netlink handle for dumps and link
// lookups, both opened in one network namespace.
type Netlink struct {
	nsName string
	fd     int
	seq    uint32
	handle *netlink.Handle
	buf    []byte // request batch, reused
	rbuf   []byte // ack datagrams, reused: ackSlots slots of ackSlotBytes
	msgs   []mmsghdr
}

// The kernel queues every ack as its own datagram, so reading 100k acks
// one recvfrom at a time costs 100k syscalls; recvmmsg reads up to
// ackSlots per call. An ack is 36 bytes, plus the kernel's error text.
const (
	ackSlots     = 512
	ackSlotBytes = 1024
)

// mmsghdr is struct mmsghdr (x/sys/unix has no wrapper for recvmmsg). Go
// pads it to the alignment of unix.Msghdr, as C does.
type mmsghdr struct {
	hdr unix.Msghdr
	len uint32
}

// NewNetlink opens the kernel of the named network namespace (empty: the
// current one).
func NewNetlink(nsName string) (*Netlink, error) {
	k := &Netlink{fd: -1, nsName: nsName}
	open := func() error {
		fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
		if err != nil {
			return fmt.Errorf("netlink socket: %w", err)
		}
		k.fd = fd
		h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
		if err != nil {
			return fmt.Errorf("netlink handle: %w", err)
		}
		k.handle = h
		return nil
	}
	var err error
	if nsName == "" {
		err = open()
	} else {
		var ns *netns.NS
		if ns, err = netns.Open(nsName); err == nil {
			err = ns.Do(open)
		}
	}
	if err == nil {
		err = k.setup()
	}
	if err != nil {
		k.Close()
		where := "current network namespace"
		if nsName != "" {
			where = "network namespace " + nsName
		}
		return nil, fmt.Errorf("fib: opening netlink in %s: %w", where, err)
	}
	return k, nil
}

func (k *Netlink) setup() error {
	// Large buffers (the FORCE variants need CAP_NET_ADMIN, which
	// programming routes needs anyway; fall back to the capped ones).
	if unix.SetsockoptInt(k.fd, unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, sndBufBytes) != nil {
		_ = unix.SetsockoptInt(k.fd, unix.SOL_SOCKET, unix.SO_SNDBUF, sndBufBytes)
	}
	if unix.SetsockoptInt(k.fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, rcvBufBytes) != nil {
		_ = unix.SetsockoptInt(k.fd, unix.SOL_SOCKET, unix.SO_RCVBUF, rcvBufBytes)
	}
	// Both are optional: without them acks are longer and errors have no
	// text, which parseAcks handles.
	_ = unix.SetsockoptInt(k.fd, unix.SOL_NETLINK, netlinkCapAck, 1)
	_ = unix.SetsockoptInt(k.fd, unix.SOL_NETLINK, netlinkExtAck, 1)
	tv := unix.NsecToTimeval(ackTimeout.Nanoseconds())
	if err := unix.SetsockoptTimeval(k.fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		return fmt.Errorf("SO_RCVTIMEO: %w", err)
	}
	if err := unix.Bind(k.fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return fmt.Errorf("bind: %w", err)
	}
	k.rbuf = make([]byte, ackSlots*ackSlotBytes)
	k.msgs = make([]mmsghdr, ackSlots)
	iovs := make([]unix.Iovec, ackSlots)
	for i := range k.msgs {
		iovs[i].Base = &k.rbuf[i*ackSlotBytes]
		iovs[i].SetLen(ackSlotBytes)
		k.msgs[i].hdr.Iov = &iovs[i]
		k.msgs[i].hdr.SetIovlen(1)
	}
	return nil
}

// Close closes the sockets.
func (k *Netlink) Close() error {
	var err error
	if k.fd >= 0 {
		err = unix.Close(k.fd)
		k.fd = -1
	}
	if k.handle != nil {
		k.handle.Close()
		k.handle = nil
	}
	return err
}

// LinkIndex resolves an interface name in the namespace.
func (k *Netlink) LinkIndex(name string) (int, error) {
	l, err := k.handle.LinkByName(name)
	if err != nil {
		return 0, err
	}
	return l.Attrs().Index, nil
}

// KernelError is the kernel's refusal of one route request.
type KernelError struct {
	Errno syscall.Errno
	// Msg is the kernel's extended-ack text, e.g. "Nexthop has invalid
	// gateway"; empty on kernels without NETLINK_EXT_ACK.
	Msg string
}

func (e *KernelError) Error() string {
	if e.Msg != "" {
		return fmt.Sprintf("%v (kernel: %s)", e.Errno, e.Msg)
	}
	return e.Errno.Error()
}

func (e *KernelError) Unwrap() error { return e.Errno }

// Apply writes ops in batches of up to batchBytes per sendmsg and reads the
// acks of each batch before the next one.
func (k *Netlink) Apply(ctx context.Context, ops []Op) []error {
	errs := make([]error, len(ops))
	for start := 0; start < len(ops); {
		if err := ctx.Err(); err != nil {
			for i := start; i < len(ops); i++ {
				errs[i] = err
			}
			break
		}
		k.buf = k.buf[:0]
		first := k.seq + 1
		end := start
		for end < len(ops) && len(k.buf) < batchBytes {
			k.seq++
			k.buf = appendRouteMsg(k.buf, ops[end], k.seq)
			end++
		}
		k.sendBatch(ops[start:end], errs[start:end], first)
		start = end
	}
	return errs
}

// sendBatch sends the encoded requests in k.buf (sequence numbers first,
// first+1, ...) and fills errs from their acks.
func (k *Netlink) sendBatch(ops []Op, errs []error, first uint32) {
	fail := func(err error) {
		for i := range errs {
			if errs[i] == nil {
				errs[i] = err
			}
		}
	}
	if err := unix.Sendto(k.fd, k.buf, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		fail(fmt.Errorf("netlink sendmsg of %d requests: %w", len(ops), err))
		return
	}
	answered := make([]bool, len(ops))
	pending := len(ops)
	for pending > 0 {
		n, err := k.recvAcks()
		if err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			// ENOBUFS: the kernel dropped acks; EAGAIN: timeout. The
			// outcome of the unanswered requests is unknown; Resync
			// repairs them.
			err = fmt.Errorf("netlink ack lost (%w); the route's state is unknown until the next Resync", err)
			for i := range errs {
				if !answered[i] {
					errs[i] = err
				}
			}
			return
		}
		var perr error
		for m := range n {
			l := min(int(k.msgs[m].len), ackSlotBytes)
			if err := parseAcks(k.rbuf[m*ackSlotBytes:m*ackSlotBytes+l], func(a ack) {
				i := int(a.Seq - first)
				if a.Seq < first || i >= len(ops) || answered[i] {
					return // a stale ack from an earlier, timed-out batch
				}
				answered[i] = true
				pending--
				switch {
				case a.Errno == 0:
				case ops[i].Kind == Delete && a.Errno == unix.ESRCH:
					// Already gone: the desired end state.
				default:
					errs[i] = &KernelError{Errno: a.Errno, Msg: a.Msg}
				}
			}); err != nil {
				perr = err
			}
		}
		if perr != nil {
			fail(perr)
			return
		}
	}
}

// recvAcks waits for at least one datagram and returns how many it read
// into k.msgs (at most ackSlots), with MSG_WAITFORONE so it never waits for
// more once one has arrived.
func (k *Netlink) recvAcks() (int, error) {
	n, _, errno := unix.Syscall6(unix.SYS_RECVMMSG, uintptr(k.fd), uintptr(unsafe.Pointer(&k.msgs[0])), uintptr(len(k.msgs)), unix.MSG_WAITFORONE, 0, 0)
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}

// List dumps the routes with protocol in table (0: all tables).
func (k *Netlink) List(ctx context.Context, protocol uint8, table int) ([]Route, error) {
	filter := &netlink.Route{Protocol: netlink.RouteProtocol(protocol), Table: table}
	var nrs []netlink.Route
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		if err = ctx.Err(); err != nil {
			return nil, err
		}
		nrs, err = k.handle.RouteListFiltered(netlink.FAMILY_ALL, filter, netlink.RT_FILTER_PROTOCOL|netlink.RT_FILTER_TABLE)
		if !errors.Is(err, netlink.ErrDumpInterrupted) {
			break
		}
	}
	if err != nil {
		return nil, err
	}
	rs := make([]Route, 0, len(nrs))
	for _, nr := range nrs {
		r, ok := fromNetlink(nr)
		if ok {
			rs = append(rs, r)
		}
	}
	return rs, nil
}

// fromNetlink converts a dumped route; ok is false for routes we never
// install (source-specific, TOS, other types).
func fromNetlink(nr netlink.Route) (Route, bool) {
	if nr.Tos != 0 || len(nr.Src) > 0 {
		return Route{}, false
	}
	var pfx netip.Prefix
	switch {
	case nr.Dst != nil:
		addr, ok := netip.AddrFromSlice(nr.Dst.IP)
		if !ok {
			return Route{}, false
		}
		ones, _ := nr.Dst.Mask.Size()
		pfx = netip.PrefixFrom(addr.Unmap(), ones)
	case nr.Family == unix.AF_INET:
		pfx = netip.PrefixFrom(netip.IPv4Unspecified(), 0)
	case nr.Family == unix.AF_INET6:
		pfx = netip.PrefixFrom(netip.IPv6Unspecified(), 0)
	default:
		return Route{}, false
	}
	r := Route{
		Prefix: pfx,
		Metric: nr.Priority,
		Table:  nr.Table,
	}
	switch nr.Type {
	case unix.RTN_UNICAST:
		r.Type = Unicast
	case unix.RTN_BLACKHOLE:
		return withType(r, Blackhole), true
	case unix.RTN_UNREACHABLE:
		return withType(r, Unreachable), true
	default:
		return Route{}, false
	}
	if len(nr.MultiPath) > 0 {
		for _, p := range nr.MultiPath {
			r.NextHops = append(r.NextHops, nextHop(p.Gw, p.LinkIndex, p.Hops+1))
		}
	} else {
		r.NextHops = []NextHop{nextHop(nr.Gw, nr.LinkIndex, 1)}
	}
	slices.SortFunc(r.NextHops, compareNextHops)
	return r, true
}

func withType(r Route, t Type) Route {
	r.Type = t
	return r
}

func nextHop(gw []byte, link, weight int) NextHop {
	nh := NextHop{LinkIndex: link, Weight: weight}
	if a, ok := netip.AddrFromSlice(gw); ok {
		nh.Gateway = a.Unmap()
	}
	return nh
}
