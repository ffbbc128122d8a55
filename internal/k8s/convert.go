package k8s

import (
	"encoding/json"
	"fmt"
	"maps"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/kbgp/kbgp/api"
	"github.com/kbgp/kbgp/internal/config"
)

// fromObject turns a stored custom resource into a validated kbgp
// resource. Only the fields kbgp knows are carried over from metadata;
// the spec goes through config.Decode, the strict decoder and validator
// the file store uses, so a bad object is reported with its field path.
func (m Mode) fromObject(u *unstructured.Unstructured) (api.Resource, error) {
	doc := map[string]any{
		"apiVersion": m.kbgpAPIVersion(),
		"kind":       u.GetKind(),
		"metadata":   metaDoc(u),
	}
	if spec, ok := u.Object["spec"]; ok && spec != nil {
		doc["spec"] = spec
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", objectName(u), err)
	}
	rs, err := config.Decode(objectName(u), b)
	if err != nil {
		return nil, err
	}
	if len(rs) != 1 {
		return nil, fmt.Errorf("%s: decoded %d resources, want 1", objectName(u), len(rs))
	}
	return rs[0], nil
}

// objectName names a stored object in error messages the way kubectl
// does: bgppeers.kbgp.io/rack1-tor.
func objectName(u *unstructured.Unstructured) string {
	gv := u.GroupVersionKind()
	return fmt.Sprintf("%s.%s/%s", pluralOf(u.GetKind()), gv.Group, u.GetName())
}

func pluralOf(kind string) string {
	for _, k := range crdKinds {
		if k.kind == kind {
			return k.plural
		}
	}
	switch kind {
	case api.KindNode:
		return "nodes"
	case KindNodeBGPStatus:
		return nodeStatusGVR.Resource
	}
	return kind
}

// metaDoc is the part of an object's metadata that api.ObjectMeta holds.
func metaDoc(u *unstructured.Unstructured) map[string]any {
	md := map[string]any{"name": u.GetName()}
	if l := u.GetLabels(); len(l) > 0 {
		md["labels"] = l
	}
	if a := u.GetAnnotations(); len(a) > 0 {
		a = maps.Clone(a)
		delete(a, lastAppliedAnnotation)
		if len(a) > 0 {
			md["annotations"] = a
		}
	}
	if v := u.GetResourceVersion(); v != "" {
		md["resourceVersion"] = v
	}
	if v := string(u.GetUID()); v != "" {
		md["uid"] = v
	}
	if t := u.GetCreationTimestamp(); !t.IsZero() {
		md["creationTimestamp"] = t.UTC().Format(time.RFC3339)
	}
	return md
}

// lastAppliedAnnotation is kubectl apply's bookkeeping; it repeats the
// whole object and is no business of the compiler.
const lastAppliedAnnotation = "kubectl.kubernetes.io/last-applied-configuration"

// toObject turns a kbgp resource into the custom resource stored for it
// in mode m. resourceVersion, uid and creationTimestamp are left to the
// API server (Apply sets resourceVersion for an update).
func (m Mode) toObject(r api.Resource) (*unstructured.Unstructured, error) {
	av := r.APIVersion()
	if m == ModeCalico {
		// Calico's CRDs hold v3 specs: refuse kbgp extensions up front,
		// with the field names (config.Encode says which).
		r = cloneWithVersion(r, api.CalicoV3)
	} else if av == "" || av == api.CalicoV3 {
		r = cloneWithVersion(r, api.KBGPV1)
	}
	b, err := config.Encode(r, "json")
	if err != nil {
		return nil, err
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("%s/%s: %w", r.Kind(), r.Name(), err)
	}
	doc["apiVersion"] = m.storedAPIVersion()
	md, _ := doc["metadata"].(map[string]any)
	out := map[string]any{}
	for _, k := range []string{"name", "labels", "annotations"} {
		if v, ok := md[k]; ok {
			out[k] = v
		}
	}
	doc["metadata"] = out
	return &unstructured.Unstructured{Object: doc}, nil
}

// cloneWithVersion returns a copy of r (through the canonical encoding)
// with its apiVersion set to v, leaving r untouched.
func cloneWithVersion(r api.Resource, v string) api.Resource {
	c := api.New(r.Kind())
	if c == nil {
		return r
	}
	b, err := json.Marshal(r)
	if err != nil || json.Unmarshal(b, c) != nil {
		return r
	}
	c.SetAPIVersion(v)
	return c
}
