//go:build !profile

package speakerdut

import (
	"context"
	"net/netip"
	"strings"
	"testing"
)

// TestRunProfileNeedsTag: a build without the profile tag refuses a
// profile directory instead of running unprofiled.
func TestRunProfileNeedsTag(t *testing.T) {
	if Profiling {
		t.Fatal("Profiling is true without the profile build tag")
	}
	dir := t.TempDir()
	err := Run(context.Background(), Config{Addr: netip.MustParseAddr("127.0.0.1"), AS: 64512, Port: 41793, Profile: dir})
	if err == nil || !strings.Contains(err.Error(), "-tags profile") || !strings.Contains(err.Error(), dir) {
		t.Fatalf("Run with Profile = %v, want an error naming %s and -tags profile", err, dir)
	}
}
