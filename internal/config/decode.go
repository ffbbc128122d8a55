// Package config decodes, validates and encodes kbgp's Calico-compatible
// resources (package api) and compiles them into the desired BGP state of
// one node (Compile), a pure function with no I/O.
//
// Decoding is strict: unknown fields, duplicate keys, wrong scalar types and
// kbgp extension fields under apiVersion projectcalico.org/v3 are errors,
// and all errors of a file are reported together, each with its file,
// line:column, document number, resource, field path and value.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/kbgp/kbgp/api"
	yaml "go.yaml.in/yaml/v3"
)

// maxDocuments bounds the number of documents (and List items) in one
// input, so hostile input cannot make Decode allocate without bound.
const maxDocuments = 100000

// maxErrors bounds the errors reported for one input.
const maxErrors = 100

// Decode parses data (YAML with one or more "---"-separated documents,
// JSON, or a "kind: List" with items) into resources, then validates each.
// filename is used only in error messages. On any error Decode returns no
// resources and an error joining every problem found (see FieldErrors),
// sorted by position.
func Decode(filename string, data []byte) ([]api.Resource, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var docs []*yaml.Node
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, syntaxError(filename, len(docs)+1, err)
		}
		docs = append(docs, &n)
		if len(docs) > maxDocuments {
			return nil, &FieldError{File: filename, Msg: fmt.Sprintf("more than %d documents", maxDocuments)}
		}
	}
	var out []api.Resource
	var errs []*FieldError
	visits, nerrs := 0, 0
	for i, n := range docs {
		d := &decoder{file: filename, doc: docNum(i+1, len(docs)), visits: &visits, nerrs: &nerrs, maxNodes: nodeBudget(len(data))}
		root := n
		if root.Kind == yaml.DocumentNode {
			if len(root.Content) == 0 {
				continue
			}
			root = root.Content[0]
		}
		if isNull(root) {
			continue // an empty document, e.g. a trailing "---"
		}
		out = append(out, d.document(root)...)
		errs = append(errs, d.errs...)
	}
	// The same resource twice in one input is ambiguous (which one wins?).
	seen := map[[2]string]bool{}
	for _, r := range out {
		k := [2]string{r.Kind(), r.Name()}
		if seen[k] && r.Name() != "" {
			errs = append(errs, &FieldError{File: filename, Kind: r.Kind(), Name: r.Name(),
				Msg: "given more than once in this input; keep one"})
		}
		seen[k] = true
	}
	if len(errs) > 0 {
		if len(errs) > maxErrors {
			slices.SortStableFunc(errs, byPosition)
			errs = append(errs[:maxErrors], &FieldError{File: filename, Msg: "too many errors; fix these first"})
			return nil, errors.Join(fieldErrs(errs)...)
		}
		return nil, joinSorted(errs)
	}
	return out, nil
}

// syntaxError turns a YAML parser error ("yaml: line 3: mapping values
// are not allowed in this context") into a FieldError with the line.
func syntaxError(filename string, doc int, err error) *FieldError {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	fe := &FieldError{File: filename, Doc: docNum(doc, doc)}
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if num, tail, ok := strings.Cut(rest, ": "); ok {
			if n, err := strconv.Atoi(num); err == nil {
				fe.Line, fe.Column, msg = n, 1, tail
			}
		}
	}
	fe.Msg = "invalid YAML/JSON: " + msg
	return fe
}

func docNum(i, n int) int {
	if n <= 1 {
		return 0
	}
	return i
}

// decoder decodes one YAML document.
type decoder struct {
	file string
	doc  int
	errs []*FieldError
	// current resource, for error messages
	kind, name string
	ext        bool // kbgp extension fields allowed
	pos        map[string]*yaml.Node
	depth      int
	visits     *int // values decoded so far in the whole input
	nerrs      *int // errors found so far in the whole input
	maxNodes   int
}

