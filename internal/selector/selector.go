// Package selector parses and evaluates Calico label selectors, the
// expressions in BGPPeer nodeSelector/peerSelector and IPPool nodeSelector
// such as `rack == 'rack-1' && !has(route-reflector)`.
//
// The grammar and semantics are Calico's (libcalico-go/lib/selector):
//
//	selector  := <empty> | or                       (empty means all())
//	or        := and ( "||" and )*
//	and       := unary ( "&&" unary )*
//	unary     := "!"* operation                     (pairs of ! cancel)
//	operation := "has(" label ")" | "all()" | "global()" | "(" or ")"
//	           | label ( "==" | "!=" | "contains" | "starts with" | "ends with" ) str
//	           | label ( "in" | "not in" | "notin" ) "{" [ str ( "," str )* [","] ] "}"
//	label     := [A-Za-z0-9_./-]{1,512}
//	str       := '...' | "..."                      (no escapes)
//
// Whitespace is spaces and tabs. `k != "v"` and `k not in {...}` match when
// the label is absent; every other comparison needs the label present.
package selector

import (
	"fmt"
	"slices"
	"strings"
)

// Selector is a parsed selector. The zero value and nil are not valid
// selectors except through All; a nil *Selector behaves as all().
type Selector struct {
	root *node
}

// ParseError reports why a selector did not parse.
type ParseError struct {
	Input  string // the selector text as given
	Column int    // 1-based column (in characters) of the offending token
	Msg    string // what was expected or found, e.g. "expected =="
}

func (e *ParseError) Error() string {
	return fmt.Sprintf("selector %q: %s at column %d", e.Input, e.Msg, e.Column)
}

type op uint8

const (
	opAll op = iota
	opGlobal
	opHas
	opEq
	opNe
	opContains
	opStartsWith
	opEndsWith
	opIn
	opNotIn
	opNot
	opAnd
	opOr
)

type node struct {
	op    op
	key   string   // label for comparisons and has()
	value string   // operand of ==, !=, contains, starts with, ends with
	set   []string // sorted, deduplicated operand of in / not in
	kids  []*node  // operands of !, && and ||
}

// All returns the selector that matches every label set, all().
func All() *Selector { return &Selector{root: &node{op: opAll}} }

// Parse parses a Calico selector. The empty (or all-whitespace) selector is
// all(). Errors are *ParseError.
func Parse(s string) (*Selector, error) {
	lx := lexer{in: s}
	toks, err := lx.tokens()
	if err != nil {
		return nil, err
	}
	if toks[0].kind == tokEOF {
		return All(), nil
	}
	p := parser{in: s, toks: toks}
	root, err := p.or(0)
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tokEOF {
		return nil, p.errAt(t, "unexpected %s, expected && or || or the end of the selector", t.describe())
	}
	return &Selector{root: simplify(root)}, nil
}

// MustParse is Parse for selectors fixed at compile time; it panics on error.
func MustParse(s string) *Selector {
	sel, err := Parse(s)
	if err != nil {
		panic(err)
	}
	return sel
}

// simplify flattens nested && and || and removes double negation, so that
// String is a fixed point: Parse(sel.String()).String() == sel.String().
func simplify(n *node) *node {
	switch n.op {
	case opNot:
		k := simplify(n.kids[0])
		if k.op == opNot {
			return k.kids[0]
		}
		return &node{op: opNot, kids: []*node{k}}
	case opAnd, opOr:
		var kids []*node
		for _, k := range n.kids {
			k = simplify(k)
			if k.op == n.op {
				kids = append(kids, k.kids...)
			} else {
				kids = append(kids, k)
			}
		}
		return &node{op: n.op, kids: kids}
	}
	return n
}

// Matches reports whether a set of labels satisfies the selector. A nil
// map is an empty label set.
func (s *Selector) Matches(labels map[string]string) bool {
	if s == nil || s.root == nil {
		return true
	}
	return s.root.eval(labels)
}

