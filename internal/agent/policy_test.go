package agent

import (
	"net/netip"
	"slices"
	"testing"

	"github.com/kbgp/kbgp/api"
	"github.com/kbgp/kbgp/internal/bgp/wire"
	"github.com/kbgp/kbgp/internal/config"
	"github.com/kbgp/kbgp/internal/rib"
)

func TestPolicyFunc(t *testing.T) {
	block := netip.MustParsePrefix("192.168.0.0/26")
	pool := netip.MustParsePrefix("192.168.0.0/16")
	in := func(p netip.Prefix) config.Match {
		return config.Match{Prefix: p, Operator: "In", MinLength: p.Bits(), MaxLength: 32}
	}
	local := &rib.PeerConfig{Name: "local"}
	remote := &rib.PeerConfig{Name: "Node_172_16_30_102"}
	// The seed's export list for an iBGP peer, abridged (config.policies).
	seedExport := []config.Rule{
		{From: "Felix", Match: config.Match{Interface: "*.cali"}, Action: config.Reject},
		{From: "block", Match: config.Match{Prefix: block, Operator: "Equal"}, Action: config.Accept},
		{From: "block elevated", Match: config.Match{Prefix: block, Operator: "In", MinLength: 26, MaxLength: 32, PriorityBelow: 1024}, Action: config.Accept},
		{From: "block aggregated", Match: in(block), Action: config.Reject},
		{From: "service", Match: in(netip.MustParsePrefix("10.96.0.0/24")), Action: config.Accept},
		{From: "pool", Match: in(pool), Action: config.Accept},
		{From: "default", Action: config.Reject},
	}
	tests := []struct {
		name   string
		rules  []config.Rule
		prefix string
		source *rib.PeerConfig
		attrs  func(*wire.Attrs)
		want   bool
		check  func(*testing.T, *wire.Attrs)
	}{
		{name: "own block accepted", rules: seedExport, prefix: "192.168.0.0/26", source: local, want: true},
		{name: "route inside own block aggregated", rules: seedExport, prefix: "192.168.0.5/32", source: local, want: false},
		{name: "service range accepted", rules: seedExport, prefix: "10.96.0.0/24", source: local, want: true},
		{name: "reflected block in pool accepted", rules: seedExport, prefix: "192.168.0.128/26", source: remote, want: true},
		{name: "outside every pool rejected", rules: seedExport, prefix: "10.1.0.0/24", source: remote, want: false},
		{name: "empty list rejects", rules: nil, prefix: "10.1.0.0/24", want: false},
		{name: "not equal", rules: []config.Rule{{Match: config.Match{Prefix: block, Operator: "NotEqual"}, Action: config.Accept}},
			prefix: "192.168.0.64/26", want: true},
		{name: "not in", rules: []config.Rule{{Match: config.Match{Prefix: pool, Operator: "NotIn", MinLength: 16, MaxLength: 32}, Action: config.Accept}},
			prefix: "192.168.1.0/24", want: false},
		{name: "in respects max length", rules: []config.Rule{{Match: config.Match{Prefix: pool, Operator: "In", MinLength: 16, MaxLength: 24}, Action: config.Accept}},
			prefix: "192.168.1.0/26", want: false},
		{name: "family mismatch never matches", rules: []config.Rule{{Match: config.Match{Prefix: pool, Operator: "NotEqual"}, Action: config.Accept}},
			prefix: "fd00::/64", want: false},
		{name: "RemotePeers skips local routes", rules: []config.Rule{{Match: config.Match{Source: "RemotePeers"}, Action: config.Accept}},
			prefix: "10.1.0.0/24", source: local, want: false},
		{name: "RemotePeers matches learned routes", rules: []config.Rule{{Match: config.Match{Source: "RemotePeers"}, Action: config.Accept}},
			prefix: "10.1.0.0/24", source: remote, want: true},
		{name: "community match", rules: []config.Rule{{Match: config.Match{Community: "64513:100"}, Action: config.Accept}},
			prefix: "10.1.0.0/24", attrs: func(a *wire.Attrs) { a.Communities = []wire.Community{64513<<16 | 100}; a.Set(wire.AttrCommunities) }, want: true},
		{name: "community absent", rules: []config.Rule{{Match: config.Match{Community: "64513:100"}, Action: config.Accept}},
			prefix: "10.1.0.0/24", want: false},
		{name: "large community match", rules: []config.Rule{{Match: config.Match{Community: "64513:1:2"}, Action: config.Accept}},
			prefix: "10.1.0.0/24", attrs: func(a *wire.Attrs) {
				a.LargeCommunities = []wire.LargeCommunity{{GlobalAdmin: 64513, LocalData1: 1, LocalData2: 2}}
				a.Set(wire.AttrLargeCommunities)
			}, want: true},
		{name: "AS path prefix", rules: []config.Rule{{Match: config.Match{ASPathPrefix: []api.ASNumber{65000, 65001}}, Action: config.Accept}},
			prefix: "10.1.0.0/24", attrs: func(a *wire.Attrs) {
				a.ASPath = []wire.ASPathSegment{{Type: wire.ASSequence, ASNs: []uint32{65000, 65001, 65002}}}
			}, want: true},
		{name: "AS path prefix mismatch", rules: []config.Rule{{Match: config.Match{ASPathPrefix: []api.ASNumber{65001}}, Action: config.Accept}},
			prefix: "10.1.0.0/24", attrs: func(a *wire.Attrs) {
				a.ASPath = []wire.ASPathSegment{{Type: wire.ASSequence, ASNs: []uint32{65000, 65001}}}
			}, want: false},
		{name: "continue adds community then accept", rules: []config.Rule{
			{Match: in(pool), Action: config.Continue, Operations: []config.Operation{{AddCommunity: "64513:7"}}},
			{Action: config.Accept}},
			prefix: "192.168.0.0/26", want: true,
			check: func(t *testing.T, a *wire.Attrs) {
				if !a.Has(wire.AttrCommunities) || !slices.Contains(a.Communities, wire.Community(64513<<16|7)) {
					t.Errorf("communities %v, want 64513:7 added", a.Communities)
				}
			}},
		{name: "accept prepends AS path", rules: []config.Rule{
			{Action: config.Accept, Operations: []config.Operation{{PrependASPath: []api.ASNumber{64513, 64513}}}}},
			prefix: "192.168.0.0/26", attrs: func(a *wire.Attrs) {
				a.ASPath = []wire.ASPathSegment{{Type: wire.ASSequence, ASNs: []uint32{65000}}}
				a.Set(wire.AttrASPath)
			}, want: true,
			check: func(t *testing.T, a *wire.Attrs) {
				if len(a.ASPath) != 1 || !slices.Equal(a.ASPath[0].ASNs, []uint32{64513, 64513, 65000}) {
					t.Errorf("AS_PATH %v, want [64513 64513 65000]", a.ASPath)
				}
			}},
		{name: "reject does not apply operations", rules: []config.Rule{
			{Action: config.Reject, Operations: []config.Operation{{AddCommunity: "1:1"}}}},
			prefix: "192.168.0.0/26", want: false,
			check: func(t *testing.T, a *wire.Attrs) {
				if len(a.Communities) != 0 {
					t.Errorf("communities %v after reject", a.Communities)
				}
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var a wire.Attrs
			if tc.attrs != nil {
				tc.attrs(&a)
			}
			p := netip.MustParsePrefix(tc.prefix)
			fam := wire.IPv4Unicast
			if p.Addr().Is6() {
				fam = wire.IPv6Unicast
			}
			got := policyFunc(tc.rules)(rib.PolicyInput{Family: fam, Prefix: p, Source: tc.source}, &a)
			if got != tc.want {
				t.Errorf("policy(%s) = %v, want %v", tc.prefix, got, tc.want)
			}
			if tc.check != nil {
				tc.check(t, &a)
			}
		})
	}
}

