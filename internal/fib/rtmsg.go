package fib

import (
	"encoding/binary"
	"errors"
	"fmt"
	"syscall"
)

// Netlink and rtnetlink constants (linux/netlink.h, linux/rtnetlink.h),
// spelled out so the encoder and the ack parser are portable and testable
// everywhere. Netlink uses host byte order; every Linux target we build for
// is little-endian, and the tests pin the encoding.
const (
	nlmsgHdrLen = 16
	rtmsgLen    = 12
	rtaHdrLen   = 4
	rtnhLen     = 8

	nlmsgError  = 0x2
	nlmsgDone   = 0x3
	rtmNewRoute = 24
	rtmDelRoute = 25

	nlmFRequest = 0x1
	nlmFAck     = 0x4
	nlmFReplace = 0x100
	nlmFCreate  = 0x400
	nlmFCapped  = 0x100 // on NLMSG_ERROR: the request is not echoed (NETLINK_CAP_ACK)
	nlmFAckTLVs = 0x200 // on NLMSG_ERROR: extended ack TLVs follow

	nlmsgerrAttrMsg = 1 // NLMSGERR_ATTR_MSG: a NUL-terminated string

	rtaDst       = 1
	rtaOIF       = 4
	rtaGateway   = 5
	rtaPriority  = 6
	rtaMultipath = 9
	rtaTable     = 15

	rtnUnspec      = 0
	rtnUnicast     = 1
	rtnBlackhole   = 6
	rtnUnreachable = 7

	rtScopeUniverse = 0
	rtScopeLink     = 253
	rtScopeNowhere  = 255

	afInet  = 2
	afInet6 = 10
)

var ne = binary.LittleEndian

// OpKind says what an [Op] does to a kernel route.
type OpKind uint8

const (
	// Replace installs the route, replacing any route with the same key
	// (RTM_NEWROUTE with NLM_F_CREATE|NLM_F_REPLACE: idempotent).
	Replace OpKind = iota
	// Delete removes the route with the key (RTM_DELROUTE), restricted to
	// our protocol number so a route someone else installed is never
	// removed.
	Delete
)

func (k OpKind) String() string {
	if k == Delete {
		return "delete"
	}
	return "replace"
}

// Op is one change to the kernel's routing table.
type Op struct {
	Kind OpKind
	// Route is fully resolved: Table and Metric set, next hops have
	// LinkIndex or Gateway, no Dev names.
	Route Route
	// Protocol is the rtm_protocol the route is tagged with (Replace) or
	// must carry to be deleted (Delete).
	Protocol uint8
}

// String renders op like an `ip route` command line, for logs and golden
// tests: "replace 10.0.0.0/24 via 192.0.2.1 table 254 metric 0 proto 77".
func (o Op) String() string {
	if o.Kind == Delete {
		r := o.Route
		r.NextHops = nil
		r.Type = Unicast
		return fmt.Sprintf("delete %s proto %d", r, o.Protocol)
	}
	return fmt.Sprintf("replace %s proto %d", o.Route, o.Protocol)
}

// appendRouteMsg appends one RTM_NEWROUTE or RTM_DELROUTE request for op
// with sequence number seq and NLM_F_ACK set, so the kernel answers every
// message with an NLMSG_ERROR carrying seq and an errno (0 on success).
func appendRouteMsg(b []byte, op Op, seq uint32) []byte {
	r := op.Route
	start := len(b)
	typ, flags := uint16(rtmNewRoute), uint16(nlmFRequest|nlmFAck|nlmFCreate|nlmFReplace)
	if op.Kind == Delete {
		typ, flags = rtmDelRoute, nlmFRequest|nlmFAck
	}
	b = ne.AppendUint32(b, 0) // nlmsg_len, patched below
	b = ne.AppendUint16(b, typ)
	b = ne.AppendUint16(b, flags)
	b = ne.AppendUint32(b, seq)
	b = ne.AppendUint32(b, 0) // nlmsg_pid: 0 addresses the kernel

	family := byte(afInet)
	if r.Prefix.Addr().Is6() {
		family = afInet6
	}
	// rtm_table is 8 bits; larger tables go in RTA_TABLE with rtm_table
	// RT_TABLE_UNSPEC, as iproute2 does. RTA_TABLE is always sent.
	table8 := byte(0)
	if r.Table < 256 {
		table8 = byte(r.Table)
	}
	scope, rtype := byte(rtScopeUniverse), byte(rtnUnicast)
	switch r.Type {
	case Blackhole:
		rtype = rtnBlackhole
	case Unreachable:
		rtype = rtnUnreachable
	default:
		if len(r.NextHops) == 1 && !r.NextHops[0].Gateway.IsValid() {
			scope = rtScopeLink // directly connected: no gateway
		}
	}
	if op.Kind == Delete {
		// Match any scope and type: the key, table and protocol select
		// the route, and no next hops means "whatever its paths are".
		scope, rtype = rtScopeNowhere, rtnUnspec
	}
	b = append(b, family, byte(r.Prefix.Bits()), 0, 0, table8, op.Protocol, scope, rtype)
	b = ne.AppendUint32(b, 0) // rtm_flags

	b = appendAttrU32(b, rtaTable, uint32(r.Table))
	b = appendAttr(b, rtaDst, r.Prefix.Addr().AsSlice())
	b = appendAttrU32(b, rtaPriority, uint32(r.Metric))
	if op.Kind == Replace && r.Type == Unicast {
		if len(r.NextHops) == 1 {
			nh := r.NextHops[0]
			if nh.Gateway.IsValid() {
				b = appendAttr(b, rtaGateway, nh.Gateway.AsSlice())
			}
			if nh.LinkIndex != 0 {
				b = appendAttrU32(b, rtaOIF, uint32(nh.LinkIndex))
			}
		} else {
			b = appendMultipath(b, r.NextHops)
		}
	}
	ne.PutUint32(b[start:], uint32(len(b)-start))
	return b
}

