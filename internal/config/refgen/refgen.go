// Package refgen generates docs/reference.md from the Go source of package
// api: every field of every kind with its YAML name, type, default (the
// `default` struct tag), API group and doc comment. It reads the source
// with go/ast so the reference cannot drift from the types.
//
// Regenerate with `go generate ./internal/config/refgen`; the package test
// fails when docs/reference.md is stale.
package refgen

//go:generate go test -run TestReference -update

import (
	"bytes"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
)

// kinds are documented in this order, each with its spec type.
var kinds = []struct{ kind, spec string }{
	{"BGPConfiguration", "BGPConfigurationSpec"},
	{"BGPPeer", "BGPPeerSpec"},
	{"BGPFilter", "BGPFilterSpec"},
	{"Node", "NodeSpec"},
	{"IPPool", "IPPoolSpec"},
}

// scalars are api types documented as values, not expanded.
var scalars = map[string]string{
	"ASNumber":     "AS number",
	"Duration":     "duration",
	"PeerAddress":  "IP[:port]",
	"netip.Addr":   "IP address",
	"netip.Prefix": "CIDR",
	"time.Time":    "RFC 3339 time",
	"string":       "string",
	"bool":         "bool",
	"int":          "integer",
	"int32":        "integer",
	"uint8":        "integer 0-255",
	"uint16":       "integer 0-65535",
	"uint32":       "integer",
}

type typeInfo struct {
	doc string
	st  *ast.StructType
}

// Generate renders the reference for the api package in dir.
func Generate(dir string) ([]byte, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		return nil, err
	}
	fset := token.NewFileSet()
	types := map[string]typeInfo{}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		af, err := parser.ParseFile(fset, f, src, parser.ParseComments)
		if err != nil {
			return nil, err
		}
		for _, d := range af.Decls {
			gd, ok := d.(*ast.GenDecl)
			if !ok || gd.Tok != token.TYPE {
				continue
			}
			for _, s := range gd.Specs {
				ts := s.(*ast.TypeSpec)
				doc := ts.Doc
				if doc == nil {
					doc = gd.Doc
				}
				st, _ := ts.Type.(*ast.StructType)
				types[ts.Name.Name] = typeInfo{doc: text(doc), st: st}
			}
		}
	}
	var b bytes.Buffer
	b.WriteString(intro)
	for _, k := range kinds {
		ti, ok := types[k.kind]
		if !ok {
			return nil, fmt.Errorf("api: type %s not found", k.kind)
		}
		fmt.Fprintf(&b, "\n## %s\n\n%s\n\n", k.kind, ti.doc)
		b.WriteString("| Field | Type | Default | Group | Description |\n|---|---|---|---|---|\n")
		if err := fields(&b, types, k.spec, "spec", false); err != nil {
			return nil, err
		}
		if k.kind == "Node" {
			if err := fields(&b, types, "NodeStatus", "status", false); err != nil {
				return nil, err
			}
		}
	}
	b.WriteString("\n## metadata (every kind)\n\n| Field | Type | Default | Group | Description |\n|---|---|---|---|---|\n")
	if err := fields(&b, types, "ObjectMeta", "metadata", false); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// fields writes one table row per field of struct typ, recursing into api
