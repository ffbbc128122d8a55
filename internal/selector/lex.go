package selector

import (
	"fmt"
	"strings"
)

// maxLabelLen is the longest label key the grammar accepts. Calico's
// tokenizer matches keys with `[a-zA-Z0-9_./-]{1,512}`
// (libcalico-go/lib/selector/tokenizer, LabelKeyMatcher).
const maxLabelLen = 512

type tokKind uint8

const (
	tokEOF tokKind = iota
	tokLabel
	tokString
	tokLParen
	tokRParen
	tokLBrace
	tokRBrace
	tokComma
	tokEq
	tokNe
	tokNot
	tokAnd
	tokOr
	tokIn
	tokNotIn
	tokContains
	tokStartsWith
	tokEndsWith
	tokHas // value holds the label
	tokAll
	tokGlobal
)

var tokNames = [...]string{
	tokEOF:        "end of selector",
	tokLabel:      "label",
	tokString:     "string",
	tokLParen:     "(",
	tokRParen:     ")",
	tokLBrace:     "{",
	tokRBrace:     "}",
	tokComma:      ",",
	tokEq:         "==",
	tokNe:         "!=",
	tokNot:        "!",
	tokAnd:        "&&",
	tokOr:         "||",
	tokIn:         "in",
	tokNotIn:      "not in",
	tokContains:   "contains",
	tokStartsWith: "starts with",
	tokEndsWith:   "ends with",
	tokHas:        "has()",
	tokAll:        "all()",
	tokGlobal:     "global()",
}

func (k tokKind) String() string { return tokNames[k] }

// token is one lexeme. pos is the byte offset of its first byte in the input.
type token struct {
	kind  tokKind
	pos   int
	value string
}

// describe names a token for an error message.
func (t token) describe() string {
	switch t.kind {
	case tokEOF:
		return "end of selector"
	case tokLabel:
		return fmt.Sprintf("label %q", t.value)
	case tokString:
		return fmt.Sprintf("string %q", t.value)
	case tokHas:
		return "has(" + t.value + ")"
	}
	return t.kind.String()
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' }

func isLabelChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '_' || c == '.' || c == '/' || c == '-'
}

// lexer turns a selector into tokens. It follows Calico's tokenizer: only
// spaces and tabs are whitespace, strings are '...' or "..." with no escapes,
// and the word operators (in, not in, contains, starts with, ends with) are
// recognised only directly after a label.
type lexer struct {
	in  string
	pos int
}

func (l *lexer) skipSpace() {
	for l.pos < len(l.in) && isSpace(l.in[l.pos]) {
		l.pos++
	}
}

// word reports whether the keyword w starts at l.pos and is not followed by
// another label character (so "inside" is not "in" + "side").
func (l *lexer) word(w string) bool {
	if !strings.HasPrefix(l.in[l.pos:], w) {
		return false
	}
	end := l.pos + len(w)
	return end == len(l.in) || !isLabelChar(l.in[end])
}

func (l *lexer) errAt(pos int, format string, args ...any) error {
	return &ParseError{Input: l.in, Column: column(l.in, pos), Msg: fmt.Sprintf(format, args...)}
}

// label scans a label key at l.pos; it returns "" when none starts there.
func (l *lexer) label() (string, error) {
	start := l.pos
	for l.pos < len(l.in) && isLabelChar(l.in[l.pos]) {
		l.pos++
	}
	if l.pos-start > maxLabelLen {
		return "", l.errAt(start, "label is %d characters long, the limit is %d", l.pos-start, maxLabelLen)
	}
	return l.in[start:l.pos], nil
}

// call scans "name(" [label] ")" for has(, all( and global(; the caller
// has checked that name( is at l.pos.
func (l *lexer) call(name string, wantLabel bool) (string, error) {
	open := l.pos
	l.pos += len(name) + 1
	l.skipSpace()
	var arg string
	if wantLabel {
		var err error
		at := l.pos
		if arg, err = l.label(); err != nil {
			return "", err
		}
		if arg == "" {
			return "", l.errAt(at, "expected a label name in %s(", name)
		}
		l.skipSpace()
	}
	if l.pos >= len(l.in) || l.in[l.pos] != ')' {
		return "", l.errAt(l.pos, "expected ) to close %s( opened at column %d", name, column(l.in, open))
	}
	l.pos++
	return arg, nil
}

