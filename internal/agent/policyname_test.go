package agent

import (
	"net/netip"
	"testing"

	"github.com/kbgp/kbgp/internal/config"
)

// TestExportPolicyName: sessions with the same export rules get the same
// policy name (and so share an update group) whatever the rules' origin;
// different rules get different names.
func TestExportPolicyName(t *testing.T) {
	pool := func(from string, action config.Action) []config.Rule {
		return []config.Rule{
			{From: from, Match: config.Match{Prefix: netip.MustParsePrefix("192.168.0.0/16"), Operator: "In"}, Action: action},
			{From: "default", Action: config.Reject},
		}
	}
	a := exportPolicyName(pool("IPPool/a", config.Accept))
	if b := exportPolicyName(pool("IPPool/b", config.Accept)); a != b {
		t.Errorf("same rules from different resources: %q != %q", a, b)
	}
	if c := exportPolicyName(pool("IPPool/a", config.Reject)); c == a {
		t.Errorf("different rules, same name %q", a)
	}
	if e := exportPolicyName(nil); e == a {
		t.Errorf("no rules named like a pool's: %q", e)
	}
}

func TestReadOnly(t *testing.T) {
	accept := []config.Rule{{Action: config.Accept}, {Action: config.Reject}}
	if !readOnly(accept) || !readOnly(nil) {
		t.Error("accept/reject rules are not read-only")
	}
	withOp := append(accept, config.Rule{Action: config.Accept, Operations: []config.Operation{{}}})
	if readOnly(withOp) {
		t.Error("a rule with operations counted as read-only")
	}
}
