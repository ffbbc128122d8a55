package store

import (
	"fmt"
	"strings"

	"github.com/kbgp/kbgp/api"
)

// kindNames are the names accepted on the command line for each kind:
// calicoctl's aliases (calicoctl/resourcemgr: e.g. "bgppeer", "bgppeers",
// "bgpp", "bgpps", "bp", "bps"), matched case-insensitively. The first is
// the singular, the second the plural.
var kindNames = map[string][]string{
	api.KindBGPConfiguration: {"bgpconfiguration", "bgpconfigurations", "bgpconfig", "bgpconfigs"},
	api.KindBGPPeer:          {"bgppeer", "bgppeers", "bgpp", "bgpps", "bp", "bps"},
	api.KindBGPFilter:        {"bgpfilter", "bgpfilters", "bgpf", "bgpfs", "bf", "bfs"},
	api.KindNode:             {"node", "nodes", "no", "nos"},
	api.KindIPPool:           {"ippool", "ippools", "ipp", "ipps", "pool", "pools"},
}

// ResolveKind maps a kind as typed on the command line (BGPPeer, bgppeers,
// bp, bgppeer.projectcalico.org, ...) to its api kind name.
func ResolveKind(s string) (string, error) {
	l := strings.ToLower(strings.TrimSpace(s))
	for _, g := range []string{".projectcalico.org", ".kbgp.io"} {
		l = strings.TrimSuffix(l, g)
	}
	for _, k := range api.Kinds {
		for _, n := range kindNames[k] {
			if l == n {
				return k, nil
			}
		}
	}
	var want []string
	for _, k := range api.Kinds {
		want = append(want, kindNames[k][0])
	}
	return "", fmt.Errorf("unknown resource type %q; want one of %s (singular, plural or short names such as bgppeers or bp)",
		s, strings.Join(want, ", "))
}

// Plural is the lower-case plural of a kind ("bgppeers"), as kubectl
// names resources in messages.
func Plural(kind string) string {
	if n, ok := kindNames[kind]; ok {
		return n[1]
	}
	return strings.ToLower(kind) + "s"
}

// Singular is the lower-case singular of a kind ("bgppeer").
func Singular(kind string) string {
	if n, ok := kindNames[kind]; ok {
		return n[0]
	}
	return strings.ToLower(kind)
}

// kindIndex orders kinds as api.Kinds does.
func kindIndex(kind string) int {
	for i, k := range api.Kinds {
		if k == kind {
			return i
		}
	}
	return len(api.Kinds)
}
