package wire

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"fmt"
	"io"
	"net/netip"
	"os"
	"slices"
)

// A minimal pcap / pcapng reader for the BGP captures in shared/testdata:
// it yields TCP segments to or from port 179 over IPv4 or IPv6 and
// reassembles each direction's byte stream.

type tcpSegment struct {
	src, dst netip.AddrPort
	seq      uint32
	syn      bool
	payload  []byte
}

type flowKey struct{ src, dst netip.AddrPort }

// readCapture returns the BGP TCP segments of a pcap or pcapng file
// (optionally gzip-compressed).
func readCapture(path string) ([]tcpSegment, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(data) > 2 && data[0] == 0x1f && data[1] == 0x8b {
		zr, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			return nil, err
		}
		if data, err = io.ReadAll(zr); err != nil {
			return nil, err
		}
	}
	var segs []tcpSegment
	emit := func(link uint32, frame []byte) {
		if s, ok := parseFrame(link, frame); ok {
			segs = append(segs, s)
		}
	}
	if len(data) < 24 {
		return nil, fmt.Errorf("%s: too short for a capture", path)
	}
	switch binary.LittleEndian.Uint32(data) {
	case 0xa1b2c3d4, 0xa1b23c4d:
		return segs, readPcap(data, binary.LittleEndian, emit)
	case 0xd4c3b2a1, 0x4d3cb2a1:
		return segs, readPcap(data, binary.BigEndian, emit)
	case 0x0a0d0d0a:
		return segs, readPcapng(data, emit)
	}
	return nil, fmt.Errorf("%s: not a pcap or pcapng file", path)
}

func readPcap(data []byte, bo binary.ByteOrder, emit func(uint32, []byte)) error {
	link := bo.Uint32(data[20:]) & 0x0fffffff
	for p := data[24:]; len(p) >= 16; {
		incl := int(bo.Uint32(p[8:]))
		if incl > len(p)-16 {
			return nil // truncated last record
		}
		emit(link, p[16:16+incl])
		p = p[16+incl:]
	}
	return nil
}

func readPcapng(data []byte, emit func(uint32, []byte)) error {
	var bo binary.ByteOrder = binary.LittleEndian
	var links []uint32
	for p := data; len(p) >= 12; {
		typ := bo.Uint32(p)
		if typ == 0x0a0d0d0a {
			if binary.LittleEndian.Uint32(p[8:]) == 0x1a2b3c4d {
				bo = binary.LittleEndian
			} else {
				bo = binary.BigEndian
			}
			links = links[:0]
		}
		l := int(bo.Uint32(p[4:]))
		if l < 12 || l > len(p) {
			return fmt.Errorf("pcapng block length %d", l)
		}
		blk := p[8 : l-4]
		switch typ {
		case 1: // Interface Description Block
			if len(blk) >= 2 {
				links = append(links, uint32(bo.Uint16(blk)))
			}
		case 6: // Enhanced Packet Block
			if len(blk) >= 20 {
				ifc := int(bo.Uint32(blk))
				capl := int(bo.Uint32(blk[12:]))
				if ifc < len(links) && capl <= len(blk)-20 {
					emit(links[ifc], blk[20:20+capl])
				}
			}
		case 3: // Simple Packet Block
			if len(links) > 0 && len(blk) >= 4 {
				emit(links[0], blk[4:])
			}
		}
		p = p[l:]
	}
	return nil
}

// parseFrame strips the link layer and IP/TCP headers.
func parseFrame(link uint32, f []byte) (tcpSegment, bool) {
	var ip []byte
	switch link {
	case 1: // Ethernet
		if len(f) < 14 {
			return tcpSegment{}, false
		}
		et, p := binary.BigEndian.Uint16(f[12:]), f[14:]
		for (et == 0x8100 || et == 0x88a8) && len(p) >= 4 {
			et, p = binary.BigEndian.Uint16(p[2:]), p[4:]
		}
		ip = p
	case 113: // Linux cooked
		if len(f) < 16 {
			return tcpSegment{}, false
		}
		ip = f[16:]
	case 276: // Linux cooked v2
		if len(f) < 20 {
			return tcpSegment{}, false
		}
		ip = f[20:]
	case 0, 108: // BSD loopback
		if len(f) < 4 {
			return tcpSegment{}, false
		}
		ip = f[4:]
	case 12, 14, 101, 228, 229: // raw IP
		ip = f
	default:
		// PPP, HDLC, Frame Relay, Juniper and others: find the IP header.
		ip = findIP(f)
	}
	return parseIP(ip)
}

