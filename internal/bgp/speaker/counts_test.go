package speaker

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/kbgp/kbgp/internal/bgp/fsm"
	"github.com/kbgp/kbgp/internal/bgp/wire"
)

// TestPrefixCounts: PeerStatus counts received, accepted and rejected
// routes the same with and without a MaxPrefix limit (the session counts
// only limited families; otherwise the counts come from the RIB when it
// can count, else from the session), through re-announcements,
// withdrawals, an import rejection and a session reset.
func TestPrefixCounts(t *testing.T) {
	for _, tc := range []struct {
		name  string
		limit map[wire.Family]int
	}{
		{"no limit", nil},
		{"MaxPrefix", map[wire.Family]int{wire.IPv4Unicast: 100}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkLeaks(t)
			s := newNode(t, "127.0.0.1", 65001, "10.0.0.1")
			peerAddr := netip.MustParseAddr("127.0.0.2")
			ctx := context.Background()
			if err := s.AddPeer(ctx, PeerConfig{Session: fsm.Config{PeerAS: 65002, PeerAddr: peerAddr, Passive: true,
				IdleHoldTime: 50 * time.Millisecond, MaxPrefix: tc.limit}}); err != nil {
				t.Fatal(err)
			}
			want := func(step string, recv, acc int, rej uint64) {
				t.Helper()
				deadline := time.Now().Add(5 * time.Second)
				for {
					st, err := s.PeerStatus(peerAddr)
					if err != nil {
						t.Fatal(err)
					}
					got := [3]int{st.PrefixesReceived[wire.IPv4Unicast], st.Accepted[wire.IPv4Unicast], int(st.Rejected)}
					if got == [3]int{recv, acc, int(rej)} {
						return
					}
					if time.Now().After(deadline) {
						t.Fatalf("%s: received %d, accepted %d, rejected %d; want %d, %d, %d", step, got[0], got[1], got[2], recv, acc, rej)
					}
					time.Sleep(10 * time.Millisecond)
				}
			}
			r := dialRaw(t, peerAddr, s.Addrs()[0])
			o := plainOpen()
			r.open(o)
			waitEstablished(t, s, peerAddr)
			r.announce("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24")
			want("announce", 3, 3, 0)
			r.announce("192.0.2.0/24") // an implicit replacement counts once
			want("re-announce", 3, 3, 0)
			// AS_PATH with kbgp's AS: rejected on import (RFC 4271
			// §9.1.2), still received.
			loop := &wire.Update{}
			loop.Attrs.Origin = wire.OriginIGP
			loop.Attrs.Set(wire.AttrOrigin)
			loop.Attrs.ASPath = []wire.ASPathSegment{{Type: wire.ASSequence, ASNs: []uint32{65002, 65001}}}
			loop.Attrs.Set(wire.AttrASPath)
			loop.Attrs.NextHop = netip.MustParseAddr("192.0.2.2")
			loop.Attrs.Set(wire.AttrNextHop)
			loop.NLRI = []wire.NLRI{{Prefix: netip.MustParsePrefix("198.51.100.0/24")}, {Prefix: netip.MustParsePrefix("10.1.0.0/16")}}
			b, err := wire.AppendUpdate(nil, loop, &wire.Options{AS4: true})
			if err != nil {
				t.Fatal(err)
			}
			r.write(b)
			want("import rejection", 4, 2, 2)
			w, _ := wire.AppendUpdate(nil, &wire.Update{Withdrawn: []wire.NLRI{
				{Prefix: netip.MustParsePrefix("10.1.0.0/16")}, {Prefix: netip.MustParsePrefix("192.0.2.0/24")},
				{Prefix: netip.MustParsePrefix("172.16.0.0/12")}}}, &wire.Options{AS4: true})
			r.write(w)
			want("withdraw", 2, 1, 2)
			// The session goes down: no counts until it is back.
			r.nc.Close()
			deadline := time.Now().Add(5 * time.Second)
			for {
				st, _ := s.PeerStatus(peerAddr)
				if st.State != fsm.Established {
					if len(st.PrefixesReceived) != 0 || st.Accepted[wire.IPv4Unicast] != 0 {
						t.Errorf("down: received %v accepted %v, want none", st.PrefixesReceived, st.Accepted)
					}
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("session did not go down")
				}
				time.Sleep(10 * time.Millisecond)
			}
		})
	}
}

