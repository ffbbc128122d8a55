package fsm

import "github.com/kbgp/kbgp/internal/bgp/wire"

// prefixSet is the set of NLRI received in one family, kept only to count
// the Adj-RIB-In (PrefixesReceived, MaxPrefix), and only for the families
// Session.counts selects: it duplicates the RIB. Keys are compact: an IPv4
// entry is 12 bytes and an IPv6 one 24, instead of the 40 of a
// wire.NLRI key, whose netip.Addr carries a zone pointer (the set was
// 28 % of the heap of a reflector holding 4 full tables).
type prefixSet struct {
	v4 map[v4Key]struct{}
	v6 map[v6Key]struct{}
}

type v4Key struct {
	addr   [4]byte
	pathID uint32
	bits   int8 // -1 for an invalid prefix
}

type v6Key struct {
	addr   [16]byte
	pathID uint32
	bits   int16
}

// add inserts n.
func (p *prefixSet) add(n wire.NLRI) {
	a := n.Prefix.Addr()
	if a.Is4() {
		if p.v4 == nil {
			p.v4 = map[v4Key]struct{}{}
		}
		p.v4[v4Key{a.As4(), n.PathID, int8(n.Prefix.Bits())}] = struct{}{}
		return
	}
	if p.v6 == nil {
		p.v6 = map[v6Key]struct{}{}
	}
	p.v6[v6Key{a.As16(), n.PathID, int16(n.Prefix.Bits())}] = struct{}{}
}

// remove deletes n; removing an absent NLRI does nothing.
func (p *prefixSet) remove(n wire.NLRI) {
	a := n.Prefix.Addr()
	if a.Is4() {
		delete(p.v4, v4Key{a.As4(), n.PathID, int8(n.Prefix.Bits())})
		return
	}
	delete(p.v6, v6Key{a.As16(), n.PathID, int16(n.Prefix.Bits())})
}

// len is the number of NLRI in the set.
func (p *prefixSet) len() int { return len(p.v4) + len(p.v6) }

// counts reports whether the session counts the received prefixes of f:
// for families with a MaxPrefix limit (RFC 4486 enforcement needs the exact
// number) or for all when Config.CountPrefixes is set.
func (s *Session) counts(f wire.Family) bool {
	return s.cfg.CountPrefixes || s.cfg.MaxPrefix[f] > 0
}
