package fib_test

import (
	"context"
	"errors"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kbgp/kbgp/internal/fib"
	"github.com/kbgp/kbgp/internal/netns"
	"github.com/kbgp/kbgp/internal/netns/nstest"
)

// lab is a namespace with a veth to a peer namespace, 192.0.2.1/24 and
// 2001:db8::1/64 on our end, so 192.0.2.0/24 and 2001:db8::/64 gateways
// are on-link.
func lab(t testing.TB) *nstest.NS {
	t.Helper()
	ns, peer := nstest.New(t, "fib"), nstest.New(t, "fibp")
	err := netns.AddVeth(
		netns.Veth{NS: ns.NS, Name: "eth0", Addrs: []netip.Prefix{pfx("192.0.2.1/24"), pfx("2001:db8::1/64")}},
		netns.Veth{NS: peer.NS, Name: "eth0", Addrs: []netip.Prefix{pfx("192.0.2.2/24"), pfx("2001:db8::2/64")}},
	)
	if err != nil {
		t.Fatal(err)
	}
	return ns
}

// routes returns `ip route show proto 77` for both families, normalised.
func routes(t testing.TB, ns *nstest.NS, args ...string) string {
	t.Helper()
	fams := []string{"-4", "-6"}
	for _, a := range args {
		if p, err := netip.ParsePrefix(a); err == nil {
			fams = fams[:1]
			if p.Addr().Is6() {
				fams = []string{"-6"}
			}
		}
	}
	var lines []string
	for _, fam := range fams {
		out := ns.Run("ip", append([]string{fam, "route", "show"}, args...)...)
		for _, l := range strings.Split(out, "\n") {
			if l = strings.Join(strings.Fields(l), " "); l != "" {
				lines = append(lines, l)
			}
		}
	}
	return strings.Join(lines, "\n")
}

