// Package deptest enforces kbgp's dependency rules with `go list -deps`:
// the protocol core (wire, fsm, rib) must stay free of Kubernetes, netlink,
// YAML and logging packages, and the wire codec must use only the standard
// library.
package deptest

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/kbgp/kbgp"

type listedPackage struct {
	ImportPath string
	Standard   bool
	Deps       []string
}

// goList returns the transitive dependencies of pkg, each with whether it is
// from the standard library.
func goList(t *testing.T, pkg string) map[string]bool {
	t.Helper()
	out, err := exec.Command("go", "list", "-deps", "-json=ImportPath,Standard", pkg).Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			t.Fatalf("go list %s: %v\n%s", pkg, err, ee.Stderr)
		}
		t.Fatalf("go list %s: %v", pkg, err)
	}
	deps := map[string]bool{}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for dec.More() {
		var p listedPackage
		if err := dec.Decode(&p); err != nil {
			t.Fatalf("decoding go list output: %v", err)
		}
		deps[p.ImportPath] = p.Standard
	}
	return deps
}

// forbidden are import path prefixes the protocol core must never reach.
var forbidden = []string{
	"k8s.io/",
	"sigs.k8s.io/",
	"github.com/vishvananda/",
	"gopkg.in/yaml",
	"github.com/goccy/go-yaml",
	"go.yaml.in/",
	"log",
	"log/slog",
	"log/syslog",
	"github.com/sirupsen/logrus",
	"go.uber.org/zap",
	"github.com/prometheus/",
}

func isForbidden(dep string) bool {
	for _, f := range forbidden {
		if strings.HasSuffix(f, "/") {
			if strings.HasPrefix(dep, f) {
				return true
			}
		} else if dep == f || strings.HasPrefix(dep, f+"/") {
			return true
		}
	}
	return false
}

func TestWireImportsOnlyStdlib(t *testing.T) {
	for dep, std := range goList(t, module+"/internal/bgp/wire") {
		if !std && !strings.HasPrefix(dep, module+"/internal/bgp/wire") {
			t.Errorf("internal/bgp/wire depends on non-standard package %s", dep)
		}
	}
}

func TestCoreHasNoForbiddenDeps(t *testing.T) {
	for _, pkg := range []string{"internal/bgp/wire", "internal/bgp/fsm", "internal/rib"} {
		t.Run(pkg, func(t *testing.T) {
			for dep := range goList(t, module+"/"+pkg) {
				if isForbidden(dep) {
					t.Errorf("%s depends on forbidden package %s", pkg, dep)
				}
			}
		})
	}
}

func TestForbiddenMatcher(t *testing.T) {
	for _, tc := range []struct {
		dep  string
		want bool
	}{
		{"k8s.io/client-go/kubernetes", true},
		{"github.com/vishvananda/netlink", true},
		{"log/slog", true},
		{"log", true},
		{"logger/x", false},
		{"sigs.k8s.io/yaml", true},
		{"net/netip", false},
	} {
		if got := isForbidden(tc.dep); got != tc.want {
			t.Errorf("isForbidden(%q) = %v, want %v", tc.dep, got, tc.want)
		}
	}
}
