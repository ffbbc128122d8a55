package speaker

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/kbgp/kbgp/internal/bgp/fsm"
	"github.com/kbgp/kbgp/internal/bgp/wire"
)

// TestEndOfRIBStatus: before the session is up a peer is not Complete;
// once it is Established and has sent its End-of-RIB for both families it
// is, and the status names the families and graceful restart.
func TestEndOfRIBStatus(t *testing.T) {
	a := newNode(t, "127.0.0.61", 64512, "10.0.0.61")
	b := newNode(t, "127.0.0.62", 64512, "10.0.0.62")
	ctx := context.Background()
	// Only b is configured at first: its peer a is not up.
	bc := b.peerWith(a, false)
	bc.Session.GracefulRestart = &fsm.GRConfig{RestartTime: 30 * time.Second}
	if err := b.AddPeer(ctx, bc); err != nil {
		t.Fatal(err)
	}
	eor, err := b.EndOfRIB(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(eor) != 1 || eor[0].Addr != a.addr || eor[0].Established || eor[0].Complete() {
		t.Fatalf("before the session: %+v, want one peer %v, not Established, not Complete", eor, a.addr)
	}
	ac := a.peerWith(b, true)
	ac.Session.GracefulRestart = &fsm.GRConfig{RestartTime: 30 * time.Second}
	if err := a.AddPeer(ctx, ac); err != nil {
		t.Fatal(err)
	}
	waitEstablished(t, b, a.addr)
	deadline := time.Now().Add(5 * time.Second)
	for {
		eor, err = b.EndOfRIB(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(eor) == 1 && eor[0].Complete() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no complete End-of-RIB within 5 s: %+v", eor)
		}
		time.Sleep(20 * time.Millisecond)
	}
	e := eor[0]
	want := []wire.Family{wire.IPv4Unicast, wire.IPv6Unicast}
	if !e.GracefulRestart || !slices.Equal(e.Families, want) || !slices.Equal(e.Received, want) {
		t.Errorf("after End-of-RIB: %+v, want graceful restart and families %v received", e, want)
	}
}
