package speaker

import (
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/kbgp/kbgp/internal/bgp/fsm"
	"github.com/kbgp/kbgp/internal/bgp/wire"
)

// TestExportOrder: with encoding on routineExport, a peer still gets its
// messages in the order the RIB produced them: the initial table, then
// End-of-RIB (RFC 4724 §4.1: "after it completes the initial update"),
// and announcements and withdrawals of flapping prefixes in order, so
// that replaying what it received gives the speaker's final table.
func TestExportOrder(t *testing.T) {
	checkLeaks(t)
	s := newNode(t, "127.0.0.1", 65001, "10.0.0.1")
	ctx := context.Background()
	pfx := func(i int) netip.Prefix {
		return netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 7, byte(i >> 8), byte(i)}), 32)
	}
	var initial []netip.Prefix
	for i := range 300 {
		initial = append(initial, pfx(i))
	}
	if err := s.OriginateAll(ctx, initial, wire.Attrs{}); err != nil {
		t.Fatal(err)
	}
	peerAddr := netip.MustParseAddr("127.0.0.2")
	// A documentation next hop: receivers refuse loopback ones.
	if err := s.AddPeer(ctx, PeerConfig{Session: fsm.Config{PeerAS: 65002, PeerAddr: peerAddr, Passive: true},
		NextHopSelf4: netip.MustParseAddr("192.0.2.1")}); err != nil {
		t.Fatal(err)
	}
	r := dialRaw(t, peerAddr, s.Addrs()[0])
	o := plainOpen()
	r.open(o)
	// Flap while the table and End-of-RIB are on their way: every
	// prefix below 100 is withdrawn and re-announced, the odd ones end
	// withdrawn; new prefixes come and go.
	want := map[netip.Prefix]bool{}
	for _, p := range initial {
		want[p] = true
	}
	for round := range 5 {
		for i := range 100 {
			if err := s.Withdraw(ctx, pfx(i)); err != nil {
				t.Fatal(err)
			}
			if round < 4 || i%2 == 0 {
				if err := s.Originate(ctx, pfx(i), wire.Attrs{}); err != nil {
					t.Fatal(err)
				}
			}
		}
		n := pfx(1000 + round)
		if err := s.Originate(ctx, n, wire.Attrs{}); err != nil {
			t.Fatal(err)
		}
		if round%2 == 1 {
			if err := s.Withdraw(ctx, n); err != nil {
				t.Fatal(err)
			}
		}
	}
	for i := range 100 {
		if i%2 == 1 {
			delete(want, pfx(i))
		}
	}
	for round := range 5 {
		if round%2 == 0 {
			want[pfx(1000+round)] = true
		}
	}
	// Replay what the peer receives until it is quiet.
	have := map[netip.Prefix]bool{}
	eor, beforeEoR := false, 0
	for {
		r.nc.SetReadDeadline(time.Now().Add(time.Second))
		hdr := make([]byte, wire.HeaderLen)
		if _, err := io.ReadFull(r.nc, hdr); err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				break
			}
			t.Fatal(err)
		}
		n, typ, err := wire.ParseHeader(hdr, wire.MaxMessageLen)
		if err != nil {
			t.Fatal(err)
		}
		body := make([]byte, n-wire.HeaderLen)
		if _, err := io.ReadFull(r.nc, body); err != nil {
			t.Fatal(err)
		}
		if typ != wire.MsgUpdate {
			continue
		}
		var u wire.Update
		if err := u.Decode(body, &wire.Options{AS4: true}); err != nil {
			t.Fatal(err)
		}
		if _, ok := wire.IsEndOfRIB(&u); ok {
			eor = true
			continue
		}
		for _, x := range u.Withdrawn {
			delete(have, x.Prefix)
		}
		for _, x := range u.NLRI {
			have[x.Prefix] = true
		}
		if !eor {
			beforeEoR = len(have)
		}
	}
	if !eor {
		t.Fatal("no End-of-RIB")
	}
	if beforeEoR < len(initial)-100 {
		t.Errorf("only %d routes before End-of-RIB, the initial table had at least %d", beforeEoR, len(initial)-100)
	}
	if len(have) != len(want) {
		t.Errorf("peer has %d routes, want %d", len(have), len(want))
	}
	for p := range want {
		if !have[p] {
			t.Errorf("peer lacks %v", p)
		}
	}
	for p := range have {
		if !want[p] {
			t.Errorf("peer has %v, which is withdrawn", p)
		}
	}
}
