package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/kbgp/kbgp/bench/rr/dut"
	"github.com/kbgp/kbgp/bench/rr/report"
	"github.com/kbgp/kbgp/internal/netns"
)

// job is one (scenario, N) point; every DUT runs it Runs times.
type job struct {
	scenario string
	n        int
	churn    bool
}

type options struct {
	quick      bool
	duts       []string
	scenarios  []string
	k8sN       []int
	sessionsN  int
	testers    int
	tableLimit int
	runs       int
	firstRun   int
	out        string
	shared     string
	profile    bool
	quiet      time.Duration
	timeout    time.Duration
	kbgp       string // the kbgp binary for kbgp-agent ("": build one)
	gobgp4     string // gobgpd v4 for gobgp4 ("": build or reuse the cached one)
	speaker    string // cmd/kbgp-speaker for kbgp (built for each run)
	root       string // the repository

	// speakerProfile is cmd/kbgp-speaker built with -tags profile, for
	// kbgp's unmeasured profile run only.
	speakerProfile string
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func intList(s string) ([]int, error) {
	var out []int
	for _, f := range splitList(s) {
		n, err := strconv.Atoi(f)
		if err != nil {
			return nil, fmt.Errorf("bad number %q in %q", f, s)
		}
		out = append(out, n)
	}
	return out, nil
}

// repoRoot walks up from the working directory to the kbgp repository root
// (the go.mod of module github.com/kbgp/kbgp).
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && bytes.HasPrefix(b, []byte("module github.com/kbgp/kbgp\n")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("not inside the kbgp repository (no go.mod of module github.com/kbgp/kbgp above the working directory)")
		}
		dir = parent
	}
}

