package load

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/kbgp/kbgp/internal/bgp/wire"
)

func TestBits(t *testing.T) {
	b := NewBits(130)
	if len(b) != 3 {
		t.Fatalf("NewBits(130) has %d words, want 3", len(b))
	}
	for _, tc := range []struct {
		name string
		op   func() bool
		want bool
	}{
		{"set 0", func() bool { return b.Set(0) }, true},
		{"set 0 again", func() bool { return b.Set(0) }, false},
		{"set 129", func() bool { return b.Set(129) }, true},
		{"has 129", func() bool { return b.Has(129) }, true},
		{"has 64", func() bool { return b.Has(64) }, false},
		{"clear 64", func() bool { return b.Clear(64) }, false},
		{"clear 129", func() bool { return b.Clear(129) }, true},
		{"has 129 after clear", func() bool { return b.Has(129) }, false},
	} {
		if got := tc.op(); got != tc.want {
			t.Errorf("%s = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestIndex(t *testing.T) {
	ps := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("10.0.0.0/16"), netip.MustParsePrefix("10.0.0.0/8")}
	var x Index // the zero value is usable
	for _, p := range ps {
		x.Add(p)
	}
	if x.Len() != 2 {
		t.Fatalf("Len = %d, want 2 (duplicates keep their number)", x.Len())
	}
	if id, ok := x.ID(ps[1]); !ok || id != 1 || x.Prefix(id) != ps[1] {
		t.Errorf("ID(%v) = %d, %v", ps[1], id, ok)
	}
	if _, ok := x.ID(netip.MustParsePrefix("192.0.2.0/24")); ok {
		t.Error("ID of an unknown prefix: ok")
	}
	if y := NewIndex(ps); y.Len() != 2 {
		t.Errorf("NewIndex Len = %d", y.Len())
	}
}

// split decodes a run of complete messages.
func split(t *testing.T, b []byte) []*wire.Update {
	t.Helper()
	var us []*wire.Update
	for len(b) > 0 {
		msg, rest, ok, err := wire.Split(b, wire.MaxMessageLen)
		if err != nil || !ok {
			t.Fatalf("split: ok=%v err=%v with %d bytes left", ok, err, len(b))
		}
		if len(msg) > wire.MaxMessageLen {
			t.Fatalf("message of %d bytes", len(msg))
		}
		u := &wire.Update{}
		if err := u.Decode(msg[wire.HeaderLen:], &Opts); err != nil {
			t.Fatalf("decode: %v", err)
		}
		us = append(us, u.Clone())
		b = rest
	}
	return us
}

func prefixes(n, bits int) []netip.Prefix {
	ps := make([]netip.Prefix, n)
	for i := range ps {
		v := uint32(0x64400000) + uint32(i)<<(32-bits)
		ps[i] = netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), bits)
	}
	return ps
}

// TestAnnounceWithdrawRoundTrip: what AppendAnnounce/AppendWithdraw write
// decodes back to exactly the prefixes, in order, in as few messages as fit.
func TestAnnounceWithdrawRoundTrip(t *testing.T) {
	nh := netip.MustParseAddr("10.100.0.2")
	for _, tc := range []struct {
		name string
		ps   []netip.Prefix
		msgs int
	}{
		{"one /26", prefixes(1, 26), 1},
		{"k8s node: /26 + 20 /32", append(prefixes(1, 26), prefixes(20, 32)...), 1},
		{"5000 /32 split", prefixes(5000, 32), 5000*5/(4096-23-25) + 1},
		{"3000 /24", prefixes(3000, 24), 3000*4/(4096-23-25) + 1},
		{"none", nil, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := IBGPAttrs(nh)
			b, err := AppendAnnounce(nil, &a, tc.ps)
			if err != nil {
				t.Fatal(err)
			}
			us := split(t, b)
			if len(us) != tc.msgs {
				t.Errorf("%d UPDATEs, want %d", len(us), tc.msgs)
			}
			var got []netip.Prefix
			for _, u := range us {
				if u.Attrs.NextHop != nh || u.Attrs.LocalPref != 100 || !u.Attrs.Has(wire.AttrLocalPref) || len(u.Withdrawn) != 0 {
					t.Fatalf("attributes: next hop %v, local pref %d; withdrawn %d", u.Attrs.NextHop, u.Attrs.LocalPref, len(u.Withdrawn))
				}
				for _, n := range u.NLRI {
					got = append(got, n.Prefix)
				}
			}
			if !slices.Equal(got, tc.ps) {
				t.Errorf("announced %d prefixes, decoded %d different ones", len(tc.ps), len(got))
			}
			b, err = AppendWithdraw(nil, tc.ps)
			if err != nil {
				t.Fatal(err)
			}
			got = got[:0]
			for _, u := range split(t, b) {
				if len(u.NLRI) != 0 {
					t.Fatal("withdraw UPDATE announces")
				}
				for _, n := range u.Withdrawn {
					got = append(got, n.Prefix)
				}
			}
			if !slices.Equal(got, tc.ps) {
				t.Errorf("withdrew %d prefixes, decoded %d different ones", len(tc.ps), len(got))
			}
		})
	}
}

