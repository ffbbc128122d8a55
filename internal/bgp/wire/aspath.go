package wire

import (
	"encoding/binary"
	"fmt"
)

// decodeASPath decodes AS_PATH or AS4_PATH segments into dst, reusing its
// backing arrays (and those of its elements' ASNs slices) so that a reused
// Update decodes without allocating. asnLen is 2 or 4.
func decodeASPath(dst []ASPathSegment, b []byte, asnLen int) ([]ASPathSegment, error) {
	dst = dst[:0]
	for len(b) > 0 {
		if len(b) < 2 {
			return dst, fmt.Errorf("segment header truncated (%d byte left)", len(b))
		}
		typ, n := b[0], int(b[1])
		// RFC 7606 §7.2: the AS_PATH is malformed "if ... an unrecognized
		// segment type ... [or] the path segment length is ... zero".
		if typ < ASSet || typ > ASConfedSet {
			return dst, fmt.Errorf("segment type %d is not 1-4", typ)
		}
		if n == 0 {
			return dst, fmt.Errorf("segment of type %d has length 0", typ)
		}
		if n*asnLen > len(b)-2 {
			return dst, fmt.Errorf("segment of %d ASNs overruns the %d bytes left", n, len(b)-2)
		}
		var seg *ASPathSegment
		if len(dst) < cap(dst) {
			dst = dst[:len(dst)+1]
			seg = &dst[len(dst)-1]
			seg.ASNs = seg.ASNs[:0]
		} else {
			dst = append(dst, ASPathSegment{ASNs: make([]uint32, 0, n)})
			seg = &dst[len(dst)-1]
		}
		seg.Type = typ
		p := b[2 : 2+n*asnLen]
		for i := 0; i < n; i++ {
			var as uint32
			if asnLen == 4 {
				as = binary.BigEndian.Uint32(p[4*i:])
			} else {
				as = uint32(binary.BigEndian.Uint16(p[2*i:]))
			}
			// RFC 7607 §2: "An UPDATE message that contains the AS number
			// of zero in the AS_PATH attribute MUST be considered as
			// malformed and be handled by the procedures specified in
			// [RFC7606]" (treat-as-withdraw).
			if as == 0 {
				return dst, fmt.Errorf("AS number 0 in a segment of type %d", typ)
			}
			seg.ASNs = append(seg.ASNs, as)
		}
		b = b[2+n*asnLen:]
	}
	return dst, nil
}

// appendASPath appends AS_PATH segments with 2- or 4-octet AS numbers. On a
// 2-octet session ASNs above 65535 become AS_TRANS (RFC 6793 §4.2.2). A
// segment longer than 255 ASNs is split. confed controls whether
// confederation segments are written (they never go into AS4_PATH: RFC 6793
// §3 "the AS4_PATH attribute ... MUST NOT carry ... AS_CONFED_SEQUENCE and
// AS_CONFED_SET path segments").
func appendASPath(b []byte, segs []ASPathSegment, asnLen int, confed bool) []byte {
	for _, s := range segs {
		if !confed && (s.Type == ASConfedSequence || s.Type == ASConfedSet) {
			continue
		}
		asns := s.ASNs
		for len(asns) > 0 {
			n := min(len(asns), 255)
			b = append(b, s.Type, byte(n))
			for _, as := range asns[:n] {
				if asnLen == 4 {
					b = binary.BigEndian.AppendUint32(b, as)
				} else {
					if as > 0xffff {
						as = ASTrans
					}
					b = append(b, byte(as>>8), byte(as))
				}
			}
			asns = asns[n:]
		}
	}
	return b
}

// needsAS4 reports whether segs hold an AS number that does not fit in 2
// octets (outside confederation segments).
func needsAS4(segs []ASPathSegment) bool {
	for _, s := range segs {
		if s.Type == ASConfedSequence || s.Type == ASConfedSet {
			continue
		}
		for _, as := range s.ASNs {
			if as > 0xffff {
				return true
			}
		}
	}
	return false
}

// PathLen returns the number of ASes in the path for route selection
// (RFC 4271 §9.1.2.2: "an AS_SET counts as 1, no matter how many ASes are in
// the set"; RFC 5065 §5.3: confederation segments do not count).
func PathLen(segs []ASPathSegment) int {
	n := 0
	for _, s := range segs {
		switch s.Type {
		case ASSequence:
			n += len(s.ASNs)
		case ASSet:
			n++
		}
	}
	return n
}

// mergeAS4Path reconstructs the path of a 2-octet session (RFC 6793
// §4.2.3): "the AS_PATH attribute and the AS4_PATH attribute SHALL be
// combined ... by taking as many AS numbers and path segments as necessary
// from the leading part of the AS_PATH attribute, and then prepending them
// to the AS4_PATH attribute so that the AS path information has a number
// of AS numbers identical to that of the AS_PATH attribute", and "if the
// number of AS numbers in the AS_PATH attribute is less than the number of
// AS numbers in the AS4_PATH attribute, then the AS4_PATH attribute SHALL
// be ignored". The result is written into scratch (reused) and returned.
func mergeAS4Path(scratch, asPath, as4 []ASPathSegment) []ASPathSegment {
	need := PathLen(asPath) - PathLen(as4)
	if need < 0 {
		return nil
	}
	out := scratch[:0]
	split := false // the last segment taken is a cut AS_SEQUENCE
	add := func(typ uint8, asns []uint32) {
		if len(out) < cap(out) {
			out = out[:len(out)+1]
			out[len(out)-1].ASNs = append(out[len(out)-1].ASNs[:0], asns...)
		} else {
			out = append(out, ASPathSegment{ASNs: append([]uint32(nil), asns...)})
		}
		out[len(out)-1].Type = typ
	}
	for _, s := range asPath {
		if need == 0 {
			// Confederation segments at the front stay; they are not
			// counted and never appear in AS4_PATH.
			if s.Type == ASConfedSequence || s.Type == ASConfedSet {
				add(s.Type, s.ASNs)
				continue
			}
			break
		}
		switch s.Type {
		case ASSequence:
			k := min(need, len(s.ASNs))
			add(s.Type, s.ASNs[:k])
			need -= k
			split = k < len(s.ASNs)
		case ASSet:
			add(s.Type, s.ASNs)
			need--
		default:
			add(s.Type, s.ASNs)
		}
	}
	for i, s := range as4 {
		// Join an AS_SEQUENCE that was cut in two back together.
		if i == 0 && split && s.Type == ASSequence && len(out[len(out)-1].ASNs)+len(s.ASNs) <= 255 {
			out[len(out)-1].ASNs = append(out[len(out)-1].ASNs, s.ASNs...)
			continue
		}
		add(s.Type, s.ASNs)
	}
	return out
}

// ASPathString formats a path as bgpdump and BIRD do: sequences as space
// separated numbers, sets in braces, confederation sequences in
// parentheses and confederation sets in square brackets.
func ASPathString(segs []ASPathSegment) string {
	var b []byte
	for i, s := range segs {
		if i > 0 {
			b = append(b, ' ')
		}
		open, sep, close := "", " ", ""
		switch s.Type {
		case ASSet:
			open, sep, close = "{", " ", "}"
		case ASConfedSequence:
			open, close = "(", ")"
		case ASConfedSet:
			open, close = "[", "]"
		}
		b = append(b, open...)
		for j, as := range s.ASNs {
			if j > 0 {
				b = append(b, sep...)
			}
			b = fmt.Appendf(b, "%d", as)
		}
		b = append(b, close...)
	}
	return string(b)
}
