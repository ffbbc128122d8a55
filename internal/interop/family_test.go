package interop

import (
	"fmt"
	"net/netip"
	"testing"

	"github.com/kbgp/kbgp/internal/bgp/speaker"
	"github.com/kbgp/kbgp/internal/bgp/wire"
)

// family is the address family one run of an interop test covers. Like
// Calico (one BIRD protocol per family and neighbour address), each test
// runs a separate session per family: IPv4 unicast routes over an IPv4
// session and IPv6 unicast routes over an IPv6 session. Router IDs,
// ORIGINATOR_ID and CLUSTER_LIST stay 32-bit values (the IPv4 addresses)
// in both.
type family struct {
	name string
	wire wire.Family
	// kbgp is kbgp's address on the veths, peer(i) peer i's.
	kbgp netip.Addr
	peer func(i int) netip.Addr
	// bird is BIRD's channel name, frr FRR's address-family name and
	// frrShow the same for "show bgp".
	bird, frr, frrShow string
}

var (
	ipv4 = family{name: "ipv4", wire: wire.IPv4Unicast, kbgp: kbgp4, peer: peer4, bird: "ipv4", frr: "ipv4 unicast", frrShow: "ipv4 unicast"}
	ipv6 = family{name: "ipv6", wire: wire.IPv6Unicast, kbgp: kbgp6, peer: peer6, bird: "ipv6", frr: "ipv6 unicast", frrShow: "ipv6 unicast"}
)

// families are the families every interop test runs for.
var families = []family{ipv4, ipv6}

// forEachFamily runs test as a parallel subtest per family, named after
// it ("ipv4", "ipv6"), so a verbose log shows which ran.
func forEachFamily(t *testing.T, test func(t *testing.T, f family)) {
	t.Helper()
	for _, f := range families {
		t.Run(f.name, func(t *testing.T) {
			t.Parallel()
			test(t, f)
		})
	}
}

// net is the test prefix numbered a, b in the family: 10.a.b.0/24 for
// IPv4 and fdA:B::/48 (the decimal digits read as hex) for IPv6, so the
// IPv6 twin of 10.20.1.0/24 is fd20:1::/48.
func (f family) net(a, b int) string {
	if f.wire == wire.IPv6Unicast {
		// Canonical form (fd10::/48, not fd10:0::/48), as BIRD and FRR
		// print it.
		return netip.MustParsePrefix(fmt.Sprintf("fd%d:%d::/48", a, b)).String()
	}
	return fmt.Sprintf("10.%d.%d.0/24", a, b)
}

// tag makes a namespace tag unique per family.
func (f family) tag(t string) string { return t + f.name[3:] }

// peerConfig is kbgpPeer for peer address addr in this family.
func (f family) peerConfig(addr netip.Addr, as uint32) speaker.PeerConfig {
	return kbgpPeer(addr, as, f.wire)
}
