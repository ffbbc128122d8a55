package lab

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/kbgp/kbgp/internal/ctlapi"
	"github.com/kbgp/kbgp/internal/netns"
)

// Scenarios are the names `kbgp lab scenario` accepts, with what each shows.
var Scenarios = []struct{ Name, Doc string }{
	{"ipvs-asymmetric", "the seed's failure 1 with DNAT instead of IPVS: the Cluster service loses handshakes (asymmetric return), the externalTrafficPolicy Local service loses none"},
	{"masquerade", "the seed's failure 2: a blanket `iptables -t nat -A POSTROUTING -j MASQUERADE` on the reflector node; kbgp's health and BGP sessions stay up"},
	{"reflector-down", "the seed's failure 5: SIGKILL the (first) route reflector's agent (--mode links: set the reflector's uplinks down instead); with one reflector shows what is lost and when (nothing before graceful restart + LLGR run out), with two reflectors nothing is lost"},
	{"agent-restart", "SIGKILL a non-reflector node's agent and restart it at once: no probe is lost"},
}

// ScenarioOptions tune RunScenario.
type ScenarioOptions struct {
	// Rate is probes per second per target; default 20.
	Rate int
	// Before is how long to probe before the event; default 3s.
	Before time.Duration
	// After is how long to probe after the event; default 15s.
	After time.Duration
	// Mode selects reflector-down's event: "agent" (default) SIGKILLs
	// the reflector's agent, "links" sets the reflector's uplinks (the
	// links carrying its node addresses) down, and up again afterwards.
	Mode string
}

// probeLog is one target's probe outcomes, in time order.
type probeLog struct {
	Target
	at []time.Duration // relative to the event
	ok []bool
}

// ScenarioResult is one target's losses.
type ScenarioResult struct {
	Target
	Sent, LostBefore, LostAfter int
	// FirstLoss is when the first probe after the event was lost
	// (relative to the event); -1 when none was.
	FirstLoss time.Duration
	// Outage is from the first loss after the event to the first success
	// after the last loss; zero when nothing was lost after the event.
	Outage time.Duration
	// Recovered is true when the last second of probes all succeeded.
	Recovered bool
}

func summarize(l *probeLog, end time.Duration) ScenarioResult {
	r := ScenarioResult{Target: l.Target, Sent: len(l.ok), Recovered: true, FirstLoss: -1}
	first, last := time.Duration(-1), time.Duration(-1)
	for i, ok := range l.ok {
		at := l.at[i]
		switch {
		case !ok && at < 0:
			r.LostBefore++
		case !ok:
			r.LostAfter++
			if first < 0 {
				first = at
			}
			last = at
		}
		if !ok && at >= end-time.Second {
			r.Recovered = false
		}
	}
	if first >= 0 {
		r.FirstLoss = first
		r.Outage = last - first
		for i, ok := range l.ok {
			if ok && l.at[i] > last {
				r.Outage = l.at[i] - first
				break
			}
		}
	}
	return r
}

// probeContinuously probes every target at rate per second from the
// client until ctx ends; times are relative to *event (set by the caller
// when the event happens).
func probeContinuously(ctx context.Context, s *State, targets []Target, rate int, event *time.Time, mu *sync.Mutex) []*probeLog {
	ns := &netns.NS{Name: s.NSName(s.Topology.Client.Name)}
	logs := make([]*probeLog, len(targets))
	var wg sync.WaitGroup
	for i, tg := range targets {
		logs[i] = &probeLog{Target: tg}
		wg.Add(1)
		go func(l *probeLog) {
			defer wg.Done()
			tick := time.NewTicker(time.Second / time.Duration(rate))
			defer tick.Stop()
			var inflight sync.WaitGroup
			for {
				select {
				case <-ctx.Done():
					inflight.Wait()
					return
				case <-tick.C:
				}
				inflight.Add(1)
				go func() {
					defer inflight.Done()
					start := time.Now()
					_, err := httpGet(ns, tg.Addr, time.Second)
					mu.Lock()
					l.at = append(l.at, start.Sub(*event))
					l.ok = append(l.ok, err == nil)
					mu.Unlock()
				}()
			}
		}(logs[i])
	}
	go func() { <-ctx.Done(); wg.Wait() }()
	return logs
}

