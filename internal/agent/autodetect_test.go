package agent

import (
	"context"
	"net/netip"
	"strings"
	"testing"

	"github.com/kbgp/kbgp/api"
	"github.com/kbgp/kbgp/internal/store"
)

// host is a node with Docker, a veth, Calico's tunnel and two NICs.
var host = []Interface{
	{Name: "lo", Addrs: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/8"), netip.MustParsePrefix("::1/128")}},
	{Name: "docker0", Addrs: []netip.Prefix{netip.MustParsePrefix("172.17.0.1/16")}},
	{Name: "veth12ab", Addrs: []netip.Prefix{netip.MustParsePrefix("169.254.1.1/32")}},
	{Name: "tunl0", Addrs: []netip.Prefix{netip.MustParsePrefix("192.168.0.1/32")}},
	{Name: "eth0", Addrs: []netip.Prefix{netip.MustParsePrefix("fe80::1/64"), netip.MustParsePrefix("172.16.30.101/24"), netip.MustParsePrefix("fd00:30::101/64")}},
	{Name: "eth1", Addrs: []netip.Prefix{netip.MustParsePrefix("10.0.81.5/24")}},
}

func TestAutodetect(t *testing.T) {
	tests := []struct {
		name    string
		method  string
		family  int
		ifaces  []Interface
		want    string
		wantErr string
	}{
		{name: "first-found skips docker, veth, tunnels and lo", method: "first-found", family: 4, ifaces: host, want: "172.16.30.101/24"},
		{name: "empty method is first-found", method: "", family: 4, ifaces: host, want: "172.16.30.101/24"},
		{name: "first-found IPv6 skips link-local", method: "first-found", family: 6, ifaces: host, want: "fd00:30::101/64"},
		{name: "interface regex", method: "interface=eth1", family: 4, ifaces: host, want: "10.0.81.5/24"},
		{name: "interface regex list", method: "interface=ens.*,eth1", family: 4, ifaces: host, want: "10.0.81.5/24"},
		{name: "interface regex may pick excluded names", method: "interface=docker.*", family: 4, ifaces: host, want: "172.17.0.1/16"},
		{name: "skip-interface", method: "skip-interface=eth0", family: 4, ifaces: host, want: "10.0.81.5/24"},
		{name: "cidr", method: "cidr=10.0.0.0/8", family: 4, ifaces: host, want: "10.0.81.5/24"},
		{name: "cidr list", method: "cidr=192.0.2.0/24, 172.16.0.0/12", family: 4, ifaces: host, want: "172.17.0.1/16"},
		{name: "no match", method: "interface=ens.*", family: 4, ifaces: host, wantErr: "no usable IPv4 address"},
		{name: "bad regex", method: "interface=(", family: 4, ifaces: host, wantErr: "bad regular expression"},
		{name: "bad cidr", method: "cidr=10.0.0.0", family: 4, ifaces: host, wantErr: "is not a CIDR"},
		{name: "unknown method", method: "kubernetes-internal-ip", family: 4, ifaces: host, wantErr: "unknown autodetection method"},
		{name: "no interfaces", method: "first-found", family: 4, ifaces: []Interface{}, wantErr: "none found"},
		{name: "can-reach without target", method: "can-reach=", family: 4, ifaces: host, wantErr: "no destination"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Autodetect(context.Background(), tc.method, tc.family, tc.ifaces)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Autodetect(%q) error = %v, want %q", tc.method, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.String() != tc.want {
				t.Errorf("Autodetect(%q) = %s, want %s", tc.method, got, tc.want)
			}
		})
	}
}

