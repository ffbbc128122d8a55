package report

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func TestMedian(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []float64
		want float64
	}{
		{"none", nil, 0},
		{"one", []float64{3}, 3},
		{"odd unsorted", []float64{5, 1, 3}, 3},
		{"even", []float64{4, 1, 3, 2}, 2.5},
	} {
		if got := Median(tc.in); got != tc.want {
			t.Errorf("%s: Median(%v) = %v, want %v", tc.name, tc.in, got, tc.want)
		}
	}
}

func sample() []Result {
	r := func(dut string, run int, conv float64, rss int64, errs string) Result {
		return Result{Scenario: "k8s", DUT: dut, N: 100, Run: run, ConvergenceS: conv, CPUS: conv / 2, PeakRSSBytes: rss, Error: errs}
	}
	return []Result{
		r("kbgp", 1, 1, 10<<20, ""), r("bird", 1, 4, 5<<20, ""),
		r("kbgp", 2, 2, 10<<20, ""), r("bird", 2, 3, 5<<20, ""),
		r("kbgp", 3, 0, 0, "not converged"), r("bird", 3, 100, 5<<20, ""),
		{Scenario: "table", DUT: "bird", N: 4, Run: 1, ConvergenceS: 30, PeakRSSBytes: 300 << 20},
	}
}

func TestSummarize(t *testing.T) {
	sums := Summarize(sample(), []string{"kbgp", "bird"})
	if len(sums) != 3 {
		t.Fatalf("%d summaries, want 3", len(sums))
	}
	kb, bird := sums[0], sums[1]
	if kb.DUT != "kbgp" || kb.Runs != 2 || kb.Failed != 1 || kb.Convergence != 1.5 {
		t.Errorf("kbgp summary %+v: want 2 runs ok, 1 failed, median 1.5 s", kb)
	}
	// Ratios pair runs with the same index; run 3 has no kbgp result.
	if bird.DUT != "bird" || bird.Runs != 3 || bird.Convergence != 4 || !bird.HasRatio || bird.TimeRatio != 2.75 || bird.RSSRatio != 0.5 {
		t.Errorf("bird summary %+v: want median 4 s, time ratio median(4/1, 3/2) = 2.75, RSS ratio 0.5", bird)
	}
	if tb := sums[2]; tb.Scenario != "table" || tb.HasRatio {
		t.Errorf("table summary %+v: no kbgp run, so no ratio", tb)
	}
}

func TestMarkdownGolden(t *testing.T) {
	var b bytes.Buffer
	if err := Markdown(&b, Summarize(sample(), []string{"kbgp", "bird"})); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("testdata", "summary.md.golden")
	if *update {
		if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b.Bytes(), want) {
		t.Errorf("Markdown differs from %s:\n%s", path, b.String())
	}
}

func TestWriteRead(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.json")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := Write(f, sample()); err != nil {
		t.Fatal(err)
	}
	f.Close()
	got, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(sample()) || got[1] != sample()[1] {
		t.Errorf("round trip: %+v", got)
	}
	if err := os.WriteFile(path, []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Read(path); err == nil {
		t.Error("Read of broken JSON: no error")
	}
}

func TestPlots(t *testing.T) {
	dir := t.TempDir()
	files, err := Plots(dir, Summarize(sample(), []string{"kbgp", "bird"}))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 4 {
		t.Fatalf("%d plots, want 4 (2 scenarios x time, memory)", len(files))
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")) || len(b) < 1000 {
			t.Errorf("%s is not a PNG (%d bytes)", f, len(b))
		}
	}
}
