// Package report aggregates the route-reflector benchmark's runs: the JSON
// results file, medians and same-run ratios to kbgp, a Markdown table and
// PNG plots.
package report

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
)

// Result is one run of one DUT in one scenario.
type Result struct {
	Scenario string `json:"scenario"`
	DUT      string `json:"dut"`
	N        int    `json:"n"`
	Run      int    `json:"run"`
	// ConvergenceS is the time from the first connection attempt (churn:
	// from the first withdrawal) until every client had every prefix it
	// must receive.
	ConvergenceS float64 `json:"convergence_s"`
	// EstablishedS is when the last session was Established.
	EstablishedS float64 `json:"established_s"`
	// QuiesceS is when the last UPDATE arrived at any client (followed by
	// a quiet period), measured like ConvergenceS.
	QuiesceS float64 `json:"quiesce_s"`
	// CPUS is the DUT processes' user+system CPU seconds (churn: during
	// the churn phase only).
	CPUS float64 `json:"cpu_s"`
	// PeakRSSBytes is the sum of the DUT processes' VmHWM.
	PeakRSSBytes int64 `json:"peak_rss_bytes"`
	// Sessions and Routes size the run: BGP sessions, distinct prefixes.
	Sessions int `json:"sessions"`
	Routes   int `json:"routes"`
	// UpdatesReceived and PrefixesReceived sum what the clients got.
	UpdatesReceived  int64 `json:"updates_received"`
	PrefixesReceived int64 `json:"prefixes_received"`
	// SessionRetries counts session attempts that failed before
	// Established (connection refused, NOTIFICATION, ...).
	SessionRetries int64 `json:"session_retries"`
	// SessionDrops counts sessions the DUT took down after Established;
	// the client re-established them and the time includes that.
	SessionDrops int64 `json:"session_drops"`
	// RetryError is one example of a failed attempt or drop.
	RetryError string `json:"retry_error,omitempty"`
	// Dir holds the generated configuration and the DUT's logs.
	Dir   string `json:"dir,omitempty"`
	Start string `json:"start"`
	Error string `json:"error,omitempty"`
}

// Write writes rs as an indented JSON list.
func Write(w io.Writer, rs []Result) error {
	e := json.NewEncoder(w)
	e.SetIndent("", "  ")
	return e.Encode(rs)
}

// Read reads a JSON results file.
func Read(path string) ([]Result, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	var rs []Result
	if err := json.Unmarshal(b, &rs); err != nil {
		return nil, fmt.Errorf("report: %s: %w", path, err)
	}
	return rs, nil
}

// Key identifies a series point: scenario, DUT and size.
type Key struct {
	Scenario string
	DUT      string
	N        int
}

// Summary is the medians over the successful runs of one Key, and the
// medians of the per-run ratios to kbgp (the same run index).
type Summary struct {
	Key
	Runs, Failed        int
	Convergence, CPU    float64
	PeakRSS             float64
	TimeRatio, RSSRatio float64 // DUT / kbgp; 0 when not available
	HasRatio            bool
}

// Median returns the median of xs (0 for none).
func Median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// Summarize groups rs by Key, in scenario, N and DUT order (DUT order as
// in duts).
func Summarize(rs []Result, duts []string) []Summary {
	type runKey struct {
		Key
		run int
	}
	byRun := map[runKey]Result{}
	groups := map[Key][]Result{}
	for _, r := range rs {
		k := Key{r.Scenario, r.DUT, r.N}
		groups[k] = append(groups[k], r)
		if r.Error == "" {
			byRun[runKey{k, r.Run}] = r
		}
	}
	var out []Summary
	for k, g := range groups {
		s := Summary{Key: k}
		var conv, cpu, rss, tr, mr []float64
		for _, r := range g {
			if r.Error != "" {
				s.Failed++
				continue
			}
			s.Runs++
			conv = append(conv, r.ConvergenceS)
			cpu = append(cpu, r.CPUS)
			rss = append(rss, float64(r.PeakRSSBytes))
			if kb, ok := byRun[runKey{Key{k.Scenario, "kbgp", k.N}, r.Run}]; ok && kb.ConvergenceS > 0 && kb.PeakRSSBytes > 0 {
				tr = append(tr, r.ConvergenceS/kb.ConvergenceS)
				mr = append(mr, float64(r.PeakRSSBytes)/float64(kb.PeakRSSBytes))
			}
		}
		s.Convergence, s.CPU, s.PeakRSS = Median(conv), Median(cpu), Median(rss)
		if len(tr) > 0 {
			s.TimeRatio, s.RSSRatio, s.HasRatio = Median(tr), Median(mr), true
		}
		out = append(out, s)
	}
	order := func(d string) int {
		if i := slices.Index(duts, d); i >= 0 {
			return i
		}
		return len(duts)
	}
	slices.SortFunc(out, func(a, b Summary) int {
		return cmp.Or(cmp.Compare(a.Scenario, b.Scenario), cmp.Compare(a.N, b.N), cmp.Compare(order(a.DUT), order(b.DUT)), cmp.Compare(a.DUT, b.DUT))
	})
	return out
}

// MiB formats bytes as MiB.
func MiB(b float64) string { return fmt.Sprintf("%.1f MiB", b/(1<<20)) }

// Markdown writes the summary table. The ratio columns are the median of
// the per-run ratios DUT/kbgp: above 1 means kbgp was faster or smaller.
func Markdown(w io.Writer, sums []Summary) error {
	var b strings.Builder
	b.WriteString("| scenario | N | DUT | runs ok | convergence (median) | DUT CPU | peak RSS | time / kbgp | RSS / kbgp |\n")
	b.WriteString("| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |\n")
	for _, s := range sums {
		ratio, rss := "", ""
		if s.HasRatio && s.DUT != "kbgp" {
			ratio, rss = fmt.Sprintf("%.2f", s.TimeRatio), fmt.Sprintf("%.2f", s.RSSRatio)
		}
		ok := fmt.Sprintf("%d/%d", s.Runs, s.Runs+s.Failed)
		if s.Runs == 0 {
			fmt.Fprintf(&b, "| %s | %d | %s | %s | failed | | | | |\n", s.Scenario, s.N, s.DUT, ok)
			continue
		}
		fmt.Fprintf(&b, "| %s | %d | %s | %s | %.2f s | %.2f s | %s | %s | %s |\n",
			s.Scenario, s.N, s.DUT, ok, s.Convergence, s.CPU, MiB(s.PeakRSS), ratio, rss)
	}
	_, err := io.WriteString(w, b.String())
	return err
}
