// Package speakerdut is the "kbgp" benchmark DUT: kbgp's BGP speaker
// (internal/bgp/speaker) alone as a route reflector, with nothing else
// linked in, so that its memory is the speaker's and not the harness's.
// cmd/kbgp-speaker is its binary. Its configuration is a small text file
// (Config); the CPU and heap profiling of the harness's unmeasured profile
// run is only in a binary built with -tags profile.
package speakerdut

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"time"

	"github.com/kbgp/kbgp/internal/bgp/fsm"
	"github.com/kbgp/kbgp/internal/bgp/speaker"
	"github.com/kbgp/kbgp/internal/bgp/wire"
	"github.com/kbgp/kbgp/internal/rib"
)

// Run runs kbgp's speaker (internal/bgp/speaker) as the route reflector
// until ctx ends: listening on cfg.Addr:179, cluster ID cfg.Addr, every
// client a passive iBGP route-reflector client, no FIB. With cfg.Profile it
// writes cpu.pprof (the whole run), heap.pprof (at the end), and
// peak-heap.pprof and peak-heap.txt (the runtime's memory classes) at the
// largest live heap there; that needs a build with -tags profile
// (Profiling), and fails without.
func Run(ctx context.Context, cfg Config) (err error) {
	var prof *profile
	if cfg.Profile != "" {
		if prof, err = startProfile(cfg.Profile); err != nil {
			return fmt.Errorf("kbgp DUT: %w", err)
		}
		defer prof.abort()
	}
	sp, err := speaker.New(ctx, speaker.Config{
		LocalAS:  cfg.AS,
		RouterID: cfg.Addr,
		Listen:   []netip.AddrPort{cfg.Listen()},
		// A reflector out of the forwarding path, as the other DUTs are
		// configured (BIRD without a kernel protocol, FRR with `bgp
		// no-rib`, GoBGP without zebra): no forwarding state.
		RIB: rib.Options{ClusterID: cfg.Addr, NoFIB: true},
	})
	if err != nil {
		return fmt.Errorf("kbgp DUT: %w", err)
	}
	defer sp.Close()
	start := time.Now()
	for _, c := range cfg.Clients {
		pc := speaker.PeerConfig{
			Session: fsm.Config{
				PeerAddr: c,
				PeerPort: cfg.Port,
				PeerAS:   cfg.AS,
				Passive:  true,
				Families: []wire.Family{wire.IPv4Unicast},
			},
			// RFC 4456 §6: routes from a client are reflected to all other
			// clients.
			RRClient: true,
		}
		if err := sp.AddPeer(ctx, pc); err != nil {
			return fmt.Errorf("kbgp DUT: add client %s: %w", c, err)
		}
	}
	fmt.Fprintf(os.Stderr, "kbgp DUT: %d peers configured in %v\n", len(cfg.Clients), time.Since(start).Round(time.Millisecond))
	if prof != nil {
		prof.watchPeak(ctx)
	}
	<-ctx.Done()
	if prof != nil {
		// The RIB is still full here: the heap profile shows what holds it.
		if err := prof.finish(); err != nil {
			return fmt.Errorf("kbgp DUT: %w", err)
		}
	}
	return nil
}
