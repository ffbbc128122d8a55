// Package shareddata locates the project's shared test data: real MRT
// dumps, packet captures and encoded BGP messages kept in ../shared/testdata
// beside the repository (CI clones the repository with ../shared next to it).
// Tests use it so that every package finds the same files the same way.
package shareddata

import (
	"os"
	"path/filepath"
	"testing"
)

// Dir returns ../shared/testdata/<sub...> relative to the repository root
// (the nearest directory above the working directory that holds go.mod),
// and skips the test with the reason when the shared directory is absent.
func Dir(t testing.TB, sub ...string) string {
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
			t.Fatal("shareddata: no go.mod above the test directory")
		}
		dir = parent
	}
	d := filepath.Join(append([]string{dir, "..", "shared", "testdata"}, sub...)...)
	if _, err := os.Stat(d); err != nil {
		t.Skipf("shared test data not present at %s (CI clones ../shared beside the repository): %v", d, err)
	}
	return d
}
