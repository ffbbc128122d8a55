package config

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/kbgp/kbgp/api"
)

// TestNodeAnnotations covers the Calico Kubernetes-datastore annotations:
// the address ones take a CIDR or a bare IP (libcalico-go parses them with
// ParseCIDROrIP), and a malformed one is an input error naming it.
func TestNodeAnnotations(t *testing.T) {
	tests := []struct {
		name    string
		ann     map[string]string
		wantV4  netip.Prefix
		wantV6  netip.Prefix
		wantASN api.ASNumber
		wantCID netip.Addr
		wantErr string // the annotation the compile error must name
	}{
		{
			name:   "cidr",
			ann:    map[string]string{AnnotationIPv4Address: "10.0.0.1/24", AnnotationIPv6Address: "fd00::1/64"},
			wantV4: netip.MustParsePrefix("10.0.0.1/24"), wantV6: netip.MustParsePrefix("fd00::1/64"), wantASN: DefaultASNumber,
		},
		{
			name:   "bare IPs",
			ann:    map[string]string{AnnotationIPv4Address: "10.0.0.1", AnnotationIPv6Address: "fd00::1"},
			wantV4: netip.MustParsePrefix("10.0.0.1/32"), wantV6: netip.MustParsePrefix("fd00::1/128"), wantASN: DefaultASNumber,
		},
		{
			name:    "AS and cluster ID",
			ann:     map[string]string{AnnotationIPv4Address: "10.0.0.1/24", AnnotationASNumber: "65010", AnnotationRouteReflectorClusterID: "244.0.0.1"},
			wantV4:  netip.MustParsePrefix("10.0.0.1/24"),
			wantASN: 65010, wantCID: netip.MustParseAddr("244.0.0.1"),
		},
		{
			name:    "malformed IPv4 address",
			ann:     map[string]string{AnnotationIPv4Address: "10.0.0.300/24"},
			wantErr: AnnotationIPv4Address,
		},
		{
			name:    "IPv6 in the IPv4 annotation",
			ann:     map[string]string{AnnotationIPv4Address: "fd00::1/64"},
			wantErr: AnnotationIPv4Address,
		},
		{
			name:    "IPv6 address with a zone",
			ann:     map[string]string{AnnotationIPv4Address: "10.0.0.1/24", AnnotationIPv6Address: "fe80::1%eth0"},
			wantErr: AnnotationIPv6Address,
		},
		{
			name:    "malformed AS number",
			ann:     map[string]string{AnnotationIPv4Address: "10.0.0.1/24", AnnotationASNumber: "65x"},
			wantV4:  netip.MustParsePrefix("10.0.0.1/24"),
			wantErr: AnnotationASNumber,
		},
		{
			name:    "malformed cluster ID",
			ann:     map[string]string{AnnotationIPv4Address: "10.0.0.1/24", AnnotationRouteReflectorClusterID: "244.0.0"},
			wantV4:  netip.MustParsePrefix("10.0.0.1/24"),
			wantErr: AnnotationRouteReflectorClusterID,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n := &api.Node{}
			n.Metadata.Name = "n1"
			n.Metadata.Annotations = tc.ann
			s, err := Compile(NewInput([]api.Resource{n}, nil), "n1")
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), "metadata.annotations."+tc.wantErr) {
					t.Fatalf("error %v, want one naming metadata.annotations.%s", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s.IPv4Address != tc.wantV4 || s.IPv6Address != tc.wantV6 || s.ASNumber != tc.wantASN || s.RouteReflectorClusterID != tc.wantCID {
				t.Fatalf("got v4 %v v6 %v AS %v cluster %v; want %v %v %v %v", s.IPv4Address, s.IPv6Address, s.ASNumber, s.RouteReflectorClusterID,
					tc.wantV4, tc.wantV6, tc.wantASN, tc.wantCID)
			}
		})
	}
}
