package k8s

import (
	"encoding"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"math"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/kbgp/kbgp/api"
)

// CRD describes one CustomResourceDefinition kbgp installs.
type CRD struct {
	Kind       string
	Plural     string
	ShortNames []string
	// Type is the Go type of the resource (its spec field, or status for
	// a status-only kind, is turned into the schema).
	Type reflect.Type
	// StatusOnly: the object has a status and no spec (NodeBGPStatus),
	// served with the status subresource.
	StatusOnly bool
	// Columns are extra `kubectl get` columns: name -> JSONPath.
	Columns []Column
}

// Column is an additionalPrinterColumn.
type Column struct {
	Name, Type, JSONPath, Description string
}

// CRDs lists the custom resources of the kbgp.io group, in file order.
var CRDs = []CRD{
	{Kind: api.KindBGPConfiguration, Plural: "bgpconfigurations", ShortNames: []string{"kbgpconfig"}, Type: reflect.TypeFor[api.BGPConfiguration](),
		Columns: []Column{{"ASN", "integer", ".spec.asNumber", "Default AS number"}, {"Mesh", "boolean", ".spec.nodeToNodeMeshEnabled", "Node-to-node mesh"}}},
	{Kind: api.KindBGPPeer, Plural: "bgppeers", ShortNames: []string{"kbp"}, Type: reflect.TypeFor[api.BGPPeer](),
		Columns: []Column{{"Peer IP", "string", ".spec.peerIP", "Peer address"}, {"ASN", "integer", ".spec.asNumber", "Peer AS number"},
			{"Node Selector", "string", ".spec.nodeSelector", "Nodes that peer"}, {"Peer Selector", "string", ".spec.peerSelector", "Nodes peered with"}}},
	{Kind: api.KindBGPFilter, Plural: "bgpfilters", ShortNames: []string{"kbf"}, Type: reflect.TypeFor[api.BGPFilter]()},
	{Kind: api.KindIPPool, Plural: "ippools", ShortNames: []string{"kipp"}, Type: reflect.TypeFor[api.IPPool](),
		Columns: []Column{{"CIDR", "string", ".spec.cidr", "Pool CIDR"}, {"Disabled", "boolean", ".spec.disabled", "Disabled for allocation"}}},
	{Kind: KindNodeBGPStatus, Plural: nodeStatusGVR.Resource, ShortNames: []string{"kbgpstatus"}, Type: reflect.TypeFor[NodeBGPStatus](), StatusOnly: true,
		Columns: []Column{{"Established", "integer", ".status.established", "Sessions Established"}, {"Peers", "integer", ".status.peerCount", "Configured peers"},
			{"Updated", "date", ".status.updated", "When the agent last wrote this status"}}},
}

// Docs maps "TypeName.FieldName" (and "TypeName") to the doc comment of
// a Go declaration; it becomes the schema's descriptions.
type Docs map[string]string

// ParseDocs reads the doc comments of the struct types in the Go package
// directories dirs.
func ParseDocs(dirs ...string) (Docs, error) {
	d := Docs{}
	for _, dir := range dirs {
		fset := token.NewFileSet()
		entries, err := os.ReadDir(dir)
		if err != nil {
			return nil, err
		}
		for _, e := range entries {
			n := e.Name()
			if !strings.HasSuffix(n, ".go") || strings.HasSuffix(n, "_test.go") {
				continue
			}
			f, err := parser.ParseFile(fset, filepath.Join(dir, n), nil, parser.ParseComments)
			if err != nil {
				return nil, err
			}
			for _, decl := range f.Decls {
				gd, ok := decl.(*ast.GenDecl)
				if !ok || gd.Tok != token.TYPE {
					continue
				}
				for _, spec := range gd.Specs {
					ts := spec.(*ast.TypeSpec)
					doc := ts.Doc
					if doc == nil {
						doc = gd.Doc
					}
					d[ts.Name.Name] = clean(doc)
					st, ok := ts.Type.(*ast.StructType)
					if !ok {
						continue
					}
					for _, fld := range st.Fields.List {
						for _, name := range fld.Names {
							d[ts.Name.Name+"."+name.Name] = clean(fld.Doc)
						}
					}
				}
			}
		}
	}
	return d, nil
}

func clean(g *ast.CommentGroup) string {
	if g == nil {
		return ""
	}
	return strings.Join(strings.Fields(g.Text()), " ")
}

