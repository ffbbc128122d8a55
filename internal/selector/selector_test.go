package selector

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// Label sets used by the matching tables.
var (
	none    = map[string]string{}
	rack1   = map[string]string{"rack": "rack-1"}
	rack2   = map[string]string{"rack": "rack-2"}
	rr      = map[string]string{"route-reflector": "true", "rack": "rack-1"}
	k8sHost = map[string]string{"kubernetes.io/hostname": "ubuntu-2", "node-role.kubernetes.io/worker": ""}
)

func TestMatches(t *testing.T) {
	type probe struct {
		labels map[string]string
		want   bool
	}
	tests := []struct {
		name   string
		sel    string
		probes []probe
	}{
		{"empty is all", "", []probe{{none, true}, {rack1, true}}},
		{"blank is all", " \t ", []probe{{none, true}}},
		{"all", "all()", []probe{{none, true}, {rack1, true}}},
		{"all with inner space", "all( )", []probe{{none, true}}},
		{"global", "global()", []probe{{none, true}, {rack1, true}}},
		{"eq present", "rack == 'rack-1'", []probe{{rack1, true}, {rack2, false}}},
		{"eq absent", "rack == 'rack-1'", []probe{{none, false}}},
		{"eq empty value vs present empty", `node-role.kubernetes.io/worker == ""`, []probe{{k8sHost, true}, {none, false}}},
		{"ne present", "rack != 'rack-1'", []probe{{rack1, false}, {rack2, true}}},
		{"ne absent matches", "rack != 'rack-1'", []probe{{none, true}}},
		{"has present", "has(rack)", []probe{{rack1, true}, {none, false}}},
		{"has empty value", "has(node-role.kubernetes.io/worker)", []probe{{k8sHost, true}}},
		{"has with spaces", "has( rack )", []probe{{rack1, true}}},
		{"not has", "!has(route-reflector)", []probe{{rr, false}, {rack1, true}, {none, true}}},
		{"in", `rack in {"rack-1", 'rack-3'}`, []probe{{rack1, true}, {rack2, false}, {none, false}}},
		{"in empty set", "rack in {}", []probe{{rack1, false}, {none, false}}},
		{"in trailing comma", "rack in {'rack-2',}", []probe{{rack2, true}}},
		{"not in", "rack not in {'rack-1'}", []probe{{rack1, false}, {rack2, true}, {none, true}}},
		{"notin", "rack notin {'rack-1'}", []probe{{rack1, false}, {none, true}}},
		{"not in empty set", "rack not in {}", []probe{{rack1, true}, {none, true}}},
		{"contains", "rack contains 'ck-'", []probe{{rack1, true}, {none, false}}},
		{"contains miss", "rack contains 'x'", []probe{{rack1, false}}},
		{"starts with", "rack starts with 'rack'", []probe{{rack1, true}, {none, false}, {map[string]string{"rack": "ra"}, false}}},
		{"ends with", "rack ends with '-2'", []probe{{rack2, true}, {rack1, false}, {none, false}}},
		{"starts with tab", "rack starts\twith 'r'", []probe{{rack1, true}}},
		{"double quotes", `route-reflector == "true"`, []probe{{rr, true}}},
		{"single quote inside double", `k == "it's"`, []probe{{map[string]string{"k": "it's"}, true}}},
		{"prefixed key", "kubernetes.io/hostname == 'ubuntu-2'", []probe{{k8sHost, true}, {rack1, false}}},
		{"no spaces", "rack=='rack-1'&&has(route-reflector)", []probe{{rr, true}, {rack1, false}}},
		{"and", "rack == 'rack-1' && route-reflector == 'true'", []probe{{rr, true}, {rack1, false}}},
		{"or", "rack == 'rack-2' || route-reflector == 'true'", []probe{{rr, true}, {rack2, true}, {rack1, false}}},
		{"double not cancels", "!!has(rack)", []probe{{rack1, true}, {none, false}}},
		{"triple not", "!!!has(rack)", []probe{{rack1, false}, {none, true}}},
		{"not paren not", "!(!has(rack))", []probe{{rack1, true}, {none, false}}},
		{"not binds tighter than and", "!has(rack) && has(x)", []probe{
			{map[string]string{"x": ""}, true},
			{map[string]string{"x": "", "rack": "1"}, false},
			{none, false},
		}},
		{"and binds tighter than or", "has(a) || has(b) && has(c)", []probe{
			{map[string]string{"a": ""}, true}, // a || (b && c)
			{map[string]string{"b": ""}, false},
			{map[string]string{"b": "", "c": ""}, true},
		}},
		{"and before or on the left", "has(a) && has(b) || has(c)", []probe{
			{map[string]string{"c": ""}, true}, // (a && b) || c
			{map[string]string{"a": ""}, false},
		}},
		{"parens override", "(has(a) || has(b)) && has(c)", []probe{
			{map[string]string{"a": ""}, false},
			{map[string]string{"a": "", "c": ""}, true},
		}},
		{"not over parens", "!(has(a) || has(b))", []probe{{none, true}, {map[string]string{"b": ""}, false}}},
		{"not over eq", "!rack == 'rack-1'", []probe{{rack1, false}, {rack2, true}, {none, true}}},
		{"nested parens", "((((has(a)))))", []probe{{map[string]string{"a": ""}, true}, {none, false}}},
		{"word-like labels", "in == 'x' && not == 'y' && has(contains)", []probe{{map[string]string{"in": "x", "not": "y", "contains": ""}, true}}},
		{"label named has", "has == 'x'", []probe{{map[string]string{"has": "x"}, true}}},
		{"seed peer selector", "route-reflector == 'true'", []probe{{rr, true}, {rack1, false}}},
		{"unicode value", "zone == 'zürich'", []probe{{map[string]string{"zone": "zürich"}, true}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sel, err := Parse(tc.sel)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tc.sel, err)
			}
			for _, p := range tc.probes {
				if got := sel.Matches(p.labels); got != p.want {
					t.Errorf("Parse(%q).Matches(%v) = %v, want %v (canonical %q)", tc.sel, p.labels, got, p.want, sel)
				}
			}
		})
	}
}

