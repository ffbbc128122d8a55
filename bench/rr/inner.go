package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/kbgp/kbgp/bench/rr/dut"
	"github.com/kbgp/kbgp/bench/rr/load"
	"github.com/kbgp/kbgp/bench/rr/report"
	"github.com/kbgp/kbgp/bench/rr/scenario"
)

// settle is how long every DUT gets between listening and the first client.
const settle = time.Second

// innerArgs configure one run of one DUT (the _run subcommand).
type innerArgs struct {
	Scenario   string
	DUT        string
	N          int
	Run        int
	Dir        string
	Shared     string
	TableLimit int
	Testers    int
	Quiet      time.Duration
	Timeout    time.Duration
	Profile    bool
	Churn      bool
	// KBGP is the kbgp binary (kbgp-agent).
	KBGP string
	// GoBGP4 is gobgpd v4 (gobgp4).
	GoBGP4 string
	// Speaker is cmd/kbgp-speaker (kbgp).
	Speaker string
}

func (a *innerArgs) flags(fs *flag.FlagSet) {
	fs.StringVar(&a.Scenario, "scenario", "k8s", "k8s, table or sessions")
	fs.StringVar(&a.DUT, "dut", "kbgp", "the DUT")
	fs.IntVar(&a.N, "n", 10, "clients (k8s, sessions) or testers (table)")
	fs.IntVar(&a.Run, "run", 1, "run number")
	fs.StringVar(&a.Dir, "dir", "", "run directory (configs, logs)")
	fs.StringVar(&a.Shared, "shared", "", "shared test data directory")
	fs.IntVar(&a.TableLimit, "table-limit", 0, "use only the first prefixes of the table (0: all)")
	fs.DurationVar(&a.Quiet, "quiet", 2*time.Second, "quiet period that ends a run")
	fs.DurationVar(&a.Timeout, "timeout", 10*time.Minute, "give up after")
	fs.BoolVar(&a.Profile, "profile", false, "kbgp, kbgp-agent: write CPU and heap profiles into dir")
	fs.BoolVar(&a.Churn, "churn", false, "k8s: also run the churn phase (a second result)")
	fs.StringVar(&a.KBGP, "kbgp", "", "kbgp-agent: the kbgp binary")
	fs.StringVar(&a.GoBGP4, "gobgp4", "", "gobgp4: the gobgpd v4 binary")
	fs.StringVar(&a.Speaker, "speaker", "", "kbgp: the kbgp-speaker binary (default: the speaker inside this binary)")
}

func (a *innerArgs) argv() []string {
	v := []string{"_run", "-scenario", a.Scenario, "-dut", a.DUT, "-n", fmt.Sprint(a.N), "-run", fmt.Sprint(a.Run),
		"-dir", a.Dir, "-shared", a.Shared, "-table-limit", fmt.Sprint(a.TableLimit),
		"-quiet", a.Quiet.String(), "-timeout", a.Timeout.String()}
	if a.Profile {
		v = append(v, "-profile")
	}
	if a.Churn {
		v = append(v, "-churn")
	}
	if a.KBGP != "" {
		v = append(v, "-kbgp", a.KBGP)
	}
	if a.GoBGP4 != "" {
		v = append(v, "-gobgp4", a.GoBGP4)
	}
	if a.Speaker != "" {
		v = append(v, "-speaker", a.Speaker)
	}
	return v
}

func build(a *innerArgs) (*scenario.Workload, error) {
	switch a.Scenario {
	case "k8s":
		return scenario.K8s(a.N, a.Churn)
	case "sessions":
		return scenario.Sessions(a.N)
	case "table":
		t, err := scenario.LoadTable(filepath.Join(a.Shared, scenario.TableFile), a.TableLimit, scenario.AS)
		if err != nil {
			return nil, err
		}
		return scenario.TableLoad(t, a.N)
	}
	return nil, fmt.Errorf("unknown scenario %q (k8s, table, sessions)", a.Scenario)
}

// runInner runs inside the run's namespace: it starts the DUT, drives the
// clients and prints the results as JSON on stdout. Progress goes to stderr.
func runInner(ctx context.Context, args []string) error {
	var a innerArgs
	fs := flag.NewFlagSet("_run", flag.ContinueOnError)
	a.flags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	// 2,000 sessions need more than the usual 1,024 descriptors, in the
	// DUT too. Setting the limit explicitly also stops Go from restoring
	// the lower soft limit in the children.
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err == nil {
		rl.Cur = rl.Max
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl)
	}
	res, err := inner(ctx, &a)
	if err != nil {
		for i := range res {
			if res[i].Error == "" {
				res[i].Error = err.Error()
			}
		}
		if len(res) == 0 {
			res = []report.Result{{Scenario: a.Scenario, DUT: a.DUT, N: a.N, Run: a.Run, Dir: a.Dir, Error: err.Error()}}
		}
	}
	return json.NewEncoder(os.Stdout).Encode(res)
}

