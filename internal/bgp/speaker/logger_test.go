package speaker

import (
	"log/slog"
	"net/netip"
	"testing"
)

// TestNilLogger: a nil *slog.Logger (a non-nil Logger holding a nil
// pointer) gets the default, as a nil Logger does; New must not keep it
// and panic on the first log line.
func TestNilLogger(t *testing.T) {
	var l *slog.Logger
	for name, lg := range map[string]Logger{"nil": nil, "nil *slog.Logger": l} {
		sp, err := New(t.Context(), Config{LocalAS: 65000, RouterID: netip.MustParseAddr("10.0.0.1"), Logger: lg})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if _, ok := sp.log.(discard); !ok {
			t.Errorf("%s: logger %T, want the discarding default", name, sp.log)
		}
		sp.log.Error("not logged", "k", 1)
		sp.Close()
	}
}