func TestString(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"empty", "", "all()"},
		{"all", "all( )", "all()"},
		{"global", "global()", "global()"},
		{"single quotes become double", "a=='b'", `a == "b"`},
		{"keeps single quotes around a double quote", `a == 'x"y'`, `a == 'x"y'`},
		{"ne", "a!='b'", `a != "b"`},
		{"has", "has( a )", "has(a)"},
		{"set sorted and deduplicated", "a in {'c','a','c','b',}", `a in {"a", "b", "c"}`},
		{"empty set", "a not in {}", `a not in {}`},
		{"notin", "a notin {'x'}", `a not in {"x"}`},
		{"word ops", "a contains 'x' && b starts  with 'y' && c ends\twith 'z'", `(a contains "x" && b starts with "y" && c ends with "z")`},
		{"startswith without space", `a startswith '"'`, `a starts with '"'`},
		{"endswith without space", `a endswith "'"`, `a ends with "'"`},
		{"double not removed", "!!has(a)", "has(a)"},
		{"paren double not removed", "!(!has(a))", "has(a)"},
		{"redundant parens dropped", "(has(a)) && ((has(b)))", "(has(a) && has(b))"},
		{"and flattened", "has(a) && (has(b) && has(c))", "(has(a) && has(b) && has(c))"},
		{"or flattened", "(has(a) || has(b)) || has(c)", "(has(a) || has(b) || has(c))"},
		{"or inside and", "(has(a) || has(b)) && has(c)", "((has(a) || has(b)) && has(c))"},
		{"and inside or", "has(a) && has(b) || has(c)", "((has(a) && has(b)) || has(c))"},
		{"not over and", "!(has(a) && has(b))", "!(has(a) && has(b))"},
		{"not over comparison", "! a == 'b'", `!a == "b"`},
		// Calico's own canonicalisation cases (libcalico-go parser_test.go).
		{"calico all in parens", " (all() )", "all()"},
		{"calico not or", `! (has( b)||! has(a ))`, "!(has(b) || !has(a))"},
		{"calico not and", `! (a == "b"&&! c != "d")`, `!(a == "b" && !c != "d")`},
		{"calico ne single quote", `a!='"'`, `a != '"'`},
		{"calico set sort", `a in {"z", "z", "x", "y", "x", "a"}`, `a in {"a", "x", "y", "z"}`},
		{"calico visitor example", "!(!(k == 'v' && has(t) || all()) && (a in {'b', 'c'}))", `!(!((k == "v" && has(t)) || all()) && a in {"b", "c"})`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sel, err := Parse(tc.in)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tc.in, err)
			}
			if got := sel.String(); got != tc.want {
				t.Errorf("Parse(%q).String() = %q, want %q", tc.in, got, tc.want)
			}
			again, err := Parse(tc.want)
			if err != nil {
				t.Fatalf("canonical %q does not reparse: %v", tc.want, err)
			}
			if again.String() != tc.want {
				t.Errorf("canonical form is not a fixed point: %q -> %q", tc.want, again.String())
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	long := strings.Repeat("a", 513)
	tests := []struct {
		name   string
		in     string
		column int
		msg    string // substring of Msg
	}{
		{"single equals", "rack = 'x'", 6, "expected =="},
		{"single ampersand", "has(a) & has(b)", 8, "expected &&"},
		{"single pipe", "has(a) | has(b)", 8, "expected ||"},
		{"unterminated string", "a == 'x", 6, "unterminated string"},
		{"mismatched quotes", `a == "x'`, 6, "unterminated string"},
		{"missing operator", "rack 'x'", 6, "expected an operator"},
		{"label then label", "rack rack", 6, "expected an operator"},
		{"starts without with", "a starts 'x'", 10, `expected "with" after "starts"`},
		{"ends without with", "a ends", 7, `expected "with" after "ends"`},
		{"not without in", "a not {}", 7, `expected "in" after "not"`},
		{"keyword needs word boundary", "a inside {}", 3, "expected an operator"},
		{"unquoted value", "a == b", 6, "expected a quoted string after =="},
		{"value missing", "a ==", 5, "expected a quoted string after =="},
		{"in without brace", "a in 'x'", 6, "expected { after in"},
		{"unclosed set", "a in {'x'", 10, "expected }"},
		{"set with label", "a in {x}", 7, "expected }"},
		{"set double comma", "a in {'x',,}", 11, "expected }"},
		{"has unclosed", "has(a", 6, "expected ) to close has( opened at column 1"},
		{"has empty", "has()", 5, "expected a label name in has("},
		{"all with arg", "all(a)", 5, "expected ) to close all("},
		{"global with arg", "global(x)", 8, "expected ) to close global("},
		{"unclosed paren", "(has(a)", 8, "expected ) to close ( at column 1"},
		{"stray close paren", "has(a))", 7, "unexpected )"},
		{"trailing and", "has(a) &&", 10, "unexpected end of selector"},
		{"leading or", "|| has(a)", 1, "found ||"},
		{"bare not", "!", 2, "unexpected end of selector"},
		{"juxtaposed terms", "has(a) has(b)", 8, "unexpected has(b)"},
		{"two exprs", "all() all()", 7, "unexpected all()"},
		{"newline is not whitespace", "has(a)\n&& has(b)", 7, "unexpected character"},
		{"bad char", "a == 'x' && $", 13, "unexpected character '$'"},
		{"label too long", long + " == 'x'", 1, "label is 513 characters long, the limit is 512"},
		{"column counts characters", "a == 'ü' &", 10, "expected &&"},
		{"empty parens", "()", 2, "found )"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sel, err := Parse(tc.in)
			if err == nil {
				t.Fatalf("Parse(%q) = %q, want error", tc.in, sel)
			}
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("Parse(%q) error %T %v, want *ParseError", tc.in, err, err)
			}
			if pe.Input != tc.in {
				t.Errorf("Input = %q, want %q", pe.Input, tc.in)
			}
			if pe.Column != tc.column {
				t.Errorf("Parse(%q): column %d, want %d (%v)", tc.in, pe.Column, tc.column, err)
			}
			if !strings.Contains(pe.Msg, tc.msg) {
				t.Errorf("Parse(%q): msg %q, want it to contain %q", tc.in, pe.Msg, tc.msg)
			}
			if !strings.HasPrefix(err.Error(), fmt.Sprintf("selector %q: ", tc.in)) {
				t.Errorf("error %q does not quote the input", err)
			}
		})
	}
}

