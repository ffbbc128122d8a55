package doctor

import (
	"fmt"
	"slices"
	"strings"
)

// Rule is one packet-filter rule from iptables-save or nft list ruleset.
type Rule struct {
	// Table is "nat" (iptables) or "nft ip nat"; Chain is the chain
	// name; Hook is the netfilter hook of the chain ("postrouting" for
	// iptables POSTROUTING and nft chains hooked there).
	Table, Chain, Hook string
	// Line is the 1-based line in the input; Text the rule as written.
	Line int
	Text string
	// Args are the iptables arguments after "-A CHAIN" (nil for nft).
	Args []string
	// Target is the -j target, or for nft "MASQUERADE"/"SNAT" for
	// masquerade/snat statements.
	Target string
}

// Ruleset is a parsed rule dump.
type Ruleset struct {
	Rules []Rule
}

// ParseIPTablesSave parses iptables-save (or ip6tables-save) output. It
// keeps the rules of every table; comments, chain declarations and COMMIT
// lines are checked for shape only.
func ParseIPTablesSave(b []byte) (*Ruleset, error) {
	rs := &Ruleset{}
	table := ""
	for i, line := range strings.Split(string(b), "\n") {
		n := i + 1
		line = strings.TrimRight(line, "\r")
		t := strings.TrimSpace(line)
		switch {
		case t == "" || strings.HasPrefix(t, "#"):
			continue
		case strings.HasPrefix(t, "*"):
			table = strings.TrimSpace(t[1:])
			if table == "" || strings.ContainsAny(table, " \t") {
				return nil, fmt.Errorf("iptables-save line %d: bad table line %q", n, t)
			}
			continue
		case t == "COMMIT":
			table = ""
			continue
		case strings.HasPrefix(t, ":"):
			if table == "" {
				return nil, fmt.Errorf("iptables-save line %d: chain %q outside a table (no *table line before it)", n, t)
			}
			continue
		}
		args, err := splitArgs(t)
		if err != nil {
			return nil, fmt.Errorf("iptables-save line %d: %w", n, err)
		}
		if len(args) < 2 || (args[0] != "-A" && args[0] != "--append" && args[0] != "-I" && args[0] != "--insert") {
			return nil, fmt.Errorf("iptables-save line %d: want \"-A CHAIN ...\", got %q", n, t)
		}
		if table == "" {
			return nil, fmt.Errorf("iptables-save line %d: rule outside a table (no *table line before it)", n)
		}
		r := Rule{Table: table, Chain: args[1], Line: n, Text: t, Args: args[2:]}
		if r.Chain == "POSTROUTING" {
			r.Hook = "postrouting"
		}
		for j := 0; j+1 < len(r.Args); j++ {
			if r.Args[j] == "-j" || r.Args[j] == "--jump" || r.Args[j] == "-g" || r.Args[j] == "--goto" {
				r.Target = r.Args[j+1]
			}
		}
		rs.Rules = append(rs.Rules, r)
	}
	return rs, nil
}

// splitArgs splits an iptables-save rule into words; double-quoted words
// may contain spaces and \" escapes.
func splitArgs(s string) ([]string, error) {
	var out []string
	var cur strings.Builder
	in, quoted := false, false
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case quoted && ch == '\\' && i+1 < len(s):
			i++
			cur.WriteByte(s[i])
		case ch == '"':
			quoted = !quoted
			in = true
		case !quoted && (ch == ' ' || ch == '\t'):
			if in {
				out = append(out, cur.String())
				cur.Reset()
				in = false
			}
		default:
			cur.WriteByte(ch)
			in = true
		}
	}
	if quoted {
		return nil, fmt.Errorf("unterminated quote in %q", s)
	}
	if in {
		out = append(out, cur.String())
	}
	return out, nil
}

