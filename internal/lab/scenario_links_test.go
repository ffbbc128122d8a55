package lab

import (
	"path/filepath"
	"testing"
	"time"
)

// TestRetention reads the restart and LLGR stale times reflector-down
// judges a single reflector by from the topology's BGPPeers.
func TestRetention(t *testing.T) {
	for _, tc := range []struct {
		file     string
		gr, llgr time.Duration
	}{
		{"seed-ibgp.yaml", 120 * time.Second, 0},
		{"seed-llgr.yaml", 10 * time.Second, 60 * time.Second},
		{"two-reflectors.yaml", 120 * time.Second, 0},
	} {
		t.Run(tc.file, func(t *testing.T) {
			top, err := Load(filepath.Join(examplesDir(), tc.file))
			if err != nil {
				t.Fatal(err)
			}
			gr, llgr, err := top.retention()
			if err != nil {
				t.Fatal(err)
			}
			if gr != tc.gr || llgr != tc.llgr {
				t.Errorf("retention = %s + %s, want %s + %s", gr, llgr, tc.gr, tc.llgr)
			}
		})
	}
}

func TestPodOn(t *testing.T) {
	top := Default()
	for _, tc := range []struct{ target, want string }{
		{"web-ubuntu-2-1", "ubuntu-2"},
		{"web-ubuntu-3-0", "ubuntu-3"},
		{"svc/web", ""},
		{"no-such-pod", ""},
	} {
		t.Run(tc.target, func(t *testing.T) {
			if got := podOn(top, tc.target); got != tc.want {
				t.Errorf("podOn(%q) = %q, want %q", tc.target, got, tc.want)
			}
		})
	}
}
