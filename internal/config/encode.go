package config

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"

	"github.com/kbgp/kbgp/api"
	"sigs.k8s.io/yaml"
)

// envelope fixes the canonical top-level field order.
type envelope struct {
	APIVersion string          `json:"apiVersion"`
	Kind       string          `json:"kind"`
	Metadata   *api.ObjectMeta `json:"metadata"`
	Spec       any             `json:"spec"`
	Status     any             `json:"status,omitempty"`
}

// Encode writes r in canonical form: apiVersion, kind, metadata, spec
// (and status for a Node that has one), with empty fields omitted. format is
// "yaml" or "json". The apiVersion is the one r was decoded with; if it is
// empty, projectcalico.org/v3 unless a kbgp extension field is set, then
// kbgp.io/v1. A projectcalico.org/v3 resource that sets an extension field
// is an error.
func Encode(r api.Resource, format string) ([]byte, error) {
	ext := extensionFields(reflect.ValueOf(r.SpecValue()).Elem(), "spec")
	av := r.APIVersion()
	switch {
	case av == "" && len(ext) > 0:
		av = api.KBGPV1
	case av == "":
		av = api.CalicoV3
	case av == api.CalicoV3 && len(ext) > 0:
		return nil, fmt.Errorf("%s/%s: %s is a kbgp extension and cannot be written as %s; use apiVersion %s",
			r.Kind(), r.Name(), strings.Join(ext, ", "), api.CalicoV3, api.KBGPV1)
	}
	env := envelope{APIVersion: av, Kind: r.Kind(), Metadata: r.Meta(), Spec: r.SpecValue()}
	if n, ok := r.(*api.Node); ok && !reflect.ValueOf(n.Status).IsZero() {
		env.Status = &n.Status
	}
	switch format {
	case "json":
		b, err := json.MarshalIndent(env, "", "  ")
		if err != nil {
			return nil, fmt.Errorf("%s/%s: encoding JSON: %w", r.Kind(), r.Name(), err)
		}
		return append(b, '\n'), nil
	case "yaml", "":
		b, err := json.Marshal(env)
		if err != nil {
			return nil, fmt.Errorf("%s/%s: encoding: %w", r.Kind(), r.Name(), err)
		}
		return yaml.JSONToYAML(b)
	}
	return nil, fmt.Errorf("unknown output format %q: want yaml or json", format)
}

// EncodeAll writes several resources as one multi-document YAML stream or
// one JSON kind: List.
func EncodeAll(rs []api.Resource, format string) ([]byte, error) {
	if format == "json" {
		items := make([]json.RawMessage, 0, len(rs))
		for _, r := range rs {
			b, err := Encode(r, "json")
			if err != nil {
				return nil, err
			}
			items = append(items, b)
		}
		b, err := json.MarshalIndent(struct {
			APIVersion string            `json:"apiVersion"`
			Kind       string            `json:"kind"`
			Items      []json.RawMessage `json:"items"`
		}{"v1", "List", items}, "", "  ")
		return append(b, '\n'), err
	}
	var out []byte
	for i, r := range rs {
		b, err := Encode(r, format)
		if err != nil {
			return nil, err
		}
		if i > 0 {
			out = append(out, "---\n"...)
		}
		out = append(out, b...)
	}
	return out, nil
}

// extensionFields lists the kbgp extension fields set (non-zero) in v.
func extensionFields(v reflect.Value, path string) []string {
	var out []string
	t := v.Type()
	for i := range t.NumField() {
		sf := t.Field(i)
		name, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
		if sf.Tag.Get("kbgp") == "ext" && !v.Field(i).IsZero() {
			out = append(out, path+"."+name)
		}
	}
	return out
}