func (n *node) eval(labels map[string]string) bool {
	switch n.op {
	case opAll, opGlobal:
		return true
	case opHas:
		_, ok := labels[n.key]
		return ok
	case opEq:
		v, ok := labels[n.key]
		return ok && v == n.value
	case opNe:
		v, ok := labels[n.key]
		return !ok || v != n.value
	case opContains:
		v, ok := labels[n.key]
		return ok && strings.Contains(v, n.value)
	case opStartsWith:
		v, ok := labels[n.key]
		return ok && strings.HasPrefix(v, n.value)
	case opEndsWith:
		v, ok := labels[n.key]
		return ok && strings.HasSuffix(v, n.value)
	case opIn:
		v, ok := labels[n.key]
		if !ok {
			return false
		}
		_, found := slices.BinarySearch(n.set, v)
		return found
	case opNotIn:
		v, ok := labels[n.key]
		if !ok {
			return true
		}
		_, found := slices.BinarySearch(n.set, v)
		return !found
	case opNot:
		return !n.kids[0].eval(labels)
	case opAnd:
		for _, k := range n.kids {
			if !k.eval(labels) {
				return false
			}
		}
		return true
	case opOr:
		for _, k := range n.kids {
			if k.eval(labels) {
				return true
			}
		}
		return false
	}
	return false
}

// String returns the canonical form, which is Calico's
// (libcalico-go parser.Selector.String): double-quoted strings (single
// quotes when the value contains a double quote), one space around
// operators, sets sorted and deduplicated, and every && or || group in
// parentheses, e.g. `(rack == "rack-1" && !has(route-reflector))`. Unlike
// Calico, nested groups of the same operator are flattened and double
// negations removed, so that the canonical form is a fixed point:
// Parse(sel.String()).String() == sel.String().
func (s *Selector) String() string {
	if s == nil || s.root == nil {
		return "all()"
	}
	return string(s.root.appendTo(nil))
}

// MarshalText implements encoding.TextMarshaler with the canonical form.
func (s *Selector) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler with Parse.
func (s *Selector) UnmarshalText(b []byte) error {
	p, err := Parse(string(b))
	if err != nil {
		return err
	}
	*s = *p
	return nil
}

func appendQuoted(b []byte, v string) []byte {
	q := byte('"')
	if strings.IndexByte(v, '"') >= 0 {
		q = '\''
	}
	b = append(b, q)
	b = append(b, v...)
	return append(b, q)
}

var opWords = [...]string{
	opEq:         " == ",
	opNe:         " != ",
	opContains:   " contains ",
	opStartsWith: " starts with ",
	opEndsWith:   " ends with ",
	opIn:         " in ",
	opNotIn:      " not in ",
}

func (n *node) appendTo(b []byte) []byte {
	switch n.op {
	case opAll:
		return append(b, "all()"...)
	case opGlobal:
		return append(b, "global()"...)
	case opHas:
		b = append(b, "has("...)
		b = append(b, n.key...)
		return append(b, ')')
	case opEq, opNe, opContains, opStartsWith, opEndsWith:
		b = append(b, n.key...)
		b = append(b, opWords[n.op]...)
		return appendQuoted(b, n.value)
	case opIn, opNotIn:
		b = append(b, n.key...)
		b = append(b, opWords[n.op]...)
		b = append(b, '{')
		for i, v := range n.set {
			if i > 0 {
				b = append(b, ", "...)
			}
			b = appendQuoted(b, v)
		}
		return append(b, '}')
	case opNot:
		b = append(b, '!')
		return n.kids[0].appendTo(b)
	case opAnd, opOr:
		sep := " && "
		if n.op == opOr {
			sep = " || "
		}
		b = append(b, '(')
		for i, k := range n.kids {
			if i > 0 {
				b = append(b, sep...)
			}
			b = k.appendTo(b)
		}
		return append(b, ')')
	}
	return b
}
