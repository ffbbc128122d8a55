package report

import (
	"fmt"
	"path/filepath"
	"slices"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// Plots writes two grouped bar charts per scenario into dir: median
// convergence time and median peak RSS, one group per N and one bar per
// DUT. It returns the files written.
func Plots(dir string, sums []Summary) ([]string, error) {
	var scenarios []string
	for _, s := range sums {
		if !slices.Contains(scenarios, s.Scenario) {
			scenarios = append(scenarios, s.Scenario)
		}
	}
	var files []string
	for _, sc := range scenarios {
		for _, m := range []struct {
			name, ylabel string
			val          func(Summary) float64
		}{
			{"time", "convergence (s, median)", func(s Summary) float64 { return s.Convergence }},
			{"memory", "peak RSS (MiB, median)", func(s Summary) float64 { return s.PeakRSS / (1 << 20) }},
		} {
			path := filepath.Join(dir, fmt.Sprintf("%s-%s.png", sc, m.name))
			if err := barChart(path, sc, m.ylabel, sums, m.val); err != nil {
				return files, err
			}
			files = append(files, path)
		}
	}
	return files, nil
}

func barChart(path, scenario, ylabel string, sums []Summary, val func(Summary) float64) error {
	var ns []int
	var duts []string
	for _, s := range sums {
		if s.Scenario != scenario {
			continue
		}
		if !slices.Contains(ns, s.N) {
			ns = append(ns, s.N)
		}
		if !slices.Contains(duts, s.DUT) {
			duts = append(duts, s.DUT)
		}
	}
	slices.Sort(ns)
	p := plot.New()
	p.Title.Text = "route reflector: " + scenario
	p.Y.Label.Text = ylabel
	p.X.Label.Text = "N"
	w := vg.Points(60 / float64(max(len(duts), 1)))
	for i, d := range duts {
		vals := make(plotter.Values, len(ns))
		for j, n := range ns {
			for _, s := range sums {
				if s.Scenario == scenario && s.DUT == d && s.N == n && s.Runs > 0 {
					vals[j] = val(s)
				}
			}
		}
		b, err := plotter.NewBarChart(vals, w)
		if err != nil {
			return fmt.Errorf("report: plot %s: %w", path, err)
		}
		b.LineStyle.Width = vg.Length(0)
		b.Color = plotutil.Color(i)
		b.Offset = w * vg.Length(float64(i)-float64(len(duts)-1)/2)
		p.Add(b)
		p.Legend.Add(d, b)
	}
	p.Legend.Top = true
	labels := make([]string, len(ns))
	for i, n := range ns {
		labels[i] = fmt.Sprint(n)
	}
	p.NominalX(labels...)
	if err := p.Save(6*vg.Inch, 4*vg.Inch, path); err != nil {
		return fmt.Errorf("report: plot %s: %w", path, err)
	}
	return nil
}
