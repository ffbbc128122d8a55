package shareddata

import (
	"os"
	"path/filepath"
	"testing"
)

func TestDirFindsSharedMRT(t *testing.T) {
	d := Dir(t, "mrt")
	if filepath.Base(d) != "mrt" {
		t.Fatalf("Dir(mrt) = %s", d)
	}
	if _, err := os.Stat(filepath.Join(d, "SOURCES.md")); err != nil {
		t.Fatalf("shared MRT directory %s has no SOURCES.md: %v", d, err)
	}
}