func parseOptions(args []string) (*options, error) {
	fs := flag.NewFlagSet("rrbench", flag.ContinueOnError)
	o := &options{}
	var duts, scen, k8sN string
	fs.BoolVar(&o.quick, "quick", false, "CI smoke mode: small sizes, one run, under 5 minutes")
	fs.StringVar(&duts, "duts", "kbgp,kbgp-agent,bird,frr,gobgp,gobgp4", "DUTs, in interleaving order (also: null)")
	fs.StringVar(&scen, "scenarios", "k8s,table,sessions", "scenarios (k8s includes churn)")
	fs.StringVar(&k8sN, "k8s-n", "100,500,1000", "k8s client counts")
	fs.IntVar(&o.sessionsN, "sessions-n", 2000, "sessions scenario client count")
	fs.IntVar(&o.testers, "testers", 4, "table scenario testers")
	fs.IntVar(&o.tableLimit, "table-limit", 0, "table scenario: first prefixes only (0: the whole table)")
	fs.IntVar(&o.runs, "runs", 3, "runs per DUT (interleaved)")
	fs.IntVar(&o.firstRun, "first-run", 1, "number of the first run (to continue a series in another invocation)")
	fs.StringVar(&o.out, "out", "", "results directory (default bench/results in the repository)")
	fs.StringVar(&o.shared, "shared", "", "shared test data (default ../shared/testdata beside the repository)")
	fs.BoolVar(&o.profile, "profile", true, "write kbgp CPU/heap profiles into the results, from one extra unmeasured run of each kbgp DUT per scenario point")
	fs.DurationVar(&o.quiet, "quiet", 2*time.Second, "quiet period after convergence")
	fs.DurationVar(&o.timeout, "timeout", 5*time.Minute, "per-run convergence timeout (a DUT that has not converged by then is recorded as failed)")
	fs.StringVar(&o.gobgp4, "gobgp4", "", "gobgpd v4 binary for the gobgp4 DUT (default: go install "+dut.GoBGP4Module+"@"+dut.GoBGP4Version+", cached in $XDG_CACHE_HOME/kbgp or ~/.cache/kbgp)")
	fs.StringVar(&o.kbgp, "kbgp", "", "kbgp binary for the kbgp-agent DUT (default: go build ./cmd/kbgp from the repository into a temporary directory)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	var err error
	if o.k8sN, err = intList(k8sN); err != nil {
		return nil, err
	}
	o.duts, o.scenarios = splitList(duts), splitList(scen)
	for _, d := range o.duts {
		if _, err := dut.New(d); err != nil {
			return nil, err
		}
	}
	if o.quick {
		o.runs = 1
		o.k8sN = []int{20}
		o.sessionsN = 100
		o.testers = 2
		o.tableLimit = 20000
		o.quiet = time.Second
		o.timeout = 90 * time.Second
	}
	root, err := repoRoot()
	if err != nil {
		return nil, err
	}
	o.root = root
	if o.out == "" {
		o.out = filepath.Join(root, "bench", "results")
	}
	if o.shared == "" {
		o.shared = filepath.Join(root, "..", "shared", "testdata")
	}
	return o, nil
}

func (o *options) jobs() ([]job, error) {
	var js []job
	for _, s := range o.scenarios {
		switch s {
		case "k8s", "churn":
			for _, n := range o.k8sN {
				js = append(js, job{"k8s", n, true})
			}
		case "table":
			if _, err := os.Stat(filepath.Join(o.shared, "mrt")); err != nil {
				return nil, fmt.Errorf("table scenario needs the shared test data: %w", err)
			}
			js = append(js, job{"table", o.testers, false})
		case "sessions":
			js = append(js, job{"sessions", o.sessionsN, false})
		default:
			return nil, fmt.Errorf("unknown scenario %q (k8s, table, sessions)", s)
		}
	}
	return js, nil
}

// preflight checks root and the DUT binaries.
func preflight(duts []string) error {
	if os.Geteuid() != 0 {
		return errors.New("must run as root (it creates network namespaces)")
	}
	need := map[string][]string{"bird": {"bird"}, "frr": {"/usr/lib/frr/zebra", "/usr/lib/frr/bgpd"}, "gobgp": {"gobgpd"}}
	for _, d := range duts {
		for _, b := range need[d] {
			if _, err := exec.LookPath(b); err != nil {
				return fmt.Errorf("DUT %s needs %s: %w (apt-get install bird2 frr gobgpd)", d, b, err)
			}
		}
	}
	_, err := exec.LookPath("ip")
	return err
}

func orchestrate(ctx context.Context, args []string) error {
	o, err := parseOptions(args)
	if err != nil {
		return err
	}
	if err := preflight(o.duts); err != nil {
		return err
	}
	js, err := o.jobs()
	if err != nil {
		return err
	}
	if slices.Contains(o.duts, "kbgp-agent") {
		if o.kbgp == "" {
			tmp, err := os.MkdirTemp("", "rrbench-kbgp-")
			if err != nil {
				return err
			}
			defer os.RemoveAll(tmp)
			o.kbgp = filepath.Join(tmp, "kbgp")
			fmt.Fprintf(os.Stderr, "rrbench: building %s for kbgp-agent\n", o.kbgp)
			if err := dut.BuildKBGP(ctx, o.root, o.kbgp); err != nil {
				return err
			}
		} else if o.kbgp, err = filepath.Abs(o.kbgp); err != nil {
			return err
		} else if _, err := os.Stat(o.kbgp); err != nil {
			return fmt.Errorf("-kbgp: %w", err)
		}
	}
	if slices.Contains(o.duts, "kbgp") {
		tmp, err := os.MkdirTemp("", "rrbench-speaker-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		o.speaker = filepath.Join(tmp, "kbgp-speaker")
		if err := dut.BuildSpeaker(ctx, filepath.Join(o.root, "bench", "rr"), o.speaker, false); err != nil {
			return err
		}
		if o.profile {
			o.speakerProfile = filepath.Join(tmp, "kbgp-speaker-profile")
			if err := dut.BuildSpeaker(ctx, filepath.Join(o.root, "bench", "rr"), o.speakerProfile, true); err != nil {
				return err
			}
		}
	}
	if slices.Contains(o.duts, "gobgp4") && o.gobgp4 == "" {
		cache, err := os.UserCacheDir()
		if err != nil {
			return fmt.Errorf("gobgp4: %w (or pass -gobgp4)", err)
		}
		fmt.Fprintf(os.Stderr, "rrbench: gobgp4 is %s@%s (built once into %s)\n", dut.GoBGP4Module, dut.GoBGP4Version, filepath.Join(cache, "kbgp"))
		if o.gobgp4, err = dut.GoBGP4Binary(ctx, filepath.Join(cache, "kbgp")); err != nil {
			return err
		}
	}
	stamp := time.Now().UTC().Format("2006-01-02T150405Z")
	if o.quick {
		stamp += "-quick"
	}
	runDir := filepath.Join(o.out, stamp)
	if err := os.MkdirAll(runDir, 0o755); err != nil {
		return err
	}
	total := len(js) * o.runs * len(o.duts)
	fmt.Fprintf(os.Stderr, "rrbench: %d runs (%d points x %d DUTs x %d), results in %s\n", total, len(js), len(o.duts), o.runs, runDir)
	var results []report.Result
	i := 0
	save := func() error {
		f, err := os.Create(filepath.Join(o.out, stamp+".json"))
		if err != nil {
			return err
		}
		defer f.Close()
		return report.Write(f, results)
	}
	for _, j := range js {
		for run := o.firstRun; run < o.firstRun+o.runs; run++ {
			for _, d := range o.duts {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				i++
				a := &innerArgs{Scenario: j.scenario, DUT: d, N: j.n, Run: run, Shared: o.shared,
					TableLimit: o.tableLimit, Quiet: o.quiet, Timeout: o.timeout,
					Churn: j.churn, KBGP: o.kbgp, GoBGP4: o.gobgp4, Speaker: o.speaker}
				a.Dir = filepath.Join(runDir, fmt.Sprintf("%s-%d-%s-%d", j.scenario, j.n, d, run))
				tag := fmt.Sprintf("[%d/%d %s n=%d %s run %d]", i, total, j.scenario, j.n, d, run)
				fmt.Fprintf(os.Stderr, "%s start (load %s)\n", tag, loadAvg())
				rs := runOne(ctx, a, tag)
				tidyRunDir(a.Dir)
				for _, r := range rs {
					if r.Error != "" {
						fmt.Fprintf(os.Stderr, "%s %s FAILED: %s\n", tag, r.Scenario, r.Error)
					}
				}
				results = append(results, rs...)
				if err := save(); err != nil {
					return err
				}
			}
		}
		if o.profile {
			// The profiles come from one more run of each kbgp DUT, which
			// is not measured: the profiler's buffers and signals would
			// count against kbgp's memory and time.
			for _, d := range o.duts {
				if d != "kbgp" && d != "kbgp-agent" || ctx.Err() != nil {
					continue
				}
				a := &innerArgs{Scenario: j.scenario, DUT: d, N: j.n, Run: 0, Shared: o.shared,
					TableLimit: o.tableLimit, Quiet: o.quiet, Timeout: o.timeout, Profile: true,
					Churn: j.churn, KBGP: o.kbgp, GoBGP4: o.gobgp4, Speaker: o.speakerProfile}
				a.Dir = filepath.Join(runDir, fmt.Sprintf("%s-%d-%s-profile", j.scenario, j.n, d))
				tag := fmt.Sprintf("[profile %s n=%d %s]", j.scenario, j.n, d)
				fmt.Fprintf(os.Stderr, "%s start (load %s)\n", tag, loadAvg())
				for _, r := range runOne(ctx, a, tag) {
					if r.Error != "" {
						fmt.Fprintf(os.Stderr, "%s %s FAILED: %s\n", tag, r.Scenario, r.Error)
					}
				}
				tidyRunDir(a.Dir)
			}
		}
	}
	return finish(o.out, o.duts, stamp, runDir, results)
}

// reportCmd summarizes one or more results files (e.g. a series split over
// several invocations) into one Markdown table and one set of plots.
func reportCmd(args []string) error {
	fs := flag.NewFlagSet("rrbench report", flag.ContinueOnError)
	duts := fs.String("duts", strings.Join(dut.Names, ","), "DUT order in the table")
	name := fs.String("name", "combined", "name of the combined results (NAME.json, NAME.md, NAME/)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return errors.New("report: give the results JSON files")
	}
	var all []report.Result
	for _, f := range fs.Args() {
		rs, err := report.Read(f)
		if err != nil {
			return err
		}
		all = append(all, rs...)
	}
	out := filepath.Dir(fs.Arg(0))
	runDir := filepath.Join(out, *name)
	if err := os.MkdirAll(runDir, 0o755); err != nil {
		return err
	}
	f, err := os.Create(filepath.Join(out, *name+".json"))
	if err != nil {
		return err
	}
	if err := report.Write(f, all); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return finish(out, splitList(*duts), *name, runDir, all)
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// runOne runs one DUT in a fresh namespace and always removes it.
func runOne(ctx context.Context, a *innerArgs, tag string) []report.Result {
	fail := func(err error) []report.Result {
		return []report.Result{{Scenario: a.Scenario, DUT: a.DUT, N: a.N, Run: a.Run, Dir: a.Dir, Error: err.Error()}}
	}
	if err := os.MkdirAll(a.Dir, 0o755); err != nil {
		return fail(err)
	}
	ns, err := netns.Add(netns.Unique("kbrr"))
	if err != nil {
		return fail(err)
	}
	defer cleanupNS(ns)
	// The DUT's address, and the clients' /16: on lo the whole prefix is
	// local, so every client binds its own address in it; it is also the
	// connected route that resolves the clients' next hops.
	for _, addr := range []string{"10.0.0.1/32", "10.100.0.1/16"} {
		if out, err := exec.Command("ip", "-n", ns.Name, "addr", "add", addr, "dev", "lo").CombinedOutput(); err != nil {
			return fail(fmt.Errorf("ip addr add %s in %s: %v: %s", addr, ns.Name, err, out))
		}
	}
	self, err := os.Executable()
	if err != nil {
		return fail(err)
	}
	cmd := exec.Command("ip", append([]string{"netns", "exec", ns.Name, self}, a.argv()...)...)
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return fail(err)
	}
	// Own process group, so a Ctrl-C reaches it only through us (SIGTERM
	// below): it then stops its DUT before we delete the namespace.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fail(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			fmt.Fprintf(os.Stderr, "%s %s\n", tag, sc.Text())
		}
	}()
	waitc := make(chan error, 1)
	go func() {
		<-done
		waitc <- cmd.Wait()
	}()
	var werr error
	select {
	case werr = <-waitc:
	case <-ctx.Done():
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case werr = <-waitc:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			werr = <-waitc
		}
	}
	var rs []report.Result
	if err := json.Unmarshal(stdout.Bytes(), &rs); err != nil || len(rs) == 0 {
		return fail(fmt.Errorf("run failed (%v) and printed no results: %q", werr, stdout.String()))
	}
	return rs
}

