package api

import "net/netip"

// BGPFilter is a set of ordered import/export rules referenced from
// BGPPeer spec.filters. Within a list the first matching rule's action wins;
// when none matches, import accepts and export falls through to the default
// export policy.
type BGPFilter struct {
	TypeMeta
	Metadata ObjectMeta    `json:"metadata"`
	Spec     BGPFilterSpec `json:"spec"`
}

// Kind implements Resource.
func (*BGPFilter) Kind() string { return KindBGPFilter }

// Name implements Resource.
func (r *BGPFilter) Name() string { return r.Metadata.Name }

// Meta implements Resource.
func (r *BGPFilter) Meta() *ObjectMeta { return &r.Metadata }

// SpecValue implements Resource.
func (r *BGPFilter) SpecValue() any { return &r.Spec }

// BGPFilterSpec is the spec of a BGPFilter.
type BGPFilterSpec struct {
	// ExportV4 are the rules for IPv4 routes sent to the peer.
	ExportV4 []BGPFilterRule `json:"exportV4,omitempty"`
	// ImportV4 are the rules for IPv4 routes received from the peer.
	ImportV4 []BGPFilterRule `json:"importV4,omitempty"`
	// ExportV6 are the rules for IPv6 routes sent to the peer.
	ExportV6 []BGPFilterRule `json:"exportV6,omitempty"`
	// ImportV6 are the rules for IPv6 routes received from the peer.
	ImportV6 []BGPFilterRule `json:"importV6,omitempty"`
}

// BGPFilterRule matches routes and accepts or rejects them. All given
// match fields must match.
type BGPFilterRule struct {
	// CIDR to compare the route's prefix with (needs matchOperator).
	CIDR netip.Prefix `json:"cidr,omitzero"`
	// PrefixLength bounds the prefix length for In/NotIn matches.
	PrefixLength *PrefixLength `json:"prefixLength,omitempty"`
	// MatchOperator is Equal, NotEqual, In or NotIn (needs cidr).
	MatchOperator string `json:"matchOperator,omitempty"`
	// Source RemotePeers matches routes learned over BGP.
	Source string `json:"source,omitempty"`
	// Interface matches the route's outgoing interface by glob (at most 15
	// characters).
	Interface string `json:"interface,omitempty"`
	// PeerType eBGP or iBGP matches only on such sessions.
	PeerType string `json:"peerType,omitempty"`
	// Communities matches routes carrying a community.
	Communities *CommunityMatch `json:"communities,omitempty"`
	// ASPathPrefix matches routes whose AS path starts with these ASes.
	ASPathPrefix []ASNumber `json:"asPathPrefix,omitempty"`
	// Priority matches the route's kernel metric.
	Priority *int `json:"priority,omitempty"`
	// Action is Accept or Reject. Required.
	Action string `json:"action"`
	// Operations modify accepted routes (Accept only, at most 10).
	Operations []FilterOperation `json:"operations,omitempty"`
}

// PrefixLength bounds a prefix length.
type PrefixLength struct {
	// Min prefix length (default: the cidr's length).
	Min *int32 `json:"min,omitempty"`
	// Max prefix length (default: 32 or 128).
	Max *int32 `json:"max,omitempty"`
}

// CommunityMatch lists community values to match.
type CommunityMatch struct {
	// Values holds exactly one "aa:nn" or "aa:nn:mm" value.
	Values []string `json:"values,omitempty"`
}

// FilterOperation is one route modification; exactly one field is set.
type FilterOperation struct {
	// AddCommunity adds a community.
	AddCommunity *AddCommunity `json:"addCommunity,omitempty"`
	// PrependASPath prepends ASes to the AS path.
	PrependASPath *PrependASPath `json:"prependASPath,omitempty"`
	// SetPriority sets the kernel metric.
	SetPriority *SetPriority `json:"setPriority,omitempty"`
}

// AddCommunity adds one community value.
type AddCommunity struct {
	// Value is "aa:nn" or "aa:nn:mm".
	Value string `json:"value"`
}

// PrependASPath prepends ASes.
type PrependASPath struct {
	// Prefix are the ASes to prepend, leftmost first.
	Prefix []ASNumber `json:"prefix"`
}

// SetPriority sets the route priority (kernel metric).
type SetPriority struct {
	// Value is the priority, 1-2147483646.
	Value int `json:"value"`
}
