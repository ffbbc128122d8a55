package lab

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/kbgp/kbgp/internal/netns"
)

// Expect is what a target is expected to do in a topology.
type Expect string

const (
	// MustWork: every connection must succeed.
	MustWork Expect = "must work"
	// PartialFailure: the seed's failure 1 — some connections are
	// expected to fail; check reports them without failing.
	PartialFailure Expect = "expected partial failure"
)

// Target is one address the client probes.
type Target struct {
	Name   string // pod name or svc/NAME
	Addr   netip.AddrPort
	Expect Expect
	// Why explains Expect.
	Why string
}

// Targets are every pod IP (port 80) and every service IP, with what is
// expected of each (documented in README's lab section):
//   - pods must work: the router learns every node's block;
//   - a service with externalTrafficPolicy Local must work: the endpoint
//     nodes advertise its /32 and DNAT only to local endpoints;
//   - a Cluster service (in a lab of more than one node) is an expected
//     partial failure: the router sends it to some node (one reflected
//     path, or ECMP over several), that node DNATs to a random endpoint,
//     and the reply of an endpoint on another node goes straight to the
//     client with the pod's source address, which the client resets. This
//     is the seed's failure 1, with kube-proxy's DNAT (no SNAT) instead of
//     IPVS; no BGP layout avoids it.
func (t *Topology) Targets(agentServices bool) []Target {
	var ts []Target
	for _, p := range t.Pods() {
		ts = append(ts, Target{Name: p.Name, Addr: netip.AddrPortFrom(p.Addr, 80), Expect: MustWork, Why: "pod route from the node's block"})
	}
	for _, s := range t.Services {
		tg := Target{Name: "svc/" + s.Name, Addr: netip.AddrPortFrom(s.IP, s.Port)}
		switch {
		case s.ExternalTrafficPolicy == "Local" && !agentServices:
			tg.Expect, tg.Why = PartialFailure, "ETP Local, but this kbgp agent takes no service input (no --services): no /32 advertised"
		case s.ExternalTrafficPolicy == "Local":
			tg.Expect, tg.Why = MustWork, "ETP Local: /32 from the endpoint nodes, local DNAT"
		case len(t.Nodes) == 1:
			tg.Expect, tg.Why = MustWork, "single node: DNAT is always local"
		default:
			tg.Expect, tg.Why = PartialFailure, "ETP Cluster, no SNAT: asymmetric return from other nodes (seed failure 1)"
		}
		ts = append(ts, tg)
	}
	return ts
}

// Result is the outcome of probing one target.
type Result struct {
	Target
	OK, Failed int
	// Answers counts the pod names that answered.
	Answers map[string]int
	// LastError is the last failure's error.
	LastError string
}

// Pass reports whether the result meets the target's expectation.
func (r Result) Pass() bool {
	switch r.Expect {
	case MustWork:
		return r.Failed == 0 && r.OK > 0
	default:
		return true
	}
}

// Verdict is the table's last column.
func (r Result) Verdict() string {
	switch {
	case r.Expect == MustWork && r.Pass():
		return "ok"
	case r.Expect == MustWork:
		return "FAIL"
	case r.Failed == 0:
		return "ok (expected failures did not happen)"
	case r.OK == 0:
		return "expected failure (all failed)"
	default:
		return "expected failure"
	}
}

func dialTimeout(a netip.AddrPort, d time.Duration) (net.Conn, error) {
	return net.DialTimeout("tcp", a.String(), d)
}

// httpGet makes one HTTP/1.0 request over a new TCP connection opened in
// ns and returns the body (the pod name).
func httpGet(ns *netns.NS, a netip.AddrPort, timeout time.Duration) (string, error) {
	var c net.Conn
	err := ns.Do(func() error {
		var err error
		c, err = dialTimeout(a, timeout)
		return err
	})
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(timeout))
	if _, err := fmt.Fprintf(c, "GET / HTTP/1.0\r\nHost: %s\r\n\r\n", a); err != nil {
		return "", err
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 256))
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("HTTP %s", resp.Status)
	}
	return strings.TrimSpace(string(body)), nil
}

// Probe opens n TCP connections with an HTTP request each from the
// client's namespace to every target (targets in parallel, connections to
// one target one after another).
func Probe(s *State, targets []Target, n int, timeout time.Duration) []Result {
	ns := &netns.NS{Name: s.NSName(s.Topology.Client.Name)}
	res := make([]Result, len(targets))
	var wg sync.WaitGroup
	for i, tg := range targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := Result{Target: tg, Answers: map[string]int{}}
			for range n {
				name, err := httpGet(ns, tg.Addr, timeout)
				if err != nil {
					r.Failed++
					r.LastError = err.Error()
					continue
				}
				r.OK++
				r.Answers[name]++
			}
			res[i] = r
		}()
	}
	wg.Wait()
	return res
}

// WriteTable prints the results as a table.
func WriteTable(w io.Writer, rs []Result) {
	fmt.Fprintf(w, "%-22s %-21s %7s %7s  %-26s %s\n", "TARGET", "ADDRESS", "REACHED", "FAILED", "EXPECT", "VERDICT / ANSWERED BY")
	for _, r := range rs {
		var ans []string
		for k, v := range r.Answers {
			ans = append(ans, fmt.Sprintf("%s=%d", k, v))
		}
		sort.Strings(ans)
		extra := strings.Join(ans, " ")
		if r.Failed > 0 && r.LastError != "" {
			extra += " last error: " + r.LastError
		}
		fmt.Fprintf(w, "%-22s %-21s %7d %7d  %-26s %s  %s\n", r.Name, r.Addr, r.OK, r.Failed, r.Expect, r.Verdict(), extra)
	}
}
