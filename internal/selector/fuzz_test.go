package selector

import (
	"errors"
	"testing"
	"unicode/utf8"
)

// FuzzParse checks that Parse never panics, that errors are *ParseError with
// a column inside the input, and that the canonical form reparses to a
// selector with the same canonical form that matches the same label sets.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"",
		"all()",
		"global()",
		"rack == 'rack-1'",
		`route-reflector == "true"`,
		"!has(route-reflector) && rack != 'x'",
		"a in {'x', \"y\",} || b not in {} && c notin {'z'}",
		"k contains 'a' && k starts with 'b' || k ends\twith 'c'",
		"!!(a == 'x' || !(b == 'y' && has(c)))",
		"kubernetes.io/hostname == 'ubuntu-2'",
		"a = 'b'",
		"has(a",
		"a == 'b' & c",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sel, err := Parse(s)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("Parse(%q): error %T, want *ParseError", s, err)
			}
			if pe.Column < 1 || pe.Column > utf8.RuneCountInString(s)+1 {
				t.Fatalf("Parse(%q): column %d outside the input", s, pe.Column)
			}
			return
		}
		canon := sel.String()
		again, err := Parse(canon)
		if err != nil {
			t.Fatalf("Parse(%q) canonical %q does not reparse: %v", s, canon, err)
		}
		if again.String() != canon {
			t.Fatalf("canonical form not a fixed point: %q -> %q -> %q", s, canon, again.String())
		}
		for i, labels := range labelSets(sel.root) {
			if a, b := sel.Matches(labels), again.Matches(labels); a != b {
				t.Fatalf("label set %d %v: Parse(%q) matches %v but canonical %q matches %v", i, labels, s, a, canon, b)
			}
		}
	})
}

// labelSets builds label sets that exercise a selector: each key it mentions
// absent or set to one of the values it mentions, an empty value, or a value
// it does not mention.
func labelSets(root *node) []map[string]string {
	var keys []string
	values := []string{"", "zz-unmentioned"}
	seen := map[string]bool{}
	var walk func(n *node)
	walk = func(n *node) {
		if n.key != "" && !seen[n.key] && len(keys) < 6 {
			seen[n.key] = true
			keys = append(keys, n.key)
		}
		if n.value != "" {
			values = append(values, n.value, n.value+"x", "x"+n.value)
		}
		values = append(values, n.set...)
		for _, k := range n.kids {
			walk(k)
		}
	}
	walk(root)
	if len(values) > 12 {
		values = values[:12]
	}
	var sets []map[string]string
	for i := range 64 {
		m := map[string]string{}
		for j, k := range keys {
			c := (i*7 + j*13 + i/3) % (len(values) + 1)
			if c < len(values) {
				m[k] = values[c]
			}
		}
		sets = append(sets, m)
	}
	return sets
}

func TestLabelSetsCoverAbsentAndPresent(t *testing.T) {
	sets := labelSets(MustParse("a == 'x' && b != 'y'").root)
	var absent, present int
	for _, m := range sets {
		if _, ok := m["a"]; ok {
			present++
		} else {
			absent++
		}
	}
	if absent == 0 || present == 0 {
		t.Fatalf("label sets do not cover both cases: absent=%d present=%d", absent, present)
	}
}
