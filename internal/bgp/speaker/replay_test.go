package speaker

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/kbgp/kbgp/internal/shareddata"

	"github.com/kbgp/kbgp/internal/bgp/fsm"
	"github.com/kbgp/kbgp/internal/bgp/wire"
	"github.com/kbgp/kbgp/internal/mrt"
)

// sharedMRT returns the path of a file in ../shared/testdata/mrt, skipping
// the test if the shared directory is absent.
func sharedMRT(t testing.TB, name string) string {
	return filepath.Join(shareddata.Dir(t, "mrt"), name)
}

// peerStream reads the UPDATEs one peer sent in an MRT BGP4MP file, as
// complete messages, and that peer's AS.
func peerStream(t testing.TB, file string) (msgs [][]byte, peerAS uint32) {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	type key struct {
		addr string
		as   uint32
	}
	byPeer := map[key][][]byte{}
	r := mrt.NewReader(f)
	for {
		rec, err := r.Next()
		if err != nil {
			break
		}
		var m mrt.BGP4MP
		if rec.BGP4MP(&m) != nil || m.IsStateChange() || !m.AS4() || m.AddPath() || m.Local() || len(m.Message) < wire.HeaderLen || m.Message[18] != byte(wire.MsgUpdate) {
			continue
		}
		k := key{m.PeerAddr.String(), m.PeerAS}
		byPeer[k] = append(byPeer[k], append([]byte(nil), m.Message...))
	}
	var best key
	for k, v := range byPeer {
		if len(v) > len(byPeer[best]) {
			best = k
		}
	}
	return byPeer[best], best.as
}

// model applies UPDATEs to a prefix set the simple way: what a correct
// receiver must end up with (RFC 7606 treat-as-withdraw included).
func model(t testing.TB, msgs [][]byte) map[wire.NLRI]bool {
	have := map[wire.NLRI]bool{}
	var u wire.Update
	for _, m := range msgs {
		err := u.Decode(m[wire.HeaderLen:], &wire.Options{AS4: true})
		if e, ok := err.(*wire.Error); ok && e.Action == wire.ActionSessionReset {
			t.Fatalf("the recorded stream has a session-reset error: %v", err)
		}
		tw := err != nil && err.(*wire.Error).Action == wire.ActionTreatAsWithdraw
		for _, n := range u.Withdrawn {
			delete(have, n)
		}
		if u.MPUnreach != nil {
			for _, n := range u.MPUnreach.NLRI {
				delete(have, n)
			}
		}
		for _, n := range u.NLRI {
			if tw {
				delete(have, n)
			} else {
				have[n] = true
			}
		}
		if u.MPReach != nil {
			for _, n := range u.MPReach.NLRI {
				if tw {
					delete(have, n)
				} else {
					have[n] = true
				}
			}
		}
	}
	return have
}