// TestQueuedUpdatesIntact: UPDATEs wait in the RIB queue, without a copy,
// while the session reads and decodes more messages into pooled buffers;
// what the RIB finally applies is what the peer sent.
func TestQueuedUpdatesIntact(t *testing.T) {
	checkLeaks(t)
	const n = 200
	s := newNode(t, "127.0.0.1", 65001, "10.0.0.1")
	peerAddr := netip.MustParseAddr("127.0.0.2")
	ctx := context.Background()
	r := rawClient(t, s, PeerConfig{Session: fsm.Config{PeerAS: 65002, PeerAddr: peerAddr, Passive: true}})
	o := plainOpen()
	r.open(o)
	waitEstablished(t, s, peerAddr)
	// Hold the RIB goroutine so the UPDATEs queue up behind it.
	release := make(chan struct{})
	held := make(chan struct{})
	go s.do(ctx, func() { close(held); <-release })
	<-held
	var stream []byte
	for i := range n {
		u := &wire.Update{}
		u.Attrs.Origin = wire.OriginIGP
		u.Attrs.Set(wire.AttrOrigin)
		u.Attrs.ASPath = []wire.ASPathSegment{{Type: wire.ASSequence, ASNs: []uint32{65002, uint32(1000 + i)}}}
		u.Attrs.Set(wire.AttrASPath)
		u.Attrs.NextHop = netip.AddrFrom4([4]byte{192, 0, 2, byte(i)})
		u.Attrs.Set(wire.AttrNextHop)
		u.NLRI = []wire.NLRI{{Prefix: netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i), 0, 0}), 16)}}
		b, err := wire.AppendUpdate(nil, u, &wire.Options{AS4: true})
		if err != nil {
			t.Fatal(err)
		}
		stream = append(stream, b...)
	}
	r.write(stream)
	// Let the session read and queue them (up to the RIB queue's length).
	time.Sleep(300 * time.Millisecond)
	s.budget.mu.Lock()
	queued := s.budget.used
	s.budget.mu.Unlock()
	if queued == 0 {
		t.Error("the queued UPDATEs hold no bytes of the queue's budget")
	}
	close(release)
	deadline := time.Now().Add(5 * time.Second)
	for {
		st, _ := s.PeerStatus(peerAddr)
		if st.Accepted[wire.IPv4Unicast] == n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("accepted %d routes, want %d", st.Accepted[wire.IPv4Unicast], n)
		}
		time.Sleep(10 * time.Millisecond)
	}
	for i := range n {
		rs, err := s.Routes(ctx, netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i), 0, 0}), 16))
		if err != nil {
			t.Fatal(err)
		}
		if len(rs) != 1 || rs[0].Attrs.NextHop != netip.AddrFrom4([4]byte{192, 0, 2, byte(i)}) ||
			len(rs[0].Attrs.ASPath) != 1 || rs[0].Attrs.ASPath[0].ASNs[1] != uint32(1000+i) {
			t.Fatalf("route %d: %+v", i, rs)
		}
	}
	// Every applied UPDATE gave its bytes back.
	var used int
	if err := s.do(ctx, func() {
		s.budget.mu.Lock()
		used = s.budget.used
		s.budget.mu.Unlock()
	}); err != nil {
		t.Fatal(err)
	}
	if used != 0 {
		t.Errorf("%d bytes of the queue's budget still taken after every UPDATE was applied", used)
	}
}
