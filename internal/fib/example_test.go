package fib_test

import (
	"context"
	"fmt"
	"net/netip"

	"github.com/kbgp/kbgp/internal/fib"
	"github.com/kbgp/kbgp/internal/fib/fibtest"
)

// A Set with the complete desired state; the second Set moves one prefix
// to ECMP and withdraws another: replacements go first, deletions last.
func ExampleFIB_Set() {
	ctx := context.Background()
	k := fibtest.New() // leave Kernel nil to program the real kernel over netlink
	f, err := fib.New(ctx, fib.Options{Kernel: k, Policy: fib.Policy{Exclude: []netip.Prefix{netip.MustParsePrefix("10.96.0.0/12")}}})
	if err != nil {
		panic(err)
	}
	gw := func(s string) fib.NextHop { return fib.NextHop{Gateway: netip.MustParseAddr(s)} }
	desired := append([]fib.Route{
		{Prefix: netip.MustParsePrefix("10.244.1.0/26"), NextHops: []fib.NextHop{gw("192.0.2.11")}},
		{Prefix: netip.MustParsePrefix("10.244.2.0/26"), NextHops: []fib.NextHop{gw("192.0.2.12")}},
		{Prefix: netip.MustParsePrefix("10.96.0.1/32"), NextHops: []fib.NextHop{gw("192.0.2.12")}},
	}, fib.Blackholes([]netip.Prefix{netip.MustParsePrefix("10.244.0.0/26")})...)
	res, err := f.Set(ctx, desired)
	fmt.Printf("%+v %v\n%s\n", res, err, k.Ops())

	res, err = f.Set(ctx, []fib.Route{
		{Prefix: netip.MustParsePrefix("10.244.1.0/26"), NextHops: []fib.NextHop{gw("192.0.2.11"), gw("192.0.2.13")}},
		desired[3],
	})
	fmt.Printf("%+v %v\n%s\n", res, err, k.Ops())
	// Output:
	// {Added:3 Changed:0 Deleted:0 Unchanged:0 Failed:0 Skipped:[{Route:10.96.0.1/32 via 192.0.2.12 table 254 metric 0 Reason:inside excluded range 10.96.0.0/12}] Installed:3} <nil>
	// replace blackhole 10.244.0.0/26 table 254 metric 0 proto 77
	// replace 10.244.1.0/26 via 192.0.2.11 table 254 metric 0 proto 77
	// replace 10.244.2.0/26 via 192.0.2.12 table 254 metric 0 proto 77
	// {Added:0 Changed:1 Deleted:1 Unchanged:1 Failed:0 Skipped:[] Installed:2} <nil>
	// replace 10.244.1.0/26 nexthop via 192.0.2.11 weight 1 nexthop via 192.0.2.13 weight 1 table 254 metric 0 proto 77
	// delete 10.244.2.0/26 table 254 metric 0 proto 77
}