// RunScenario runs the named scenario on the lab in dir, printing what
// happens and a table of lost probes; it returns an error when the
// scenario's expectation does not hold.
func RunScenario(ctx context.Context, dir, name string, out io.Writer, opt ScenarioOptions) error {
	if opt.Rate <= 0 {
		opt.Rate = 20
	}
	if opt.Before <= 0 {
		opt.Before = 3 * time.Second
	}
	if opt.After <= 0 {
		opt.After = 15 * time.Second
	}
	if err := RequireRoot(); err != nil {
		return err
	}
	s, err := LoadState(dir)
	if err != nil {
		return err
	}
	t := s.Topology
	rrs := t.Reflectors()
	var event func() (string, func() error, error)
	var check func([]ScenarioResult) error
	targets := t.Targets(s.AgentServices)
	mustPods := func(rs []ScenarioResult) error {
		var bad []string
		for _, r := range rs {
			if r.Expect == MustWork && r.LostAfter+r.LostBefore > 0 {
				bad = append(bad, fmt.Sprintf("%s lost %d", r.Name, r.LostAfter+r.LostBefore))
			}
		}
		if len(bad) > 0 {
			return fmt.Errorf("probes lost where none should be: %s", strings.Join(bad, ", "))
		}
		return nil
	}
	switch name {
	case "ipvs-asymmetric":
		targets = slices.DeleteFunc(targets, func(tg Target) bool { return !strings.HasPrefix(tg.Name, "svc/") })
		event = func() (string, func() error, error) { return "none (steady state)", nil, nil }
		check = func(rs []ScenarioResult) error {
			for _, r := range rs {
				if r.ExternalTrafficPolicy(t) == "Cluster" && r.LostBefore+r.LostAfter == 0 && len(t.Nodes) > 1 {
					fmt.Fprintf(out, "note: %s lost nothing: its DNAT picked only local endpoints by chance\n", r.Name)
				}
			}
			return mustPods(rs)
		}
	case "masquerade":
		node := t.Nodes[0].Name
		if len(rrs) > 0 {
			node = rrs[0]
		}
		var stopHealth func() []string
		event = func() (string, func() error, error) {
			ipt := []string{"netns", "exec", s.NSName(node), "iptables", "-w", "-t", "nat"}
			if err := run("ip", append(ipt, "-A", "POSTROUTING", "-j", "MASQUERADE")...); err != nil {
				return "", nil, err
			}
			stopHealth = watchHealth(ctx, s, node)
			undo := func() error { return run("ip", append(ipt, "-D", "POSTROUTING", "-j", "MASQUERADE")...) }
			return "iptables -t nat -A POSTROUTING -j MASQUERADE on " + node, undo, nil
		}
		check = func(rs []ScenarioResult) error {
			var errs []error
			if bad := stopHealth(); len(bad) > 0 {
				errs = append(errs, fmt.Errorf("health or sessions failed on %s: %s", node, strings.Join(bad, "; ")))
			} else {
				fmt.Fprintf(out, "%s: kbgp health (live, ready) and every session stayed up throughout\n", node)
			}
			return errors.Join(append(errs, mustPods(rs))...)
		}
	case "reflector-down":
		if len(rrs) == 0 {
			return errors.New("lab scenario reflector-down: this topology has no route reflector (no `label node X route-reflector=true` in setup)")
		}
		rr := rrs[0]
		switch opt.Mode {
		case "", "agent":
			event = func() (string, func() error, error) {
				undo, err := killAgent(s, rr, false)
				return "SIGKILL kbgp agent on reflector " + rr, undo, err
			}
		case "links":
			// The reflector's own pods sit behind its links: losing them
			// is the event, not a failure.
			for i := range targets {
				if podOn(t, targets[i].Name) == rr {
					targets[i].Expect, targets[i].Why = PartialFailure, "on the reflector whose links are down"
				}
			}
			event = func() (string, func() error, error) {
				undo, err := linksDown(s, rr)
				return "links of reflector " + rr + " down", undo, err
			}
		default:
			return fmt.Errorf("lab scenario reflector-down: unknown --mode %q; want agent or links", opt.Mode)
		}
		gr, llgr, err := t.retention()
		if err != nil {
			return err
		}
		check = func(rs []ScenarioResult) error {
			if len(rrs) > 1 {
				return mustPods(rs)
			}
			// RFC 4724 §4.2: the receiving speaker "MUST retain" the
			// routes as stale for the restart time; RFC 9494 §4.2: with
			// LLGR they are then kept as LLGR_STALE for the stale time.
			// Before that runs out nothing may be lost, even with one
			// reflector.
			keep := gr + llgr
			var early []string
			for _, r := range rs {
				if r.Expect == MustWork && (r.LostBefore > 0 || r.FirstLoss >= 0 && r.FirstLoss < keep-2*time.Second) {
					early = append(early, fmt.Sprintf("%s first lost at t+%s", r.Name, r.FirstLoss.Round(10*time.Millisecond)))
				}
			}
			if len(early) > 0 {
				return fmt.Errorf("one reflector: probes lost before graceful restart (%s) + LLGR (%s) ran out: %s", gr, llgr, strings.Join(early, ", "))
			}
			if opt.Mode == "links" {
				// Without a TCP reset the peers notice only when the
				// hold time runs out (RFC 4271 §6.5), and then keep the
				// routes no longer than above.
				fmt.Fprintf(out, "one reflector, links down: its peers see no reset; the sessions fail when the hold time runs out, and the routes are kept at most the restart time %s + LLGR %s after that\n", gr, llgr)
			}
			if mustPods(rs) == nil {
				fmt.Fprintf(out, "one reflector, nothing lost in %s: the peers keep the reflector's routes as stale for the restart time %s (RFC 4724 §4.2) and then as LLGR_STALE for %s (RFC 9494 §4.2); they are lost when that runs out (the seed's failure 5), so run with --after longer than %s to see the cut\n", opt.After, gr, llgr, keep)
			} else {
				fmt.Fprintf(out, "one reflector: the losses above, after graceful restart (%s) + LLGR (%s) ran out, are the seed's failure 5 (expected with a single reflector)\n", gr, llgr)
			}
			return nil
		}
	case "agent-restart":
		node := ""
		for _, n := range t.Nodes {
			if !slices.Contains(rrs, n.Name) {
				node = n.Name
				break
			}
		}
		if node == "" {
			node = t.Nodes[0].Name
		}
		event = func() (string, func() error, error) {
			_, err := killAgent(s, node, true)
			return "SIGKILL kbgp agent on " + node + " and start it again", nil, err
		}
		check = mustPods
	default:
		var names []string
		for _, sc := range Scenarios {
			names = append(names, sc.Name)
		}
		return fmt.Errorf("lab scenario: unknown scenario %q; want one of %s", name, strings.Join(names, ", "))
	}

	fmt.Fprintf(out, "== scenario %s on lab %q: %d targets, %d probes/s each, %s before and %s after the event\n",
		name, t.Name, len(targets), opt.Rate, opt.Before, opt.After)
	var mu sync.Mutex
	eventAt := time.Now().Add(opt.Before)
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	logs := probeContinuously(pctx, s, targets, opt.Rate, &eventAt, &mu)
	select {
	case <-time.After(opt.Before):
	case <-ctx.Done():
		return ctx.Err()
	}
	mu.Lock()
	eventAt = time.Now()
	mu.Unlock()
	what, undo, err := event()
	if err != nil {
		return fmt.Errorf("lab scenario %s: %w", name, err)
	}
	fmt.Fprintf(out, "t=0: %s\n", what)
	select {
	case <-time.After(opt.After):
	case <-ctx.Done():
	}
	cancel()
	time.Sleep(1100 * time.Millisecond) // in-flight probes time out
	mu.Lock()
	var rs []ScenarioResult
	for _, l := range logs {
		rs = append(rs, summarize(l, opt.After))
	}
	mu.Unlock()
	writeScenarioTable(out, rs)
	cerr := check(rs)
	if undo != nil {
		if err := undo(); err != nil {
			cerr = errors.Join(cerr, fmt.Errorf("undo: %w", err))
		} else {
			fmt.Fprintln(out, "undone:", what)
		}
	}
	if cerr != nil {
		return fmt.Errorf("lab scenario %s: %w", name, cerr)
	}
	fmt.Fprintf(out, "scenario %s: as expected\n", name)
	return nil
}

