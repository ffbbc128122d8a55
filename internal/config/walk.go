package config

import (
	"encoding"
	"fmt"
	"reflect"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

func reflectValue(p any) reflect.Value { return reflect.ValueOf(p).Elem() }

var textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()

// maxDepth bounds recursion; the api types nest far less deeply.
const maxDepth = 32

// nodeBudget bounds the values decoded from an input of n bytes: YAML
// aliases can expand a small file exponentially ("billion laughs"), while
// an input without aliases never has more values than bytes.
func nodeBudget(n int) int { return 2*n + 10000 }

// value decodes YAML node n into v (addressable), reporting every problem
// with its path.
func (d *decoder) value(n *yaml.Node, v reflect.Value, path string) {
	if *d.visits > d.maxNodes {
		return
	}
	d.depth++
	defer func() { d.depth-- }()
	if d.depth > maxDepth {
		d.errorf(n, path, "", "%v", errDepth)
		return
	}
	n = resolveAlias(n)
	if n == nil {
		return
	}
	if *d.visits++; *d.visits > d.maxNodes {
		if *d.visits == d.maxNodes+1 {
			d.errorf(n, path, "", "more than %d values after expanding YAML aliases", d.maxNodes)
		}
		return
	}
	d.pos[path] = n
	if strings.HasPrefix(n.Tag, "!") && !strings.HasPrefix(n.Tag, "!!") {
		d.errorf(n, path, n.Tag, "an unquoted value starting with '!' is a YAML tag; quote the whole value, e.g. \"!has(label)\"")
		return
	}
	if isNull(n) {
		return // null leaves the zero value, like an absent field
	}
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		d.value(n, v.Elem(), path)
		return
	}
	if v.CanAddr() && v.Addr().Type().Implements(textUnmarshaler) {
		if n.Kind != yaml.ScalarNode {
			d.errorf(n, path, "", "expected a scalar value, got %s", describe(n))
			return
		}
		if err := v.Addr().Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(n.Value)); err != nil {
			d.errorf(n, path, n.Value, "%s", cleanErr(err, n.Value))
		}
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		d.structValue(n, v, path)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			d.errorf(n, path, "", "expected a list, got %s", describe(n))
			return
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, c := range n.Content {
			if *d.visits > d.maxNodes {
				break
			}
			d.value(c, s.Index(i), fmt.Sprintf("%s[%d]", path, i))
		}
		v.Set(s)
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			d.errorf(n, path, "", "expected a mapping, got %s", describe(n))
			return
		}
		m := reflect.MakeMap(v.Type())
		for _, kv := range d.mapping(n, path) {
			ev := reflect.New(v.Type().Elem()).Elem()
			d.value(kv[1], ev, join(path, kv[0].Value))
			m.SetMapIndex(reflect.ValueOf(kv[0].Value).Convert(v.Type().Key()), ev)
		}
		v.Set(m)
	case reflect.String:
		if n.Kind != yaml.ScalarNode || n.Tag != "!!str" {
			d.errorf(n, path, "", "expected a string, got %s; quote it", describe(n))
			return
		}
		v.SetString(n.Value)
	case reflect.Bool:
		b, err := strconv.ParseBool(n.Value)
		if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" || err != nil {
			d.errorf(n, path, "", "expected true or false, got %s", describe(n))
			return
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		i, err := strconv.ParseInt(n.Value, 10, v.Type().Bits())
		if n.Kind != yaml.ScalarNode || n.Tag != "!!int" || err != nil {
			d.errorf(n, path, "", "expected an integer that fits in %d bits, got %s", v.Type().Bits(), describe(n))
			return
		}
		v.SetInt(i)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		u, err := strconv.ParseUint(n.Value, 10, v.Type().Bits())
		if n.Kind != yaml.ScalarNode || n.Tag != "!!int" || err != nil {
			d.errorf(n, path, "", "expected an integer 0-%d, got %s", uint64(1)<<v.Type().Bits()-1, describe(n))
			return
		}
		v.SetUint(u)
	default:
		d.errorf(n, path, "", "internal error: cannot decode into %s", v.Type())
	}
}

// structValue decodes a mapping into a struct using the json field names.
func (d *decoder) structValue(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.errorf(n, path, "", "expected a mapping, got %s", describe(n))
		return
	}
	fields := structFields(v.Type())
	for _, kv := range d.mapping(n, path) {
		k := kv[0].Value
		f, ok := fields[k]
		if !ok {
			msg := "unknown field"
			for name := range fields {
				if strings.EqualFold(name, k) {
					msg += fmt.Sprintf("; did you mean %q?", name)
				}
			}
			d.errorf(kv[0], join(path, k), "", "%s", msg)
			continue
		}
		if f.ext && !d.ext {
			d.errorf(kv[0], join(path, k), "", "kbgp extension field, not part of projectcalico.org/v3; use apiVersion: kbgp.io/v1 to set it")
			continue
		}
		d.value(kv[1], v.Field(f.index), join(path, k))
	}
}

type fieldInfo struct {
	index int
	ext   bool
}

// structFields maps json names to field indexes of t.
func structFields(t reflect.Type) map[string]fieldInfo {
	m := map[string]fieldInfo{}
	for i := range t.NumField() {
		sf := t.Field(i)
		name, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
		if name == "" || name == "-" || !sf.IsExported() {
			continue
		}
		m[name] = fieldInfo{index: i, ext: sf.Tag.Get("kbgp") == "ext"}
	}
	return m
}

// cleanErr turns parse errors of netip and friends into short messages.
func cleanErr(err error, value string) string {
	s := err.Error()
	// netip: `ParseAddr("x"): unable to parse IP` -> `unable to parse IP`
	if i := strings.Index(s, "): "); i >= 0 && (strings.HasPrefix(s, "netip.Parse") || strings.HasPrefix(s, "Parse")) {
		s = s[i+3:]
	}
	if i := strings.Index(s, strconv.Quote(value)+": "); i >= 0 {
		s = s[i+len(strconv.Quote(value))+2:]
	}
	return s
}