func newFIB(t testing.TB, ns *nstest.NS, opts fib.Options) *fib.FIB {
	t.Helper()
	opts.Netns = ns.Name
	f, err := fib.New(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func TestNetlinkInstallReplaceDelete(t *testing.T) {
	ns := lab(t)
	ctx := context.Background()
	ns.Run("ip", "route", "add", "10.8.0.0/24", "via", "192.0.2.2") // not ours
	f := newFIB(t, ns, fib.Options{})

	steps := []struct {
		name    string
		desired []fib.Route
		want    fib.Result
		ip      string
	}{
		{
			name: "install",
			desired: []fib.Route{
				via("10.0.1.0/24", "192.0.2.2"),
				via("10.0.2.0/24", "192.0.2.3", "192.0.2.4"),
				{Prefix: pfx("10.0.9.0/26"), Type: fib.Blackhole},
				{Prefix: pfx("10.0.10.0/26"), Type: fib.Unreachable},
				{Prefix: pfx("10.0.11.0/24"), NextHops: []fib.NextHop{{Dev: "eth0"}}},
				via("2001:db8:1::/48", "2001:db8::2"),
				via("2001:db8:2::/48", "2001:db8::3", "2001:db8::4"),
				{Prefix: pfx("2001:db8:9::/48"), Type: fib.Blackhole},
			},
			want: fib.Result{Added: 8, Installed: 8},
			ip: `10.0.1.0/24 via 192.0.2.2 dev eth0
10.0.2.0/24
nexthop via 192.0.2.3 dev eth0 weight 1
nexthop via 192.0.2.4 dev eth0 weight 1
blackhole 10.0.9.0/26
unreachable 10.0.10.0/26
10.0.11.0/24 dev eth0 scope link
2001:db8:1::/48 via 2001:db8::2 dev eth0 metric 1024 pref medium
2001:db8:2::/48 metric 1024 pref medium
nexthop via 2001:db8::3 dev eth0 weight 1
nexthop via 2001:db8::4 dev eth0 weight 1
blackhole 2001:db8:9::/48 dev lo metric 1024 pref medium`,
		},
		{
			name: "idempotent",
			desired: []fib.Route{
				via("10.0.1.0/24", "192.0.2.2"),
				via("10.0.2.0/24", "192.0.2.4", "192.0.2.3"),
				{Prefix: pfx("10.0.9.0/26"), Type: fib.Blackhole},
				{Prefix: pfx("10.0.10.0/26"), Type: fib.Unreachable},
				{Prefix: pfx("10.0.11.0/24"), NextHops: []fib.NextHop{{Dev: "eth0"}}},
				via("2001:db8:1::/48", "2001:db8::2"),
				via("2001:db8:2::/48", "2001:db8::3", "2001:db8::4"),
				{Prefix: pfx("2001:db8:9::/48"), Type: fib.Blackhole},
			},
			want: fib.Result{Unchanged: 8, Installed: 8},
		},
		{
			name: "single to ecmp, ecmp to single, unicast to blackhole, weights, deletes",
			desired: []fib.Route{
				via("10.0.1.0/24", "192.0.2.5", "192.0.2.6"),
				via("10.0.2.0/24", "192.0.2.3"),
				{Prefix: pfx("10.0.11.0/24"), Type: fib.Blackhole},
				via("2001:db8:1::/48", "2001:db8::5", "2001:db8::6"),
				{Prefix: pfx("2001:db8:2::/48"), NextHops: []fib.NextHop{{Gateway: addr("2001:db8::3"), Weight: 5}, {Gateway: addr("2001:db8::4")}}},
			},
			want: fib.Result{Changed: 5, Deleted: 3, Installed: 5},
			ip: `10.0.1.0/24
nexthop via 192.0.2.5 dev eth0 weight 1
nexthop via 192.0.2.6 dev eth0 weight 1
10.0.2.0/24 via 192.0.2.3 dev eth0
blackhole 10.0.11.0/24
2001:db8:1::/48 metric 1024 pref medium
nexthop via 2001:db8::5 dev eth0 weight 1
nexthop via 2001:db8::6 dev eth0 weight 1
2001:db8:2::/48 metric 1024 pref medium
nexthop via 2001:db8::3 dev eth0 weight 5
nexthop via 2001:db8::4 dev eth0 weight 1`,
		},
		{
			name: "ecmp v6 back to single",
			desired: []fib.Route{
				via("10.0.1.0/24", "192.0.2.5", "192.0.2.6"),
				via("10.0.2.0/24", "192.0.2.3"),
				{Prefix: pfx("10.0.11.0/24"), Type: fib.Blackhole},
				via("2001:db8:1::/48", "2001:db8::5"),
				{Prefix: pfx("2001:db8:2::/48"), NextHops: []fib.NextHop{{Gateway: addr("2001:db8::3"), Weight: 5}, {Gateway: addr("2001:db8::4")}}},
			},
			want: fib.Result{Changed: 1, Unchanged: 4, Installed: 5},
		},
		{
			name: "withdraw everything",
			want: fib.Result{Deleted: 5},
			ip:   ``,
		},
	}
	for _, st := range steps {
		res, err := f.Set(ctx, st.desired)
		if err != nil {
			t.Fatalf("%s: Set: %v", st.name, err)
		}
		if res.Added != st.want.Added || res.Changed != st.want.Changed || res.Deleted != st.want.Deleted ||
			res.Unchanged != st.want.Unchanged || res.Failed != 0 || res.Installed != st.want.Installed {
			t.Errorf("%s: Set result %+v, want %+v", st.name, res, st.want)
		}
		if st.ip != "" || st.name == "withdraw everything" {
			if got := routes(t, ns, "proto", "77"); got != st.ip {
				t.Errorf("%s: ip route show proto 77:\n%s\nwant:\n%s", st.name, got, st.ip)
			}
		}
		// What the FIB believes is what the kernel has: a Resync finds
		// nothing to do.
		if res, err := f.Resync(ctx); err != nil || res.Added+res.Changed+res.Deleted+res.Failed != 0 {
			t.Errorf("%s: Resync after Set = %+v, %v; want no changes", st.name, res, err)
		}
	}
	if got := routes(t, ns, "10.8.0.0/24"); got != "10.8.0.0/24 via 192.0.2.2 dev eth0" {
		t.Errorf("another protocol's route changed: %q", got)
	}
}

func TestNetlinkAdoptOnStart(t *testing.T) {
	nstest.RequireBinaries(t, "stdbuf")
	ns := lab(t)
	ctx := context.Background()
	ns.Run("ip", "route", "add", "10.9.1.0/24", "via", "192.0.2.2", "proto", "77")
	ns.Run("ip", "route", "add", "10.9.2.0/24", "proto", "77", "nexthop", "via", "192.0.2.3", "nexthop", "via", "192.0.2.4")
	ns.Run("ip", "route", "add", "blackhole", "10.9.3.0/24", "proto", "77")
	ns.Run("ip", "route", "add", "10.9.4.0/24", "via", "192.0.2.2", "proto", "77") // stale: not desired
	ns.Run("ip", "route", "add", "10.9.5.0/24", "via", "192.0.2.2", "proto", "186")

	f := newFIB(t, ns, fib.Options{})
	var adopted []string
	for _, r := range f.Adopted() {
		adopted = append(adopted, r.String())
	}
	wantAdopted := `10.9.1.0/24 via 192.0.2.2 oif 2 table 254 metric 0
10.9.2.0/24 nexthop via 192.0.2.3 oif 2 weight 1 nexthop via 192.0.2.4 oif 2 weight 1 table 254 metric 0
blackhole 10.9.3.0/24 table 254 metric 0
10.9.4.0/24 via 192.0.2.2 oif 2 table 254 metric 0`
	// The veth's index depends on the namespace; normalise it.
	got := strings.Join(adopted, "\n")
	if idx, err := ns.LinkIndex("eth0"); err == nil {
		got = strings.ReplaceAll(got, "oif "+strconv.Itoa(idx), "oif 2")
	}
	if got != wantAdopted {
		t.Errorf("Adopted():\n%s\nwant:\n%s", got, wantAdopted)
	}
	// Record every route event during the Set: the adopted routes must
	// not be touched at all.
	mon := &syncBuffer{}
	cmd := ns.Command(ctx, "stdbuf", "-oL", "ip", "monitor", "route") // ip does not flush a pipe
	cmd.Stdout, cmd.Stderr = mon, mon
	ns.Start(cmd)
	// A marker route shows the monitor has subscribed; add new ones until
	// one is seen (replacing an identical route sends no event).
	for i, deadline := 0, time.Now().Add(5*time.Second); !strings.Contains(mon.String(), "10.200.250."); i++ {
		if time.Now().After(deadline) {
			t.Fatalf("ip monitor route printed no marker within 5s: %q (exited: %v)", mon.String(), cmd.ProcessState)
		}
		ns.Run("ip", "route", "add", "blackhole", "10.200.250."+strconv.Itoa(i%256)+"/32")
		time.Sleep(20 * time.Millisecond)
	}
	res, err := f.Set(ctx, []fib.Route{
		via("10.9.1.0/24", "192.0.2.2"),
		via("10.9.2.0/24", "192.0.2.3", "192.0.2.4"),
		{Prefix: pfx("10.9.3.0/24"), Type: fib.Blackhole},
	})
	if err != nil {
		t.Fatal(err)
	}
	ns.Run("ip", "route", "add", "blackhole", "10.200.251.0/24") // end marker
	for deadline := time.Now().Add(5 * time.Second); !strings.Contains(mon.String(), "10.200.251.0/24"); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("ip monitor route missed the end marker")
		}
	}
	events := mon.String()
	for _, p := range []string{"10.9.1.0/24", "10.9.2.0/24", "10.9.3.0/24"} {
		if strings.Contains(events, p) {
			t.Errorf("adopted route %s was reprogrammed; route events:\n%s", p, events)
		}
	}
	if !strings.Contains(events, "Deleted 10.9.4.0/24") {
		t.Errorf("stale adopted route 10.9.4.0/24 not deleted; route events:\n%s", events)
	}
	// No delete and re-add: the three adopted routes were left alone.
	if res.Unchanged != 3 || res.Added != 0 || res.Changed != 0 || res.Deleted != 1 {
		t.Errorf("first Set after adoption = %+v, want 3 unchanged, 1 deleted, nothing added", res)
	}
	want := `10.9.1.0/24 via 192.0.2.2 dev eth0 proto 77
10.9.2.0/24 proto 77
nexthop via 192.0.2.3 dev eth0 weight 1
nexthop via 192.0.2.4 dev eth0 weight 1
blackhole 10.9.3.0/24 proto 77
10.9.5.0/24 via 192.0.2.2 dev eth0 proto bgp`
	if got := routes(t, ns, "root", "10.9.0.0/16"); got != want {
		t.Errorf("routes after Set:\n%s\nwant:\n%s", got, want)
	}
}

