package mrt

import (
	"encoding/binary"
	"net/netip"
	"strconv"
)

// This file holds the tolerant path-attribute view behind FormatBGPDump.
// `bgpdump -m` output is defined by libbgpdump's parser, which prints what
// it can of malformed UPDATEs, defaults missing attributes (NEXT_HOP
// 255.255.255.255, MED/LOCAL_PREF 0), and merges AS4_PATH its own way. A
// conforming decoder (package wire, RFC 7606) must reject or treat-as-
// withdraw such input, so reproducing the text format needs this separate,
// display-only reading. Routing code must use wire.

const (
	asnLen2 = 2
	asnLen4 = 4
)

// bdPrefix is one NLRI as bgpdump keeps it: the address bytes as sent (host
// bits not cleared) and the length.
type bdPrefix struct {
	addr   [16]byte
	bits   int
	pathID uint32
}

// bdMP is the reach or unreach information of one AFI/SAFI.
type bdMP struct {
	present bool
	nextHop [16]byte
	nlri    []bdPrefix
}

type bdSeg struct {
	typ  uint8
	asns []uint32
}

// bdPath is a parsed AS_PATH or AS4_PATH with bgpdump's count (a SET or
// CONFED_SET counts one, sequences count each AS) and string.
type bdPath struct {
	segs  []bdSeg
	count int
	str   []byte
	err   bool
}

type bdAttrs struct {
	flags      uint64 // bit per attribute type seen (types < 64)
	origin     int
	path       bdPath
	hasPath    bool
	newPath    bdPath
	nextHop    [4]byte
	med        uint32
	localPref  uint32
	aggAS      uint32
	aggAddr    [4]byte
	newAggAS   uint32
	newAggAddr [4]byte
	comm       []byte // formatted communities without the leading space
	announce   [3][4]bdMP
	withdraw   [3][4]bdMP
	pathBuf    []uint32
}

func (a *bdAttrs) has(t uint8) bool { return t < 64 && a.flags&(1<<t) != 0 }

func (a *bdAttrs) reset() {
	a.flags = 0
	a.origin = -1
	a.hasPath = false
	a.path.segs, a.newPath.segs = a.path.segs[:0], a.newPath.segs[:0]
	a.nextHop = [4]byte{255, 255, 255, 255}
	a.med, a.localPref = 0, 0
	a.aggAddr = [4]byte{255, 255, 255, 255}
	a.newAggAddr = [4]byte{255, 255, 255, 255}
	a.comm = a.comm[:0]
	a.pathBuf = a.pathBuf[:0]
	for i := range a.announce {
		for j := range a.announce[i] {
			a.announce[i][j].present = false
			a.announce[i][j].nlri = a.announce[i][j].nlri[:0]
			a.withdraw[i][j].present = false
			a.withdraw[i][j].nlri = a.withdraw[i][j].nlri[:0]
		}
	}
}

// take returns the next n bytes of *b (fewer if *b is shorter) and advances.
func take(b *[]byte, n int) []byte {
	n = max(0, min(n, len(*b)))
	v := (*b)[:n]
	*b = (*b)[n:]
	return v
}

func getU8(b *[]byte) int {
	v := take(b, 1)
	if len(v) < 1 {
		return 0
	}
	return int(v[0])
}

func getU16(b *[]byte) int {
	var t [2]byte
	copy(t[:], take(b, 2))
	return int(binary.BigEndian.Uint16(t[:]))
}

func getU32(b *[]byte) uint32 {
	var t [4]byte
	copy(t[:], take(b, 4))
	return binary.BigEndian.Uint32(t[:])
}

