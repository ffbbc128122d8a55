package fsm

import (
	"fmt"
	"net/netip"
	"testing"
	"time"
	"unsafe"

	"github.com/kbgp/kbgp/internal/bgp/wire"
)

// keeper is a Handler that keeps every ReceivedUpdate without releasing it
// (as a speaker's queue to its RIB goroutine does), or releases at once
// every other one when releaseOdd is set.
type keeper struct {
	nopHandler
	releaseOdd bool
	n          int
	ch         chan *ReceivedUpdate
}

func (k *keeper) Update(_ *Session, _ uint64, u *ReceivedUpdate) {
	k.n++
	if k.releaseOdd && k.n%2 == 1 {
		u.Release()
		return
	}
	k.ch <- u
}

// TestReceivedUpdateOwnership: UPDATEs handed to the Handler stay intact
// while the session keeps reading and decoding later messages into pooled
// buffers, whether or not other UPDATEs were released meanwhile; they are
// read only after all were received, from another goroutine (run with
// -race).
func TestReceivedUpdateOwnership(t *testing.T) {
	for _, tc := range []struct {
		name       string
		releaseOdd bool
	}{
		{"keep all", false},
		{"release every other", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkLeaks(t)
			const n = 300
			addr, accept := listenRaw(t, "127.0.0.1")
			k := &keeper{releaseOdd: tc.releaseOdd, ch: make(chan *ReceivedUpdate, n)}
			cfg := baseConfig(65001, 65002, "10.0.0.1", "127.0.0.1")
			cfg.PeerPort = addr.Port()
			s := newSession(t, cfg, k)
			s.Start()
			p := accept()
			p.establish(peerOpen(65002, "10.0.0.2", 90))
			opts := &wire.Options{AS4: true}
			// Each UPDATE differs in next hop, communities and prefixes, so
			// a buffer reused under a kept UPDATE shows as wrong values.
			want := func(i int) *wire.Update {
				u := routeUpdate(fmt.Sprintf("192.168.%d.%d", i>>8, i&0xff),
					fmt.Sprintf("10.%d.%d.0/24", i>>8, i&0xff), fmt.Sprintf("172.16.%d.%d/32", i>>8, i&0xff))
				u.Attrs.Communities = []wire.Community{wire.Community(i), wire.Community(i << 16)}
				u.Attrs.Set(wire.AttrCommunities)
				return u
			}
			var stream []byte
			for i := range n {
				b, err := wire.AppendUpdate(nil, want(i), opts)
				if err != nil {
					t.Fatal(err)
				}
				stream = append(stream, b...)
			}
			p.write(stream)
			wantKept := n
			if tc.releaseOdd {
				wantKept = n / 2
			}
			var kept []*ReceivedUpdate
			timeout := time.After(5 * time.Second)
			for len(kept) < wantKept {
				select {
				case u := <-k.ch:
					kept = append(kept, u)
				case <-timeout:
					t.Fatalf("got %d UPDATEs, want %d", len(kept), wantKept)
				}
			}
			for j, u := range kept {
				i := j
				if tc.releaseOdd {
					i = 2*j + 1
				}
				w := want(i)
				if len(u.NLRI) != 2 || u.NLRI[0] != w.NLRI[0] || u.NLRI[1] != w.NLRI[1] ||
					u.Attrs.NextHop != w.Attrs.NextHop || len(u.Attrs.Communities) != 2 ||
					u.Attrs.Communities[0] != w.Attrs.Communities[0] || u.Attrs.Communities[1] != w.Attrs.Communities[1] {
					t.Fatalf("kept UPDATE %d changed: NLRI %v next hop %v communities %v, want %v %v %v",
						i, u.NLRI, u.Attrs.NextHop, u.Attrs.Communities, w.NLRI, w.Attrs.NextHop, w.Attrs.Communities)
				}
				u.Release()
			}
		})
	}
}