// syncBuffer is an io.Writer safe for a writing process and a reading test.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestNetlinkPerRouteErrors(t *testing.T) {
	ns := lab(t)
	f := newFIB(t, ns, fib.Options{})
	res, err := f.Set(context.Background(), []fib.Route{
		via("10.0.1.0/24", "192.0.2.2"),
		via("10.0.2.0/24", "198.51.100.1"), // not on any link
		via("10.0.3.0/24", "192.0.2.3"),
		{Prefix: pfx("10.0.4.0/24"), NextHops: []fib.NextHop{{Gateway: addr("192.0.2.2"), LinkIndex: 999}}}, // no such link
		via("2001:db8:3::/48", "2001:db8::3"),
	})
	if res.Added != 3 || res.Failed != 2 || res.Installed != 3 {
		t.Errorf("Set = %+v, want 3 added, 2 failed", res)
	}
	if !errors.Is(err, syscall.ENETUNREACH) {
		t.Errorf("Set error %v, want ENETUNREACH", err)
	}
	for _, want := range []string{
		"fib: replace 10.0.2.0/24 via 198.51.100.1 table 254 metric 0: network is unreachable (kernel: Nexthop has invalid gateway)",
		"fib: replace 10.0.4.0/24 via 192.0.2.2 oif 999 table 254 metric 0: ",
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Set error %v\nwant it to contain %q", err, want)
		}
	}
	var ke *fib.KernelError
	if !errors.As(err, &ke) {
		t.Errorf("Set error %v has no *fib.KernelError", err)
	}
	want := `10.0.1.0/24 via 192.0.2.2 dev eth0
10.0.3.0/24 via 192.0.2.3 dev eth0
2001:db8:3::/48 via 2001:db8::3 dev eth0 metric 1024 pref medium`
	if got := routes(t, ns, "proto", "77"); got != want {
		t.Errorf("routes:\n%s\nwant:\n%s", got, want)
	}
}

