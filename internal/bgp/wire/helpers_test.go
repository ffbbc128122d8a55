package wire

import (
	"encoding/hex"
	"net/netip"
	"strings"
	"testing"

	"github.com/kbgp/kbgp/internal/shareddata"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

var cmpOpts = []cmp.Option{
	cmp.AllowUnexported(Attrs{}),
	cmpopts.IgnoreUnexported(Update{}),
	cmpopts.EquateEmpty(),
	cmp.Comparer(func(a, b netip.Addr) bool { return a == b }),
	cmp.Comparer(func(a, b netip.Prefix) bool { return a == b }),
}

// unhex decodes hex with spaces, newlines, colons and "#" comments.
func unhex(t testing.TB, s string) []byte {
	t.Helper()
	var sb strings.Builder
	for _, line := range strings.Split(s, "\n") {
		if i := strings.Index(line, "#"); i >= 0 {
			line = line[:i]
		}
		for _, r := range line {
			if r == ' ' || r == '\t' || r == ':' || r == '|' {
				continue
			}
			sb.WriteRune(r)
		}
	}
	b, err := hex.DecodeString(sb.String())
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

func pfx(s string) netip.Prefix { return netip.MustParsePrefix(s) }
func addr(s string) netip.Addr  { return netip.MustParseAddr(s) }

func nlris(ss ...string) []NLRI {
	var n []NLRI
	for _, s := range ss {
		n = append(n, NLRI{Prefix: pfx(s)})
	}
	return n
}

// sharedDir returns ../shared/testdata, skipping when it is absent.
func sharedDir(t testing.TB) string { return shareddata.Dir(t) }

// asError asserts err is a *Error and returns it.
func asError(t testing.TB, err error) *Error {
	t.Helper()
	e, ok := err.(*Error)
	if !ok {
		t.Fatalf("error %v (%T) is not a *wire.Error", err, err)
	}
	return e
}

// body strips and checks the header of a complete message.
func body(t testing.TB, msg []byte, want MsgType) []byte {
	t.Helper()
	n, typ, err := ParseHeader(msg, MaxExtMessageLen)
	if err != nil {
		t.Fatalf("ParseHeader: %v", err)
	}
	if typ != want || n != len(msg) {
		t.Fatalf("header says %v length %d, want %v length %d", typ, n, want, len(msg))
	}
	return msg[HeaderLen:]
}

func cmpDiff(a, b any) string { return cmp.Diff(a, b, cmpOpts...) }

func hexDecode(dst, src []byte) (int, error) { return hex.Decode(dst, src) }
