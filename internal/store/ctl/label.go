package ctl

import (
	"context"
	"fmt"
	"io"
	"maps"
	"regexp"
	"strings"

	"github.com/kbgp/kbgp/api"
	"github.com/kbgp/kbgp/internal/store"
)

// Field selects what Edit changes.
type Field int

const (
	// Labels edits metadata.labels (kbgp label).
	Labels Field = iota
	// Annotations edits metadata.annotations (kbgp annotate).
	Annotations
)

// keyRE is the Kubernetes qualified-name rule for label and annotation
// keys: an optional DNS-subdomain prefix and "/", then a name of
// alphanumerics, '-', '_' and '.' that starts and ends alphanumeric.
var keyRE = regexp.MustCompile(`^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$`)

func validKey(k string) bool {
	if !keyRE.MatchString(k) {
		return false
	}
	prefix, nm, ok := strings.Cut(k, "/")
	if !ok {
		nm, prefix = prefix, ""
	}
	return len(prefix) <= 253 && len(nm) <= 63
}

// change is one parsed argument: "key=value" sets, "key-" removes.
type change struct {
	key, value string
	remove     bool
}

func parseChanges(f Field, args []string) ([]change, error) {
	what := "label"
	if f == Annotations {
		what = "annotation"
	}
	if len(args) == 0 {
		return nil, fmt.Errorf("at least one %s update is required: KEY=VALUE to set, KEY- to remove", what)
	}
	var out []change
	seen := map[string]bool{}
	for _, a := range args {
		var c change
		if k, v, ok := strings.Cut(a, "="); ok {
			c = change{key: k, value: v}
		} else if k, ok := strings.CutSuffix(a, "-"); ok {
			c = change{key: k, remove: true}
		} else {
			return nil, fmt.Errorf("invalid %s spec %q: want KEY=VALUE to set or KEY- to remove", what, a)
		}
		if !validKey(c.key) {
			return nil, fmt.Errorf("invalid %s key %q: want [prefix/]name, the name at most 63 letters, digits, '-', '_' and '.' starting and ending with a letter or digit, the prefix a DNS subdomain", what, c.key)
		}
		if seen[c.key] {
			return nil, fmt.Errorf("%s %q is modified and removed (or set twice) in the same command", what, c.key)
		}
		seen[c.key] = true
		out = append(out, c)
	}
	return out, nil
}

// Edit sets and removes labels or annotations on one resource, with
// kubectl's rules: "k=v" sets, "k-" removes, changing an existing value
// needs overwrite (`'rack' already has a value (rack-1), and --overwrite
// is false`), removing an absent key only prints a note. The read, change
// and write happen atomically in the store. It prints
// `<kind>.<group>/<name> labeled` (or annotated; "not labeled" when
// nothing changed, as kubectl does).
func Edit(ctx context.Context, ds store.Datastore, f Field, kindArg, name string, args []string, overwrite bool, out io.Writer) error {
	kind, err := store.ResolveKind(kindArg)
	if err != nil {
		return err
	}
	changes, err := parseChanges(f, args)
	if err != nil {
		return err
	}
	var notes []string
	typ := typeName(api.New(kind))
	res, err := ds.Update(ctx, kind, name, func(r api.Resource) error {
		notes = notes[:0] // Update may retry in other datastores
		typ = typeName(r)
		m := r.Meta()
		target := &m.Labels
		if f == Annotations {
			target = &m.Annotations
		}
		cur := maps.Clone(*target)
		if cur == nil {
			cur = map[string]string{}
		}
		var conflicts []string
		for _, c := range changes {
			old, had := cur[c.key]
			switch {
			case c.remove && !had:
				notes = append(notes, fmt.Sprintf("%s %q not found.", kindWord(f), c.key))
			case c.remove:
				delete(cur, c.key)
			case had && old != c.value && !overwrite:
				conflicts = append(conflicts, fmt.Sprintf("'%s' already has a value (%s), and --overwrite is false", c.key, old))
			default:
				cur[c.key] = c.value
			}
		}
		if len(conflicts) > 0 {
			return fmt.Errorf("%s", strings.Join(conflicts, "; "))
		}
		if len(cur) == 0 {
			cur = nil
		}
		*target = cur
		return nil
	})
	if err != nil {
		return err
	}
	for _, n := range notes {
		fmt.Fprintln(out, n)
	}
	verb := "labeled"
	if f == Annotations {
		verb = "annotated"
	}
	if res == store.Unchanged && f == Labels {
		verb = "not labeled"
	}
	fmt.Fprintf(out, "%s/%s %s\n", typ, name, verb)
	return nil
}

func kindWord(f Field) string {
	if f == Annotations {
		return "annotation"
	}
	return "label"
}