// parse reads an attribute block with AS numbers of asnLen octets.
func (a *bdAttrs) parse(b []byte, asnLen int, addPath bool) {
	a.reset()
	for len(b) > 0 {
		flags := getU8(&b)
		typ := getU8(&b)
		var n int
		if flags&0x10 != 0 {
			n = getU16(&b)
		} else {
			n = getU8(&b)
		}
		v := take(&b, n)
		if len(v) != n {
			break // truncated attribute: dropped, as libbgpdump does
		}
		if typ < 64 {
			a.flags |= 1 << typ
		}
		switch typ {
		case 1:
			a.origin = getU8(&v)
		case 2:
			a.hasPath = true
			a.parsePath(&a.path, v, asnLen)
		case 3:
			copy(a.nextHop[:], take(&v, 4))
		case 4:
			a.med = getU32(&v)
		case 5:
			a.localPref = getU32(&v)
		case 7:
			if asnLen == asnLen4 {
				a.aggAS = getU32(&v)
			} else {
				a.aggAS = uint32(getU16(&v))
			}
			copy(a.aggAddr[:], take(&v, 4))
		case 8:
			for len(v) >= 4 {
				c := getU32(&v)
				if len(a.comm) > 0 {
					a.comm = append(a.comm, ' ')
				}
				switch c {
				case 0xFFFFFF01:
					a.comm = append(a.comm, "no-export"...)
				case 0xFFFFFF02:
					a.comm = append(a.comm, "no-advertise"...)
				case 0xFFFFFF03:
					a.comm = append(a.comm, "local-AS"...)
				default:
					a.comm = strconv.AppendUint(a.comm, uint64(c>>16), 10)
					a.comm = append(a.comm, ':')
					a.comm = strconv.AppendUint(a.comm, uint64(c&0xffff), 10)
				}
			}
		case 14:
			a.parseMPReach(v, addPath)
		case 15:
			afi, safi := getU16(&v), getU8(&v)
			if afi <= 2 && safi <= 3 && !a.withdraw[afi][safi].present {
				mp := &a.withdraw[afi][safi]
				mp.present = true
				mp.nlri = readPrefixes(mp.nlri, v, addPath)
			}
		case 17:
			a.parsePath(&a.newPath, v, asnLen4)
		case 18:
			a.newAggAS = getU32(&v)
			copy(a.newAggAddr[:], take(&v, 4))
		}
	}
	a.as4Transition(asnLen)
}

func (a *bdAttrs) parseMPReach(v []byte, addPath bool) {
	if len(v) > 0 && v[0] != 0 {
		// MRT abbreviated form (RFC 6396 §4.3.4): next hop length and
		// next hop only. libbgpdump files it as IPv6 unicast.
		mp := &a.announce[2][1]
		mp.present = true
		getU8(&v)
		copy(mp.nextHop[:], take(&v, 16))
		return
	}
	afi, safi := getU16(&v), getU8(&v)
	if afi > 2 || safi > 3 || a.announce[afi][safi].present {
		return
	}
	mp := &a.announce[afi][safi]
	mp.present = true
	nhLen := getU8(&v)
	if afi == 1 {
		copy(mp.nextHop[:], take(&v, 4))
	} else {
		copy(mp.nextHop[:], take(&v, 16))
		if nhLen == 32 {
			take(&v, 16)
		}
	}
	for snpa := getU8(&v); snpa > 0; snpa-- {
		take(&v, getU8(&v))
	}
	mp.nlri = readPrefixes(mp.nlri, v, addPath)
}

// readPrefixes reads NLRI until b is exhausted; a prefix cut short ends the
// list (libbgpdump keeps it as an "incomplete" prefix that -m does not
// print).
func readPrefixes(dst []bdPrefix, b []byte, addPath bool) []bdPrefix {
	for len(b) > 0 {
		var p bdPrefix
		if addPath {
			p.pathID = getU32(&b)
		}
		p.bits = getU8(&b)
		nb := (p.bits + 7) / 8
		if len(b) < nb {
			break
		}
		copy(p.addr[:], b[:min(nb, 16)])
		if r := p.bits % 8; r != 0 && nb <= 16 {
			// Host bits of the last octet are cleared, as libbgpdump does.
			p.addr[nb-1] &= 0xff << (8 - r)
		}
		b = b[nb:]
		dst = append(dst, p)
	}
	return dst
}

func (a *bdAttrs) parsePath(p *bdPath, v []byte, asnLen int) {
	p.segs, p.count, p.err = p.segs[:0], 0, false
	for len(v) > 0 {
		if len(v) < 2 {
			p.err = true
			break
		}
		typ, n := v[0], int(v[1])
		if typ < 1 || typ > 4 || 2+n*asnLen > len(v) {
			p.err = true
			break
		}
		start := len(a.pathBuf)
		for i := range n {
			off := 2 + i*asnLen
			if asnLen == asnLen4 {
				a.pathBuf = append(a.pathBuf, binary.BigEndian.Uint32(v[off:]))
			} else {
				a.pathBuf = append(a.pathBuf, uint32(binary.BigEndian.Uint16(v[off:])))
			}
		}
		p.segs = append(p.segs, bdSeg{typ: typ, asns: a.pathBuf[start:len(a.pathBuf):len(a.pathBuf)]})
		if typ == 1 || typ == 4 {
			p.count++
		} else {
			p.count += n
		}
		v = v[2+n*asnLen:]
	}
	if p.err {
		p.count = 0
		p.str = append(p.str[:0], "! Error !"...)
		return
	}
	p.str = appendPath(p.str[:0], p.segs)
}

