package status

import (
	"path/filepath"
	"testing"

	"github.com/kbgp/kbgp/internal/golden"
)

// checkGolden compares got with testdata/NAME.golden (-update rewrites it).
func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	golden.Check(t, filepath.Join("testdata", name+".golden"), got)
}