// appendMultipath appends RTA_MULTIPATH: a sequence of struct rtnexthop
// {len u16, flags u8, hops u8 (weight-1), ifindex i32}, each followed by its
// own RTA_GATEWAY.
func appendMultipath(b []byte, nhs []NextHop) []byte {
	start := len(b)
	b = ne.AppendUint16(b, 0)
	b = ne.AppendUint16(b, rtaMultipath)
	for _, nh := range nhs {
		nhStart := len(b)
		w := nh.Weight
		if w < 1 {
			w = 1
		}
		b = ne.AppendUint16(b, 0)
		b = append(b, 0, byte(w-1))
		b = ne.AppendUint32(b, uint32(int32(nh.LinkIndex)))
		if nh.Gateway.IsValid() {
			b = appendAttr(b, rtaGateway, nh.Gateway.AsSlice())
		}
		ne.PutUint16(b[nhStart:], uint16(len(b)-nhStart))
	}
	ne.PutUint16(b[start:], uint16(len(b)-start))
	return b
}

func appendAttr(b []byte, typ uint16, data []byte) []byte {
	b = ne.AppendUint16(b, uint16(rtaHdrLen+len(data)))
	b = ne.AppendUint16(b, typ)
	b = append(b, data...)
	// Pad relative to the attribute, not the buffer: callers may append
	// to a buffer that does not start 4-aligned.
	for pad := (4 - len(data)%4) % 4; pad > 0; pad-- {
		b = append(b, 0)
	}
	return b
}

func appendAttrU32(b []byte, typ uint16, v uint32) []byte {
	b = ne.AppendUint16(b, rtaHdrLen+4)
	b = ne.AppendUint16(b, typ)
	return ne.AppendUint32(b, v)
}

// ack is one NLMSG_ERROR answer: the request's sequence number, its errno
// (0 for success) and the kernel's extended-ack message, if any.
type ack struct {
	Seq   uint32
	Errno syscall.Errno
	Msg   string
}

var errTruncated = errors.New("fib: truncated netlink message")

// parseAcks decodes the NLMSG_ERROR messages in one datagram read from a
// NETLINK_ROUTE socket and calls fn for each. Other message types are
// skipped. It never panics on malformed input; it returns errTruncated
// for lengths that run past the buffer.
func parseAcks(b []byte, fn func(ack)) error {
	for len(b) > 0 {
		if len(b) < nlmsgHdrLen {
			return errTruncated
		}
		l := int(ne.Uint32(b))
		if l < nlmsgHdrLen || l > len(b) {
			return errTruncated
		}
		typ, flags, seq := ne.Uint16(b[4:]), ne.Uint16(b[6:]), ne.Uint32(b[8:])
		body := b[nlmsgHdrLen:l]
		if typ == nlmsgError {
			// struct nlmsgerr { int error; struct nlmsghdr msg; } then,
			// with NETLINK_CAP_ACK and NLM_F_ACK_TLVS, TLVs.
			if len(body) < 4+nlmsgHdrLen {
				return errTruncated
			}
			a := ack{Seq: seq}
			if e := int32(ne.Uint32(body)); e < 0 {
				a.Errno = syscall.Errno(-e)
			}
			if flags&nlmFAckTLVs != 0 {
				// Without NLM_F_CAPPED the whole request is echoed
				// before the TLVs.
				off := 4 + nlmsgHdrLen
				if flags&nlmFCapped == 0 {
					off = 4 + int(ne.Uint32(body[4:]))
				}
				if off >= 4+nlmsgHdrLen && off <= len(body) {
					a.Msg = extAckMsg(body[off:])
				}
			}
			fn(a)
		}
		// Messages are aligned to 4 bytes.
		adv := (l + 3) &^ 3
		if adv > len(b) {
			adv = len(b)
		}
		b = b[adv:]
	}
	return nil
}

// extAckMsg returns the NLMSGERR_ATTR_MSG string from extended-ack TLVs.
func extAckMsg(b []byte) string {
	for len(b) >= rtaHdrLen {
		l, typ := int(ne.Uint16(b)), ne.Uint16(b[2:])
		if l < rtaHdrLen || l > len(b) {
			return ""
		}
		if typ == nlmsgerrAttrMsg {
			v := b[rtaHdrLen:l]
			for i, c := range v {
				if c == 0 {
					v = v[:i]
					break
				}
			}
			return string(v)
		}
		adv := (l + 3) &^ 3
		if adv > len(b) {
			break
		}
		b = b[adv:]
	}
	return ""
}