// tidyRunDir removes what a stopped DUT leaves that is not a result: its
// control sockets and pid files.
func tidyRunDir(dir string) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if !e.Type().IsRegular() && !e.IsDir() || strings.HasSuffix(e.Name(), ".pid") {
			_ = os.Remove(filepath.Join(dir, e.Name()))
		}
	}
}

// cleanupNS kills, by PID, any process left in the namespace and deletes it.
func cleanupNS(ns *netns.NS) {
	if pids, err := ns.Pids(); err == nil {
		for _, pid := range pids {
			if pid != os.Getpid() {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	}
	if err := ns.Delete(); err != nil {
		fmt.Fprintln(os.Stderr, "rrbench: warning:", err)
	}
}

func finish(out string, duts []string, stamp, runDir string, results []report.Result) error {
	sums := report.Summarize(results, duts)
	var md bytes.Buffer
	fmt.Fprintf(&md, "Results of `%s` (%s), %s\n\n", strings.Join(os.Args, " "), stamp, machine())
	if err := report.Markdown(&md, sums); err != nil {
		return err
	}
	plots, err := report.Plots(runDir, sums)
	if err != nil {
		return err
	}
	for _, p := range plots {
		rel, _ := filepath.Rel(out, p)
		fmt.Fprintf(&md, "\n![%s](%s)\n", filepath.Base(p), rel)
	}
	mdPath := filepath.Join(out, stamp+".md")
	if err := os.WriteFile(mdPath, md.Bytes(), 0o644); err != nil {
		return err
	}
	os.Stdout.Write(md.Bytes())
	fmt.Fprintf(os.Stderr, "rrbench: wrote %s, %s and %d plots\n", filepath.Join(out, stamp+".json"), mdPath, len(plots))
	return nil
}

// machine describes the host: CPUs, model, kernel, Go, load.
func machine() string {
	model := "?"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "model name") {
				if _, v, ok := strings.Cut(l, ":"); ok {
					model = strings.TrimSpace(v)
				}
				break
			}
		}
	}
	kernel := "?"
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		kernel = strings.TrimSpace(string(b))
	}
	return fmt.Sprintf("%d CPUs (%s), Linux %s, %s, load average at the end %s", runtime.NumCPU(), model, kernel, runtime.Version(), loadAvg())
}
