package fib

import (
	"net/netip"
	"testing"
)

func TestRouteEventMatters(t *testing.T) {
	route := Route{Prefix: netip.MustParsePrefix("10.0.1.0/24"), Type: Blackhole, Table: 254}
	newOurs := appendRouteMsg(nil, Op{Kind: Replace, Route: route, Protocol: 77}, 1)
	newOther := appendRouteMsg(nil, Op{Kind: Replace, Route: route, Protocol: 4}, 2)
	del := appendRouteMsg(nil, Op{Kind: Delete, Route: route, Protocol: 4}, 3)
	connected := appendRouteMsg(nil, Op{Kind: Replace, Route: route, Protocol: 2}, 4) // RTPROT_KERNEL
	// RTM_NEWLINK (16): a 16-byte netlink header and a 16-byte ifinfomsg.
	newLink := []byte{32, 0, 0, 0, 16, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
		0, 0, 1, 0, 2, 0, 0, 0, 0x41, 0x10, 0, 0, 0, 0, 0, 0}
	tests := []struct {
		name string
		in   []byte
		want bool
	}{
		{"our new route", newOurs, true},
		{"another protocol's new route", newOther, false},
		{"any deletion", del, true},
		{"a connected route appears (link or address back)", connected, true},
		{"a link changes", newLink, true},
		{"ours after others", append(append(newOther, newOther...), newOurs...), true},
		{"empty", nil, false},
		{"malformed length", []byte{200, 0, 0, 0, 24, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 24, 0, 0, 254, 4, 0, 6, 0, 0, 0, 0}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := routeEventMatters(tt.in, 77); got != tt.want {
				t.Errorf("routeEventMatters = %v, want %v", got, tt.want)
			}
		})
	}
}

func FuzzRouteEventMatters(f *testing.F) {
	route := Route{Prefix: netip.MustParsePrefix("10.0.1.0/24"), Type: Blackhole, Table: 254}
	f.Add(appendRouteMsg(nil, Op{Kind: Replace, Route: route, Protocol: 77}, 1))
	f.Add(appendRouteMsg(nil, Op{Kind: Delete, Route: route, Protocol: 77}, 1))
	f.Fuzz(func(t *testing.T, b []byte) {
		routeEventMatters(b, 77) // must not panic or loop
	})
}