// ParseNFTRuleset parses `nft list ruleset` output far enough to find
// rules and the hook of their chain.
func ParseNFTRuleset(b []byte) (*Ruleset, error) {
	rs := &Ruleset{}
	var table, chain, hook string
	depth := 0
	for i, line := range strings.Split(string(b), "\n") {
		n := i + 1
		t := strings.TrimSpace(line)
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		f := strings.Fields(t)
		switch {
		case f[0] == "table" && strings.HasSuffix(t, "{"):
			if depth != 0 {
				return nil, fmt.Errorf("nft ruleset line %d: table inside a block", n)
			}
			table = "nft " + strings.Join(f[1:len(f)-1], " ")
			depth = 1
		case (f[0] == "chain" || f[0] == "set" || f[0] == "map" || f[0] == "flowtable") && strings.HasSuffix(t, "{"):
			if depth != 1 {
				return nil, fmt.Errorf("nft ruleset line %d: %s outside a table", n, f[0])
			}
			depth = 2
			chain, hook = "", ""
			if f[0] == "chain" && len(f) >= 3 {
				chain = f[1]
			}
		case t == "}":
			if depth == 0 {
				return nil, fmt.Errorf("nft ruleset line %d: unbalanced }", n)
			}
			depth--
			if depth < 2 {
				chain, hook = "", ""
			}
		case depth == 2 && chain != "" && f[0] == "type":
			if j := slices.Index(f, "hook"); j >= 0 && j+1 < len(f) {
				hook = f[j+1]
			}
		case depth == 2 && chain != "" && f[0] != "policy" && f[0] != "comment":
			r := Rule{Table: table, Chain: chain, Hook: hook, Line: n, Text: t}
			for _, w := range f {
				switch w {
				case "masquerade":
					r.Target = "MASQUERADE"
				case "snat":
					r.Target = "SNAT"
				}
			}
			rs.Rules = append(rs.Rules, r)
		}
	}
	if depth != 0 {
		return nil, fmt.Errorf("nft ruleset: %d unclosed block(s) at the end", depth)
	}
	return rs, nil
}

// merge appends other's rules.
func (rs *Ruleset) merge(other *Ruleset) {
	if other != nil {
		rs.Rules = append(rs.Rules, other.Rules...)
	}
}

// has reports whether r has argument a not preceded by "!".
func (r *Rule) has(names ...string) (pos, neg bool) {
	for i, a := range r.Args {
		if slices.Contains(names, a) {
			if i > 0 && r.Args[i-1] == "!" {
				neg = true
			} else {
				pos = true
			}
		}
	}
	return pos, neg
}

// Blanket reports whether r source-NATs every packet leaving through
// postrouting: no positive source match, no ipset, mark or conntrack
// match. A negated destination such as the seed's "! -d 127.0.0.1" does
// not narrow it in any way that matters for BGP or service traffic.
func (r *Rule) Blanket() bool {
	if r.Hook != "postrouting" || (r.Target != "MASQUERADE" && r.Target != "SNAT") {
		return false
	}
	if r.Args == nil { // nft
		for _, w := range []string{"saddr", "mark", "@", "ct ", "meta skuid", "iifname"} {
			if strings.Contains(r.Text, w) {
				return false
			}
		}
		return true
	}
	if pos, _ := r.has("-s", "--source", "--src-range"); pos {
		return false
	}
	for _, a := range r.Args {
		switch a {
		case "--match-set", "--mark", "--ctstate", "--ctorigdst", "--ctorigsrc", "--physdev-in", "-i", "--in-interface":
			return false
		}
	}
	return true
}

// hasSet reports whether any rule matches ipset name.
func (rs *Ruleset) hasSet(name string) bool {
	for _, r := range rs.Rules {
		if i := slices.Index(r.Args, "--match-set"); i >= 0 && i+1 < len(r.Args) && r.Args[i+1] == name {
			return true
		}
	}
	return false
}

