package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/kbgp/kbgp/api"
)

func TestDecodeSeed(t *testing.T) {
	for _, f := range []string{"peer-1.yaml", "peer-2.yaml", "bgp-config.yaml"} {
		t.Run(f, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", "seed", f))
			if err != nil {
				t.Fatal(err)
			}
			rs, err := Decode(f, data)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if len(rs) != 1 || rs[0].APIVersion() != api.CalicoV3 {
				t.Fatalf("got %d resources %v", len(rs), rs)
			}
		})
	}
	data, _ := os.ReadFile(filepath.Join("testdata", "seed", "peer-1.yaml"))
	rs, err := Decode("peer-1.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	p := rs[0].(*api.BGPPeer)
	want := api.BGPPeerSpec{PeerIP: api.PeerAddress{Addr: mustAddr("172.16.30.254")}, ASNumber: 64513, NodeSelector: "rack == 'rack-1'"}
	if !reflect.DeepEqual(p.Spec, want) || p.Name() != "rack1-tor" {
		t.Errorf("peer-1: got %+v, want %+v", p.Spec, want)
	}
}

func TestDecodeErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string // each error line, in order
	}{
		{
			name: "selector syntax error carries the column",
			in: `apiVersion: projectcalico.org/v3
kind: BGPPeer
metadata:
  name: rack1-tor
spec:
  peerIP: 172.16.30.254
  asNumber: 64513
  nodeSelector: rack = 'rack-1'
`,
			want: []string{`peer-1.yaml:8:17: BGPPeer/rack1-tor: spec.nodeSelector: "rack = 'rack-1'": expected == at column 6`},
		},
		{
			name: "node and nodeSelector, asNumber with peerSelector",
			in: `apiVersion: projectcalico.org/v3
kind: BGPPeer
metadata: {name: x}
spec:
  node: ubuntu-1
  nodeSelector: all()
  peerSelector: route-reflector == 'true'
  asNumber: 64513
`,
			want: []string{
				`peer-1.yaml:6:17: BGPPeer/x: spec.nodeSelector: "all()": node and nodeSelector are both set; use one (node "ubuntu-1" names a single node)`,
				`peer-1.yaml:8:13: BGPPeer/x: spec.asNumber: "64513": must be empty with peerSelector: the remote AS is the selected node's AS`,
			},
		},
		{
			name: "host bits set",
			in: `apiVersion: projectcalico.org/v3
kind: BGPConfiguration
metadata:
  name: default
spec:
  serviceClusterIPs:
  - cidr: 10.96.0.1/24
`,
			want: []string{`peer-1.yaml:7:11: BGPConfiguration/default: spec.serviceClusterIPs[0].cidr: "10.96.0.1/24": host bits set, did you mean 10.96.0.0/24?`},
		},
		{
			name: "out of range AS, bad IP, unknown field, all reported",
			in: `apiVersion: projectcalico.org/v3
kind: BGPPeer
metadata:
  name: tor
spec:
  peerIP: 172.16.30.300
  asNumber: 4294967296
  peerip: 1.2.3.4
`,
			want: []string{
				`peer-1.yaml:6:11: BGPPeer/tor: spec.peerIP: "172.16.30.300": want IP, IPv4:port or [IPv6]:port`,
				`peer-1.yaml:7:13: BGPPeer/tor: spec.asNumber: "4294967296": want an integer 0-4294967295 or asdot "a.b"`,
				`peer-1.yaml:8:3: BGPPeer/tor: spec.peerip: unknown field; did you mean "peerIP"?`,
			},
		},
		{
			name: "extension field in the Calico group",
			in: `apiVersion: projectcalico.org/v3
kind: BGPPeer
metadata: {name: tor}
spec: {peerIP: 10.0.0.1, asNumber: 65000, holdTime: 9s}
`,
			want: []string{`peer-1.yaml:4:43: BGPPeer/tor: spec.holdTime: kbgp extension field, not part of projectcalico.org/v3; use apiVersion: kbgp.io/v1 to set it`},
		},
		{
			name: "document numbers in multi-document input",
			in: `apiVersion: projectcalico.org/v3
kind: BGPPeer
metadata: {name: ok}
spec: {peerIP: 10.0.0.1, asNumber: 65000}
---
apiVersion: projectcalico.org/v3
kind: BGPPeer
metadata: {name: bad}
spec: {peerIP: 10.0.0.1}
`,
			want: []string{`peer-1.yaml:9:7: document 2: BGPPeer/bad: spec.asNumber: required with peerIP`},
		},
		{
			name: "unquoted bang is a YAML tag",
			in: `apiVersion: projectcalico.org/v3
kind: BGPPeer
metadata: {name: x}
spec:
  nodeSelector: !has(route-reflector)
  peerSelector: has(route-reflector)
`,
			want: []string{`peer-1.yaml:5:17: BGPPeer/x: spec.nodeSelector: "!has(route-reflector)": an unquoted value starting with '!' is a YAML tag; quote the whole value, e.g. "!has(label)"`},
		},
		{
			name: "unknown kind and apiVersion",
			in: `apiVersion: projectcalico.org/v2
kind: BGPPeers
metadata: {name: x}
`,
			want: []string{`peer-1.yaml:2:7: kind: "BGPPeers": unknown kind; want one of BGPConfiguration, BGPPeer, BGPFilter, Node, IPPool`},
		},
		{
			name: "string field given a number",
			in: `apiVersion: projectcalico.org/v3
kind: Node
metadata:
  name: n1
  labels: {rack: 1}
`,
			want: []string{`peer-1.yaml:5:18: Node/n1: metadata.labels.rack: expected a string, got integer 1; quote it`},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rs, err := Decode("peer-1.yaml", []byte(tc.in))
			if err == nil {
				t.Fatalf("Decode succeeded with %d resources, want errors", len(rs))
			}
			got := strings.Split(err.Error(), "\n")
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("errors:\n got: %s\nwant: %s", strings.Join(got, "\n      "), strings.Join(tc.want, "\n      "))
			}
		})
	}
}