// Manifest renders one CRD as YAML.
func (c CRD) Manifest(docs Docs) ([]byte, error) {
	g := schemaGen{docs: docs}
	top := map[string]any{
		"type":        "object",
		"description": docs[c.Type.Name()],
		"properties": map[string]any{
			"apiVersion": map[string]any{"type": "string", "description": "APIVersion is kbgp.io/v1."},
			"kind":       map[string]any{"type": "string", "description": "Kind is " + c.Kind + "."},
			"metadata":   map[string]any{"type": "object"},
		},
	}
	props := top["properties"].(map[string]any)
	field := "spec"
	if c.StatusOnly {
		field = "status"
	}
	sf, ok := c.Type.FieldByName(strings.ToUpper(field[:1]) + field[1:])
	if !ok {
		return nil, fmt.Errorf("CRD %s: type %s has no %s field", c.Kind, c.Type, field)
	}
	s, err := g.schema(sf.Type, c.Kind+"."+field)
	if err != nil {
		return nil, err
	}
	if d := docs[c.Type.Name()+"."+sf.Name]; d != "" {
		s["description"] = d
	}
	props[field] = s
	if !c.StatusOnly {
		top["required"] = []string{"spec"}
	}
	version := map[string]any{
		"name":    Version,
		"served":  true,
		"storage": true,
		"schema":  map[string]any{"openAPIV3Schema": top},
	}
	if c.StatusOnly {
		version["subresources"] = map[string]any{"status": map[string]any{}}
	}
	if len(c.Columns) > 0 {
		var cols []map[string]any
		for _, col := range c.Columns {
			cols = append(cols, map[string]any{"name": col.Name, "type": col.Type, "jsonPath": col.JSONPath, "description": col.Description})
		}
		cols = append(cols, map[string]any{"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"})
		version["additionalPrinterColumns"] = cols
	}
	crd := map[string]any{
		"apiVersion": "apiextensions.k8s.io/v1",
		"kind":       "CustomResourceDefinition",
		"metadata": map[string]any{
			"name":   c.Plural + "." + Group,
			"labels": map[string]any{"app.kubernetes.io/name": "kbgp"},
		},
		"spec": map[string]any{
			"group": Group,
			"names": map[string]any{
				"kind":       c.Kind,
				"listKind":   c.Kind + "List",
				"plural":     c.Plural,
				"singular":   strings.ToLower(c.Kind),
				"shortNames": c.ShortNames,
				"categories": []string{"kbgp"},
			},
			"scope":    "Cluster",
			"versions": []any{version},
		},
	}
	b, err := yaml.Marshal(crd)
	if err != nil {
		return nil, err
	}
	return append([]byte("# Code generated by internal/k8s (go test ./internal/k8s -run TestCRDManifests -update). DO NOT EDIT.\n"), b...), nil
}

type schemaGen struct {
	docs Docs
}

var (
	textMarshaler = reflect.TypeFor[encoding.TextMarshaler]()
	jsonMarshaler = reflect.TypeFor[json.Marshaler]()
)

// schema is the OpenAPI v3 schema of t, as Kubernetes structural schemas
// want it (every object's properties listed, no $ref). path names the
// place in error messages.
func (g *schemaGen) schema(t reflect.Type, path string) (map[string]any, error) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t {
	case reflect.TypeFor[api.ASNumber]():
		// An integer or asdot "a.b" (RFC 5396), see api.ASNumber.
		return map[string]any{"x-kubernetes-int-or-string": true}, nil
	case reflect.TypeFor[time.Time]():
		return map[string]any{"type": "string", "format": "date-time"}, nil
	case reflect.TypeFor[netip.Addr](), reflect.TypeFor[netip.Prefix](), reflect.TypeFor[api.Duration](), reflect.TypeFor[api.PeerAddress]():
		return map[string]any{"type": "string"}, nil
	}
	if t.Implements(textMarshaler) || reflect.PointerTo(t).Implements(textMarshaler) ||
		t.Implements(jsonMarshaler) || reflect.PointerTo(t).Implements(jsonMarshaler) {
		if t.Kind() != reflect.Struct && t.Kind() != reflect.String {
			return map[string]any{"x-kubernetes-int-or-string": true}, nil
		}
		return map[string]any{"type": "string"}, nil
	}
	switch t.Kind() {
	case reflect.String:
		return map[string]any{"type": "string"}, nil
	case reflect.Bool:
		return map[string]any{"type": "boolean"}, nil
	case reflect.Int, reflect.Int64:
		return map[string]any{"type": "integer", "format": "int64"}, nil
	case reflect.Int32:
		return map[string]any{"type": "integer", "format": "int32"}, nil
	case reflect.Int8, reflect.Int16:
		return map[string]any{"type": "integer", "minimum": -(1 << (t.Bits() - 1)), "maximum": 1<<(t.Bits()-1) - 1}, nil
	case reflect.Uint8, reflect.Uint16, reflect.Uint32:
		return map[string]any{"type": "integer", "minimum": 0, "maximum": uint64(math.MaxUint64) >> (64 - t.Bits())}, nil
	case reflect.Uint, reflect.Uint64:
		return map[string]any{"type": "integer", "minimum": 0}, nil
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}, nil
	case reflect.Slice, reflect.Array:
		items, err := g.schema(t.Elem(), path+"[]")
		if err != nil {
			return nil, err
		}
		return map[string]any{"type": "array", "items": items}, nil
	case reflect.Map:
		if t.Key().Kind() != reflect.String {
			return nil, fmt.Errorf("%s: map key %s is not a string", path, t.Key())
		}
		v, err := g.schema(t.Elem(), path+"{}")
		if err != nil {
			return nil, err
		}
		return map[string]any{"type": "object", "additionalProperties": v}, nil
	case reflect.Interface:
		return map[string]any{"x-kubernetes-preserve-unknown-fields": true}, nil
	case reflect.Struct:
		props := map[string]any{}
		var required []string
		if err := g.fields(t, path, props, &required); err != nil {
			return nil, err
		}
		s := map[string]any{"type": "object", "properties": props}
		if len(required) > 0 {
			s["required"] = required
		}
		return s, nil
	}
	return nil, fmt.Errorf("%s: no schema for Go type %s", path, t)
}

func (g *schemaGen) fields(t reflect.Type, path string, props map[string]any, required *[]string) error {
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" || (!f.IsExported() && !f.Anonymous) {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				if err := g.fields(ft, path, props, required); err != nil {
					return err
				}
			}
			continue
		}
		if name == "" {
			name = f.Name
		}
		s, err := g.schema(f.Type, path+"."+name)
		if err != nil {
			return err
		}
		if d := g.docs[t.Name()+"."+f.Name]; d != "" {
			s["description"] = d
		}
		props[name] = s
		if !strings.Contains(opts, "omitempty") && !strings.Contains(opts, "omitzero") && f.Type.Kind() != reflect.Pointer {
			*required = append(*required, name)
		}
	}
	return nil
}