// findIP finds an IPv4 header with a valid checksum carrying TCP, or an
// IPv6 header carrying TCP, within the first 64 bytes of f.
func findIP(f []byte) []byte {
	for i := 0; i < len(f)-40 && i < 64; i++ {
		if f[i] == 0x45 && f[i+9] == 6 {
			var sum uint32
			for j := 0; j < 20; j += 2 {
				sum += uint32(binary.BigEndian.Uint16(f[i+j:]))
			}
			for sum > 0xffff {
				sum = sum>>16 + sum&0xffff
			}
			if sum == 0xffff {
				return f[i:]
			}
		}
		if f[i]>>4 == 6 && f[i+6] == 6 && i+40 <= len(f) && int(binary.BigEndian.Uint16(f[i+4:])) <= len(f)-i-40 {
			return f[i:]
		}
	}
	return nil
}

func parseIP(ip []byte) (tcpSegment, bool) {
	var s tcpSegment
	var tcp []byte
	switch {
	case len(ip) >= 20 && ip[0]>>4 == 4:
		hl := int(ip[0]&0x0f) * 4
		tl := int(binary.BigEndian.Uint16(ip[2:]))
		if ip[9] != 6 || hl < 20 || tl < hl || tl > len(ip) {
			if tl > len(ip) && ip[9] == 6 && hl >= 20 && hl <= len(ip) {
				tl = len(ip) // snap length cut the packet
			} else {
				return s, false
			}
		}
		if binary.BigEndian.Uint16(ip[6:])&0x3fff != 0 {
			return s, false // fragments: not needed by these captures
		}
		s.src = netip.AddrPortFrom(netip.AddrFrom4([4]byte(ip[12:16])), 0)
		s.dst = netip.AddrPortFrom(netip.AddrFrom4([4]byte(ip[16:20])), 0)
		tcp = ip[hl:tl]
	case len(ip) >= 40 && ip[0]>>4 == 6:
		pl := int(binary.BigEndian.Uint16(ip[4:]))
		if ip[6] != 6 {
			return s, false
		}
		if pl > len(ip)-40 {
			pl = len(ip) - 40
		}
		s.src = netip.AddrPortFrom(netip.AddrFrom16([16]byte(ip[8:24])), 0)
		s.dst = netip.AddrPortFrom(netip.AddrFrom16([16]byte(ip[24:40])), 0)
		tcp = ip[40 : 40+pl]
	default:
		return s, false
	}
	if len(tcp) < 20 {
		return s, false
	}
	sp, dp := binary.BigEndian.Uint16(tcp), binary.BigEndian.Uint16(tcp[2:])
	if sp != 179 && dp != 179 {
		return s, false
	}
	off := int(tcp[12]>>4) * 4
	if off < 20 || off > len(tcp) {
		return s, false
	}
	s.src = netip.AddrPortFrom(s.src.Addr(), sp)
	s.dst = netip.AddrPortFrom(s.dst.Addr(), dp)
	s.seq = binary.BigEndian.Uint32(tcp[4:])
	s.syn = tcp[13]&0x02 != 0
	s.payload = tcp[off:]
	return s, true
}

// streams reassembles each direction's payload in sequence order,
// dropping retransmitted bytes. Flows are returned in first-seen order.
func streams(segs []tcpSegment) ([]flowKey, map[flowKey][]byte) {
	type part struct {
		seq uint32
		idx int
		b   []byte
	}
	parts := map[flowKey][]part{}
	var order []flowKey
	for i, s := range segs {
		k := flowKey{s.src, s.dst}
		if _, ok := parts[k]; !ok {
			order = append(order, k)
			parts[k] = nil
		}
		seq := s.seq
		if s.syn {
			seq++
		}
		if len(s.payload) > 0 {
			parts[k] = append(parts[k], part{seq, i, s.payload})
		}
	}
	out := map[flowKey][]byte{}
	for _, k := range order {
		ps := parts[k]
		if len(ps) == 0 {
			continue
		}
		base := ps[0].seq
		slices.SortStableFunc(ps, func(a, b part) int {
			da, db := a.seq-base, b.seq-base // wrap-safe relative offsets
			switch {
			case int32(da) < int32(db):
				return -1
			case int32(da) > int32(db):
				return 1
			}
			return a.idx - b.idx
		})
		var buf []byte
		next := ps[0].seq
		for _, p := range ps {
			d := int32(p.seq - next)
			switch {
			case d > 0:
				// A gap (bytes not captured): keep going; the BGP framer
				// resynchronises on the next marker.
				buf = append(buf, p.b...)
				next = p.seq + uint32(len(p.b))
			case int(-d) < len(p.b):
				buf = append(buf, p.b[-d:]...)
				next = p.seq + uint32(len(p.b))
			}
		}
		out[k] = buf
	}
	return order, out
}
