package fib_test

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kbgp/kbgp/internal/fib"
	"github.com/kbgp/kbgp/internal/fib/fibtest"
)

var (
	pfx  = netip.MustParsePrefix
	addr = netip.MustParseAddr
)

func via(p string, gws ...string) fib.Route {
	r := fib.Route{Prefix: pfx(p)}
	for _, g := range gws {
		r.NextHops = append(r.NextHops, fib.NextHop{Gateway: addr(g)})
	}
	return r
}

type step struct {
	name string
	// before runs on the fake kernel before the step (hand edits).
	before  func(k *fibtest.Kernel)
	resync  bool // call Resync instead of Set
	desired []fib.Route
	wantOps string
	wantErr string // substring of the joined error; empty: no error
	want    fib.Result
}

func TestSetSequences(t *testing.T) {
	tests := []struct {
		name  string
		opts  fib.Options
		setup func(k *fibtest.Kernel)
		steps []step
	}{
		{
			name: "install change delete",
			steps: []step{
				{
					name:    "install",
					desired: []fib.Route{via("10.0.2.0/24", "192.0.2.2"), via("10.0.1.7/24", "192.0.2.1"), {Prefix: pfx("10.0.9.0/26"), Type: fib.Blackhole}},
					wantOps: `replace 10.0.1.0/24 via 192.0.2.1 table 254 metric 0 proto 77
replace 10.0.2.0/24 via 192.0.2.2 table 254 metric 0 proto 77
replace blackhole 10.0.9.0/26 table 254 metric 0 proto 77`,
					want: fib.Result{Added: 3, Installed: 3},
				},
				{
					name:    "idempotent",
					desired: []fib.Route{via("10.0.1.0/24", "192.0.2.1"), via("10.0.2.0/24", "192.0.2.2"), {Prefix: pfx("10.0.9.0/26"), Type: fib.Blackhole}},
					want:    fib.Result{Unchanged: 3, Installed: 3},
				},
				{
					name:    "move next hop and withdraw: replace before delete",
					desired: []fib.Route{via("10.0.2.0/24", "192.0.2.3")},
					wantOps: `replace 10.0.2.0/24 via 192.0.2.3 table 254 metric 0 proto 77
delete 10.0.1.0/24 table 254 metric 0 proto 77
delete 10.0.9.0/26 table 254 metric 0 proto 77`,
					want: fib.Result{Changed: 1, Deleted: 2, Installed: 1},
				},
				{
					name:    "empty removes all",
					desired: nil,
					wantOps: `delete 10.0.2.0/24 table 254 metric 0 proto 77`,
					want:    fib.Result{Deleted: 1},
				},
			},
		},
		{
			name: "ecmp and ipv6",
			opts: fib.Options{Metric: 20},
			steps: []step{
				{
					name: "install",
					desired: []fib.Route{
						via("10.1.0.0/16", "192.0.2.9", "192.0.2.1"),
						via("2001:db8:1::/48", "2001:db8::1"),
						{Prefix: pfx("2001:db8:ff::/64"), Type: fib.Unreachable, Metric: 5, Table: 100},
					},
					wantOps: `replace unreachable 2001:db8:ff::/64 table 100 metric 5 proto 77
replace 10.1.0.0/16 nexthop via 192.0.2.1 weight 1 nexthop via 192.0.2.9 weight 1 table 254 metric 20 proto 77
replace 2001:db8:1::/48 via 2001:db8::1 table 254 metric 20 proto 77`,
					want: fib.Result{Added: 3, Installed: 3},
				},
				{
					name: "next hop order and explicit weight 1 do not matter",
					desired: []fib.Route{
						{Prefix: pfx("10.1.0.0/16"), NextHops: []fib.NextHop{{Gateway: addr("192.0.2.1"), Weight: 1}, {Gateway: addr("192.0.2.9")}}},
						via("2001:db8:1::/48", "2001:db8::1"),
						{Prefix: pfx("2001:db8:ff::/64"), Type: fib.Unreachable, Metric: 5, Table: 100},
					},
					want: fib.Result{Unchanged: 3, Installed: 3},
				},
				{
					name: "weights and dev",
					desired: []fib.Route{
						{Prefix: pfx("10.1.0.0/16"), NextHops: []fib.NextHop{{Gateway: addr("192.0.2.1"), Weight: 3, Dev: "eth0"}, {Gateway: addr("192.0.2.9")}}},
						via("2001:db8:1::/48", "2001:db8::1"),
						{Prefix: pfx("2001:db8:ff::/64"), Type: fib.Unreachable, Metric: 5, Table: 100},
					},
					wantOps: `replace 10.1.0.0/16 nexthop via 192.0.2.1 oif 2 weight 3 nexthop via 192.0.2.9 weight 1 table 254 metric 20 proto 77`,
					want:    fib.Result{Changed: 1, Unchanged: 2, Installed: 3},
				},
			},
		},
		{
			name: "ipv6 metric 0 is 1024",
			steps: []step{
				{
					name:    "install",
					desired: []fib.Route{via("2001:db8:1::/48", "fe80::1%eth0")},
					wantOps: `replace 2001:db8:1::/48 via fe80::1 table 254 metric 1024 proto 77`,
					want:    fib.Result{Added: 1, Installed: 1},
				},
			},
		},
		{
			name: "adopt on start",
			setup: func(k *fibtest.Kernel) {
				k.Add(fib.Route{Prefix: pfx("10.0.1.0/24"), NextHops: []fib.NextHop{{Gateway: addr("192.0.2.1"), LinkIndex: 2, Weight: 1}}, Table: 254}, 77)
				k.Add(fib.Route{Prefix: pfx("10.0.3.0/24"), NextHops: []fib.NextHop{{Gateway: addr("192.0.2.1"), LinkIndex: 2, Weight: 1}}, Table: 254}, 77)
				// Not ours: another daemon's and a static route.
				k.Add(fib.Route{Prefix: pfx("10.0.4.0/24"), NextHops: []fib.NextHop{{Gateway: addr("192.0.2.1"), LinkIndex: 2, Weight: 1}}, Table: 254}, 186)
				k.Add(fib.Route{Prefix: pfx("0.0.0.0/0"), NextHops: []fib.NextHop{{Gateway: addr("192.0.2.254"), LinkIndex: 2, Weight: 1}}, Table: 254}, 4)
			},
			steps: []step{
				{
					name:    "first set keeps the adopted route untouched",
					desired: []fib.Route{via("10.0.1.0/24", "192.0.2.1"), via("10.0.2.0/24", "192.0.2.1")},
					wantOps: `replace 10.0.2.0/24 via 192.0.2.1 table 254 metric 0 proto 77
delete 10.0.3.0/24 table 254 metric 0 proto 77`,
					want: fib.Result{Added: 1, Deleted: 1, Unchanged: 1, Installed: 2},
				},
			},
		},
		{
			name: "resync repairs hand edits",
			setup: func(k *fibtest.Kernel) {
				k.Add(fib.Route{Prefix: pfx("10.0.7.0/24"), Type: fib.Blackhole, Table: 254}, 77)
			},
			steps: []step{
				{
					name:   "resync before the first set deletes nothing",
					resync: true,
					want:   fib.Result{Installed: 1},
				},
				{
					name:    "set",
					desired: []fib.Route{via("10.0.1.0/24", "192.0.2.1"), via("10.0.2.0/24", "192.0.2.1")},
					wantOps: `replace 10.0.1.0/24 via 192.0.2.1 table 254 metric 0 proto 77
replace 10.0.2.0/24 via 192.0.2.1 table 254 metric 0 proto 77
delete 10.0.7.0/24 table 254 metric 0 proto 77`,
				},
				{
					name: "deleted, changed and stray routes are repaired",
					before: func(k *fibtest.Kernel) {
						k.Remove(fib.Key{Table: 254, Prefix: pfx("10.0.1.0/24")})
						k.Add(fib.Route{Prefix: pfx("10.0.2.0/24"), NextHops: []fib.NextHop{{Gateway: addr("192.0.2.66"), LinkIndex: 2, Weight: 1}}, Table: 254}, 77)
						k.Add(fib.Route{Prefix: pfx("10.0.8.0/24"), Type: fib.Blackhole, Table: 254}, 77)
					},
					resync: true,
					wantOps: `replace 10.0.1.0/24 via 192.0.2.1 table 254 metric 0 proto 77
replace 10.0.2.0/24 via 192.0.2.1 table 254 metric 0 proto 77
delete 10.0.8.0/24 table 254 metric 0 proto 77`,
					want: fib.Result{Added: 1, Changed: 1, Deleted: 1, Installed: 2},
				},
			},
		},
		{
			name: "per-route errors do not stop the rest",
			setup: func(k *fibtest.Kernel) {
				k.Fail = map[netip.Prefix]error{pfx("10.0.2.0/24"): syscall.ENETUNREACH}
			},
			steps: []step{
				{
					name: "one kernel failure and three invalid routes",
					desired: []fib.Route{
						via("10.0.1.0/24", "192.0.2.1"),
						via("10.0.2.0/24", "198.51.100.1"),
						via("10.0.3.0/24", "2001:db8::1"),
						{Prefix: pfx("10.0.4.0/24")},
						via("10.0.5.0/24", "192.0.2.1"),
						via("10.0.5.0/24", "192.0.2.2"),
						{Prefix: pfx("10.0.6.0/24"), NextHops: []fib.NextHop{{Dev: "nosuch0"}}},
					},
					wantOps: `replace 10.0.1.0/24 via 192.0.2.1 table 254 metric 0 proto 77
replace 10.0.2.0/24 via 198.51.100.1 table 254 metric 0 proto 77 -> error: network is unreachable
replace 10.0.5.0/24 via 192.0.2.1 table 254 metric 0 proto 77`,
					wantErr: `fib: route 10.0.3.0/24 via 2001:db8::1 table 254 metric 0: gateway 2001:db8::1 is not in the prefix's address family
fib: route 10.0.4.0/24 table 254 metric 0: unicast route without next hops (use Blackhole to drop)
fib: route 10.0.5.0/24 via 192.0.2.2 table 254 metric 0: duplicate of 10.0.5.0/24 via 192.0.2.1 table 254 metric 0 (same table, prefix and metric; merge them into one ECMP route)
fib: route 10.0.6.0/24 dev nosuch0 table 254 metric 0: next hop dev "nosuch0": link "nosuch0": no such device
fib: replace 10.0.2.0/24 via 198.51.100.1 table 254 metric 0: network is unreachable`,
					want: fib.Result{Added: 2, Failed: 5, Installed: 2},
				},
			},
		},
		{
			name: "policy",
			opts: fib.Options{Policy: fib.Policy{
				Exclude:    []netip.Prefix{pfx("10.96.0.0/12")},
				LocalAddrs: []netip.Addr{addr("192.0.2.10")},
			}},
			steps: []step{
				{
					name: "excluded, own next hop, own blackhole",
					desired: append([]fib.Route{
						via("10.96.0.10/32", "192.0.2.1"),             // a Service IP: skipped
						via("10.0.0.0/8", "192.0.2.1"),                // covers the range: kept
						via("10.1.0.0/24", "192.0.2.10"),              // via ourselves: skipped
						via("10.2.0.0/24", "192.0.2.10", "192.0.2.1"), // ECMP minus ourselves
					}, fib.Blackholes([]netip.Prefix{pfx("10.244.1.0/26"), pfx("10.96.5.0/26")})...),
					wantOps: `replace 10.0.0.0/8 via 192.0.2.1 table 254 metric 0 proto 77
replace 10.2.0.0/24 via 192.0.2.1 table 254 metric 0 proto 77
replace blackhole 10.96.5.0/26 table 254 metric 0 proto 77
replace blackhole 10.244.1.0/26 table 254 metric 0 proto 77`,
					want: fib.Result{Added: 4, Installed: 4, Skipped: []fib.Skip{
						{Route: fib.Route{Prefix: pfx("10.96.0.10/32"), NextHops: []fib.NextHop{{Gateway: addr("192.0.2.1"), Weight: 1}}, Table: 254}, Reason: "inside excluded range 10.96.0.0/12"},
						{Route: fib.Route{Prefix: pfx("10.1.0.0/24"), NextHops: []fib.NextHop{{Gateway: addr("192.0.2.10"), Weight: 1}}, Table: 254}, Reason: "every next hop is this node's own address"},
					}},
				},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			k := fibtest.New()
			if tt.setup != nil {
				tt.setup(k)
			}
			opts := tt.opts
			opts.Kernel = k
			f, err := fib.New(ctx, opts)
			if err != nil {
				t.Fatal(err)
			}
			for _, st := range tt.steps {
				if st.before != nil {
					st.before(k)
				}
				var res fib.Result
				if st.resync {
					res, err = f.Resync(ctx)
				} else {
					res, err = f.Set(ctx, st.desired)
				}
				if got := k.Ops(); got != st.wantOps {
					t.Errorf("%s: ops:\n%s\nwant:\n%s", st.name, got, st.wantOps)
				}
				switch {
				case st.wantErr == "" && err != nil:
					t.Errorf("%s: unexpected error: %v", st.name, err)
				case st.wantErr != "" && (err == nil || err.Error() != st.wantErr):
					t.Errorf("%s: error:\n%v\nwant:\n%s", st.name, err, st.wantErr)
				}
				if !cmp.Equal(st.want, fib.Result{}) {
					if d := cmp.Diff(st.want, res, cmp.Comparer(func(a, b netip.Addr) bool { return a == b }), cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); d != "" {
						t.Errorf("%s: result (-want +got):\n%s", st.name, d)
					}
				}
				// The FIB's belief equals the fake kernel's table.
				var ours []string
				for _, r := range f.Installed() {
					ours = append(ours, r.String())
				}
				kr, _ := k.List(ctx, f.Protocol(), 0)
				var theirs []string
				for _, r := range kr {
					theirs = append(theirs, r.String())
				}
				if len(ours) != len(theirs) {
					t.Errorf("%s: Installed() has %d routes, kernel %d:\n%s\nvs\n%s", st.name, len(ours), len(theirs), strings.Join(ours, "\n"), strings.Join(theirs, "\n"))
				}
			}
		})
	}
}