func TestParseErrorMessage(t *testing.T) {
	_, err := Parse("rack = 'rack-1'")
	want := `selector "rack = 'rack-1'": expected == at column 6`
	if err == nil || err.Error() != want {
		t.Fatalf("error = %v, want %s", err, want)
	}
}

func TestLabelAtLimit(t *testing.T) {
	key := strings.Repeat("k", 512)
	sel, err := Parse("has(" + key + ")")
	if err != nil {
		t.Fatalf("512-character label rejected: %v", err)
	}
	if !sel.Matches(map[string]string{key: ""}) {
		t.Error("512-character label does not match")
	}
}

func TestDeepNesting(t *testing.T) {
	ok := strings.Repeat("(", 500) + "has(a)" + strings.Repeat(")", 500)
	if _, err := Parse(ok); err != nil {
		t.Fatalf("500 levels: %v", err)
	}
	deep := strings.Repeat("(", 5000) + "has(a)" + strings.Repeat(")", 5000)
	_, err := Parse(deep)
	var pe *ParseError
	if !errors.As(err, &pe) || !strings.Contains(pe.Msg, "nested deeper") {
		t.Fatalf("5000 levels: got %v, want a nesting error", err)
	}
	nots := strings.Repeat("!", 100001) + "has(a)"
	sel, err := Parse(nots)
	if err != nil {
		t.Fatalf("long ! chain: %v", err)
	}
	if sel.String() != "!has(a)" {
		t.Errorf("odd ! chain canonical %q, want !has(a)", sel)
	}
}