// TestAutodetectCanReach asks the kernel for the source address toward a
// loopback address: a connected UDP socket sends nothing.
func TestAutodetectCanReach(t *testing.T) {
	ifaces := []Interface{{Name: "lo", Addrs: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/8")}}}
	got, err := Autodetect(context.Background(), "can-reach=127.0.0.1", 4, ifaces)
	if err != nil {
		t.Fatal(err)
	}
	if got.String() != "127.0.0.1/8" {
		t.Errorf("can-reach=127.0.0.1 = %s, want 127.0.0.1/8", got)
	}
}

func TestRegisterNode(t *testing.T) {
	eth := func(a string) []Interface {
		return []Interface{{Name: "eth0", Addrs: []netip.Prefix{netip.MustParsePrefix(a)}}}
	}
	node := func(addr, ann string) *api.Node {
		n := &api.Node{Metadata: api.ObjectMeta{Name: "n1", Labels: map[string]string{"rack": "r1"}}}
		if addr != "" {
			n.Spec.BGP = &api.NodeBGPSpec{IPv4Address: netip.MustParsePrefix(addr)}
		}
		if ann != "" {
			n.Metadata.Annotations = map[string]string{AnnotationAutodetectedIPv4: ann}
		}
		return n
	}
	tests := []struct {
		name     string
		existing *api.Node
		v4       Address
		ifaces   []Interface
		want     string // the Node's IPv4 address afterwards
		result   string // prefix of registerNode's report
	}{
		{name: "creates the node", v4: Address{}, ifaces: eth("172.16.30.101/24"), want: "172.16.30.101/24", result: "created"},
		{name: "fills an empty address", existing: node("", ""), ifaces: eth("172.16.30.101/24"), want: "172.16.30.101/24", result: "updated"},
		{name: "keeps an operator's address", existing: node("10.9.9.9/24", ""), ifaces: eth("172.16.30.101/24"), want: "10.9.9.9/24", result: "unchanged"},
		{name: "moves an address it detected before", existing: node("172.16.30.50/24", "172.16.30.50/24"), ifaces: eth("172.16.30.101/24"), want: "172.16.30.101/24", result: "updated"},
		{name: "annotation differs: operator edited it", existing: node("10.9.9.9/24", "172.16.30.50/24"), ifaces: eth("172.16.30.101/24"), want: "10.9.9.9/24", result: "unchanged"},
		{name: "same address", existing: node("172.16.30.101/24", "172.16.30.101/24"), ifaces: eth("172.16.30.101/24"), want: "172.16.30.101/24", result: "unchanged"},
		{name: "explicit CIDR", existing: node("", ""), v4: Address{Mode: "172.16.30.111/24"}, ifaces: eth("172.16.30.101/24"), want: "172.16.30.111/24", result: "updated"},
		{name: "none leaves it alone", existing: node("", ""), v4: Address{Mode: "none"}, ifaces: eth("172.16.30.101/24"), want: "", result: "unchanged"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ds, err := store.Open(t.TempDir(), nil)
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			if tc.existing != nil {
				if _, err := ds.Apply(ctx, tc.existing); err != nil {
					t.Fatal(err)
				}
			}
			res, err := registerNode(ctx, ds, "n1", tc.v4, Address{Mode: "none"}, tc.ifaces)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(res, tc.result) {
				t.Errorf("registerNode = %q, want %s", res, tc.result)
			}
			r, err := ds.Get(ctx, api.KindNode, "n1")
			if err != nil {
				t.Fatal(err)
			}
			n := r.(*api.Node)
			got := ""
			if n.Spec.BGP != nil && n.Spec.BGP.IPv4Address.IsValid() {
				got = n.Spec.BGP.IPv4Address.String()
			}
			if got != tc.want {
				t.Errorf("Node ipv4Address = %q, want %q", got, tc.want)
			}
			if tc.existing != nil && n.Metadata.Labels["rack"] != "r1" {
				t.Errorf("labels lost: %v", n.Metadata.Labels)
			}
		})
	}
	t.Run("autodetection failure is an error naming the node", func(t *testing.T) {
		ds, _ := store.Open(t.TempDir(), nil)
		_, err := registerNode(context.Background(), ds, "n1", Address{Method: "interface=nope"}, Address{Mode: "none"}, eth("172.16.30.101/24"))
		if err == nil || !strings.Contains(err.Error(), "node n1") {
			t.Errorf("error = %v, want one naming node n1", err)
		}
	})
	t.Run("bad explicit address", func(t *testing.T) {
		ds, _ := store.Open(t.TempDir(), nil)
		_, err := registerNode(context.Background(), ds, "n1", Address{Mode: "fd00::1/64"}, Address{Mode: "none"}, nil)
		if err == nil || !strings.Contains(err.Error(), "want autodetect, none or a CIDR") {
			t.Errorf("error = %v", err)
		}
	})
}