// TestBodyPool: bodies of standard messages are pooled in two sizes, small
// ones in small buffers; larger (extended) ones are allocated for the
// message and never pooled.
func TestBodyPool(t *testing.T) {
	for _, tc := range []struct {
		name string
		n    int
		cap  int // 0: not pooled
	}{
		{"empty", 0, smallBodyLen},
		{"small", 23, smallBodyLen},
		{"largest small", smallBodyLen, smallBodyLen},
		{"smallest large", smallBodyLen + 1, pooledBodyLen},
		{"largest standard", wire.MaxMessageLen - wire.HeaderLen, pooledBodyLen},
		{"extended", wire.MaxMessageLen, 0},
		{"largest extended", wire.MaxExtMessageLen - wire.HeaderLen, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := getBody(tc.n)
			if len(*b) != tc.n {
				t.Errorf("len %d, want %d", len(*b), tc.n)
			}
			want := tc.cap
			if want == 0 {
				want = tc.n
			}
			if cap(*b) != want {
				t.Errorf("cap %d, want %d", cap(*b), want)
			}
			putBody(b)
			// A returned buffer comes back for the same size class only.
			if again := getBody(tc.n); cap(*again) != want {
				t.Errorf("after putBody: cap %d, want %d", cap(*again), want)
			}
		})
	}
}

// TestPrefixCounting: the session counts received prefixes only for
// families with a MaxPrefix limit, or for all with CountPrefixes.
func TestPrefixCounting(t *testing.T) {
	v4, v6 := wire.IPv4Unicast, wire.IPv6Unicast
	for _, tc := range []struct {
		name  string
		limit map[wire.Family]int
		all   bool
		want  map[wire.Family]int
	}{
		{"no limit", nil, false, map[wire.Family]int{}},
		{"limit on IPv4", map[wire.Family]int{v4: 10}, false, map[wire.Family]int{v4: 2}},
		{"limit on IPv6", map[wire.Family]int{v6: 10}, false, map[wire.Family]int{v6: 1}},
		{"zero limit is no limit", map[wire.Family]int{v4: 0}, false, map[wire.Family]int{}},
		{"CountPrefixes", nil, true, map[wire.Family]int{v4: 2, v6: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkLeaks(t)
			addr, accept := listenRaw(t, "127.0.0.1")
			rec := newRecorder()
			cfg := baseConfig(65001, 65002, "10.0.0.1", "127.0.0.1")
			cfg.PeerPort = addr.Port()
			cfg.MaxPrefix, cfg.CountPrefixes = tc.limit, tc.all
			s := newSession(t, cfg, rec)
			s.Start()
			p := accept()
			p.establish(peerOpen(65002, "10.0.0.2", 90))
			rec.wait(t, "established", 3*time.Second)
			opts := &wire.Options{AS4: true}
			p.sendUpdate(routeUpdate("192.168.0.1", "192.0.2.0/24", "192.0.2.128/25", "198.51.100.0/24"), opts)
			p.sendUpdate(&wire.Update{Withdrawn: []wire.NLRI{{Prefix: pfx("198.51.100.0/24")}}}, opts)
			u6 := routeUpdate("192.168.0.1")
			u6.Attrs.Clear(wire.AttrNextHop)
			u6.MPReach = &wire.MPReach{Family: v6, NextHop: netip.MustParseAddr("2001:db8::1"),
				NLRI: []wire.NLRI{{Prefix: pfx("2001:db8:1::/48")}}}
			p.sendUpdate(u6, opts)
			for range 3 {
				rec.wait(t, "update", 3*time.Second)
			}
			got := s.Status().PrefixesReceived
			if len(got) != len(tc.want) {
				t.Errorf("PrefixesReceived %v, want %v", got, tc.want)
			}
			for f, n := range tc.want {
				if got[f] != n {
					t.Errorf("PrefixesReceived %v, want %v", got, tc.want)
				}
			}
			var sets int
			s.do(func() {
				for _, m := range s.adjIn {
					if m.len() > 0 {
						sets++
					}
				}
			})
			if sets != len(tc.want) {
				t.Errorf("%d families keep a prefix set, want %d", sets, len(tc.want))
			}
		})
	}
}

