package status

import (
	"bytes"
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func u32(v uint32) *uint32 { return &v }

// sampleRIB is ubuntu-1's RIB in the seed lab: its own block, ubuntu-3's
// block reflected by ubuntu-2 (two ADD-PATH paths, ECMP), the service
// range and a default route from the ToR.
var sampleRIB = RIB{Routes: []Route{
	{Prefix: netip.MustParsePrefix("10.96.0.0/24"), Paths: []Path{
		{PeerName: "local", Best: true, NextHop: netip.MustParseAddr("172.16.30.101"), Origin: "IGP", LocalPref: u32(100)},
	}},
	{Prefix: netip.MustParsePrefix("10.244.2.0/26"), Paths: []Path{
		{Peer: netip.MustParseAddr("172.16.30.102"), PeerName: "Node_172_16_30_102", PathID: 1, Best: true,
			NextHop: netip.MustParseAddr("172.16.30.103"), Origin: "IGP", LocalPref: u32(100), MED: u32(0),
			Communities: []string{"64513:100"}, OriginatorID: netip.MustParseAddr("172.16.30.103"),
			ClusterList: []netip.Addr{netip.MustParseAddr("172.16.30.102")}},
		{Peer: netip.MustParseAddr("172.16.30.102"), PeerName: "Node_172_16_30_102", PathID: 2, Multipath: true, Stale: true,
			NextHop: netip.MustParseAddr("172.16.30.104"), Origin: "IGP", LocalPref: u32(100), Reason: "equal cost",
			LargeCommunities: []string{"64513:1:2"}, ExtCommunities: []string{"rt:64513:1"}},
	}},
	{Prefix: netip.MustParsePrefix("10.244.1.0/26"), Paths: []Path{
		{PeerName: "local", Best: true, NextHop: netip.MustParseAddr("172.16.30.101"), Origin: "incomplete"},
	}},
	{Prefix: netip.MustParsePrefix("0.0.0.0/0"), Paths: []Path{
		{Peer: netip.MustParseAddr("172.16.30.102"), PeerName: "Node_172_16_30_102", Best: true, LLGRStale: true,
			NextHop: netip.MustParseAddr("172.16.30.254"), Origin: "IGP", ASPath: "65000"},
	}},
	{Prefix: netip.MustParsePrefix("fd00:10:244::/64"), Paths: []Path{
		{PeerName: "local", Best: true, NextHop: netip.MustParseAddr("fd00::101"), Origin: "IGP"},
	}},
}}

func prefixes(r RIB) []string {
	var out []string
	for _, rt := range r.Routes {
		out = append(out, rt.Prefix.String())
	}
	return out
}

func TestSelect(t *testing.T) {
	tests := []struct {
		name  string
		query string
		want  []string
	}{
		{"all, sorted", "", []string{"0.0.0.0/0", "10.96.0.0/24", "10.244.1.0/26", "10.244.2.0/26", "fd00:10:244::/64"}},
		{"prefix and more specifics", "10.244.0.0/16", []string{"10.244.1.0/26", "10.244.2.0/26"}},
		{"exact prefix", "10.244.2.0/26", []string{"10.244.2.0/26"}},
		{"unmasked prefix", "10.244.2.7/26", []string{"10.244.2.0/26"}},
		{"less specific is not inside", "10.244.2.0/27", nil},
		{"address longest match", "10.244.2.9", []string{"10.244.2.0/26"}},
		{"address falls to default", "192.0.2.1", []string{"0.0.0.0/0"}},
		{"v4-mapped prefix", "::ffff:10.244.2.0/122", []string{"10.244.2.0/26"}},
		{"v4-mapped address", "::ffff:10.244.2.9", []string{"10.244.2.0/26"}},
		{"v6 address", "fd00:10:244::5", []string{"fd00:10:244::/64"}},
		{"v6 address without route", "2001:db8::1", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q, err := ParseRouteQuery(tc.query)
			if err != nil {
				t.Fatal(err)
			}
			got := sampleRIB.Select(q)
			if diff := cmp.Diff(tc.want, prefixes(got)); diff != "" {
				t.Errorf("Select(%q) (-want +got):\n%s", tc.query, diff)
			}
			if got.Routes == nil {
				t.Errorf("Select returned nil Routes; want an empty list for JSON")
			}
		})
	}
}