func (d *decoder) errorf(n *yaml.Node, path, value, format string, args ...any) {
	if *d.nerrs++; *d.nerrs > 10*maxErrors {
		return // Decode reports only the first maxErrors anyway
	}
	e := &FieldError{File: d.file, Doc: d.doc, Kind: d.kind, Name: d.name, Path: path, Value: value,
		Msg: fmt.Sprintf(format, args...)}
	if n != nil {
		e.Line, e.Column = n.Line, n.Column
	}
	d.errs = append(d.errs, e)
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

// mapping returns the key/value pairs of a mapping node, reporting
// duplicate keys, non-string keys and merge keys.
func (d *decoder) mapping(n *yaml.Node, path string) [][2]*yaml.Node {
	var kv [][2]*yaml.Node
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode || (k.Tag != "!!str" && k.Tag != "!!int" && k.Tag != "!!bool") {
			d.errorf(k, path, "", "keys must be plain strings")
			continue
		}
		if k.Tag == "!!merge" || k.Value == "<<" {
			d.errorf(k, path, "", "YAML merge keys (<<) are not supported; write the fields out")
			continue
		}
		if seen[k.Value] {
			d.errorf(k, join(path, k.Value), "", "duplicate key")
			continue
		}
		seen[k.Value] = true
		kv = append(kv, [2]*yaml.Node{k, v})
	}
	return kv
}

func join(path, field string) string {
	if path == "" {
		return field
	}
	return path + "." + field
}

// document decodes one top-level object: a resource or a List.
func (d *decoder) document(n *yaml.Node) []api.Resource {
	n = resolveAlias(n)
	if n.Kind != yaml.MappingNode {
		d.errorf(n, "", "", "expected a mapping with apiVersion, kind, metadata and spec, got %s", describe(n))
		return nil
	}
	fields := map[string]*yaml.Node{}
	for _, kv := range d.mapping(n, "") {
		fields[kv[0].Value] = kv[1]
	}
	kind := scalarString(fields["kind"])
	if kind == "List" || (strings.HasSuffix(kind, "List") && api.New(strings.TrimSuffix(kind, "List")) != nil) {
		return d.list(n, fields, kind)
	}
	r := d.resource(n, "")
	if r == nil {
		return nil
	}
	return []api.Resource{r}
}

func (d *decoder) list(n *yaml.Node, fields map[string]*yaml.Node, kind string) []api.Resource {
	d.kind = kind
	for _, kv := range d.mapping(n, "") {
		switch kv[0].Value {
		case "apiVersion":
			v := scalarString(kv[1])
			if v != "v1" && v != api.CalicoV3 && v != api.KBGPV1 {
				d.errorf(kv[1], "apiVersion", v, "a %s must have apiVersion v1, %s or %s", kind, api.CalicoV3, api.KBGPV1)
			}
		case "kind", "items":
		case "metadata":
			// list metadata (resourceVersion, continue) is ignored
		default:
			d.errorf(kv[0], kv[0].Value, "", "unknown field in %s (known: apiVersion, kind, metadata, items)", kind)
		}
	}
	items := fields["items"]
	if items == nil || isNull(items) {
		return nil
	}
	items = resolveAlias(items)
	if items.Kind != yaml.SequenceNode {
		d.errorf(items, "items", "", "expected a list of resources, got %s", describe(items))
		return nil
	}
	var out []api.Resource
	for i, it := range items.Content {
		d.kind, d.name = "", ""
		if i >= maxDocuments {
			d.errorf(it, "items", "", "more than %d items", maxDocuments)
			break
		}
		it = resolveAlias(it)
		if it.Kind != yaml.MappingNode {
			d.errorf(it, fmt.Sprintf("items[%d]", i), "", "expected a resource mapping, got %s", describe(it))
			continue
		}
		if r := d.resource(it, fmt.Sprintf("items[%d]", i)); r != nil {
			if want := strings.TrimSuffix(kind, "List"); want != "" && r.Kind() != want {
				d.errorf(it, fmt.Sprintf("items[%d].kind", i), r.Kind(), "%s may only hold %s resources", kind, want)
			}
			out = append(out, r)
		}
	}
	return out
}

