// Package routercfg writes the router side of a cluster's BGP peering: the
// configuration an external router (MikroTik RouterOS, FRR, BIRD, Cisco
// IOS, Junos or H3C Comware) needs to peer with the cluster's route
// reflectors or with every node, derived from the same resources the nodes
// compile (BGPConfiguration, BGPPeer, Node, IPPool).
//
// Generate is the entry point; Plan exposes the vendor-neutral model it
// renders (sessions, import ranges, multipath, graceful restart) together
// with warnings about resources that will not match the generated router
// side.
//
// The generated configuration follows the seed's lessons
// (../shared/seed/calico-bgp-notes.en.md): the router accepts only pod and
// service ranges from the cluster, sends nothing back to it, installs
// equal-cost paths (multipath) and asks for ADD-PATH receive where the
// vendor supports it, so service traffic is spread over every node instead
// of hairpinning through one reflector.
package routercfg

import (
	"fmt"
	"slices"
	"strings"

	"github.com/kbgp/kbgp/internal/config"
)

// Vendor names a router configuration dialect.
type Vendor string

// Supported vendors.
const (
	RouterOS Vendor = "routeros"
	FRR      Vendor = "frr"
	BIRD     Vendor = "bird"
	CiscoIOS Vendor = "cisco-ios"
	Junos    Vendor = "junos"
	H3C      Vendor = "h3c"
)

// Vendors lists every supported vendor, in help order.
var Vendors = []Vendor{RouterOS, FRR, BIRD, CiscoIOS, Junos, H3C}

// ParseVendor returns the Vendor named s.
func ParseVendor(s string) (Vendor, error) {
	v := Vendor(strings.ToLower(strings.TrimSpace(s)))
	if slices.Contains(Vendors, v) {
		return v, nil
	}
	names := make([]string, len(Vendors))
	for i, v := range Vendors {
		names[i] = string(v)
	}
	return "", fmt.Errorf("unknown vendor %q: want one of %s", s, strings.Join(names, ", "))
}

// Generate renders the router configuration for opts.Vendor from the
// cluster resources in in. It is Plan followed by Render; the plan's
// warnings are included in the output as comments (use Plan to get them
// separately).
func Generate(in *config.Input, opts Options) ([]byte, error) {
	p, err := Plan(in, opts)
	if err != nil {
		return nil, err
	}
	return Render(p, opts)
}

// Render writes the configuration of router r in the dialect opts.Vendor.
func Render(r *Router, opts Options) ([]byte, error) {
	var b []byte
	var err error
	switch opts.Vendor {
	case RouterOS:
		b, err = appendRouterOS(nil, r, opts)
	case FRR:
		b = appendFRR(nil, r, opts)
	case BIRD:
		b = appendBIRD(nil, r, opts)
	case CiscoIOS:
		b = appendCisco(nil, r)
	case Junos:
		b = appendJunos(nil, r)
	case H3C:
		b = appendH3C(nil, r)
	default:
		_, err = ParseVendor(string(opts.Vendor))
	}
	return b, err
}

// header returns the comment lines every dialect starts with, each
// prefixed by c (the dialect's comment marker).
func header(r *Router, c, dialect string) []string {
	lines := []string{
		fmt.Sprintf("%s kbgp router-config: %s", c, dialect),
		fmt.Sprintf("%s router AS %s, router ID %s, %d session(s) to %s", c, r.ASN, r.RouterID, len(r.Sessions), r.PeeringDesc),
	}
	for _, w := range r.Warnings {
		lines = append(lines, c+" WARNING: "+w)
	}
	return lines
}