// TestWriteCoalescing: messages queued back to back, one by one and in
// batches (small ones, and one larger than the coalescing buffer), arrive
// complete and in order, and the Out counters count each.
func TestWriteCoalescing(t *testing.T) {
	checkLeaks(t)
	addr, accept := listenRaw(t, "127.0.0.1")
	rec := newRecorder()
	cfg := baseConfig(65001, 65002, "10.0.0.1", "127.0.0.1")
	cfg.PeerPort = addr.Port()
	cfg.ExtendedMessage = true
	s := newSession(t, cfg, rec)
	s.Start()
	p := accept()
	o := peerOpen(65002, "10.0.0.2", 90)
	o.Caps.ExtendedMessage = true
	p.establish(o)
	ep := rec.wait(t, "established", 3*time.Second).epoch
	const n = 600
	var msgs [][]byte
	for i := range n {
		prefixes := []string{fmt.Sprintf("10.%d.%d.0/24", i>>8, i&0xff)}
		if i == n/2 {
			// About 45 KB: more than the coalescing buffer.
			for j := range 9000 {
				prefixes = append(prefixes, fmt.Sprintf("11.%d.%d.0/24", j>>8, j&0xff))
			}
		}
		m, err := wire.AppendUpdate(nil, routeUpdate("192.168.0.1", prefixes...), &wire.Options{AS4: true, ExtendedMessage: true})
		if err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, m)
	}
	if len(msgs[n/2]) <= writeBufLen {
		t.Fatalf("big message is %d bytes, not over %d", len(msgs[n/2]), writeBufLen)
	}
	out0 := s.Status().Out[wire.MsgUpdate]
	go func() {
		// The first half one by one, the rest in batches.
		for _, m := range msgs[:n/2] {
			if s.Send(t.Context(), ep, m) != nil {
				return
			}
		}
		for rest := msgs[n/2:]; len(rest) > 0; {
			k := min(37, len(rest))
			if s.SendBatch(t.Context(), ep, rest[:k]) != nil {
				return
			}
			rest = rest[k:]
		}
	}()
	for i := 0; i < n; {
		typ, body, err := p.read(5 * time.Second)
		if err != nil {
			t.Fatalf("after %d UPDATEs: %v", i, err)
		}
		if typ != wire.MsgUpdate {
			continue
		}
		if string(body) != string(msgs[i][wire.HeaderLen:]) {
			t.Fatalf("UPDATE %d differs from what was sent (%d bytes, sent %d)", i, len(body)+wire.HeaderLen, len(msgs[i]))
		}
		i++
	}
	deadline := time.Now().Add(2 * time.Second)
	for s.Status().Out[wire.MsgUpdate]-out0 != n {
		if time.Now().After(deadline) {
			t.Fatalf("Out counts %d UPDATEs, want %d", s.Status().Out[wire.MsgUpdate]-out0, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestReceivedUpdateSize: Size counts the message buffer and the NLRI
// lists by capacity (what a pooled update that once held a larger UPDATE
// still pins), so a speaker's queue budget sees a full UPDATE as about a
// hundred times a client's few routes.
func TestReceivedUpdateSize(t *testing.T) {
	nlri := func(n int) []wire.NLRI { return make([]wire.NLRI, n) }
	per := int(unsafe.Sizeof(wire.NLRI{}))
	base := int(unsafe.Sizeof(ReceivedUpdate{}))
	small := getBody(200)
	big := getBody(3000)
	defer putBody(small)
	defer putBody(big)
	for _, tc := range []struct {
		name string
		u    ReceivedUpdate
		want int
	}{
		{"empty", ReceivedUpdate{}, base},
		{"small body, 21 routes", ReceivedUpdate{Update: wire.Update{NLRI: nlri(21)}, body: small}, base + smallBodyLen + 21*per},
		{"few routes in a list grown for many", ReceivedUpdate{Update: wire.Update{NLRI: make([]wire.NLRI, 2, 800)}, body: small}, base + smallBodyLen + 800*per},
		{"a list grown past the pool's bound", ReceivedUpdate{Update: wire.Update{NLRI: make([]wire.NLRI, 2, 5000)}}, base + 5000*per},
		{"full body, every list", ReceivedUpdate{Update: wire.Update{NLRI: nlri(500), Withdrawn: nlri(10),
			MPReach: &wire.MPReach{NLRI: nlri(5)}, MPUnreach: &wire.MPUnreach{NLRI: nlri(3)}}, body: big}, base + pooledBodyLen + 518*per},
	} {
		if got := tc.u.Size(); got != tc.want {
			t.Errorf("%s: Size %d, want %d", tc.name, got, tc.want)
		}
	}
}

// TestReleaseTrimsNLRI: a released update keeps NLRI lists up to
// maxPooledNLRI for its next use and drops larger ones (an extended
// message's), so a pooled update never counts (or pins) more than a
// standard UPDATE's worth.
func TestReleaseTrimsNLRI(t *testing.T) {
	u := newReceivedUpdate()
	u.NLRI = make([]wire.NLRI, 10, maxPooledNLRI)
	u.Withdrawn = make([]wire.NLRI, 10, maxPooledNLRI+1)
	u.Release()
	if cap(u.NLRI) != maxPooledNLRI || u.Withdrawn != nil {
		t.Errorf("after Release: NLRI capacity %d (want %d kept), Withdrawn %d (want dropped)", cap(u.NLRI), maxPooledNLRI, cap(u.Withdrawn))
	}
}