func TestClientApply(t *testing.T) {
	ps := prefixes(4, 32)
	x := NewIndex(ps)
	idx.Store(x)
	c := &Client{Want: NewBits(x.Len()), have: NewBits(x.Len())}
	for _, i := range []int32{0, 1, 2} { // prefix 3 is the client's own
		c.Want.Set(i)
	}
	c.target.Store(3)
	nlri := func(ps ...netip.Prefix) []wire.NLRI {
		var n []wire.NLRI
		for _, p := range ps {
			n = append(n, wire.NLRI{Prefix: p})
		}
		return n
	}
	for _, tc := range []struct {
		name string
		u    wire.Update
		want int64
	}{
		{"announce 0,1 and own 3", wire.Update{NLRI: nlri(ps[0], ps[1], ps[3])}, 2},
		{"re-announce 1 (implicit withdraw)", wire.Update{NLRI: nlri(ps[1])}, 2},
		{"unknown prefix", wire.Update{NLRI: nlri(netip.MustParsePrefix("192.0.2.0/24"))}, 2},
		{"withdraw 0 and never-seen 2", wire.Update{Withdrawn: nlri(ps[0], ps[2])}, 1},
		{"announce 0, 2", wire.Update{NLRI: nlri(ps[0], ps[2])}, 3},
	} {
		c.apply(&tc.u)
		if got := c.count.Load(); got != tc.want {
			t.Errorf("%s: count %d, want %d", tc.name, got, tc.want)
		}
	}
	if c.doneAt.Load() == 0 {
		t.Error("reaching the target did not record doneAt")
	}
}

// TestReconnect: a session the DUT drops after Established is
// re-established, the client forgets what the lost session delivered, and
// the drop is counted.
func TestReconnect(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ps := prefixes(3, 32)
	x := NewIndex(ps)
	open, err := wire.AppendOpen(nil, &wire.Open{MyAS: 64512, HoldTime: 90, BGPID: netip.MustParseAddr("127.0.0.1"),
		Caps: wire.Capabilities{HasFourOctetAS: true, FourOctetAS: 64512}})
	if err != nil {
		t.Fatal(err)
	}
	a := IBGPAttrs(netip.MustParseAddr("192.0.2.9"))
	first, _ := AppendAnnounce(nil, &a, ps[:2])  // then the session drops
	second, _ := AppendAnnounce(nil, &a, ps[1:]) // ps[0] must not count any more
	go func() {
		for i := 0; ; i++ {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			r := bufio.NewReader(conn)
			buf := make([]byte, wire.MaxMessageLen)
			if _, _, err := readMsg(r, buf); err != nil { // OPEN
				return
			}
			conn.Write(append(open, wire.AppendKeepalive(nil)...))
			if _, _, err := readMsg(r, buf); err != nil { // KEEPALIVE
				return
			}
			if i == 0 {
				conn.Write(first)
				conn.Close()
				continue
			}
			conn.Write(second)
			go io.Copy(io.Discard, conn)
		}
	}()
	c := &Client{Addr: netip.MustParseAddr("127.0.0.1"), AS: 64512, Want: NewBits(3), WantN: 2}
	c.Want.Set(1)
	c.Want.Set(2)
	run := &Run{DUT: netip.MustParseAddrPort(ln.Addr().String()), Index: x, Clients: []*Client{c}}
	ctx := context.Background()
	run.Start(ctx)
	defer run.Close()
	if _, err := run.Wait(ctx, run.T0(), 10*time.Second); err != nil {
		r, d := run.Retries()
		u, p, b := run.Counts()
		t.Fatalf("%v (retries %d drops %d updates %d prefixes %d bad %d, err %v)", err, r, d, u, p, b, c.lastErr.Load())
	}
	if _, drops := run.Retries(); drops != 1 || c.count.Load() != 2 || c.have.Has(0) {
		t.Errorf("drops %d, count %d, has ps[0] %v: want 1 drop, 2 prefixes, ps[0] (unwanted) absent", drops, c.count.Load(), c.have.Has(0))
	}
}
