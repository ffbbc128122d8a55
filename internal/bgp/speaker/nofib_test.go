package speaker

import (
	"context"
	"errors"
	"net/netip"
	"testing"

	"github.com/kbgp/kbgp/internal/rib"
)

// TestNoFIB checks that a speaker without forwarding state says so to FIB
// readers instead of reporting an empty table.
func TestNoFIB(t *testing.T) {
	ctx := context.Background()
	s, err := New(ctx, Config{LocalAS: 65002, RouterID: netip.MustParseAddr("10.0.0.1"), RIB: rib.Options{NoFIB: true}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Subscribe(ctx); !errors.Is(err, ErrNoFIB) {
		t.Errorf("Subscribe: %v, want ErrNoFIB", err)
	}
	if _, err := s.BestPaths(ctx); !errors.Is(err, ErrNoFIB) {
		t.Errorf("BestPaths: %v, want ErrNoFIB", err)
	}
}