func TestTooManyNextHops(t *testing.T) {
	f, err := fib.New(context.Background(), fib.Options{Kernel: fibtest.New()})
	if err != nil {
		t.Fatal(err)
	}
	r := fib.Route{Prefix: pfx("2001:db8::/32")}
	a := addr("2001:db8:ffff::1")
	for range 1025 {
		r.NextHops = append(r.NextHops, fib.NextHop{Gateway: a})
		a = a.Next()
	}
	_, err = f.Set(context.Background(), []fib.Route{r})
	if err == nil || !strings.Contains(err.Error(), "fib: route 2001:db8::/32: 1025 next hops, at most 1024") {
		t.Errorf("Set with 1025 next hops: %v", err)
	}
}

func TestNewOptions(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts fib.Options
		want string
	}{
		{"reserved protocol", fib.Options{Protocol: 4}, "protocol 4 is reserved"},
		{"negative table", fib.Options{Table: -1}, "must fit in 32 bits"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.Kernel = fibtest.New()
			_, err := fib.New(context.Background(), tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("New(%+v) error = %v, want it to contain %q", tc.opts, err, tc.want)
			}
		})
	}
}

func TestAdopted(t *testing.T) {
	k := fibtest.New()
	r := fib.Route{Prefix: pfx("10.0.7.0/24"), Type: fib.Blackhole, Table: 254}
	k.Add(r, 77)
	k.Add(fib.Route{Prefix: pfx("10.0.8.0/24"), Type: fib.Blackhole, Table: 254}, 78)
	f, err := fib.New(context.Background(), fib.Options{Kernel: k})
	if err != nil {
		t.Fatal(err)
	}
	if got := f.Adopted(); len(got) != 1 || got[0].String() != r.String() {
		t.Errorf("Adopted() = %v, want [%v]", got, r)
	}
}

func TestSetCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	f, err := fib.New(ctx, fib.Options{Kernel: fibtest.New()})
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	res, err := f.Set(ctx, []fib.Route{via("10.0.1.0/24", "192.0.2.1")})
	if !errors.Is(err, context.Canceled) || res.Installed != 0 || res.Failed != 1 {
		t.Errorf("Set with canceled ctx = %+v, %v; want 1 failed with context.Canceled", res, err)
	}
}

func TestWatchPeriodic(t *testing.T) {
	k := fibtest.New()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f, err := fib.New(ctx, fib.Options{Kernel: k})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Set(ctx, []fib.Route{via("10.0.1.0/24", "192.0.2.1")}); err != nil {
		t.Fatal(err)
	}
	k.Ops()
	k.Remove(fib.Key{Table: 254, Prefix: pfx("10.0.1.0/24")})
	got := make(chan fib.Result, 1)
	done := make(chan error, 1)
	go func() {
		done <- f.Watch(ctx, fib.WatchOptions{MinInterval: time.Millisecond, Period: 5 * time.Millisecond, OnResync: func(r fib.Result, err error) {
			if r.Added > 0 {
				select {
				case got <- r:
				default:
				}
			}
		}})
	}()
	select {
	case r := <-got:
		if r.Added != 1 || r.Installed != 1 {
			t.Errorf("periodic resync = %+v, want 1 added", r)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no periodic resync within 5s")
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Watch = %v, want context.Canceled", err)
	}
	if ops := k.Ops(); !strings.HasPrefix(ops, "replace 10.0.1.0/24 via 192.0.2.1 table 254 metric 0 proto 77") {
		t.Errorf("ops = %q, want the repair", ops)
	}
}

// BenchmarkSetUnchanged100k measures the diff alone: a Set of 100k routes
// that are all installed already (the steady state), on the fake kernel.
func BenchmarkSetUnchanged100k(b *testing.B) {
	k := fibtest.New()
	ctx := context.Background()
	f, err := fib.New(ctx, fib.Options{Kernel: k})
	if err != nil {
		b.Fatal(err)
	}
	desired := make([]fib.Route, 100_000)
	for i := range desired {
		v := uint32(10)<<24 | uint32(i)<<6
		desired[i] = fib.Route{
			Prefix:   netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), 26),
			NextHops: []fib.NextHop{{Gateway: addr("192.0.2.2")}},
		}
	}
	if _, err := f.Set(ctx, desired); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		res, err := f.Set(ctx, desired)
		if err != nil || res.Unchanged != len(desired) {
			b.Fatalf("Set = %+v, %v", res, err)
		}
	}
}
