package mrt

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// allowedDiffs lists oracle lines kbgp deliberately prints differently, per
// file: expected line -> our line. Empty: every line matches.
var allowedDiffs = map[string]map[string]string{}

// TestBGPDumpOracle runs the formatter over every bgpdump__* input of the
// shared test data and compares its output line for line with the
// `bgpdump -m` output stored beside it.
func TestBGPDumpOracle(t *testing.T) {
	dir := sharedDir(t)
	files, err := filepath.Glob(filepath.Join(dir, "bgpdump__*.expected-bgpdump-m.txt.gz"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no oracle files in %s: %v", dir, err)
	}
	for _, exp := range files {
		input := strings.TrimSuffix(exp, ".expected-bgpdump-m.txt.gz")
		name := filepath.Base(input)
		t.Run(name, func(t *testing.T) {
			want := gunzipLines(t, exp)
			f, err := os.Open(input)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			var out bytes.Buffer
			skipped := 0
			if err := WriteBGPDump(&out, f, func(error) { skipped++ }); err != nil {
				t.Fatalf("dump: %v", err)
			}
			got := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
			allowed := allowedDiffs[name]
			match, shown := 0, 0
			for i := 0; i < max(len(got), len(want)); i++ {
				var g, w string
				if i < len(got) {
					g = got[i]
				}
				if i < len(want) {
					w = want[i]
				}
				if g == w || (allowed != nil && allowed[w] == g && g != "") {
					match++
					continue
				}
				if shown < 5 {
					t.Errorf("line %d:\n got  %q\n want %q", i+1, g, w)
					shown++
				}
			}
			pct := 100 * float64(match) / float64(max(len(got), len(want)))
			t.Logf("%s: %d/%d lines match (%.3f%%), %d expected, %d printed, %d records skipped", name, match, max(len(got), len(want)), pct, len(want), len(got), skipped)
			if match != len(want) || len(got) != len(want) {
				t.Errorf("%d of %d lines differ", max(len(got), len(want))-match, len(want))
			}
		})
	}
}

func gunzipLines(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	sc := bufio.NewScanner(zr)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return lines
}