// ExternalTrafficPolicy of the service a target probes ("" for pods).
func (tg Target) ExternalTrafficPolicy(t *Topology) string {
	for _, s := range t.Services {
		if "svc/"+s.Name == tg.Name {
			return s.ExternalTrafficPolicy
		}
	}
	return ""
}

func writeScenarioTable(w io.Writer, rs []ScenarioResult) {
	fmt.Fprintf(w, "%-22s %-21s %5s %11s %10s %10s %8s %9s  %s\n", "TARGET", "ADDRESS", "SENT", "LOST-BEFORE", "LOST-AFTER", "FIRST-LOSS", "OUTAGE", "RECOVERED", "EXPECT")
	for _, r := range rs {
		first, outage, rec := "-", r.Outage.Round(10*time.Millisecond).String(), fmt.Sprint(r.Recovered)
		if r.FirstLoss >= 0 {
			first = "t+" + r.FirstLoss.Round(10*time.Millisecond).String()
		}
		if r.Expect != MustWork {
			first, outage, rec = "-", "-", "-" // losses at any time are expected
		}
		fmt.Fprintf(w, "%-22s %-21s %5d %11d %10d %10s %8s %9s  %s\n", r.Name, r.Addr, r.Sent, r.LostBefore, r.LostAfter, first, outage, rec, r.Expect)
	}
}

