package config

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/kbgp/kbgp/api"
)

// TestRoundTrip decodes every testdata/decode file, encodes each resource
// as YAML and JSON, decodes that again and requires the same resources.
func TestRoundTrip(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("testdata", "decode", "*"))
	seed, _ := filepath.Glob(filepath.Join("testdata", "seed", "*.yaml"))
	files = append(files, seed...)
	if len(files) < 4 {
		t.Fatalf("only %d test files found", len(files))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			rs, err := Decode(f, data)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			for _, format := range []string{"yaml", "json"} {
				out, err := EncodeAll(rs, format)
				if err != nil {
					t.Fatalf("EncodeAll %s: %v", format, err)
				}
				again, err := Decode("encoded."+format, out)
				if err != nil {
					t.Fatalf("Decode of encoded %s: %v\n%s", format, err, out)
				}
				if !reflect.DeepEqual(rs, again) {
					t.Errorf("%s round trip changed the resources:\n%s", format, out)
				}
			}
		})
	}
}

func TestDecodeAllKinds(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "decode", "all-kinds.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	rs, err := Decode("all-kinds.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, r := range rs {
		kinds = append(kinds, r.Kind())
	}
	if !reflect.DeepEqual(kinds, api.Kinds) {
		t.Fatalf("kinds %v, want %v", kinds, api.Kinds)
	}
	cfg := rs[0].(*api.BGPConfiguration)
	if *cfg.Spec.ASNumber != 1<<16+10 {
		t.Errorf("asdot 1.10 decoded as %d, want %d", *cfg.Spec.ASNumber, 1<<16+10)
	}
	peer := rs[1].(*api.BGPPeer)
	if peer.Spec.PeerIP.Port != 1179 || peer.Spec.PeerIP.Addr != mustAddr("fd00::254") {
		t.Errorf("peerIP %v", peer.Spec.PeerIP)
	}
	if peer.Spec.HoldTime.Seconds() != 9 || *peer.Spec.AddPath.Send || !*peer.Spec.AddPath.Receive {
		t.Errorf("extensions not decoded: %+v", peer.Spec)
	}
	node := rs[3].(*api.Node)
	if node.Metadata.CreationTimestamp.IsZero() || node.Spec.AffineBlocks[1].State != "pending" {
		t.Errorf("node: %+v", node)
	}
}

func TestEncodeCanonical(t *testing.T) {
	data, _ := os.ReadFile(filepath.Join("testdata", "seed", "peer-2.yaml"))
	rs, err := Decode("peer-2.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Encode(rs[0], "yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := `apiVersion: projectcalico.org/v3
kind: BGPPeer
metadata:
  name: peer-with-route-reflectors
spec:
  nodeSelector: all()
  peerSelector: route-reflector == 'true'
`
	if string(got) != want {
		t.Errorf("Encode:\n%s\nwant:\n%s", got, want)
	}
	// An extension field cannot be written in the Calico group.
	p := rs[0].(*api.BGPPeer)
	p.Spec.GracefulRestart = "Disabled"
	if _, err := Encode(p, "yaml"); err == nil {
		t.Error("Encode of a projectcalico.org/v3 peer with gracefulRestart set succeeded")
	}
	p.SetAPIVersion("")
	out, err := Encode(p, "json")
	if err != nil {
		t.Fatal(err)
	}
	if rs, err := Decode("x.json", out); err != nil || rs[0].APIVersion() != api.KBGPV1 {
		t.Errorf("empty apiVersion with an extension should encode as %s: %v\n%s", api.KBGPV1, err, out)
	}
	if _, err := Encode(p, "toml"); err == nil {
		t.Error("unknown format accepted")
	}
}
