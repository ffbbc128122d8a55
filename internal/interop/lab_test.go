package interop

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"log/slog"

	"github.com/kbgp/kbgp/internal/bgp/fsm"
	"github.com/kbgp/kbgp/internal/bgp/speaker"
	"github.com/kbgp/kbgp/internal/bgp/wire"
	"github.com/kbgp/kbgp/internal/netns"
	"github.com/kbgp/kbgp/internal/netns/nstest"
)

// Addresses on the veth between kbgp's namespace and a peer's. Every test
// has its own namespaces, so they repeat across tests.
var (
	kbgp4 = netip.MustParseAddr("192.168.100.1")
	kbgp6 = netip.MustParseAddr("fd00:100::1")
)

func peer4(i int) netip.Addr { return netip.AddrFrom4([4]byte{192, 168, 100, byte(1 + i)}) }
func peer6(i int) netip.Addr {
	a := kbgp6.As16()
	a[15] = byte(1 + i)
	return netip.AddrFrom16(a)
}

const password = "kbgp-interop-secret"

// lab is kbgp's namespace joined by a bridge-less set of veths to one
// namespace per peer daemon.
type lab struct {
	t     *testing.T
	k     *nstest.NS
	peers []*nstest.NS
	dir   string
	sp    *speaker.Speaker
}

// newLab creates kbgp's namespace and n peer namespaces; peer i (from 1)
// has 192.168.100.(1+i) and fd00:100::(1+i) on a veth to kbgp.
func newLab(t *testing.T, tag string, n int) *lab {
	t.Helper()
	nstest.RequireRoot(t)
	l := &lab{t: t, dir: t.TempDir()}
	l.k = nstest.New(t, "k"+tag)
	for i := 1; i <= n; i++ {
		p := nstest.New(t, "p"+tag)
		kIf, pIf := netns.Unique("k"), "eth0"
		err := netns.AddVeth(
			netns.Veth{NS: l.k.NS, Name: kIf, Addrs: []netip.Prefix{netip.PrefixFrom(kbgp4, 32), netip.PrefixFrom(kbgp6, 128)}},
			netns.Veth{NS: p.NS, Name: pIf, Addrs: []netip.Prefix{netip.PrefixFrom(peer4(i), 24), netip.PrefixFrom(peer6(i), 64)}},
		)
		if err != nil {
			t.Fatal(err)
		}
		// kbgp's side holds the /32 and /128 host addresses once per veth;
		// a host route per peer makes each peer reachable through its veth.
		l.k.Run("ip", "route", "add", peer4(i).String()+"/32", "dev", kIf, "src", kbgp4.String())
		l.k.Run("ip", "-6", "route", "add", peer6(i).String()+"/128", "dev", kIf)
		l.peers = append(l.peers, p)
	}
	return l
}

// startKBGP starts a passive kbgp speaker listening in kbgp's namespace:
// the sockets are created on a thread inside it, and connections accepted
// there stay there. The peers connect to kbgp.
func (l *lab) startKBGP(as uint32, ribOpts speaker.Config) {
	l.t.Helper()
	l.sp = startSpeaker(l.t, l.k, as, kbgp4, ribOpts)
}

// startSpeaker starts a kbgp speaker with router ID id listening on port
// 179 in ns (IPv4 and IPv6); Close runs at the end of the test.
func startSpeaker(t *testing.T, ns *nstest.NS, as uint32, id netip.Addr, c speaker.Config) *speaker.Speaker {
	t.Helper()
	cfg := c
	cfg.LocalAS = as
	cfg.RouterID = id
	cfg.Listen = []netip.AddrPort{netip.AddrPortFrom(netip.IPv4Unspecified(), 179), netip.AddrPortFrom(netip.IPv6Unspecified(), 179)}
	if testing.Verbose() {
		cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})).With("speaker", id.String())
	}
	var sp *speaker.Speaker
	err := ns.Do(func() error {
		var err error
		sp, err = speaker.New(context.Background(), cfg)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sp.Close)
	return sp
}

// kbgpPeer is kbgp's configuration for a peer daemon.
func kbgpPeer(addr netip.Addr, as uint32, f wire.Family) speaker.PeerConfig {
	return speaker.PeerConfig{Session: fsm.Config{
		PeerAddr: addr, PeerAS: as, Passive: true,
		Password: password, HoldTime: 9 * time.Second,
		IdleHoldTime: 200 * time.Millisecond,
		Families:     []wire.Family{f},
	}}
}

func (l *lab) addPeer(c speaker.PeerConfig) {
	l.t.Helper()
	if err := l.sp.AddPeer(context.Background(), c); err != nil {
		l.t.Fatal(err)
	}
}