// resource decodes one resource mapping. prefix is "" or "items[i]".
func (d *decoder) resource(n *yaml.Node, prefix string) api.Resource {
	d.pos = map[string]*yaml.Node{}
	start := len(d.errs)
	fields := map[string]*yaml.Node{}
	keys := map[string]*yaml.Node{}
	for _, kv := range d.mapping(n, prefix) {
		fields[kv[0].Value], keys[kv[0].Value] = kv[1], kv[0]
	}
	p := func(f string) string { return join(prefix, f) }
	// kind and name first, so every later error can name the resource.
	kindNode := fields["kind"]
	kind := scalarString(kindNode)
	if kindNode == nil {
		d.errorf(n, p("kind"), "", "missing; want one of %s", strings.Join(api.Kinds, ", "))
		return nil
	}
	r := api.New(kind)
	if r == nil {
		d.errorf(kindNode, p("kind"), kind, "unknown kind; want one of %s", strings.Join(api.Kinds, ", "))
		return nil
	}
	d.kind, d.name = kind, ""
	if md := fields["metadata"]; md != nil {
		if nm := resolveAlias(md); nm.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(nm.Content); i += 2 {
				if nm.Content[i].Value == "name" {
					d.name = scalarString(nm.Content[i+1])
				}
			}
		}
	}
	av := fields["apiVersion"]
	switch v := scalarString(av); {
	case av == nil:
		d.errorf(n, p("apiVersion"), "", "missing; want %s or %s", api.CalicoV3, api.KBGPV1)
	case v == api.CalicoV3 || v == api.KBGPV1:
		r.SetAPIVersion(v)
		d.ext = v == api.KBGPV1
	case v == "crd.projectcalico.org/v1":
		d.errorf(av, p("apiVersion"), v, "this is Calico's internal CRD storage version; export with calicoctl (apiVersion %s) instead", api.CalicoV3)
	default:
		d.errorf(av, p("apiVersion"), v, "unknown apiVersion; want %s or %s", api.CalicoV3, api.KBGPV1)
	}
	for _, kv := range d.mapping(n, prefix) {
		k, v := kv[0].Value, kv[1]
		switch k {
		case "apiVersion", "kind":
		case "metadata":
			d.value(v, reflectValue(r.Meta()), p("metadata"))
		case "spec":
			d.value(v, reflectValue(r.SpecValue()), p("spec"))
		case "status":
			if nd, ok := r.(*api.Node); ok {
				d.value(v, reflectValue(&nd.Status), p("status"))
				continue
			}
			d.errorf(kv[0], p(k), "", "unknown field in %s (known: apiVersion, kind, metadata, spec)", kind)
		default:
			d.errorf(kv[0], p(k), "", "unknown field in %s (known: apiVersion, kind, metadata, spec)", kind)
		}
	}
	if fields["metadata"] == nil {
		d.errorf(n, p("metadata.name"), "", "missing; every resource needs a name")
	}
	if *d.visits > d.maxNodes {
		return nil
	}
	bad := map[string]bool{}
	for _, e := range d.errs[start:] {
		bad[e.Path] = true
	}
	for _, fe := range validate(r) {
		if underBad(bad, join(prefix, fe.Path)) {
			continue // already reported as a decoding error
		}
		if at := d.locate(prefix, fe.Path); at != nil {
			fe.Line, fe.Column = at.Line, at.Column
		} else {
			fe.Line, fe.Column = n.Line, n.Column
		}
		fe.File, fe.Doc, fe.Kind, fe.Name = d.file, d.doc, kind, r.Name()
		fe.Path = join(prefix, fe.Path)
		d.errs = append(d.errs, fe)
	}
	return r
}

// underBad reports whether path or one of its ancestors is in bad.
func underBad(bad map[string]bool, path string) bool {
	for path != "" {
		if bad[path] {
			return true
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			return false
		}
		path = path[:i]
	}
	return false
}

// locate finds the node of path, or of its closest recorded ancestor.
func (d *decoder) locate(prefix, path string) *yaml.Node {
	for path != "" {
		if n := d.pos[join(prefix, path)]; n != nil {
			return n
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			break
		}
		path = path[:i]
	}
	return nil
}

func resolveAlias(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && n.Alias != nil && i < 100; i++ {
		n = n.Alias
	}
	return n
}

func scalarString(n *yaml.Node) string {
	n = resolveAlias(n)
	if n == nil || n.Kind != yaml.ScalarNode {
		return ""
	}
	return n.Value
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.Tag {
		case "!!null":
			return "null"
		case "!!int":
			return "integer " + n.Value
		case "!!float":
			return "number " + n.Value
		case "!!bool":
			return "boolean " + n.Value
		case "!!str":
			return fmt.Sprintf("string %q", n.Value)
		}
		return fmt.Sprintf("%s %q", n.Tag, n.Value)
	}
	return "an unsupported YAML node"
}

var errDepth = errors.New("nesting too deep")