// replay sends msgs to a speaker as peer AS peerAS and checks the speaker
// ends up with what the model says, with the session still up.
func replay(t *testing.T, msgs [][]byte, peerAS uint32) time.Duration {
	want := model(t, msgs)
	s := newNode(t, "127.0.0.1", 65001, "10.0.0.1")
	peerAddr := netip.MustParseAddr("127.0.0.2")
	ctx := context.Background()
	if err := s.AddPeer(ctx, PeerConfig{Session: fsm.Config{PeerAS: peerAS, PeerAddr: peerAddr, Passive: true,
		Families: []wire.Family{wire.IPv4Unicast, wire.IPv6Unicast}}}); err != nil {
		t.Fatal(err)
	}
	r := dialRaw(t, peerAddr, s.Addrs()[0])
	o := plainOpen()
	o.MyAS, o.Caps.FourOctetAS = uint16(min(peerAS, wire.ASTrans)), peerAS
	if peerAS > 0xffff {
		o.MyAS = wire.ASTrans
	}
	o.Caps.Multiprotocol = []wire.Family{wire.IPv4Unicast, wire.IPv6Unicast}
	r.open(o)
	waitEstablished(t, s, peerAddr)
	// kbgp's messages are not read by this peer: a reader drains them so
	// kbgp's writes never block.
	go func() {
		buf := make([]byte, 64<<10)
		for {
			if _, err := r.nc.Read(buf); err != nil {
				return
			}
		}
	}()
	start := time.Now()
	var stream []byte
	for _, m := range msgs {
		stream = append(stream, m...)
	}
	r.write(stream)
	// End-of-RIB marks the end; then wait for the counts to match.
	r.write(wire.AppendEndOfRIB(nil, wire.IPv4Unicast))
	// Keep the session alive like a real peer while kbgp catches up.
	kaDone := make(chan struct{})
	defer close(kaDone)
	go func() {
		tick := time.NewTicker(10 * time.Second)
		defer tick.Stop()
		for {
			select {
			case <-tick.C:
				if _, err := r.nc.Write(wire.AppendKeepalive(nil)); err != nil {
					return
				}
			case <-kaDone:
				return
			}
		}
	}()
	deadline := time.Now().Add(3 * time.Minute)
	nbs := -1
	for {
		st, err := s.PeerStatus(peerAddr)
		if err != nil {
			t.Fatal(err)
		}
		got := st.PrefixesReceived[wire.IPv4Unicast] + st.PrefixesReceived[wire.IPv6Unicast]
		if st.State != fsm.Established {
			t.Fatalf("session went down during the replay (%d prefixes received, %d best paths, want %d): %v", got, nbs, len(want), st.LastError)
		}
		// The RIB's import checks may reject a few real routes (e.g. an
		// AS_PATH containing kbgp's AS): every received route must be
		// either a best path or counted as rejected.
		accepted := st.Accepted[wire.IPv4Unicast] + st.Accepted[wire.IPv6Unicast]
		if got == len(want) && accepted >= len(want)-len(want)/1000 {
			// Copying every best path is costly: only when the counts match.
			bs, _ := s.BestPaths(ctx)
			if nbs = len(bs); nbs == accepted {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the replay kbgp has %d prefixes received and %d best paths (accepted %v, rejected %d); the stream leaves %d",
				got, nbs, st.Accepted, st.Rejected, len(want))
		}
		time.Sleep(time.Second)
	}
	el := time.Since(start)
	bs, _ := s.BestPaths(ctx)
	for _, b := range bs {
		if !want[wire.NLRI{Prefix: b.Prefix}] {
			t.Fatalf("kbgp has %v which the stream does not leave", b.Prefix)
		}
	}
	return el
}

// TestReplayRISUpdates replays the UPDATEs one RIPE RIS peer sent in
// updates.20160811.1600 (real attributes: AS4, communities, extended
// communities, MP_REACH/MP_UNREACH for IPv6) into a speaker over TCP.
func TestReplayRISUpdates(t *testing.T) {
	checkLeaks(t)
	msgs, as := peerStream(t, sharedMRT(t, "bgpdump__updates.20160811.1600.gz"))
	if len(msgs) < 100 {
		t.Fatalf("only %d UPDATEs found for the busiest peer", len(msgs))
	}
	el := replay(t, msgs, as)
	t.Logf("replayed %d UPDATEs from AS%d in %v", len(msgs), as, el)
}

// TestReplayFullTable replays a full IPv4 table (577,706 prefixes, PCH
// 2015) as one peer's UPDATE stream. It takes tens of seconds, so it runs
// only with KBGP_FULL_TABLE=1.
func TestReplayFullTable(t *testing.T) {
	if os.Getenv("KBGP_FULL_TABLE") == "" {
		t.Skip("skipping: set KBGP_FULL_TABLE=1 to replay a full table (tens of seconds)")
	}
	msgs, as := peerStream(t, sharedMRT(t, "bgpdump__updates.et-header.2015.gz"))
	el := replay(t, msgs, as)
	t.Logf("replayed %d UPDATEs from AS%d in %v", len(msgs), as, el)
}
