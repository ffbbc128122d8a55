package agent

import (
	"context"
	"fmt"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kbgp/kbgp/api"
	"github.com/kbgp/kbgp/internal/bgp/fsm"
	"github.com/kbgp/kbgp/internal/bgp/speaker"
	"github.com/kbgp/kbgp/internal/ctlapi"
	"github.com/kbgp/kbgp/internal/status"
	"github.com/kbgp/kbgp/internal/store"
)

// TestDrainAPI drains a node over its control socket (what `kbgp node
// drain` does): the originated routes are withdrawn at the peer, the
// session is shut down with the RFC 9003 message, the annotation is in the
// datastore, and undo brings the session and routes back.
func TestDrainAPI(t *testing.T) {
	port := freePort(t)
	ds, err := store.Open(t.TempDir(), &store.Options{PollInterval: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	me, peer := netip.MustParseAddr("127.0.0.24"), netip.MustParseAddr("127.0.0.25")
	applyYAML(t, ds, "n1.yaml", oneNode(port, me.String()+"/8", "")+fmt.Sprintf(`---
apiVersion: projectcalico.org/v3
kind: BGPPeer
metadata:
  name: tor
spec:
  peerIP: "%s"
  asNumber: 64600
`, netip.AddrPortFrom(peer, port)))
	sock := filepath.Join(t.TempDir(), "kbgp.sock")
	ra := startAgent(t, Options{Node: "n1", Store: ds, NoFIB: true, IPv4: Address{Mode: "none"}, Socket: sock,
		Listen: []netip.AddrPort{netip.AddrPortFrom(me, port)}, NextHop4: netip.MustParseAddr("192.0.2.24")})
	ctx := context.Background()
	tor, err := speaker.New(ctx, speaker.Config{LocalAS: 64600, RouterID: peer, Listen: []netip.AddrPort{netip.AddrPortFrom(peer, port)}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tor.Close)
	if err := tor.AddPeer(ctx, speaker.PeerConfig{Session: fsm.Config{PeerAS: 64512, PeerAddr: me, PeerPort: port, LocalAddr: peer,
		ConnectRetry: 300 * time.Millisecond, IdleHoldTime: 100 * time.Millisecond}}); err != nil {
		t.Fatal(err)
	}
	torHas := func(want bool) func() string {
		return func() string {
			bps, err := tor.BestPaths(ctx)
			if err != nil {
				return err.Error()
			}
			has := false
			for _, bp := range bps {
				if bp.Prefix == netip.MustParsePrefix("192.168.0.0/26") && !bp.Withdrawn() {
					has = true
				}
			}
			if has != want {
				return fmt.Sprintf("the peer has the node's block: %v, want %v", has, want)
			}
			return ""
		}
	}
	waitFor(t, 15*time.Second, "the session", allEstablished(ra, 1))
	waitFor(t, 5*time.Second, "the block at the peer", torHas(true))

	c, err := ctlapi.Dial(sock)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	res, err := c.Drain(ctx, ctlapi.DrainRequest{Message: "maintenance until 14:00"})
	if err != nil {
		t.Fatal(err)
	}
	if want := (ctlapi.DrainResult{Node: "n1", Drained: true, Message: "maintenance until 14:00", Changed: true}); res != want {
		t.Errorf("Drain = %+v, want %+v", res, want)
	}
	waitFor(t, 5*time.Second, "the withdrawal at the peer", torHas(false))
	n := ra.node(t)
	if len(n.Peers) != 1 || n.Peers[0].Admin != status.AdminDown {
		t.Errorf("after drain: sessions %+v, want one, admin down", n.Peers)
	}
	waitFor(t, 5*time.Second, "the shutdown message at the peer", func() string {
		ps, err := tor.PeerStatus(me)
		if err != nil {
			return err.Error()
		}
		if ps.LastError == nil || ps.LastError.Notification == nil || !strings.Contains(ps.LastError.Notification.String(), "maintenance until 14:00") {
			return fmt.Sprintf("peer's last error %+v", ps.LastError)
		}
		return ""
	})
	r, err := ds.Get(ctx, "Node", "n1")
	if err != nil {
		t.Fatal(err)
	}
	if got := r.(*api.Node).Metadata.Annotations[AnnotationDrain]; got != "maintenance until 14:00" {
		t.Errorf("annotation %s = %q", AnnotationDrain, got)
	}
	// Draining again is a no-op.
	if res, err := c.Drain(ctx, ctlapi.DrainRequest{Message: "maintenance until 14:00"}); err != nil || res.Changed {
		t.Errorf("second drain: %+v, %v; want unchanged", res, err)
	}

	res, err = c.Drain(ctx, ctlapi.DrainRequest{Undo: true})
	if err != nil {
		t.Fatal(err)
	}
	if want := (ctlapi.DrainResult{Node: "n1", Changed: true}); res != want {
		t.Errorf("undo = %+v, want %+v", res, want)
	}
	waitFor(t, 15*time.Second, "the session back", allEstablished(ra, 1))
	waitFor(t, 5*time.Second, "the block back at the peer", torHas(true))
}
