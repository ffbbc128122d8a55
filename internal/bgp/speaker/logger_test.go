package speaker

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"github.com/kbgp/kbgp/internal/bgp/fsm"
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

// lineLogger records every line as text.
type lineLogger struct {
	mu    sync.Mutex
	lines []string
}

func (l *lineLogger) log(msg string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, fmt.Sprint(append([]any{msg}, args...)...))
}
func (l *lineLogger) Debug(msg string, args ...any) { l.log(msg, args...) }
func (l *lineLogger) Info(msg string, args ...any)  { l.log(msg, args...) }
func (l *lineLogger) Warn(msg string, args ...any)  { l.log(msg, args...) }
func (l *lineLogger) Error(msg string, args ...any) { l.log(msg, args...) }

// TestStateChangesLogged: a configured Logger gets a line for each session
// state change, naming the peer and the new state (the default logger is
// skipped before the line is built).
func TestStateChangesLogged(t *testing.T) {
	checkLeaks(t)
	ll := &lineLogger{}
	a := netip.MustParseAddr("127.0.0.1")
	sp, err := New(context.Background(), Config{LocalAS: 65001, RouterID: netip.MustParseAddr("10.0.0.1"),
		Listen: []netip.AddrPort{netip.AddrPortFrom(a, 0)}, Logger: ll})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sp.Close)
	n := &node{Speaker: sp, addr: a, as: 65001, id: netip.MustParseAddr("10.0.0.1")}
	peerAddr := netip.MustParseAddr("127.0.0.2")
	r := rawClient(t, n, PeerConfig{Name: "client-2", Session: fsm.Config{PeerAS: 65002, PeerAddr: peerAddr, Passive: true}})
	r.open(plainOpen())
	waitEstablished(t, n, peerAddr)
	ll.mu.Lock()
	defer ll.mu.Unlock()
	for _, l := range ll.lines {
		if strings.Contains(l, "bgp session state changed") && strings.Contains(l, "client-2") && strings.HasSuffix(l, "Established") {
			return
		}
	}
	t.Errorf("no state change to Established logged; lines:\n%s", strings.Join(ll.lines, "\n"))
}
