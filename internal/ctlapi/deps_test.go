package ctlapi

import (
	"os/exec"
	"strings"
	"testing"
)

// TestNoSpeakerDependency keeps the API server independent of the
// speaker: it serves whatever a status.Provider returns, and the agent
// wires the two together.
func TestNoSpeakerDependency(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "github.com/kbgp/kbgp/internal/ctlapi", "github.com/kbgp/kbgp/internal/status").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, bad := range []string{"/internal/bgp/speaker", "/internal/bgp/fsm", "/internal/rib", "/internal/fib", "github.com/prometheus/", "k8s.io/"} {
			if strings.Contains(dep, bad) {
				t.Errorf("ctlapi or status depends on %s", dep)
			}
		}
	}
}
