package config

import (
	"net/netip"
	"reflect"
	"slices"
	"strings"
)

// Changes is what changed between two NodeStates of the same node, and what
// the speaker must do about it. Like BIRD's reconfigure, a change touches
// only the sessions it affects.
type Changes struct {
	// ResetAll is set when a node-wide identity changed (AS, router ID)
	// and every session must be re-established; Global lists what
	// changed.
	ResetAll bool     `json:"resetAll,omitempty"`
	Global   []string `json:"global,omitempty"`
	// ListenerChanged: the listen address or port changed.
	ListenerChanged bool `json:"listenerChanged,omitempty"`
	// Added and Removed are peer names; Changed holds the rest.
	Added   []string     `json:"added,omitempty"`
	Removed []string     `json:"removed,omitempty"`
	Changed []PeerChange `json:"changed,omitempty"`
	// OriginateAdded and OriginateRemoved are prefixes to start and stop
	// originating.
	OriginateAdded   []netip.Prefix `json:"originateAdded,omitempty"`
	OriginateRemoved []netip.Prefix `json:"originateRemoved,omitempty"`
	// KernelRejectChanged: the never-program-into-the-kernel list changed.
	KernelRejectChanged bool `json:"kernelRejectChanged,omitempty"`
	// StaticRoutesChanged: reachableBy routes changed.
	StaticRoutesChanged bool `json:"staticRoutesChanged,omitempty"`
}

// PeerChange is a changed session.
type PeerChange struct {
	Name string `json:"name"`
	// Fields are the changed Peer fields (json names).
	Fields []string `json:"fields"`
	// Reset: the change only takes effect in a new session (something
	// sent in OPEN or the TCP connection itself changed).
	Reset bool `json:"reset,omitempty"`
	// RouteRefresh: the import policy changed; ask the peer to resend
	// (RFC 2918) or re-run import over the stored Adj-RIB-In.
	RouteRefresh bool `json:"routeRefresh,omitempty"`
	// Reexport: the export policy or next-hop handling changed; recompute
	// the Adj-RIB-Out.
	Reexport bool `json:"reexport,omitempty"`
}

// IsEmpty reports whether nothing changed.
func (d *Changes) IsEmpty() bool { return reflect.ValueOf(*d).IsZero() }

// resetFields change the session's identity, its TCP connection or its
// OPEN message, so they need a new session.
var resetFields = map[string]bool{
	"address": true, "port": true, "remoteAS": true, "localAS": true, "internal": true,
	"sourceAddress": true, "password": true, "ttlSecurity": true, "passive": false,
	"routeReflectorClient": true, "clusterID": true, "holdTime": true,
	"gracefulRestart": true, "restartTime": true, "llgrStaleTime": true,
	"addPathSend": true, "addPathReceive": true, "family": true,
}

// importFields change what is accepted from the peer.
var importFields = map[string]bool{"import": true, "allowLocalAS": true, "filters": true}

// exportFields change what is sent to the peer.
var exportFields = map[string]bool{"export": true, "nextHop": true, "filters": true}

// Diff returns the changes from old to new (either may be nil, meaning
// "no state").
func Diff(old, new *NodeState) Changes {
	if old == nil {
		old = &NodeState{}
	}
	if new == nil {
		new = &NodeState{}
	}
	var d Changes
	if old.ASNumber != new.ASNumber {
		d.Global = append(d.Global, "asNumber")
	}
	if old.RouterID != new.RouterID {
		d.Global = append(d.Global, "routerID")
	}
	d.ResetAll = len(d.Global) > 0
	if old.ListenPort != new.ListenPort || !slices.Equal(old.ListenAddresses, new.ListenAddresses) {
		d.ListenerChanged = true
	}
	op, np := map[string]*Peer{}, map[string]*Peer{}
	for i := range old.Peers {
		op[old.Peers[i].Name] = &old.Peers[i]
	}
	for i := range new.Peers {
		np[new.Peers[i].Name] = &new.Peers[i]
	}
	for _, p := range new.Peers {
		o := op[p.Name]
		if o == nil {
			d.Added = append(d.Added, p.Name)
			continue
		}
		if ch, ok := comparePeer(o, &p); ok {
			d.Changed = append(d.Changed, ch)
		}
	}
	for _, p := range old.Peers {
		if np[p.Name] == nil {
			d.Removed = append(d.Removed, p.Name)
		}
	}
	slices.Sort(d.Added)
	slices.Sort(d.Removed)
	slices.SortFunc(d.Changed, func(a, b PeerChange) int { return strings.Compare(a.Name, b.Name) })
	or, nr := map[netip.Prefix]bool{}, map[netip.Prefix]bool{}
	for _, r := range old.Originate {
		or[r.Prefix] = true
	}
	for _, r := range new.Originate {
		nr[r.Prefix] = true
		if !or[r.Prefix] {
			d.OriginateAdded = append(d.OriginateAdded, r.Prefix)
		}
	}
	for _, r := range old.Originate {
		if !nr[r.Prefix] {
			d.OriginateRemoved = append(d.OriginateRemoved, r.Prefix)
		}
	}
	d.KernelRejectChanged = !slices.Equal(old.KernelReject, new.KernelReject)
	d.StaticRoutesChanged = !slices.Equal(old.StaticRoutes, new.StaticRoutes)
	return d
}

// comparePeer lists the changed fields of a peer and classifies them.
func comparePeer(o, n *Peer) (PeerChange, bool) {
	ch := PeerChange{Name: n.Name}
	ov, nv := reflect.ValueOf(*o), reflect.ValueOf(*n)
	t := ov.Type()
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name == "" || name == "-" {
			continue
		}
		a, b := ov.Field(i).Interface(), nv.Field(i).Interface()
		if name == "password" {
			// Compare the value too: a rotated secret needs a new session
			// (the TCP MD5 key changes).
			a, b = passwordKey(o.Password), passwordKey(n.Password)
		}
		if reflect.DeepEqual(a, b) {
			continue
		}
		ch.Fields = append(ch.Fields, name)
		ch.Reset = ch.Reset || resetFields[name]
		ch.RouteRefresh = ch.RouteRefresh || importFields[name]
		ch.Reexport = ch.Reexport || exportFields[name]
	}
	return ch, len(ch.Fields) > 0
}

func passwordKey(p *Password) any {
	if p == nil {
		return nil
	}
	return *p
}
