package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"net/netip"
	"strings"
	"testing"

	"github.com/kbgp/kbgp/internal/bgp/wire"
	"github.com/kbgp/kbgp/internal/config"
	"github.com/kbgp/kbgp/internal/rib"
)

// FuzzAutodetect: any IP_AUTODETECTION_METHOD string gives an address from
// the interfaces or an error, never a panic. can-reach is left out: it asks
// the resolver and the kernel.
func FuzzAutodetect(f *testing.F) {
	for _, s := range []string{"first-found", "interface=eth.*", "skip-interface=eth0,eth1", "cidr=10.0.0.0/8,172.16.0.0/12",
		"interface=(", "cidr=", "interface=", "kubernetes-internal-ip", "interface=eth0,,", "cidr=fd00::/8"} {
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, method string, v4 bool) {
		if strings.HasPrefix(method, "can-reach") {
			return
		}
		fam := 6
		if v4 {
			fam = 4
		}
		p, err := Autodetect(context.Background(), method, fam, host)
		if err != nil {
			return
		}
		found := false
		for _, i := range host {
			for _, a := range i.Addrs {
				found = found || a == p
			}
		}
		if !found || (fam == 4) != p.Addr().Is4() || !p.Addr().IsGlobalUnicast() {
			t.Errorf("Autodetect(%q, %d) = %v: not a usable address of the host", method, fam, p)
		}
	})
}

// FuzzPolicyFunc: the rule evaluator accepts any prefix, community and
// AS path match without panicking, and a reject-only list never accepts.
func FuzzPolicyFunc(f *testing.F) {
	f.Add("192.168.0.0/26", "192.168.0.0/16", "In", 16, 32, "64513:100", uint32(65000))
	f.Add("10.0.0.0/8", "10.0.0.0/8", "Equal", 0, 0, "1:2:3", uint32(1))
	f.Add("fd00::/64", "10.0.0.0/8", "NotIn", 40, 8, "x", uint32(0))
	f.Fuzz(func(t *testing.T, prefix, match, op string, lo, hi int, comm string, asn uint32) {
		p, err := netip.ParsePrefix(prefix)
		if err != nil {
			return
		}
		m, _ := netip.ParsePrefix(match)
		rules := []config.Rule{
			{Match: config.Match{Prefix: m, Operator: op, MinLength: lo, MaxLength: hi, Community: comm}, Action: config.Continue,
				Operations: []config.Operation{{AddCommunity: comm}}},
			{Match: config.Match{Prefix: m, Operator: op, MinLength: lo, MaxLength: hi}, Action: config.Reject},
		}
		var a wire.Attrs
		a.ASPath = []wire.ASPathSegment{{Type: wire.ASSequence, ASNs: []uint32{asn}}}
		if policyFunc(rules)(rib.PolicyInput{Prefix: p.Masked()}, &a) {
			t.Errorf("a list without accept rules accepted %v", p)
		}
	})
}

// FuzzDecodeServices: any services file decodes to services that
// re-encode and decode to the same list, or gives an error; never a panic.
func FuzzDecodeServices(f *testing.F) {
	for _, s := range []string{
		`[]`,
		`[{"namespace":"default","name":"web-local","type":"LoadBalancer","clusterIPs":["10.96.0.11"],"externalTrafficPolicy":"Local","endpoints":[{"addr":"192.168.0.129","node":"ubuntu-3","ready":true}]}]`,
		`[{"name":"v6","type":"ClusterIP","clusterIPs":["fd00::10"],"externalIPs":["2001:db8::1"],"loadBalancerIPs":["192.0.2.1"]}]`,
		`[{"name":""}]`, `[{"name":"x","clusterIPs":["bad"]}]`, `[{"name":"x","extra":1}]`, `[] []`, `{`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		svcs, err := decodeServices(raw)
		if err != nil {
			return
		}
		b, err := json.Marshal(svcs)
		if err != nil {
			t.Fatalf("re-encoding %+v: %v", svcs, err)
		}
		again, err := decodeServices(b)
		if err != nil {
			t.Fatalf("decoding the re-encoded %s: %v", b, err)
		}
		b2, _ := json.Marshal(again)
		if !bytes.Equal(b, b2) {
			t.Fatalf("round trip changed the services:\n%s\n%s", b, b2)
		}
	})
}
