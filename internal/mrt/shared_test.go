package mrt

import (
	"os"
	"path/filepath"
	"testing"
)

// sharedDir returns ../shared/testdata/mrt relative to the repository root
// (the directory holding go.mod), skipping the test when it is absent.
func sharedDir(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test directory")
		}
		dir = parent
	}
	d := filepath.Join(dir, "..", "shared", "testdata", "mrt")
	if _, err := os.Stat(d); err != nil {
		t.Skipf("shared MRT test data not present at %s (CI clones ../shared beside the repo): %v", d, err)
	}
	return d
}
