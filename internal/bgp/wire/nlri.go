package wire

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"slices"
)

// AddPath reports whether NLRI of family f carry a path identifier under o.
func (o *Options) addPath(f Family) bool {
	if o == nil {
		return false
	}
	for _, g := range o.AddPath {
		if g == f {
			return true
		}
	}
	return false
}

// AppendNLRI appends NLRI in the RFC 4271 §4.3 encoding (length in bits,
// then the minimum number of octets), each preceded by its 4-octet path
// identifier when addPath is set (RFC 7911 §3). Prefixes are written
// masked.
func AppendNLRI(b []byte, n []NLRI, addPath bool) []byte {
	for i := range n {
		b = appendPrefix(b, n[i], addPath)
	}
	return b
}

func appendPrefix(b []byte, n NLRI, addPath bool) []byte {
	if addPath {
		b = binary.BigEndian.AppendUint32(b, n.PathID)
	}
	bits := n.Prefix.Bits()
	if bits < 0 {
		bits = 0
	}
	b = append(b, byte(bits))
	nb := (bits + 7) / 8
	if n.Prefix.Addr().Is4() {
		a := n.Prefix.Addr().As4()
		b = append(b, a[:nb]...)
	} else {
		a := n.Prefix.Addr().As16()
		b = append(b, a[:nb]...)
	}
	if nb > 0 && bits%8 != 0 {
		b[len(b)-1] &= byte(0xff) << (8 - bits%8)
	}
	return b
}

// countNLRI is how many prefixes b holds, as far as it can be walked
// (decodeNLRI reports what is malformed).
func countNLRI(b []byte, addPath bool) int {
	n := 0
	for {
		if addPath {
			if len(b) < 4 {
				return n
			}
			b = b[4:]
		}
		if len(b) == 0 {
			return n
		}
		nb := (int(b[0]) + 7) / 8
		if nb > len(b)-1 {
			return n
		}
		b = b[1+nb:]
		n++
	}
}

// decodeNLRI appends the prefixes of family afi encoded in b to dst.
// Host bits are cleared (bgpdump shows 11.13.0.0/13 as 11.8.0.0/13).
func decodeNLRI(dst []NLRI, b []byte, afi AFI, addPath bool) ([]NLRI, error) {
	max := MaxIPv4PrefixBits
	if afi == AFIIPv6 {
		max = MaxIPv6PrefixBits
	}
	// Sized once: counting the prefixes walks their length octets only,
	// and appending one by one regrew a fresh list five times for a
	// Kubernetes node's 21 routes (most of the bytes decoding allocated).
	if n := countNLRI(b, addPath); cap(dst)-len(dst) < n {
		dst = slices.Grow(dst, n)
	}
	for len(b) > 0 {
		var id uint32
		if addPath {
			if len(b) < 5 {
				return dst, fmt.Errorf("path identifier and length truncated: %d bytes left", len(b))
			}
			id = binary.BigEndian.Uint32(b)
			b = b[4:]
		}
		bits := int(b[0])
		if bits > max {
			return dst, fmt.Errorf("prefix length %d exceeds %d", bits, max)
		}
		nb := (bits + 7) / 8
		if nb > len(b)-1 {
			return dst, fmt.Errorf("prefix /%d needs %d bytes, %d left", bits, nb, len(b)-1)
		}
		var p netip.Prefix
		if afi == AFIIPv6 {
			var a [16]byte
			copy(a[:], b[1:1+nb])
			p = netip.PrefixFrom(netip.AddrFrom16(a), bits)
		} else {
			var a [4]byte
			copy(a[:], b[1:1+nb])
			p = netip.PrefixFrom(netip.AddrFrom4(a), bits)
		}
		if bits%8 != 0 {
			p = p.Masked()
		}
		dst = append(dst, NLRI{Prefix: p, PathID: id})
		b = b[1+nb:]
	}
	return dst, nil
}