func TestDecodeAliasBomb(t *testing.T) {
	many := func(alias string) string {
		return "[" + strings.Repeat("*"+alias+", ", 200) + "]"
	}
	in := `apiVersion: kbgp.io/v1
kind: BGPFilter
metadata: {name: bomb}
spec:
  importV4: [{action: Reject, asPathPrefix: [&as 1, 2, 3]}]
  importV6: [{action: Reject, operations: [&op {prependASPath: {prefix: ` + many("as") + `}}]}]
  exportV4: [&rule {action: Accept, operations: ` + many("op") + `}]
  exportV6: ` + many("rule") + "\n"
	_, err := Decode("bomb.yaml", []byte(in))
	if err == nil || !strings.Contains(err.Error(), "after expanding YAML aliases") {
		t.Fatalf("alias bomb: got %v", err)
	}
}

func TestDecodeSyntaxError(t *testing.T) {
	_, err := Decode("bad.yaml", []byte("apiVersion: projectcalico.org/v3\nkind: BGPPeer\nmetadata:\n  name: x\n spec: [\n"))
	fe := FieldErrors(err)
	if len(fe) != 1 || fe[0].Line == 0 || !strings.HasPrefix(err.Error(), "bad.yaml:") || !strings.Contains(err.Error(), "invalid YAML/JSON") {
		t.Fatalf("syntax error: %v", err)
	}
}

func TestDecodeListAndEmpty(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		n        int
	}{
		{"empty", "", 0},
		{"only separators and comments", "---\n# nothing\n---\n", 0},
		{"typed list", "apiVersion: projectcalico.org/v3\nkind: BGPPeerList\nitems:\n- {apiVersion: projectcalico.org/v3, kind: BGPPeer, metadata: {name: a}, spec: {peerIP: 10.0.0.1, asNumber: 1}}\n", 1},
		{"json list", `{"apiVersion":"v1","kind":"List","items":[]}`, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rs, err := Decode("x", []byte(tc.in))
			if err != nil || len(rs) != tc.n {
				t.Fatalf("got %d resources, %v; want %d", len(rs), err, tc.n)
			}
		})
	}
	_, err := Decode("x", []byte("apiVersion: v1\nkind: IPPoolList\nitems:\n- {apiVersion: projectcalico.org/v3, kind: Node, metadata: {name: a}}\n"))
	if err == nil || !strings.Contains(err.Error(), "IPPoolList may only hold IPPool resources") {
		t.Errorf("mixed typed list: %v", err)
	}
}

func TestDecodeDuplicate(t *testing.T) {
	in := "apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata: {name: p}\nspec: {cidr: 10.0.0.0/8}\n"
	_, err := Decode("pools.yaml", []byte(in+"---\n"+in))
	if err == nil || err.Error() != "pools.yaml: IPPool/p: given more than once in this input; keep one" {
		t.Errorf("duplicate: %v", err)
	}
}
