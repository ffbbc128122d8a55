package selector

import (
	"fmt"
	"slices"
)

// parser is a recursive-descent parser over the token list. Precedence,
// lowest first: ||, &&, ! (Calico parser.go: parseOrExpression →
// parseAndExpression → parseOperation, which folds any number of leading
// "!").
type parser struct {
	in   string
	toks []token
	i    int
}

func (p *parser) peek() token { return p.toks[p.i] }

func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tokEOF {
		p.i++
	}
	return t
}

func (p *parser) errAt(t token, format string, args ...any) error {
	return &ParseError{Input: p.in, Column: column(p.in, t.pos), Msg: fmt.Sprintf(format, args...)}
}

// maxDepth bounds nesting of parentheses and "!" so that hostile input cannot
// exhaust the stack.
const maxDepth = 1000

func (p *parser) or(depth int) (*node, error) {
	if depth > maxDepth {
		return nil, p.errAt(p.peek(), "selector nested deeper than %d levels", maxDepth)
	}
	first, err := p.and(depth)
	if err != nil {
		return nil, err
	}
	kids := []*node{first}
	for p.peek().kind == tokOr {
		p.next()
		n, err := p.and(depth)
		if err != nil {
			return nil, err
		}
		kids = append(kids, n)
	}
	if len(kids) == 1 {
		return first, nil
	}
	return &node{op: opOr, kids: kids}, nil
}

func (p *parser) and(depth int) (*node, error) {
	first, err := p.unary(depth)
	if err != nil {
		return nil, err
	}
	kids := []*node{first}
	for p.peek().kind == tokAnd {
		p.next()
		n, err := p.unary(depth)
		if err != nil {
			return nil, err
		}
		kids = append(kids, n)
	}
	if len(kids) == 1 {
		return first, nil
	}
	return &node{op: opAnd, kids: kids}, nil
}

// unary parses "!"* operation. Pairs of "!" cancel, as in Calico.
func (p *parser) unary(depth int) (*node, error) {
	negated := false
	for p.peek().kind == tokNot {
		p.next()
		negated = !negated
	}
	n, err := p.operation(depth)
	if err != nil {
		return nil, err
	}
	if negated {
		return &node{op: opNot, kids: []*node{n}}, nil
	}
	return n, nil
}

func (p *parser) operation(depth int) (*node, error) {
	t := p.next()
	switch t.kind {
	case tokHas:
		return &node{op: opHas, key: t.value}, nil
	case tokAll:
		return &node{op: opAll}, nil
	case tokGlobal:
		return &node{op: opGlobal}, nil
	case tokLParen:
		n, err := p.or(depth + 1)
		if err != nil {
			return nil, err
		}
		if c := p.next(); c.kind != tokRParen {
			return nil, p.errAt(c, "expected ) to close ( at column %d, found %s", column(p.in, t.pos), c.describe())
		}
		return n, nil
	case tokLabel:
		return p.comparison(t)
	case tokEOF:
		return nil, p.errAt(t, "unexpected end of selector, expected an expression")
	}
	return nil, p.errAt(t, "expected a label, has(), all(), global(), ! or (, found %s", t.describe())
}

var binaryOps = map[tokKind]op{
	tokEq:         opEq,
	tokNe:         opNe,
	tokContains:   opContains,
	tokStartsWith: opStartsWith,
	tokEndsWith:   opEndsWith,
}

// comparison parses the operator and operand after label lbl.
func (p *parser) comparison(lbl token) (*node, error) {
	opTok := p.next()
	if o, ok := binaryOps[opTok.kind]; ok {
		v := p.next()
		if v.kind != tokString {
			return nil, p.errAt(v, "expected a quoted string after %s, found %s", opTok.kind, v.describe())
		}
		return &node{op: o, key: lbl.value, value: v.value}, nil
	}
	if opTok.kind != tokIn && opTok.kind != tokNotIn {
		return nil, p.errAt(opTok, "expected an operator (==, !=, in, not in, contains, starts with, ends with) after label %q, found %s", lbl.value, opTok.describe())
	}
	o := opIn
	if opTok.kind == tokNotIn {
		o = opNotIn
	}
	if b := p.next(); b.kind != tokLBrace {
		return nil, p.errAt(b, "expected { after %s, found %s", opTok.kind, b.describe())
	}
	// Set literal: "{" [str ("," str)* [","]] "}". Calico's parser accepts
	// a trailing comma; so do we.
	var set []string
	for p.peek().kind == tokString {
		set = append(set, p.next().value)
		if p.peek().kind != tokComma {
			break
		}
		p.next()
	}
	if c := p.next(); c.kind != tokRBrace {
		return nil, p.errAt(c, "expected } or a quoted string in the set, found %s", c.describe())
	}
	slices.Sort(set)
	return &node{op: o, key: lbl.value, set: slices.Compact(set)}, nil
}