func TestNetlinkResyncRepairs(t *testing.T) {
	ns := lab(t)
	ctx := context.Background()
	f := newFIB(t, ns, fib.Options{Policy: fib.Policy{
		Exclude:    []netip.Prefix{pfx("10.96.0.0/12")},
		LocalAddrs: []netip.Addr{addr("192.0.2.1")},
	}})
	desired := []fib.Route{
		via("10.0.1.0/24", "192.0.2.2"),
		via("10.0.2.0/24", "192.0.2.2"),
		via("10.96.0.10/32", "192.0.2.2"), // Service range: skipped
		via("10.0.5.0/24", "192.0.2.1"),   // via ourselves: skipped
	}
	desired = append(desired, fib.Blackholes([]netip.Prefix{pfx("10.244.0.0/26")})...)
	res, err := f.Set(ctx, desired)
	if err != nil || res.Added != 3 || len(res.Skipped) != 2 {
		t.Fatalf("Set = %+v, %v; want 3 added, 2 skipped", res, err)
	}
	before := routes(t, ns, "proto", "77")

	ns.Run("ip", "route", "del", "10.0.1.0/24")
	ns.Run("ip", "route", "replace", "10.0.2.0/24", "via", "192.0.2.9", "proto", "77")
	ns.Run("ip", "route", "add", "10.0.3.0/24", "via", "192.0.2.9", "proto", "77")
	ns.Run("ip", "route", "del", "blackhole", "10.244.0.0/26")

	res, err = f.Resync(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res.Added != 2 || res.Changed != 1 || res.Deleted != 1 || res.Installed != 3 {
		t.Errorf("Resync = %+v, want 2 added, 1 changed, 1 deleted", res)
	}
	if got := routes(t, ns, "proto", "77"); got != before {
		t.Errorf("after Resync:\n%s\nwant as before:\n%s", got, before)
	}
}

func TestNetlinkWatchRepairs(t *testing.T) {
	ns := lab(t)
	ctx, cancel := context.WithCancel(context.Background())
	f := newFIB(t, ns, fib.Options{})
	if _, err := f.Set(ctx, []fib.Route{via("10.0.1.0/24", "192.0.2.2"), {Prefix: pfx("10.0.9.0/26"), Type: fib.Blackhole}}); err != nil {
		t.Fatal(err)
	}
	want := routes(t, ns, "proto", "77")
	repaired := make(chan fib.Result, 16)
	done := make(chan error, 1)
	go func() {
		done <- f.Watch(ctx, fib.WatchOptions{MinInterval: 20 * time.Millisecond, Period: -1, OnResync: func(r fib.Result, err error) {
			if err != nil {
				t.Errorf("resync: %v", err)
			}
			if r.Added+r.Changed+r.Deleted > 0 {
				repaired <- r
			}
		}})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("Watch returned %v, want context.Canceled", err)
		}
	})
	// The monitor socket may not be bound yet: repeat the hand edit until
	// a repair happens.
	deadline := time.After(10 * time.Second)
	for attempt := 0; ; attempt++ {
		ns.Run("ip", "route", "del", "10.0.1.0/24")
		select {
		case r := <-repaired:
			if r.Added != 1 {
				t.Errorf("repair = %+v, want 1 added", r)
			}
			if got := routes(t, ns, "proto", "77"); got != want {
				t.Errorf("after repair:\n%s\nwant:\n%s", got, want)
			}
			return
		case <-time.After(500 * time.Millisecond):
			if attempt > 0 {
				t.Logf("no repair yet after attempt %d", attempt)
			}
		case <-deadline:
			t.Fatal("Watch did not repair a deleted route within 10s")
		}
	}
}