// appendPath renders segments as libbgpdump does: sequences space
// separated, {a,b} for AS_SET, (a b) for AS_CONFED_SEQUENCE and [a,b] for
// AS_CONFED_SET.
func appendPath(b []byte, segs []bdSeg) []byte {
	const open, closing = " { ([", " } )]"
	space := false
	prev := uint8(2)
	for _, s := range segs {
		if prev != 2 {
			b = append(b, closing[prev])
		}
		if space {
			b = append(b, ' ')
		}
		if s.typ != 2 {
			b = append(b, open[s.typ])
		}
		space = false
		for _, as := range s.asns {
			if space {
				if s.typ == 1 || s.typ == 4 {
					b = append(b, ',')
				} else {
					b = append(b, ' ')
				}
			} else {
				space = true
			}
			b = strconv.AppendUint(b, uint64(as), 10)
		}
		prev = s.typ
	}
	if len(segs) > 0 && prev != 2 {
		b = append(b, closing[prev])
	}
	return b
}

// as4Transition applies libbgpdump's AS4_AGGREGATOR and AS4_PATH handling on
// 2-octet AS sessions (its variant of RFC 6793 §4.2.3).
func (a *bdAttrs) as4Transition(asnLen int) {
	if asnLen == asnLen4 {
		return
	}
	if a.has(7) && a.has(18) {
		if a.aggAS != 23456 {
			return // libbgpdump also skips the AS4_PATH merge here
		}
		a.aggAS, a.aggAddr = a.newAggAS, a.newAggAddr
	}
	if !a.has(17) || !a.hasPath || a.path.count < a.newPath.count {
		return
	}
	if a.path.err || a.newPath.err {
		a.path.str = append(a.path.str[:0], "! Error !"...)
		return
	}
	// Copy leading AS_PATH segments until the merged path holds
	// count(AS_PATH) - count(AS4_PATH) ASes, then append AS4_PATH.
	// libbgpdump re-copies the first segment each round; reproduced.
	target := a.path.count - a.newPath.count
	var merged []bdSeg
	count := 0
	for count < target && len(a.path.segs) > 0 {
		s := a.path.segs[0]
		if s.typ == 1 || s.typ == 4 {
			count++
		} else {
			if len(s.asns) == 0 {
				break
			}
			count += len(s.asns)
			if count > target {
				s.asns = s.asns[:len(s.asns)-(count-target)]
			}
		}
		merged = append(merged, s)
	}
	merged = append(merged, a.newPath.segs...)
	a.path.str = appendPath(a.path.str[:0], merged)
}

// appendAddr4 appends a dotted-quad address.
func appendAddr4(b []byte, a [4]byte) []byte {
	return netip.AddrFrom4(a).AppendTo(b)
}

// appendAddr appends an address as libbgpdump prints it. IPv4 is dotted
// quad. IPv6 differs from RFC 5952 (and netip) in two ways: the longest run
// of zero groups is compressed even when it is a single group
// (2001:7f8:30::2:1:0:8447), and IPv4-compatible addresses print as
// ::a.b.c.d; IPv4-mapped ones print as ::ffff:a.b.c.d.
func appendAddr(b []byte, a netip.Addr) []byte {
	if !a.Is6() {
		return a.AppendTo(b)
	}
	return appendIPv6(b, a.As16())
}

func appendIPv6(b []byte, a [16]byte) []byte {
	const hex = "0123456789abcdef"
	if [12]byte(a[:12]) == [12]byte{} && binary.BigEndian.Uint32(a[12:]) > 1 {
		return appendAddr4(append(b, "::"...), [4]byte(a[12:]))
	}
	if [12]byte(a[:12]) == [12]byte{10: 0xff, 11: 0xff} {
		return appendAddr4(append(b, "::ffff:"...), [4]byte(a[12:]))
	}
	// Longest run of zero groups; the first wins a tie.
	best, bestLen, run := -1, 0, 0
	for i := 7; i >= 0; i-- {
		if a[2*i] == 0 && a[2*i+1] == 0 {
			run++
		} else {
			run = 0
		}
		if run >= bestLen && run > 0 {
			best, bestLen = i, run
		}
	}
	for i := 0; i < 8; i++ {
		if i == best {
			if i == 0 {
				b = append(b, ':')
			}
			b = append(b, ':')
			i += bestLen - 1
			continue
		}
		g := uint16(a[2*i])<<8 | uint16(a[2*i+1])
		started := false
		for shift := 12; shift >= 0; shift -= 4 {
			d := (g >> shift) & 0xf
			if d != 0 || started || shift == 0 {
				b = append(b, hex[d])
				started = true
			}
		}
		if i != 7 {
			b = append(b, ':')
		}
	}
	return b
}
