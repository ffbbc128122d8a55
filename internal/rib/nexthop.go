package rib

import "net/netip"

// addrID is the handle of a next-hop address in an addrTable. 0 is the
// invalid address (no next hop).
type addrID uint32

// addrTable is the refcounted table of the next-hop addresses of stored
// paths. A path's attribute set is interned without its next hop (see
// RIB.intern) and the next hop is kept here, so paths that differ only in
// their next hop, as a route-reflector's clients announcing the same
// routes, share one attribute set.
type addrTable struct {
	m     map[netip.Addr]addrID
	addrs []netip.Addr // index addrID; [0] is the invalid address
	refs  []int32
	free  []addrID
}

// at returns the address with handle id.
func (t *addrTable) at(id addrID) netip.Addr {
	if id == 0 {
		return netip.Addr{}
	}
	return t.addrs[id]
}

// get returns the handle of a, with one more reference.
func (t *addrTable) get(a netip.Addr) addrID {
	if !a.IsValid() {
		return 0
	}
	if id, ok := t.m[a]; ok {
		t.refs[id]++
		return id
	}
	if t.m == nil {
		t.m = map[netip.Addr]addrID{}
		t.addrs, t.refs = []netip.Addr{{}}, []int32{0}
	}
	var id addrID
	if n := len(t.free); n > 0 {
		id = t.free[n-1]
		t.free = t.free[:n-1]
		t.addrs[id], t.refs[id] = a, 1
	} else {
		id = addrID(len(t.addrs))
		t.addrs = append(t.addrs, a)
		t.refs = append(t.refs, 1)
	}
	t.m[a] = id
	return id
}

// ref adds a reference to id.
func (t *addrTable) ref(id addrID) {
	if id != 0 {
		t.refs[id]++
	}
}

// put drops a reference to id, freeing it with the last one.
func (t *addrTable) put(id addrID) {
	if id == 0 {
		return
	}
	if t.refs[id]--; t.refs[id] > 0 {
		return
	}
	delete(t.m, t.addrs[id])
	t.addrs[id] = netip.Addr{}
	t.free = append(t.free, id)
}