// tokens lexes the whole input; the result always ends with tokEOF.
func (l *lexer) tokens() ([]token, error) {
	var toks []token
	for {
		l.skipSpace()
		start := l.pos
		if l.pos >= len(l.in) {
			return append(toks, token{kind: tokEOF, pos: start}), nil
		}
		afterLabel := len(toks) > 0 && toks[len(toks)-1].kind == tokLabel
		simple := func(k tokKind, n int) {
			toks = append(toks, token{kind: k, pos: start})
			l.pos += n
		}
		c := l.in[l.pos]
		switch c {
		case '(':
			simple(tokLParen, 1)
		case ')':
			simple(tokRParen, 1)
		case '{':
			simple(tokLBrace, 1)
		case '}':
			simple(tokRBrace, 1)
		case ',':
			simple(tokComma, 1)
		case '"', '\'':
			end := strings.IndexByte(l.in[l.pos+1:], c)
			if end < 0 {
				return nil, l.errAt(start, "unterminated string: no closing %c", c)
			}
			toks = append(toks, token{kind: tokString, pos: start, value: l.in[l.pos+1 : l.pos+1+end]})
			l.pos += end + 2
		case '=':
			if !strings.HasPrefix(l.in[l.pos:], "==") {
				return nil, l.errAt(start, "expected ==")
			}
			simple(tokEq, 2)
		case '!':
			if strings.HasPrefix(l.in[l.pos:], "!=") {
				simple(tokNe, 2)
			} else {
				simple(tokNot, 1)
			}
		case '&':
			if !strings.HasPrefix(l.in[l.pos:], "&&") {
				return nil, l.errAt(start, "expected &&")
			}
			simple(tokAnd, 2)
		case '|':
			if !strings.HasPrefix(l.in[l.pos:], "||") {
				return nil, l.errAt(start, "expected ||")
			}
			simple(tokOr, 2)
		default:
			tok, err := l.wordToken(afterLabel)
			if err != nil {
				return nil, err
			}
			toks = append(toks, tok)
		}
	}
}

// wordToken scans an operator word, has()/all()/global() or a label.
func (l *lexer) wordToken(afterLabel bool) (token, error) {
	start := l.pos
	if afterLabel {
		return l.operatorWord()
	}
	for _, f := range []struct {
		name  string
		kind  tokKind
		label bool
	}{{"has", tokHas, true}, {"all", tokAll, false}, {"global", tokGlobal, false}} {
		if strings.HasPrefix(l.in[l.pos:], f.name+"(") {
			arg, err := l.call(f.name, f.label)
			if err != nil {
				return token{}, err
			}
			return token{kind: f.kind, pos: start, value: arg}, nil
		}
	}
	lbl, err := l.label()
	if err != nil {
		return token{}, err
	}
	if lbl == "" {
		return token{}, l.errAt(start, "unexpected character %q", l.in[start])
	}
	return token{kind: tokLabel, pos: start, value: lbl}, nil
}

// operatorWord scans the word operator that must follow a label: in, not
// in, contains, starts with, ends with. Like Calico's tokenizer it also
// takes the two-word operators without the space (notin, startswith,
// endswith).
func (l *lexer) operatorWord() (token, error) {
	start := l.pos
	for _, w := range []struct {
		first, second string
		kind          tokKind
	}{
		{"in", "", tokIn},
		{"notin", "", tokNotIn},
		{"startswith", "", tokStartsWith},
		{"endswith", "", tokEndsWith},
		{"contains", "", tokContains},
		{"not", "in", tokNotIn},
		{"starts", "with", tokStartsWith},
		{"ends", "with", tokEndsWith},
	} {
		if !l.word(w.first) {
			continue
		}
		l.pos += len(w.first)
		if w.second != "" {
			l.skipSpace()
			if !l.word(w.second) {
				return token{}, l.errAt(l.pos, "expected %q after %q", w.second, w.first)
			}
			l.pos += len(w.second)
		}
		return token{kind: w.kind, pos: start}, nil
	}
	return token{}, l.errAt(start, "expected an operator (==, !=, in, not in, contains, starts with, ends with) after label")
}

// column converts a byte offset into a 1-based column counted in runes, so
// that a caret under the input lines up for non-ASCII strings too.
func column(s string, off int) int {
	if off > len(s) {
		off = len(s)
	}
	return len([]rune(s[:off])) + 1
}
