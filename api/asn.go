package api

import (
	"fmt"
	"strconv"
	"strings"
)

// ASNumber is a 4-byte autonomous system number. In YAML and JSON it is an
// integer (64512) or asdot notation "a.b" (RFC 5396 §1: "<high order 16
// bit value in decimal>.<low order 16 bit value in decimal>"). Zero means
// unset.
type ASNumber uint32

// ParseASNumber parses an asplain or asdot AS number.
func ParseASNumber(s string) (ASNumber, error) {
	s = strings.TrimSpace(s)
	if hi, lo, ok := strings.Cut(s, "."); ok {
		h, err1 := strconv.ParseUint(hi, 10, 16)
		l, err2 := strconv.ParseUint(lo, 10, 16)
		if err1 != nil || err2 != nil {
			return 0, fmt.Errorf("AS number %q: asdot parts must each be 0-65535", s)
		}
		return ASNumber(h<<16 | l), nil
	}
	v, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return 0, fmt.Errorf("AS number %q: want an integer 0-4294967295 or asdot \"a.b\"", s)
	}
	return ASNumber(v), nil
}

// String returns asplain notation.
func (a ASNumber) String() string { return strconv.FormatUint(uint64(a), 10) }

// UnmarshalText implements encoding.TextUnmarshaler.
func (a *ASNumber) UnmarshalText(b []byte) error {
	v, err := ParseASNumber(string(b))
	if err != nil {
		return err
	}
	*a = v
	return nil
}

// MarshalJSON writes the AS number as a JSON integer.
func (a ASNumber) MarshalJSON() ([]byte, error) {
	return strconv.AppendUint(nil, uint64(a), 10), nil
}

// UnmarshalJSON accepts a JSON integer or string.
func (a *ASNumber) UnmarshalJSON(b []byte) error {
	return a.UnmarshalText([]byte(strings.Trim(string(b), `"`)))
}
