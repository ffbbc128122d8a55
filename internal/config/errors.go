package config

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// FieldError is one problem found while decoding or validating a resource.
// Its message names the file, position, resource, field path and bad value:
//
//	peer-1.yaml:8:17: BGPPeer/rack1-tor: spec.nodeSelector: "rack = 'rack-1'": expected == at column 6
type FieldError struct {
	File   string // file name given to Decode; may be empty
	Doc    int    // 1-based document number, 0 when the input has one document
	Line   int    // 1-based line of the offending value, 0 if unknown
	Column int    // 1-based column, 0 if unknown
	Kind   string // resource kind, if known
	Name   string // resource name, if known
	Path   string // field path, e.g. spec.peerIP or spec.filters[1]
	Value  string // the offending value as written, if any
	Msg    string // what is wrong and, where possible, how to fix it
}

func (e *FieldError) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		if e.Line > 0 {
			b.WriteString(":" + strconv.Itoa(e.Line) + ":" + strconv.Itoa(e.Column))
		}
		b.WriteString(": ")
	} else if e.Line > 0 {
		fmt.Fprintf(&b, "line %d:%d: ", e.Line, e.Column)
	}
	if e.Doc > 0 {
		fmt.Fprintf(&b, "document %d: ", e.Doc)
	}
	if e.Kind != "" {
		b.WriteString(e.Kind)
		if e.Name != "" {
			b.WriteString("/" + e.Name)
		}
		b.WriteString(": ")
	}
	if e.Path != "" {
		b.WriteString(e.Path + ": ")
	}
	if e.Value != "" {
		b.WriteString(strconv.Quote(e.Value) + ": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// joinSorted sorts field errors by position and joins them with
// errors.Join, so every problem in a file is reported at once.
func joinSorted(errs []*FieldError) error {
	if len(errs) == 0 {
		return nil
	}
	slices.SortStableFunc(errs, byPosition)
	return errors.Join(fieldErrs(errs)...)
}

func byPosition(a, b *FieldError) int {
	return cmp.Or(cmp.Compare(a.Doc, b.Doc), cmp.Compare(a.Line, b.Line),
		cmp.Compare(a.Column, b.Column), strings.Compare(a.Path, b.Path))
}

func fieldErrs(errs []*FieldError) []error {
	es := make([]error, len(errs))
	for i, e := range errs {
		es[i] = e
	}
	return es
}

// FieldErrors returns the individual FieldErrors inside err (as returned by
// Decode or Validate).
func FieldErrors(err error) []*FieldError {
	var out []*FieldError
	var walk func(error)
	walk = func(err error) {
		if fe, ok := err.(*FieldError); ok {
			out = append(out, fe)
			return
		}
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range j.Unwrap() {
				walk(e)
			}
		}
	}
	walk(err)
	return out
}