// kubeProxyMasqueradesExternal reports whether kube-proxy marks service
// traffic from outside the cluster for masquerade: "! -s <clusterCIDR>
// ... -j KUBE-MARK-MASQ" (--cluster-cidr) or an unconditional
// KUBE-MARK-MASQ in KUBE-SERVICES (masqueradeAll).
func (rs *Ruleset) kubeProxyMasqueradesExternal() bool {
	for _, r := range rs.Rules {
		if r.Table != "nat" || r.Target != "KUBE-MARK-MASQ" {
			continue
		}
		pos, neg := r.has("-s", "--source")
		if neg {
			return true
		}
		if !pos && r.Chain == "KUBE-SERVICES" && rs.hasSetIn(r, "KUBE-CLUSTER-IP") {
			return true
		}
	}
	return false
}

func (rs *Ruleset) hasSetIn(r Rule, name string) bool {
	i := slices.Index(r.Args, "--match-set")
	return i >= 0 && i+1 < len(r.Args) && r.Args[i+1] == name
}

// rules parses the given rule dumps once (nil when none was given or
// they did not parse; parse errors become a finding).
func (c *cluster) rules() *Ruleset {
	if c.parsed {
		return c.ruleset
	}
	c.parsed = true
	var rs *Ruleset
	for _, src := range []struct {
		name  string
		data  []byte
		parse func([]byte) (*Ruleset, error)
	}{{"iptables-save", c.in.IPTablesSave, ParseIPTablesSave}, {"nft list ruleset", c.in.NFTRuleset, ParseNFTRuleset}} {
		if len(src.data) == 0 {
			continue
		}
		r, err := src.parse(src.data)
		if err != nil {
			c.add(Finding{Check: "unreadable-input", Severity: Warning,
				Summary:  "A rule dump could not be read, so the NAT checks did not run on it.",
				Evidence: []string{err.Error()}, Fix: "Give the unmodified output of " + src.name + "."})
			continue
		}
		if rs == nil {
			rs = &Ruleset{}
		}
		rs.merge(r)
	}
	c.ruleset = rs
	return rs
}

// checkMasquerade: the seed's problems 2 and 3.
func (c *cluster) checkMasquerade() {
	rs := c.rules()
	if rs == nil {
		return
	}
	var ev, del []string
	for _, r := range rs.Rules {
		if !r.Blanket() {
			continue
		}
		ev = append(ev, fmt.Sprintf("%s %s line %d (table %s, chain %s): %s", c.source(), ruleSource(r), r.Line, strings.TrimPrefix(r.Table, "nft "), r.Chain, r.Text))
		if r.Args != nil {
			del = append(del, fmt.Sprintf("  iptables -t %s -D %s %s", r.Table, r.Chain, strings.Join(quoteArgs(r.Args), " ")))
		} else {
			del = append(del, fmt.Sprintf("  nft delete rule %s %s handle <handle of line %d; see nft -a list chain>", strings.TrimPrefix(r.Table, "nft "), r.Chain, r.Line))
		}
	}
	if len(ev) == 0 {
		return
	}
	pool := c.poolCIDRs(4)
	c.add(Finding{Check: "blanket-masquerade", Severity: Error, Seed: []int{2, 3},
		Summary:  "Every packet leaving the node is rewritten to the node's address: BGP sessions and health checks reach their peers from an unexpected source and are rejected or reset, and service traffic DNATed to pods on other nodes is pulled back through the ingress node (the reflector), so all traffic passes through it.",
		Evidence: ev,
		Fix: "Delete the rule:\n" + strings.Join(del, "\n") + "\n" +
			"If pods need NAT to reach the outside, scope it to pod sources leaving the pod network:\n" +
			fmt.Sprintf("  iptables -t nat -A POSTROUTING -s %s ! -d %s -j MASQUERADE\n", pool, pool) +
			"or, better, set natOutgoing: true in the IPPool and let the agent manage it; fix asymmetric service returns with externalTrafficPolicy: Local instead (see asymmetric-service-return)."})
}

func ruleSource(r Rule) string {
	if r.Args == nil {
		return "nft list ruleset"
	}
	return "iptables-save"
}

func quoteArgs(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		if a == "" || strings.ContainsAny(a, " \t\"'") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		out[i] = a
	}
	return out
}
