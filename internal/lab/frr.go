package lab

import (
	"bytes"
	"fmt"
	"net/netip"
)

// RouterConfig is the router's FRR configuration: zebra.conf and
// bgpd.conf. dir is the router's state directory (for the log file).
//
// The router has one session per node in Router.Peers (RouterOS's
// `/routing/bgp/connection/add remote.address=... remote.as=...`), over
// every address family the node has an address for. It is not a route
// reflector, does ECMP over up to MaximumPaths paths ("maximum-paths" and,
// for iBGP, "maximum-paths ibgp"), and connects quickly (`timers connect
// 1`), so the lab converges in seconds.
func RouterConfig(t *Topology, dir string) (zebra, bgpd []byte) {
	var z bytes.Buffer
	fmt.Fprintf(&z, "hostname %s\nlog file %s/zebra.log\n!\n", t.Router.Name, dir)

	var b bytes.Buffer
	w := func(format string, a ...any) { fmt.Fprintf(&b, format+"\n", a...) }
	w("frr defaults traditional")
	w("hostname %s", t.Router.Name)
	w("log file %s/bgpd.log", dir)
	w("!")
	w("router bgp %d", t.Router.ASN)
	rid, _ := v4(t.Router.ClusterAddresses)
	if rid.IsValid() {
		w(" bgp router-id %s", rid.Addr())
	}
	// FRR 8 rejects eBGP routes without a policy (RFC 8212 §2: "routes
	// ... MUST NOT be ... advertised ... unless explicitly configured");
	// the seed's RouterOS has no such default.
	w(" no bgp ebgp-requires-policy")
	w(" no bgp default ipv4-unicast")
	w(" no bgp network import-check")
	var v4n, v6n []netip.Addr
	for _, name := range t.Router.Peers {
		n, _ := t.Node(name)
		for _, a := range n.Addresses {
			remote := "internal"
			if t.Router.ASN != t.Cluster.ASN {
				remote = fmt.Sprint(t.Cluster.ASN)
			}
			w(" neighbor %s remote-as %s", a.Addr(), remote)
			w(" neighbor %s description %s", a.Addr(), name)
			w(" neighbor %s timers connect 1", a.Addr())
			if a.Addr().Is4() {
				v4n = append(v4n, a.Addr())
			} else {
				v6n = append(v6n, a.Addr())
			}
		}
	}
	af := func(fam string, ns []netip.Addr) {
		w(" !")
		w(" address-family %s unicast", fam)
		for _, a := range ns {
			w("  neighbor %s activate", a)
		}
		w("  maximum-paths %d", t.Router.MaximumPaths)
		w("  maximum-paths ibgp %d", t.Router.MaximumPaths)
		w(" exit-address-family")
	}
	af("ipv4", v4n)
	if len(v6n) > 0 {
		af("ipv6", v6n)
	}
	w("!")
	return z.Bytes(), b.Bytes()
}
