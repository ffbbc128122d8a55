package config

import (
	"strings"
	"testing"
)

// TestValidate checks one message per validation rule; each input is one
// resource, and want is the complete error text after the resource name,
// in position (column) order.
func TestValidate(t *testing.T) {
	tests := []struct {
		name, kind, group, spec string
		want                    []string
	}{
		{"mesh password with the mesh off", "BGPConfiguration", "projectcalico.org/v3",
			"{nodeToNodeMeshEnabled: false, nodeMeshMaxRestartTime: 60s}",
			[]string{`spec.nodeMeshMaxRestartTime: not allowed when nodeToNodeMeshEnabled is false`}},
		{"community and prefix advertisement", "BGPConfiguration", "projectcalico.org/v3",
			"{communities: [{name: a, value: '70000:1'}], prefixAdvertisements: [{cidr: 10.0.0.0/8, communities: [b]}]}",
			[]string{`spec.communities[0].value: "70000:1": community part "70000" must be a 16-bit unsigned integer`,
				`spec.prefixAdvertisements[0].communities[0]: "b": neither a name from spec.communities nor a community value (aa:nn or aa:nn:mm)`}},
		{"enums and port", "BGPConfiguration", "projectcalico.org/v3",
			"{logSeverityScreen: info, listenPort: 0, bindMode: Any}",
			[]string{`spec.logSeverityScreen: "info": must be one of Trace, Debug, Info, Warning, Error, Fatal`,
				`spec.listenPort: "0": must be 1-65535`,
				`spec.bindMode: "Any": must be one of None, NodeIP`}},
		{"AS 0", "BGPConfiguration", "projectcalico.org/v3", "{asNumber: 0}",
			[]string{`spec.asNumber: "0": AS 0 is reserved (RFC 7607) and cannot be used`}},
		{"no remote", "BGPPeer", "projectcalico.org/v3", "{node: a}",
			[]string{`spec.peerIP: one of peerIP, peerSelector or localWorkloadSelector is required`}},
		{"peerIP and peerSelector", "BGPPeer", "projectcalico.org/v3", "{peerIP: 10.0.0.1, asNumber: 1, peerSelector: all()}",
			[]string{`spec.asNumber: "1": must be empty with peerSelector: the remote AS is the selected node's AS`,
				`spec.peerSelector: "all()": peerIP and peerSelector are both set; use one`}},
		{"next hop both ways", "BGPPeer", "projectcalico.org/v3", "{peerIP: 10.0.0.1, asNumber: 1, keepOriginalNextHop: true, nextHopMode: Self}",
			[]string{`spec.keepOriginalNextHop: "true": cannot be combined with nextHopMode; use nextHopMode: Keep`}},
		{"timers", "BGPPeer", "kbgp.io/v1", "{peerIP: 10.0.0.1, asNumber: 1, holdTime: 2s, maxRestartTime: 2h}",
			[]string{`spec.holdTime: "2s": must be 0 or between 3s and 65535s (RFC 4271 §4.2)`,
				`spec.maxRestartTime: "2h0m0s": must be between 0s and 1h8m15s (RFC 4724 §3: the restart time is a 12-bit number of seconds)`}},
		{"keepalive above hold/3", "BGPPeer", "kbgp.io/v1", "{peerIP: 10.0.0.1, asNumber: 1, holdTime: 9s, keepaliveTime: 4s}",
			[]string{`spec.keepaliveTime: "4s": must be at most a third of holdTime 9s (RFC 4271 §10)`}},
		{"reachableBy family", "BGPPeer", "projectcalico.org/v3", "{peerIP: 10.0.0.1, asNumber: 1, reachableBy: 'fd00::1'}",
			[]string{`spec.reachableBy: "fd00::1": must be the same address family as peerIP 10.0.0.1`}},
		{"password without a key", "BGPPeer", "projectcalico.org/v3", "{peerIP: 10.0.0.1, asNumber: 1, password: {secretKeyRef: {name: s}}}",
			[]string{`spec.password.secretKeyRef.key: required`}},
		{"filter rules", "BGPFilter", "projectcalico.org/v3",
			"{exportV4: [{action: Drop}, {action: Accept, cidr: 'fd00::/8', matchOperator: In}, {action: Reject, cidr: 10.0.0.0/8}, {action: Reject, operations: [{setPriority: {value: 5}}]}]}",
			[]string{`spec.exportV4[0].action: "Drop": must be one of Accept, Reject`,
				`spec.exportV4[1].cidr: "fd00::/8": must be an IPv4 address`,
				`spec.exportV4[2].matchOperator: cidr and matchOperator must be set together`,
				`spec.exportV4[3].operations: only allowed with action Accept`}},
		{"prefix length bounds", "BGPFilter", "projectcalico.org/v3",
			"{importV6: [{action: Accept, cidr: 'fd00::/8', matchOperator: In, prefixLength: {min: 64, max: 129}}]}",
			[]string{`spec.importV6[0].prefixLength.max: "129": must be 0-128`}},
		{"node families and cluster ID", "Node", "projectcalico.org/v3",
			"{bgp: {ipv4Address: 'fd00::1/64', routeReflectorClusterID: 'fd00::1'}}",
			[]string{`spec.bgp.ipv4Address: "fd00::1/64": must be an IPv4 address`,
				`spec.bgp.routeReflectorClusterID: "fd00::1": must be an IPv4 address`}},
		{"pool", "IPPool", "projectcalico.org/v3",
			"{cidr: 10.0.0.0/24, blockSize: 20, ipipMode: Always, vxlanMode: Always, nodeSelector: 'a ==', allowedUses: [LoadBalancer], disableBGPExport: true}",
			[]string{`spec.blockSize: "20": must not be shorter than the pool's prefix length /24`,
				`spec.vxlanMode: "Always": ipipMode and vxlanMode cannot both be enabled`,
				`spec.nodeSelector: "a ==": expected a quoted string after ==, found end of selector at column 5`,
				`spec.disableBGPExport: "true": not allowed on a LoadBalancer pool`}},
		{"pool host bits", "IPPool", "projectcalico.org/v3", "{cidr: 'fd00::1/64'}",
			[]string{`spec.cidr: "fd00::1/64": host bits set, did you mean fd00::/64?`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := "apiVersion: " + tc.group + "\nkind: " + tc.kind + "\nmetadata: {name: x}\nspec: " + tc.spec + "\n"
			_, err := Decode("", []byte(in))
			if err == nil {
				t.Fatalf("no error, want %v", tc.want)
			}
			var got []string
			for _, fe := range FieldErrors(err) {
				fe.Line, fe.Column = 0, 0
				got = append(got, strings.TrimPrefix(fe.Error(), tc.kind+"/x: "))
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("errors:\n got: %s\nwant: %s", strings.Join(got, "\n      "), strings.Join(tc.want, "\n      "))
			}
		})
	}
}