// TestPolicyFuncCompiledSeed runs the policies config compiles for the seed
// (ubuntu-2, the reflector, toward a client) over the seed's routes.
func TestPolicyFuncCompiledSeed(t *testing.T) {
	var addrs [3]netip.Prefix
	for i := range addrs {
		addrs[i] = netip.PrefixFrom(netip.AddrFrom4([4]byte{172, 16, 30, byte(101 + i)}), 24)
	}
	rs, err := config.Decode("seed.yaml", []byte(seedResources(0, netip.MustParseAddrPort("172.16.30.254:0"), addrs)))
	if err != nil {
		t.Fatal(err)
	}
	st, err := config.Compile(config.NewInput(rs, nil), "ubuntu-2")
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Peers) != 3 {
		t.Fatalf("ubuntu-2 has %d sessions, want 3", len(st.Peers))
	}
	exp := policyFunc(st.Peers[0].Export)
	imp := policyFunc(st.Peers[0].Import)
	for _, c := range []struct {
		prefix string
		source string
		want   bool
	}{
		{"192.168.0.64/26", "local", true},  // own block
		{"10.96.0.0/24", "local", true},     // service range
		{"192.168.0.0/26", "Node_x", true},  // reflected client block
		{"192.168.0.70/32", "local", false}, // inside own block: aggregated
		{"0.0.0.0/0", "Node_x", false},      // not ours
	} {
		var a wire.Attrs
		got := exp(rib.PolicyInput{Family: wire.IPv4Unicast, Prefix: netip.MustParsePrefix(c.prefix), Source: &rib.PeerConfig{Name: c.source}}, &a)
		if got != c.want {
			t.Errorf("export %s from %s = %v, want %v", c.prefix, c.source, got, c.want)
		}
		if !imp(rib.PolicyInput{Family: wire.IPv4Unicast, Prefix: netip.MustParsePrefix(c.prefix)}, &a) {
			t.Errorf("import %s rejected; the seed imports everything", c.prefix)
		}
	}
}