func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
}

func inner(ctx context.Context, a *innerArgs) (res []report.Result, err error) {
	w, err := build(a)
	if err != nil {
		return nil, err
	}
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	d, err := dut.New(a.DUT)
	if err != nil {
		return nil, err
	}
	r := report.Result{Scenario: a.Scenario, DUT: a.DUT, N: a.N, Run: a.Run, Dir: a.Dir,
		Sessions: len(w.Clients), Routes: w.Routes, Start: time.Now().UTC().Format(time.RFC3339)}
	res = []report.Result{r}
	setup := dut.Setup{Addr: scenario.DUTAddr, AS: scenario.AS, Clients: w.Peers(), Dir: a.Dir, Self: self, KBGP: a.KBGP, GoBGP4: a.GoBGP4, Speaker: a.Speaker, Profile: a.Profile, Debug: os.Getenv("RRBENCH_DEBUG") != ""}
	if err := d.Start(ctx, setup); err != nil {
		return res, err
	}
	defer func() {
		// A DUT that stops badly after it was measured does not void the
		// measurement; it is reported.
		if serr := d.Stop(); serr != nil {
			progress("  warning: %v", serr)
		}
	}()
	if err := dut.WaitListening(ctx, 179, 30*time.Second); err != nil {
		return res, errors.Join(err, dut.Check(d, a.Dir))
	}
	// kbgp-agent listens before it has configured every client.
	if err := dut.Ready(ctx, d, 2*time.Minute); err != nil {
		return res, errors.Join(err, dut.Check(d, a.Dir))
	}
	// Let every DUT settle for the same second after it listens: FRR's
	// bgpd resets sessions that arrive before zebra has told it about the
	// interfaces ("nexthop_set failed"), which is a start-up race, not
	// reflection performance.
	select {
	case <-ctx.Done():
		return res, ctx.Err()
	case <-time.After(settle):
	}
	if err := dut.Check(d, a.Dir); err != nil {
		return res, err
	}
	run := &load.Run{
		DUT:      netip.AddrPortFrom(scenario.DUTAddr, 179),
		Index:    w.Index,
		Clients:  w.Clients,
		Progress: func(s string) { progress("  %s", s) },
	}
	run.Start(ctx)
	defer run.Close()
	t0 := run.T0()
	tm, err := run.Wait(ctx, t0, a.Timeout)
	if err != nil {
		err = errors.Join(err, dut.Check(d, a.Dir))
		progress("  failed: %v", err)
		return res, err
	}
	q, err := run.Quiesce(ctx, t0, a.Quiet, a.Timeout)
	if err != nil {
		return res, err
	}
	u, err := dut.Measure(d.PIDs())
	if err != nil {
		return res, err
	}
	res[0].ConvergenceS = tm.Converged.Seconds()
	res[0].EstablishedS = tm.Established.Seconds()
	res[0].QuiesceS = q.Seconds()
	res[0].CPUS = u.CPU.Seconds()
	res[0].PeakRSSBytes = u.PeakRSS
	res[0].UpdatesReceived, res[0].PrefixesReceived, _ = run.Counts()
	res[0].SessionRetries, res[0].SessionDrops = run.Retries()
	res[0].RetryError = run.RetryError()
	if res[0].SessionDrops > 0 {
		progress("  %d sessions went down after Established and were re-established", res[0].SessionDrops)
	}
	progress("  converged in %.2fs (established %.2fs, quiet after %.2fs), DUT CPU %.2fs, peak RSS %s",
		tm.Converged.Seconds(), tm.Established.Seconds(), q.Seconds(), u.CPU.Seconds(), report.MiB(float64(u.PeakRSS)))
	if !a.Churn || w.Churn == nil {
		return res, nil
	}
	c := r
	c.Scenario = "churn"
	c.Start = time.Now().UTC().Format(time.RFC3339)
	res = append(res, c)
	u0 := u
	upd0, pfx0, _ := run.Counts()
	start := time.Now()
	ct, err := run.Churn(ctx, w.Churn, a.Timeout)
	if err != nil {
		return res, err
	}
	cq, err := run.Quiesce(ctx, start, a.Quiet, a.Timeout)
	if err != nil {
		return res, err
	}
	u1, err := dut.Measure(d.PIDs())
	if err != nil {
		return res, err
	}
	upd1, pfx1, _ := run.Counts()
	res[1].ConvergenceS = ct.Seconds()
	res[1].QuiesceS = cq.Seconds()
	res[1].CPUS = (u1.CPU - u0.CPU).Seconds()
	res[1].PeakRSSBytes = u1.PeakRSS
	res[1].UpdatesReceived, res[1].PrefixesReceived = upd1-upd0, pfx1-pfx0
	progress("  churn converged in %.2fs (quiet after %.2fs), DUT CPU %.2fs", ct.Seconds(), cq.Seconds(), res[1].CPUS)
	return res, nil
}
