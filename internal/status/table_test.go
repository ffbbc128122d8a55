package status

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
)

func TestWrapParagraph(t *testing.T) {
	tests := []struct {
		name string
		in   string
		lim  int
		want []string
	}{
		{"fits", "Established", 30, []string{"Established"}},
		{"exactly the limit", strings.Repeat("x", 30), 30, []string{strings.Repeat("x", 30)}},
		// calicoctl#1883: the break after "Connection" (shortfall 5) beats
		// the one after "Socket:" (shortfall 16).
		{"refused", "Active Socket: Connection refused", 30, []string{"Active Socket: Connection", "refused"}},
		{"unreachable", "Active Socket: Host is unreachable", 30, []string{"Active Socket: Host is", "unreachable"}},
		// Minimal raggedness, not greedy: greedy fills "aaa bb" / "cc" /
		// "ddddd" (cost 0+16); balancing costs 9+1.
		{"balanced", "aaa bb cc ddddd", 6, []string{"aaa", "bb cc", "ddddd"}},
		{"last line is free", "aaa bb cc ddddd", 9, []string{"aaa bb cc", "ddddd"}},
		{"long word raises the limit", "short " + strings.Repeat("y", 40) + " end", 30,
			[]string{"short", strings.Repeat("y", 40), "end"}},
		{"double space is an empty word", "a  b", 2, []string{"a ", "b"}},
		{"empty", "", 30, []string{""}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, wrapParagraph(tc.in, tc.lim)); diff != "" {
				t.Errorf("wrapParagraph(%q, %d) (-want +got):\n%s", tc.in, tc.lim, diff)
			}
		})
	}
}

func TestTableRender(t *testing.T) {
	tests := []struct {
		name  string
		table Table
		want  string
	}{
		{"numbers right-aligned, header centered", Table{
			Header: []string{"name", "count_total"},
			Rows:   [][]string{{"a", "1,234"}, {"bb", "5%"}, {"c", "x1"}},
		}, `+------+-------------+
| NAME | COUNT TOTAL |
+------+-------------+
| a    |       1,234 |
| bb   |          5% |
| c    | x1          |
+------+-------------+
`},
		{"newline paragraphs and short rows", Table{
			Header: []string{"k", "val"},
			Rows:   [][]string{{"one\ntwo"}, {"x", "y"}},
		}, `+-----+-----+
|  K  | VAL |
+-----+-----+
| one |     |
|     |     |
| two |     |
| x   | y   |
+-----+-----+
`},
		// The library fills a short cell with two spaces even in a
		// one-wide column; reproduced, not fixed.
		{"filler overflows a one-wide column", Table{
			Header: []string{"k", "v"},
			Rows:   [][]string{{"a\nb", "c"}},
		}, "+---+---+\n| K | V |\n+---+---+\n| a | c |\n|   |    |\n| b |    |\n+---+---+\n"},
		{"custom wrap width", Table{
			Header:    []string{"info"},
			Rows:      [][]string{{"alpha beta gamma"}},
			WrapWidth: 10,
		}, `+------------+
|    INFO    |
+------------+
| alpha beta |
| gamma      |
+------------+
`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := tc.table.Render(&b); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, b.String()); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// FuzzWrapParagraph checks the wrapper's invariants: the lines rejoin to
// the input, and no line exceeds the limit unless it is a single word
// longer than the limit... or the limit was raised to the longest word.
func FuzzWrapParagraph(f *testing.F) {
	f.Add("Active Socket: Connection refused", 30)
	f.Add("a  b", 2)
	f.Add("", 1)
	f.Fuzz(func(t *testing.T, s string, lim int) {
		if !utf8.ValidString(s) || strings.Contains(s, "\n") || lim < 1 || lim > 200 || len(s) > 2000 {
			t.Skip()
		}
		lines := wrapParagraph(s, lim)
		if got := strings.Join(lines, " "); got != s {
			t.Fatalf("lines %q rejoin to %q, want %q", lines, got, s)
		}
		longest := lim
		for _, w := range strings.Split(s, " ") {
			longest = max(longest, width(w))
		}
		for _, l := range lines {
			if width(l) > longest {
				t.Fatalf("line %q is %d wide, limit %d", l, width(l), longest)
			}
		}
	})
}