// eventually polls cond until it reports true or the timeout passes.
func eventually(t *testing.T, d time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(d)
	var last string
	for {
		ok, info := cond()
		if ok {
			return
		}
		last = info
		if time.Now().After(deadline) {
			t.Fatalf("%s: not true after %v; last state:\n%s", what, d, last)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// waitEstablished waits for kbgp's session with addr.
func (l *lab) waitEstablished(addr netip.Addr, d time.Duration) speaker.PeerStatus {
	l.t.Helper()
	return waitEstablished(l.t, l.sp, addr, d)
}

// waitEstablished waits for sp's session with addr.
func waitEstablished(t *testing.T, sp *speaker.Speaker, addr netip.Addr, d time.Duration) speaker.PeerStatus {
	t.Helper()
	var st speaker.PeerStatus
	eventually(t, d, "kbgp session with "+addr.String()+" Established", func() (bool, string) {
		var err error
		st, err = sp.PeerStatus(addr)
		if err != nil {
			return false, err.Error()
		}
		le := ""
		if st.LastError != nil {
			le = st.LastError.Error()
		}
		return st.State == fsm.Established, st.State.String() + " " + le
	})
	return st
}

// kbgpRoute waits until kbgp's best path for prefix satisfies ok (a
// prefix kbgp has no route for is passed as a withdrawn BestPath).
func (l *lab) kbgpRoute(prefix string, d time.Duration, ok func(speaker.BestPath) bool) speaker.BestPath {
	l.t.Helper()
	return speakerRoute(l.t, l.sp, prefix, d, ok)
}

// speakerRoute waits until sp's best path for prefix satisfies ok.
func speakerRoute(t *testing.T, sp *speaker.Speaker, prefix string, d time.Duration, ok func(speaker.BestPath) bool) speaker.BestPath {
	t.Helper()
	p := netip.MustParsePrefix(prefix)
	var got speaker.BestPath
	eventually(t, d, "kbgp's route for "+prefix, func() (bool, string) {
		bs, err := sp.BestPaths(context.Background())
		if err != nil {
			return false, err.Error()
		}
		got = speaker.BestPath{Prefix: p}
		for _, b := range bs {
			if b.Prefix == p {
				got = b
			}
		}
		return ok(got), fmt.Sprintf("%+v", got)
	})
	return got
}

// originate makes kbgp originate prefix with MED 50 and community
// 65001:100, attributes the interop checks look for on the peer's side.
func (l *lab) originate(prefix string) {
	l.t.Helper()
	var a wire.Attrs
	a.MED = 50
	a.Set(wire.AttrMED)
	a.Communities = []wire.Community{65001<<16 | 100}
	a.Set(wire.AttrCommunities)
	if err := l.sp.Originate(context.Background(), netip.MustParsePrefix(prefix), a); err != nil {
		l.t.Fatal(err)
	}
}

func (l *lab) write(name, content string) string {
	l.t.Helper()
	p := filepath.Join(l.dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		l.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		l.t.Fatal(err)
	}
	return p
}

// output runs a command (outside any namespace unless ns is set) and
// returns its combined output; errors are returned as output.
func output(ns *nstest.NS, name string, args ...string) string {
	var cmd *exec.Cmd
	if ns != nil {
		cmd = ns.Command(context.Background(), name, args...)
	} else {
		cmd = exec.Command(name, args...)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out) + "\n(error: " + err.Error() + ")"
	}
	return string(out)
}

func containsAll(s string, subs ...string) bool {
	for _, x := range subs {
		if !strings.Contains(s, x) {
			return false
		}
	}
	return true
}

// asPathIs reports whether b's AS_PATH is exactly asns.
func asPathIs(b speaker.BestPath, asns ...uint32) bool {
	var got []uint32
	for _, s := range b.Attrs.ASPath {
		got = append(got, s.ASNs...)
	}
	if len(got) != len(asns) {
		return false
	}
	for i := range got {
		if got[i] != asns[i] {
			return false
		}
	}
	return true
}

func netipPrefix(s string) netip.Prefix { return netip.MustParsePrefix(s) }

func countOf(s, sub string) int { return strings.Count(s, sub) }

// dialInKBGP dials from a thread inside kbgp's namespace (fsm.Config.Dial).
func (l *lab) dialInKBGP(ctx context.Context, d *net.Dialer, network, address string) (net.Conn, error) {
	var c net.Conn
	err := l.k.Do(func() error {
		var err error
		c, err = d.DialContext(ctx, network, address)
		return err
	})
	return c, err
}
