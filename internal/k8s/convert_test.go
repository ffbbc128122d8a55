package k8s

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/kbgp/kbgp/api"
	"github.com/kbgp/kbgp/internal/config"
)

// TestObjectRoundTrip: every seed resource survives the trip to a custom
// resource and back in both modes, with the apiVersion of the mode.
func TestObjectRoundTrip(t *testing.T) {
	for _, m := range []Mode{ModeKBGP, ModeCalico} {
		for _, r := range seedResources(t) {
			if r.Kind() == api.KindNode {
				continue
			}
			t.Run(m.String()+"/"+r.Kind()+"/"+r.Name(), func(t *testing.T) {
				u, err := m.toObject(r)
				if err != nil {
					t.Fatal(err)
				}
				if u.GetAPIVersion() != m.storedAPIVersion() {
					t.Errorf("apiVersion %q, want %q", u.GetAPIVersion(), m.storedAPIVersion())
				}
				back, err := m.fromObject(u)
				if err != nil {
					t.Fatal(err)
				}
				want, _ := config.Encode(cloneWithVersion(r, m.kbgpAPIVersion()), "json")
				got, _ := config.Encode(back, "json")
				if d := cmp.Diff(string(want), string(got)); d != "" {
					t.Errorf("round trip (-want +got):\n%s", d)
				}
			})
		}
	}
}

// TestObjectServerMetadata: the metadata the API server adds is carried
// over where api.ObjectMeta has a place for it and dropped otherwise.
func TestObjectServerMetadata(t *testing.T) {
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "kbgp.io/v1", "kind": "BGPPeer",
		"metadata": map[string]any{"name": "p", "resourceVersion": "42", "uid": "0b9c1d2e-aaaa-bbbb-cccc-000000000001",
			"creationTimestamp": "2026-11-24T09:36:15Z", "generation": int64(3),
			"managedFields": []any{map[string]any{"manager": "kubectl"}},
			"annotations":   map[string]any{lastAppliedAnnotation: "{}", "note": "x"}},
		"spec": map[string]any{"peerIP": "10.0.0.1", "asNumber": int64(65000)},
	}}
	r, err := ModeKBGP.fromObject(u)
	if err != nil {
		t.Fatal(err)
	}
	m := r.Meta()
	want := api.ObjectMeta{Name: "p", ResourceVersion: "42", UID: "0b9c1d2e-aaaa-bbbb-cccc-000000000001",
		CreationTimestamp: time.Date(2026, 11, 24, 9, 36, 15, 0, time.UTC), Annotations: map[string]string{"note": "x"}}
	if d := cmp.Diff(want, *m); d != "" {
		t.Errorf("metadata (-want +got):\n%s", d)
	}
}

func TestObjectErrors(t *testing.T) {
	rs, err := config.Decode("p.yaml", []byte("apiVersion: kbgp.io/v1\nkind: BGPPeer\nmetadata: {name: p}\nspec: {peerIP: 10.0.0.1, asNumber: 65000, holdTime: 9s}\n"))
	if err != nil {
		t.Fatal(err)
	}
	// Calico's CRDs cannot hold kbgp extension fields.
	if _, err := ModeCalico.toObject(rs[0]); err == nil || !strings.Contains(err.Error(), "spec.holdTime") {
		t.Errorf("calico mode toObject error = %v, want one naming spec.holdTime", err)
	}
	u, err := ModeKBGP.toObject(rs[0])
	if err != nil {
		t.Fatal(err)
	}
	u.Object["spec"].(map[string]any)["peerIP"] = "not-an-ip"
	u.SetKind("BGPPeer")
	u.SetAPIVersion("kbgp.io/v1")
	if _, err := ModeKBGP.fromObject(u); err == nil || !strings.Contains(err.Error(), "bgppeers.kbgp.io/p") || !strings.Contains(err.Error(), "peerIP") {
		t.Errorf("fromObject error = %v, want one naming bgppeers.kbgp.io/p and peerIP", err)
	}
}
