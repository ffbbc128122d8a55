package speaker

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/kbgp/kbgp/internal/bgp/wire"
	"github.com/kbgp/kbgp/internal/rib"
)

// TestUpdatePeers applies a batch: two policy-only changes (in place, no
// flap, exports recomputed), one change that needs a new OPEN (only that
// session resets) and an unknown peer (ErrPeerNotFound for that entry).
func TestUpdatePeers(t *testing.T) {
	checkLeaks(t)
	hub := newNode(t, "127.0.0.1", 65000, "10.0.0.1")
	spokes := []*node{
		newNode(t, "127.0.0.2", 65002, "10.0.0.2"),
		newNode(t, "127.0.0.3", 65003, "10.0.0.3"),
		newNode(t, "127.0.0.4", 65004, "10.0.0.4"),
	}
	accept := rib.PolicyFunc(func(rib.PolicyInput, *wire.Attrs) bool { return true })
	cfgs := map[netip.Addr]PeerConfig{}
	for _, s := range spokes {
		connect(t, hub, s, func(hc, _ *PeerConfig) {
			hc.Export = rib.Policy{Name: s.addr.String() + "/export", Func: accept}
			cfgs[s.addr] = *hc
		})
	}
	ctx := context.Background()
	var attrs wire.Attrs
	attrs.Origin = wire.OriginIGP
	attrs.Set(wire.AttrOrigin)
	for _, p := range []string{"10.1.0.0/24", "10.2.0.0/24"} {
		if err := hub.Originate(ctx, netip.MustParsePrefix(p), attrs); err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range spokes {
		waitEstablished(t, hub, s.addr)
		waitRoute(t, s, "10.2.0.0/24", present)
	}

	no10_2 := rib.PolicyFunc(func(in rib.PolicyInput, _ *wire.Attrs) bool {
		return in.Prefix != netip.MustParsePrefix("10.2.0.0/24")
	})
	var batch []PeerConfig
	for _, s := range spokes[:2] {
		c := cfgs[s.addr]
		c.Export.Func = no10_2
		batch = append(batch, c)
	}
	reset := cfgs[spokes[2].addr]
	reset.Session.HoldTime = 12 * time.Second
	batch = append(batch, reset)
	ghost := cfgs[spokes[2].addr]
	ghost.Session.PeerAddr = netip.MustParseAddr("127.0.0.9")
	batch = append(batch, ghost)

	errs := hub.UpdatePeers(ctx, batch)
	for i, err := range errs[:3] {
		if err != nil {
			t.Errorf("entry %d: %v", i, err)
		}
	}
	if !errors.Is(errs[3], ErrPeerNotFound) {
		t.Errorf("unknown peer: %v, want ErrPeerNotFound", errs[3])
	}
	for _, s := range spokes[:2] {
		waitRoute(t, s, "10.2.0.0/24", withdrawn)
		waitRoute(t, s, "10.1.0.0/24", present)
		if st := waitEstablished(t, s, hub.addr); st.Established != 1 || st.Flaps != 0 {
			t.Errorf("spoke %v: policy change flapped the session: established %d flaps %d", s.addr, st.Established, st.Flaps)
		}
	}
	if st := waitEstablished(t, spokes[2], hub.addr); st.Established != 2 {
		t.Errorf("spoke 3 established %d times, want 2 (hold time change resets)", st.Established)
	}
	waitRoute(t, spokes[2], "10.2.0.0/24", present)
}

// BenchmarkPolicyChange changes the export policy of n peers on a speaker
// holding 10,000 routes, one UpdatePeer per peer against one UpdatePeers
// for all: the agent applies an IPPool change (every peer's policy) this
// way. The per-peer loop re-evaluates the whole RIB n times.
func BenchmarkPolicyChange(b *testing.B) {
	accept := rib.PolicyFunc(func(rib.PolicyInput, *wire.Attrs) bool { return true })
	for _, n := range []int{10, 100} {
		for _, mode := range []string{"loop", "batch"} {
			b.Run(fmt.Sprintf("peers=%d/%s", n, mode), func(b *testing.B) {
				ctx := context.Background()
				s, err := New(ctx, Config{LocalAS: 65000, RouterID: netip.MustParseAddr("10.0.0.1")})
				if err != nil {
					b.Fatal(err)
				}
				defer s.Close()
				cfgs := passivePeers(n)
				for i := range cfgs {
					cfgs[i].Export = rib.Policy{Name: cfgs[i].Name + "/export", Func: accept}
					if err := s.AddPeer(ctx, cfgs[i]); err != nil {
						b.Fatal(err)
					}
				}
				var attrs wire.Attrs
				attrs.Set(wire.AttrOrigin)
				pfx := make([]netip.Prefix, 10000)
				for i := range pfx {
					pfx[i] = netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i >> 8), byte(i), 0}), 24)
				}
				if err := s.OriginateAll(ctx, pfx, attrs); err != nil {
					b.Fatal(err)
				}
				for b.Loop() {
					for i := range cfgs {
						fn := rib.PolicyFunc(func(rib.PolicyInput, *wire.Attrs) bool { return true })
						cfgs[i].Export.Func = fn
					}
					if mode == "batch" {
						for _, err := range s.UpdatePeers(ctx, cfgs) {
							if err != nil {
								b.Fatal(err)
							}
						}
						continue
					}
					for _, c := range cfgs {
						if err := s.UpdatePeer(ctx, c); err != nil {
							b.Fatal(err)
						}
					}
				}
			})
		}
	}
}