func TestNilAndAll(t *testing.T) {
	var s *Selector
	if !s.Matches(nil) || s.String() != "all()" {
		t.Errorf("nil selector: Matches=%v String=%q, want true, all()", s.Matches(nil), s.String())
	}
	if !All().Matches(nil) || All().String() != "all()" {
		t.Error("All() does not match everything")
	}
}

func TestTextMarshal(t *testing.T) {
	var s Selector
	if err := s.UnmarshalText([]byte("rack == 'rack-1'")); err != nil {
		t.Fatal(err)
	}
	b, _ := s.MarshalText()
	if string(b) != `rack == "rack-1"` { // a lone comparison has no parentheses
		t.Errorf("MarshalText = %s", b)
	}
	if err := s.UnmarshalText([]byte("rack = 'x'")); err == nil {
		t.Error("UnmarshalText accepted a bad selector")
	}
}

func TestMustParsePanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("MustParse did not panic on a bad selector")
		}
	}()
	MustParse("a =")
}

func BenchmarkMatches(b *testing.B) {
	sel := MustParse("rack in {'rack-1', 'rack-2'} && !has(route-reflector) || kubernetes.io/hostname starts with 'ubuntu'")
	labels := map[string]string{"rack": "rack-2", "kubernetes.io/hostname": "ubuntu-3", "kubernetes.io/os": "linux"}
	b.ReportAllocs()
	for b.Loop() {
		sel.Matches(labels)
	}
}

func BenchmarkParse(b *testing.B) {
	const s = "rack in {'rack-1', 'rack-2'} && !has(route-reflector) || kubernetes.io/hostname starts with 'ubuntu'"
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(s); err != nil {
			b.Fatal(err)
		}
	}
}

// TestCalicoBadSelectors: every selector Calico's parser rejects
// (libcalico-go parser_test.go badSelectors) is rejected here too.
func TestCalicoBadSelectors(t *testing.T) {
	for _, s := range []string{
		"b == b", "b contains b", "b starts with b", "b ends with b", "'b1' == b", "b", "a b", "!",
		`foo == "bar" &`, `foo == "bar" |`, `foo != ||`, `foo in {"", ||`, `foo in ""`,
		`"FOO`, `"FOO'`, `'FOO`, `(`, `(a == "foo"`, `)`, `()`, `%`, `a == "b" && %`, `a == "b" || %`,
		`a `, `has(foo) &&`,
	} {
		if sel, err := Parse(s); err == nil {
			t.Errorf("Parse(%q) = %q, want an error", s, sel)
		}
	}
}

// TestCalicoQuotesInSets: quotes of the other kind inside a set
// (libcalico-go parser_test.go).
func TestCalicoQuotesInSets(t *testing.T) {
	in := MustParse(`a in {"'", '"', "c"}`)
	notIn := MustParse(`a not in {"'", '"', "c"}`)
	for _, v := range []string{"c", `"`, `'`} {
		l := map[string]string{"a": v}
		if !in.Matches(l) || notIn.Matches(l) {
			t.Errorf("value %q: in=%v notIn=%v", v, in.Matches(l), notIn.Matches(l))
		}
	}
	if in.Matches(nil) || !notIn.Matches(nil) || in.Matches(map[string]string{"a": "e"}) {
		t.Error("absent or other values")
	}
	again := MustParse(in.String())
	if again.String() != in.String() || !again.Matches(map[string]string{"a": `"`}) {
		t.Errorf("set with both quote kinds does not round-trip: %s", in)
	}
}
