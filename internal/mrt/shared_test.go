package mrt

import (
	"testing"

	"github.com/kbgp/kbgp/internal/shareddata"
)

// sharedDir returns ../shared/testdata/mrt, skipping when it is absent.
func sharedDir(t testing.TB) string { return shareddata.Dir(t, "mrt") }