func TestParseRouteQueryErrors(t *testing.T) {
	for _, s := range []string{"10.0.0.0/33", "banana", "10.0.0/8", "/8"} {
		if _, err := ParseRouteQuery(s); err == nil {
			t.Errorf("ParseRouteQuery(%q): no error", s)
		}
	}
}

func FuzzParseRouteQuery(f *testing.F) {
	for _, s := range []string{"", "10.244.0.0/16", "10.244.2.9", "fd00::/8", "::ffff:1.2.3.4", "1.2.3.4/40", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		q, err := ParseRouteQuery(s)
		if err != nil {
			return
		}
		again, err := ParseRouteQuery(q.String())
		if err != nil {
			t.Fatalf("ParseRouteQuery(%q) = %q, which does not parse: %v", s, q, err)
		}
		if again != q {
			t.Fatalf("round trip of %q: %+v != %+v", s, again, q)
		}
		sampleRIB.Select(q)
	})
}

func TestSnapshot(t *testing.T) {
	s := &Snapshot{State: ubuntu2, Table: sampleRIB}
	n, err := s.Node(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	n.Peers[0].State = Idle
	if ubuntu2.Peers[0].State != Established {
		t.Errorf("Snapshot.Node returned the caller's slice, not a copy")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Routes(ctx, RouteQuery{}); err == nil {
		t.Errorf("Routes on a cancelled context: no error")
	}
}

func TestWriteRoutesGolden(t *testing.T) {
	for _, tc := range []struct {
		name string
		rib  RIB
	}{
		{"routes-all", sampleRIB.Select(RouteQuery{})},
		{"routes-none", RIB{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := WriteRoutes(&b, &tc.rib); err != nil {
				t.Fatal(err)
			}
			checkGolden(t, tc.name, b.Bytes())
		})
	}
}

// detailPeer is ubuntu-1's session to the reflector with every field set.
var detailPeer = Peer{
	Name: "Node_172_16_30_102", Address: netip.MustParseAddr("172.16.30.102"), Type: PeerNode,
	LocalAddress: netip.MustParseAddr("172.16.30.101"), LocalASN: 64513, PeerASN: 64513,
	RouterID: netip.MustParseAddr("172.16.30.102"), State: Established, Since: at("09:36:15"),
	LastError: &PeerError{Class: ErrorReceived, Message: "Administrative reset", Code: 6, Subcode: 4, At: at("09:36:10")},
	Prefixes:  []Prefixes{{Family: "ipv4-unicast", Received: 3, Accepted: 2, Advertised: 1}},
	Capabilities: Capabilities{
		Families: []string{"ipv4-unicast", "ipv6-unicast"}, RouteRefresh: true, EnhancedRefresh: true, FourOctetASN: true,
		ExtendedNextHop:    []string{"ipv4-unicast"},
		AddPath:            []AddPath{{Family: "ipv4-unicast", Direction: "send/receive"}},
		GracefulRestart:    &GracefulRestart{RestartTime: Duration(120 * time.Second), Families: []string{"ipv4-unicast"}},
		LongLivedStaleTime: Duration(time.Hour),
	},
	Timers: Timers{HoldTime: Duration(240 * time.Second), KeepaliveTime: Duration(80 * time.Second), ConnectRetry: Duration(5 * time.Second),
		NegotiatedHold: Duration(90 * time.Second), NegotiatedKeepalive: Duration(30 * time.Second)},
	Counters: Counters{MessagesIn: 120, MessagesOut: 118, UpdatesIn: 4, UpdatesOut: 2, KeepalivesIn: 115, KeepalivesOut: 115,
		EstablishedCount: 2, Notifications: []NotificationCount{{Sent: false, Code: 6, Subcode: 4, Count: 1}, {Sent: true, Code: 4, Count: 1}}},
}

func TestWritePeersGolden(t *testing.T) {
	var b bytes.Buffer
	minimal := peer("fd00::102", PeerMesh, Connect, now)
	if err := WritePeers(&b, []Peer{minimal, detailPeer}, now, time.UTC); err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "peers-list", b.Bytes())

	b.Reset()
	if err := WritePeerDetail(&b, &detailPeer, time.UTC); err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "peer-detail", b.Bytes())

	b.Reset()
	if err := WritePeerDetail(&b, &minimal, time.UTC); err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "peer-detail-minimal", b.Bytes())

	b.Reset()
	if err := WritePeers(&b, nil, now, time.UTC); err != nil {
		t.Fatal(err)
	}
	if b.String() != "No peers found.\n" {
		t.Errorf("WritePeers(nil) = %q", b.String())
	}
}
