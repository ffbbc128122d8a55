// Package doctor checks a cluster's BGP set-up for the ways it loses
// traffic before production finds them: a single route reflector, graceful
// restart times shorter than a reflector outage, asymmetric service return
// paths with kube-proxy in IPVS mode, a blanket MASQUERADE rule, next-hop
// self through a reflector, isolated nodes, selectors that select nothing,
// duplicate identities and overlapping ranges.
//
// Each Finding says what will happen in one sentence, the evidence
// (resource, field or rule) and the fix as a YAML patch or a command. The
// checks work on the resources alone; kernel-side inputs (iptables-save,
// nft list ruleset, ipvsadm -Ln, the agents' session states, the kernel's
// routes with the agent's protocol number) sharpen them when given.
package doctor

import (
	"cmp"
	"slices"
	"strings"
	"time"

	"github.com/kbgp/kbgp/api"
	"github.com/kbgp/kbgp/internal/config"
	"github.com/kbgp/kbgp/internal/status"
)

// Severity ranks a finding.
type Severity string

// Severities, most severe first.
const (
	Error   Severity = "error"
	Warning Severity = "warning"
	Info    Severity = "info"
)

func (s Severity) rank() int {
	switch s {
	case Error:
		return 0
	case Warning:
		return 1
	}
	return 2
}

// Finding is one problem.
type Finding struct {
	// Check names the check, e.g. "single-route-reflector".
	Check    string   `json:"check"`
	Severity Severity `json:"severity"`
	// Seed lists the problems of ../shared/seed/calico-bgp-notes.en.md
	// ("Problems recorded") this finding predicts.
	Seed []int `json:"seedProblems,omitempty"`
	// Summary says what will happen, in one sentence.
	Summary string `json:"summary"`
	// Evidence names the resources, fields and rules behind it.
	Evidence []string `json:"evidence"`
	// Fix is a YAML patch or commands.
	Fix string `json:"fix"`
}

// Report is the result of Run.
type Report struct {
	Findings []Finding `json:"findings"`
	Errors   int       `json:"errors"`
	Warnings int       `json:"warnings"`
	Infos    int       `json:"infos"`
}

// Kube-proxy modes.
const (
	ProxyIPVS     = "ipvs"
	ProxyIPTables = "iptables"
	ProxyNFTables = "nftables"
)

// DefaultOutage is the reflector outage the graceful-restart check
// assumes: a node reboot or kernel upgrade takes minutes, longer than
// the 120 s default restart time (Calico #9259).
const DefaultOutage = 10 * time.Minute

// Inputs is what the checks look at. Only Resources is required.
type Inputs struct {
	Resources *config.Input
	// KubeProxyMode is ProxyIPVS, ProxyIPTables, ProxyNFTables or empty
	// (unknown; IPVS is then inferred from IPVS or IPTablesSave).
	KubeProxyMode string
	// IPTablesSave is iptables-save output (at least the nat table);
	// NFTRuleset is `nft list ruleset` output; IPVS is `ipvsadm -Ln`.
	// Source names them in evidence, e.g. "node ubuntu-2 iptables-save".
	IPTablesSave, NFTRuleset, IPVS []byte
	Source                         string
	// RouterAS is the AS the external router is configured with, when
	// known; RouterAddPath says it accepts ADD-PATH (RFC 7911).
	RouterAS      api.ASNumber
	RouterAddPath bool
	// Outage is the reflector outage to survive (default DefaultOutage).
	Outage time.Duration
	// Sessions are the agents' live sessions by node name (--live).
	Sessions map[string][]status.Peer
	// Routes are the kernel routes with protocol RouteProtocol by node
	// name (--live, or --ip-routes NODE=FILE); a node without an entry
	// was not read. RouteProtocol defaults to fib.DefaultProtocol.
	Routes        map[string][]KernelRoute
	RouteProtocol uint8
}

// Run runs every check.
func Run(in Inputs) (*Report, error) {
	c, err := newCluster(in)
	if err != nil {
		return nil, err
	}
	c.checkReflectors()
	c.checkGracefulRestart()
	c.checkAsymmetricServices()
	c.checkMasquerade()
	c.checkNextHopAndECMP()
	c.checkTopology()
	c.checkRanges()
	c.checkLiveSessions()
	c.checkKernelRoutes()
	c.compileWarnings()
	r := &Report{Findings: c.findings}
	if r.Findings == nil {
		r.Findings = []Finding{}
	}
	slices.SortStableFunc(r.Findings, func(a, b Finding) int {
		return cmp.Or(cmp.Compare(a.Severity.rank(), b.Severity.rank()), strings.Compare(a.Check, b.Check))
	})
	for _, f := range r.Findings {
		switch f.Severity {
		case Error:
			r.Errors++
		case Warning:
			r.Warnings++
		default:
			r.Infos++
		}
	}
	return r, nil
}