// Reflectors are the nodes the setup labels route-reflector=true.
func (t *Topology) Reflectors() []string {
	var rrs []string
	for _, c := range t.Setup {
		f := strings.Fields(c)
		if len(f) >= 4 && f[0] == "label" && (f[1] == "node" || f[1] == "nodes") && slices.Contains(f[3:], "route-reflector=true") && !slices.Contains(rrs, f[2]) {
			rrs = append(rrs, f[2])
		}
	}
	return rrs
}

// killAgent SIGKILLs node's agent. With restart it starts the same command
// at once; otherwise it returns a function that restarts it.
func killAgent(s *State, node string, restart bool) (func() error, error) {
	i := slices.IndexFunc(s.Processes, func(p Process) bool { return p.Host == node && p.Role == "agent" })
	if i < 0 {
		return nil, fmt.Errorf("no agent recorded for %s", node)
	}
	p := s.Processes[i]
	if !p.alive() {
		return nil, fmt.Errorf("the agent of %s (pid %d) is not running", node, p.PID)
	}
	if err := syscall.Kill(p.PID, syscall.SIGKILL); err != nil {
		return nil, err
	}
	for p.alive() {
		time.Sleep(5 * time.Millisecond)
	}
	start := func() error {
		np, err := startDetached(s.NSName(node), p.Log, p.Argv)
		if err != nil {
			return err
		}
		np.Host, np.Role = node, "agent"
		s.Processes[i] = np
		return s.save()
	}
	if restart {
		return nil, start()
	}
	return start, nil
}

// watchHealth polls node's agent (live, ready, sessions) every 200ms until
// the returned function is called, which returns the failures seen.
func watchHealth(ctx context.Context, s *State, node string) func() []string {
	ctx, cancel := context.WithCancel(ctx)
	var mu sync.Mutex
	var bad []string
	seen := map[string]bool{}
	note := func(m string) {
		if ctx.Err() != nil {
			return // stopping: errors from the cancellation itself
		}
		mu.Lock()
		defer mu.Unlock()
		if !seen[m] {
			seen[m] = true
			bad = append(bad, m)
		}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			c, err := ctlapi.Dial(s.Socket(node))
			if err != nil {
				note("control socket: " + err.Error())
			} else {
				cctx, ccancel := context.WithTimeout(ctx, time.Second)
				if h, err := c.Live(cctx); err != nil || !h.OK {
					note(fmt.Sprintf("live: %v %v", err, h.Reasons))
				}
				if h, err := c.Ready(cctx); err != nil || !h.OK {
					note(fmt.Sprintf("ready: %v %v", err, h.Reasons))
				}
				if ps, err := c.Peers(cctx); err == nil {
					for _, p := range ps {
						if p.State != "Established" {
							note(fmt.Sprintf("session %s: %s", p.Address, p.State))
						}
					}
				}
				ccancel()
				c.Close()
			}
			select {
			case <-ctx.Done():
			case <-time.After(200 * time.Millisecond):
			}
		}
	}()
	return func() []string {
		cancel()
		<-done
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(bad)
	}
}