// struct types.
func fields(b *bytes.Buffer, types map[string]typeInfo, typ, path string, ext bool) error {
	ti, ok := types[typ]
	if !ok || ti.st == nil {
		return fmt.Errorf("api: struct %s not found", typ)
	}
	for _, f := range ti.st.Fields.List {
		if f.Tag == nil || len(f.Names) == 0 {
			continue
		}
		tag, err := strconv.Unquote(f.Tag.Value)
		if err != nil {
			return err
		}
		st := reflect.StructTag(tag)
		name, _, _ := strings.Cut(st.Get("json"), ",")
		if name == "" || name == "-" {
			continue
		}
		fext := ext || st.Get("kbgp") == "ext"
		group := "both"
		if fext {
			group = "kbgp.io/v1"
		}
		elem, list, isMap := typeName(f.Type)
		shown := scalars[elem]
		if shown == "" {
			shown = elem
		}
		switch {
		case isMap:
			shown = "map of " + shown
		case list:
			shown = "list of " + shown
		}
		def := st.Get("default")
		if def == "" {
			def = "–"
		} else {
			def = "`" + def + "`"
		}
		fp := path + "." + name
		fmt.Fprintf(b, "| `%s` | %s | %s | %s | %s |\n", fp, shown, def, group, strings.ReplaceAll(text(f.Doc), "|", "\\|"))
		if _, scalar := scalars[elem]; !scalar && !isMap {
			if _, known := types[elem]; known {
				sub := fp
				if list {
					sub += "[]"
				}
				if err := fields(b, types, elem, sub, fext); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// typeName returns the element type name of a field and whether it is a
// list or map.
func typeName(e ast.Expr) (name string, list, isMap bool) {
	switch t := e.(type) {
	case *ast.Ident:
		return t.Name, false, false
	case *ast.StarExpr:
		return typeName(t.X)
	case *ast.ArrayType:
		n, _, _ := typeName(t.Elt)
		return n, true, false
	case *ast.MapType:
		n, _, _ := typeName(t.Value)
		return n, false, true
	case *ast.SelectorExpr:
		return t.X.(*ast.Ident).Name + "." + t.Sel.Name, false, false
	}
	return fmt.Sprintf("%T", e), false, false
}

func text(cg *ast.CommentGroup) string {
	if cg == nil {
		return ""
	}
	lines := strings.Split(strings.TrimSpace(cg.Text()), "\n")
	return strings.Join(slices.DeleteFunc(lines, func(s string) bool { return s == "" }), " ")
}

const intro = `# kbgp resource reference

<!-- Generated by internal/config/refgen from the types in api/. Do not edit;
run go generate ./internal/config/refgen. -->

kbgp reads Calico's BGP resources. Write them exactly as for calicoctl, with
` + "`apiVersion: projectcalico.org/v3`" + `, or with ` + "`apiVersion: kbgp.io/v1`" + `,
which accepts the same kinds and fields plus kbgp's extensions (Group
"kbgp.io/v1" below). An extension field under projectcalico.org/v3 is an
error that says to switch the apiVersion, so a file that calicoctl accepts
means the same in both tools.

Decoding rules (` + "`kbgp apply`" + `, ` + "`internal/config.Decode`" + `):

- YAML with several documents separated by ` + "`---`" + `, JSON, or a ` + "`kind: List`" + `
  (or ` + "`<Kind>List`" + `) with ` + "`items`" + `.
- Strict: unknown fields, duplicate keys and values of the wrong type are
  errors; every error of a file is reported at once with
  ` + "`file:line:column`" + `, the document number, the resource and the field path.
- AS numbers are integers (` + "`64512`" + `) or asdot (` + "`\"1.10\"`" + `, RFC 5396).
- Durations are Go/Kubernetes duration strings (` + "`120s`" + `, ` + "`4m`" + `).
- CIDRs must be masked (` + "`10.96.0.0/24`" + `, not ` + "`10.96.0.1/24`" + `), except the
  Node's own ` + "`ipv4Address`" + `/` + "`ipv6Address`" + `, which are interface addresses.
- A selector that starts with ` + "`!`" + ` must be quoted, or YAML reads it as a tag.

Node annotations (Calico's Kubernetes datastore keeps BGP data there):
` + "`projectcalico.org/IPv4Address`" + `, ` + "`projectcalico.org/IPv6Address`" + `,
` + "`projectcalico.org/ASNumber`" + ` and ` + "`projectcalico.org/RouteReflectorClusterID`" + `
are used when the matching ` + "`spec.bgp`" + ` field is empty (the seed sets the
cluster ID with ` + "`kubectl annotate`" + `). A node labelled
` + "`node.kubernetes.io/exclude-from-external-load-balancers=true`" + ` advertises no
service addresses.

A BGPConfiguration named ` + "`default`" + ` holds the cluster-wide settings; one
named ` + "`node.<nodename>`" + ` overrides ` + "`listenPort`" + `, ` + "`logSeverityScreen`" + ` and
` + "`prefixAdvertisements`" + ` for that node (other fields there are ignored, as in
Calico). Defaults are Calico's: AS 64512, mesh on, port 179, hold time
240 s, keepalive hold/3, graceful restart time 120 s.

## How resources become sessions

` + "`kbgp node config NODE`" + ` prints what the rules below give for one node
(` + "`internal/config.Compile`" + `):

1. Mesh (` + "`Mesh_<ip>`" + `, "node-to-node mesh"): when ` + "`nodeToNodeMeshEnabled`" + ` and
   the node is not a route reflector, a session to every other node with an
   address in the family and no cluster ID. The side with the greater
   address, compared as strings, is passive.
2. Global BGPPeers (` + "`Global_<ip>`" + `, no node/nodeSelector), then node-specific
   ones (` + "`Node_<ip>`" + `), then reverse peerings: a node selected by a
   ` + "`peerSelector`" + ` (or whose IP and AS a ` + "`peerIP`" + ` names) also peers back
   with every node the BGPPeer selects, unless ` + "`reversePeering: Manual`" + `.
   A second session to the same address and port is dropped with a warning.
3. A route reflector (cluster ID X) marks every iBGP peer whose cluster ID
   is not X as its client; reflectors sharing an ID are plain peers.
4. Export policy per session, first decision wins: BGPFilter export rules
   (in ` + "`filters`" + ` order), pools with ` + "`disableBGPExport`" + ` rejected, Felix's
   ` + "`*.cali`" + `/` + "`*.calico`" + `/` + "`tunl0`" + ` routes rejected towards iBGP peers,
   ` + "`bpf*.cali`" + ` rejected, ` + "`prefixAdvertisements`" + ` communities added, own affine
   blocks accepted exactly and their /32s suppressed, service routes
   accepted, LB/external ranges accepted on reflectors, enabled pools
   accepted, everything else rejected. Import: BGPFilter import rules, then
   accept.
5. Originated routes: the node's confirmed affine blocks; the service
   cluster, external and LB ranges (unless the node is excluded); and a
   /32 or /128 per service address for ` + "`externalTrafficPolicy: Local`" + `
   services with a ready endpoint on the node, or for Cluster services whose
   LB/external IP is on a single-address allow-list entry.

Not compiled yet: BGPPeer ` + "`localWorkloadSelector`" + ` (reported as a
warning), BGPConfiguration ` + "`localWorkloadPeeringIPV4/6`" + `, and the
Felix priority (` + "`krt_metric`" + `/LOCAL_PREF) mapping beyond the aggregation
escape for elevated-priority routes.
`
