package status

import (
	"bufio"
	"io"
	"regexp"
	"strings"
	"unicode/utf8"
)

// DefaultWrapWidth is the cell width beyond which Table word-wraps, the
// default of the table library calicoctl used up to v3.32.
const DefaultWrapWidth = 30

// Table renders a bordered text table byte for byte like
// olekukonko/tablewriter v0.0.5 with its default settings, which is what
// `calicoctl node status` printed up to Calico v3.32:
//
//   - borders "+---+" above and below the header and below the last row,
//     no separators between rows;
//   - headers upper-cased ('_' becomes a space) and centered, with the
//     extra space of an odd gap going to the right;
//   - cells left-aligned, except cells that look like numbers
//     ("1,234", "-5.5", "12%") which are right-aligned;
//   - a cell wider than WrapWidth is word-wrapped with minimal raggedness
//     (the squared shortfall of every line but the last is minimised) and
//     its column is then WrapWidth wide, or as wide as its longest word;
//   - cells are split at newlines first, paragraphs separated by a blank
//     line.
//
// Widths count runes; the library counted terminal cells, which is the
// same for the ASCII text kbgp prints.
type Table struct {
	Header    []string
	Rows      [][]string
	WrapWidth int // 0 means DefaultWrapWidth
}

var (
	tableDecimal = regexp.MustCompile(`^-?(?:\d{1,3}(?:,\d{3})*|\d+)(?:\.\d+)?$`)
	tablePercent = regexp.MustCompile(`^-?\d+\.?\d*%$`)
)

// Render writes the table to w.
func (t *Table) Render(w io.Writer) error {
	lim := t.WrapWidth
	if lim <= 0 {
		lim = DefaultWrapWidth
	}
	ncol := len(t.Header)
	for _, r := range t.Rows {
		ncol = max(ncol, len(r))
	}
	widths := make([]int, ncol)
	cell := func(s string, col int) []string {
		lines, wd := wrapCell(s, lim)
		widths[col] = max(widths[col], wd)
		return lines
	}
	header := make([][]string, len(t.Header))
	for i, h := range t.Header {
		header[i] = cell(h, i)
	}
	rows := make([][][]string, len(t.Rows))
	for r, row := range t.Rows {
		rows[r] = make([][]string, ncol)
		for c := range ncol {
			s := ""
			if c < len(row) {
				s = row[c]
			}
			rows[r][c] = cell(s, c)
		}
	}

	bw := bufio.NewWriter(w)
	sep := func() {
		bw.WriteByte('+')
		for _, wd := range widths {
			bw.WriteString(strings.Repeat("-", wd+2))
			bw.WriteByte('+')
		}
		bw.WriteByte('\n')
	}

	sep()
	if len(header) > 0 {
		height := 0
		for _, h := range header {
			height = max(height, len(h))
		}
		for x := range height {
			bw.WriteByte('|')
			for c := range ncol {
				s := ""
				if c < len(header) && x < len(header[c]) {
					s = header[c][x]
				}
				bw.WriteByte(' ')
				bw.WriteString(padCenter(headerTitle(s), widths[c]))
				bw.WriteString(" |")
			}
			bw.WriteByte('\n')
		}
		sep()
	}
	for _, row := range rows {
		height := 0
		for _, c := range row {
			height = max(height, len(c))
		}
		for x := range height {
			bw.WriteByte('|')
			for c, lines := range row {
				// The library fills short cells with two spaces.
				s := "  "
				if x < len(lines) {
					s = lines[x]
				}
				bw.WriteByte(' ')
				if v := strings.TrimSpace(s); tableDecimal.MatchString(v) || tablePercent.MatchString(v) {
					bw.WriteString(padLeft(s, widths[c]))
				} else {
					bw.WriteString(padRight(s, widths[c]))
				}
				bw.WriteString(" |")
			}
			bw.WriteByte('\n')
		}
	}
	sep()
	return bw.Flush()
}

// headerTitle is the library's header formatting: '_' to space, trimmed,
// upper-cased, and at least one space if the header was not empty.
func headerTitle(s string) string {
	orig := len(s)
	s = strings.TrimSpace(strings.ReplaceAll(s, "_", " "))
	if s == "" && orig > 0 {
		s = " "
	}
	return strings.ToUpper(s)
}

func width(s string) int { return utf8.RuneCountInString(s) }

func padCenter(s string, w int) string {
	gap := w - width(s)
	if gap <= 0 {
		return s
	}
	left := gap / 2
	return strings.Repeat(" ", left) + s + strings.Repeat(" ", gap-left)
}

func padRight(s string, w int) string {
	if gap := w - width(s); gap > 0 {
		return s + strings.Repeat(" ", gap)
	}
	return s
}

func padLeft(s string, w int) string {
	if gap := w - width(s); gap > 0 {
		return strings.Repeat(" ", gap) + s
	}
	return s
}

// wrapCell splits a cell into display lines and returns them with the
// width the cell needs.
func wrapCell(s string, lim int) ([]string, int) {
	paras := strings.Split(s, "\n")
	wd := 0
	for _, p := range paras {
		wd = max(wd, width(p))
	}
	if wd > lim {
		wd = lim
	}
	need := wd
	var out []string
	for i, p := range paras {
		lines := wrapParagraph(p, wd)
		for _, l := range lines {
			need = max(need, width(l))
		}
		if i > 0 {
			out = append(out, " ")
		}
		out = append(out, lines...)
	}
	return out, need
}

// wrapParagraph breaks s (split at single spaces) into lines of at most lim
// runes with minimal raggedness: it minimises the sum over all lines but
// the last of (lim - length)², adding a large penalty for a line longer
// than lim (which only a single over-long word can force; lim is raised to
// the longest word first). Ties go to the earliest break.
func wrapParagraph(s string, lim int) []string {
	words := strings.Split(s, " ")
	for _, w := range words {
		lim = max(lim, width(w))
	}
	const penalty = 100000
	n := len(words)
	// length(i, j) is the width of words[i..j] joined by single spaces.
	prefix := make([]int, n+1)
	for i, w := range words {
		prefix[i+1] = prefix[i] + width(w)
	}
	length := func(i, j int) int { return prefix[j+1] - prefix[i] + (j - i) }

	cost := make([]int, n)
	next := make([]int, n)
	for i := n - 1; i >= 0; i-- {
		if length(i, n-1) <= lim {
			cost[i], next[i] = 0, n
			continue
		}
		cost[i] = int(^uint(0) >> 1)
		for j := i + 1; j < n; j++ {
			l := length(i, j-1)
			d := lim - l
			c := d*d + cost[j]
			if l > lim {
				c += penalty
			}
			if c < cost[i] {
				cost[i], next[i] = c, j
			}
		}
	}
	var lines []string
	for i := 0; i < n; i = next[i] {
		lines = append(lines, strings.Join(words[i:next[i]], " "))
	}
	return lines
}