func TestNetlinkMissingNamespace(t *testing.T) {
	_, err := fib.New(context.Background(), fib.Options{Netns: "kbgpt-does-not-exist"})
	if err == nil || !strings.Contains(err.Error(), "network namespace kbgpt-does-not-exist") {
		t.Errorf("New in a missing namespace: %v, want an error naming it", err)
	}
}

// TestNetlinkWatchRepairsAfterLinkFlap: setting a link down makes the kernel
// delete every route through it, and re-adding them fails while the link is
// down. When the link comes back, Watch must reinstall our routes at once
// (here: with the periodic resync off), not at the next periodic resync.
func TestNetlinkWatchRepairsAfterLinkFlap(t *testing.T) {
	ns := lab(t)
	ctx, cancel := context.WithCancel(context.Background())
	f := newFIB(t, ns, fib.Options{})
	if _, err := f.Set(ctx, []fib.Route{via("10.0.1.0/24", "192.0.2.2")}); err != nil {
		t.Fatal(err)
	}
	want := routes(t, ns, "proto", "77")
	done := make(chan error, 1)
	go func() {
		done <- f.Watch(ctx, fib.WatchOptions{MinInterval: 20 * time.Millisecond, Period: -1})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("Watch returned %v, want context.Canceled", err)
		}
	})
	time.Sleep(200 * time.Millisecond) // let the monitor socket bind
	ns.Run("ip", "link", "set", "eth0", "down")
	deadline := time.Now().Add(5 * time.Second)
	for routes(t, ns, "proto", "77") != "" {
		if time.Now().After(deadline) {
			t.Fatal("the kernel kept the route through a down link")
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond) // resyncs while down fail; that is expected
	ns.Run("ip", "link", "set", "eth0", "up")
	deadline = time.Now().Add(10 * time.Second)
	for {
		if got := routes(t, ns, "proto", "77"); got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("route not reinstalled within 10s of the link coming back:\n%s\nwant:\n%s", routes(t, ns, "proto", "77"), want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
