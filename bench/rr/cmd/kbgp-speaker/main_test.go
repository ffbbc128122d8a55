package main

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// TestLinks: the measured build (no tags) links no profiler and does not
// import encoding/json itself; the profile build links the profiler. The
// static binary is mapped whole, so every linked package counts in the
// DUT's RSS.
func TestLinks(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("needs the go command for go list")
	}
	profiler := []string{"runtime/pprof", "runtime/metrics", "compress/flate", "compress/gzip"}
	for _, tc := range []struct {
		name string
		tags []string
		want bool // the profiler is linked
	}{
		{"measured", nil, false},
		{"profile", []string{"-tags", "profile"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"list", "-deps", "-f", "{{.ImportPath}}: {{join .Imports \" \"}}"}, tc.tags...)
			out, err := exec.Command("go", append(args, ".")...).CombinedOutput()
			if err != nil {
				t.Fatalf("go list: %v\n%s", err, out)
			}
			deps := map[string][]string{}
			for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
				pkg, imps, _ := strings.Cut(line, ": ")
				deps[pkg] = strings.Fields(imps)
			}
			for _, p := range profiler {
				if _, ok := deps[p]; ok != tc.want {
					t.Errorf("%s linked: %v, want %v", p, ok, tc.want)
				}
			}
			for _, own := range []string{"github.com/kbgp/kbgp/bench/rr/cmd/kbgp-speaker", "github.com/kbgp/kbgp/bench/rr/speakerdut"} {
				imps, ok := deps[own]
				if !ok {
					t.Fatalf("%s is not in go list's output", own)
				}
				if slices.Contains(imps, "encoding/json") {
					t.Errorf("%s imports encoding/json", own)
				}
			}
		})
	}
}
