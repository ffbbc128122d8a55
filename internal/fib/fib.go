// Package fib programs kernel routes from a desired state.
//
// A [FIB] owns every route tagged with its rtm_protocol number
// (Options.Protocol) in one network namespace. [FIB.Set] takes the complete
// list of routes that should exist, diffs it against what is installed, and
// sends the difference to the kernel: replacements first, deletions last,
// so a prefix moving between next hops never goes unrouted. Replacement is
// idempotent (NLM_F_CREATE|NLM_F_REPLACE). Routes fail one by one: a bad
// route is reported in the joined error and the rest are still programmed,
// and the Result says what is installed afterwards.
//
// On start, New adopts the routes that already carry our protocol number
// instead of flushing them, so an agent restart keeps forwarding (graceful
// restart): the first Set changes only what differs. [FIB.Resync] re-reads
// the kernel and repairs routes someone removed or changed by hand.
//
// The netlink kernel ([NewNetlink]) writes requests in batches, many per
// sendmsg, each with its own sequence number and NLM_F_ACK, and maps the
// acknowledgements back to routes by sequence number.
//
// One FIB per protocol number and namespace: another FIB (or another
// daemon) using the same number would have its routes adopted and deleted.
package fib

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
)

// DefaultProtocol is the rtm_protocol kbgp tags its routes with unless
// Options.Protocol says otherwise. It is not 186 (RTPROT_BGP), which BIRD,
// FRR and GoBGP may use on the same node, not 12 (bird) or 11 (zebra), and
// not 80, which Calico's Felix uses for its VXLAN and blackhole routes, so
// kbgp can run beside any of them during a migration. `ip route show proto
// 77` lists kbgp's routes.
const DefaultProtocol = 77

// DefaultTable is the main routing table (RT_TABLE_MAIN).
const DefaultTable = 254

// Options configures a FIB. The zero value programs the main table of the
// current network namespace with DefaultProtocol.
type Options struct {
	// Protocol is the rtm_protocol number our routes carry; 0 means
	// DefaultProtocol. Numbers up to 4 (unspec, redirect, kernel, boot,
	// static) belong to the kernel and the administrator and are refused.
	Protocol uint8
	// Table is the default routing table for routes with Table 0; 0
	// means DefaultTable.
	Table int
	// Metric is the default metric for routes with Metric 0.
	Metric int
	// Policy filters the desired routes before they are installed.
	Policy Policy
	// Netns is the name of the network namespace (under /run/netns) to
	// program; empty means the current one. Ignored if Kernel is set.
	Netns string
	// Kernel is the routing table to program; nil opens a netlink kernel
	// in Netns. Tests pass a fibtest fake.
	Kernel Kernel
}

// FIB programs the kernel routes tagged with one protocol number. Its
// methods are safe for concurrent use; they run one at a time.
type FIB struct {
	opts   Options
	kernel Kernel

	mu sync.Mutex // guards the following
	// installed is what we believe the kernel holds for our protocol:
	// adopted at New, updated from each op's result, re-read by Resync.
	installed map[Key]Route
	// desired is the last Set's validated, policy-filtered input;
	// haveDesired is false until the first Set, so Resync before it
	// never deletes adopted routes.
	desired     map[Key]Route
	haveDesired bool
	adopted     []Route
}

// New opens the kernel and adopts the routes that already carry our
// protocol number; see [FIB.Adopted]. Nothing is changed in the kernel.
func New(ctx context.Context, opts Options) (*FIB, error) {
	if opts.Protocol == 0 {
		opts.Protocol = DefaultProtocol
	}
	if opts.Protocol <= 4 {
		return nil, fmt.Errorf("fib: protocol %d is reserved for the kernel and static routes; use a private number such as %d", opts.Protocol, DefaultProtocol)
	}
	if opts.Table == 0 {
		opts.Table = DefaultTable
	}
	if opts.Table < 0 || opts.Table > 0xFFFFFFFF || opts.Metric < 0 || opts.Metric > 0xFFFFFFFF {
		return nil, fmt.Errorf("fib: table %d / metric %d must fit in 32 bits", opts.Table, opts.Metric)
	}
	k := opts.Kernel
	if k == nil {
		var err error
		if k, err = NewNetlink(opts.Netns); err != nil {
			return nil, err
		}
	}
	f := &FIB{opts: opts, kernel: k}
	if err := f.readKernelLocked(ctx); err != nil {
		if opts.Kernel == nil {
			k.Close()
		}
		return nil, err
	}
	f.adopted = f.sortedInstalledLocked()
	return f, nil
}

// Close releases the kernel. Installed routes stay: they are adopted by
// the next FIB with the same protocol.
func (f *FIB) Close() error { return f.kernel.Close() }

// Protocol is the rtm_protocol number of our routes.
func (f *FIB) Protocol() uint8 { return f.opts.Protocol }

// Adopted returns the routes with our protocol number that were in the
// kernel when the FIB was created.
func (f *FIB) Adopted() []Route { return slices.Clone(f.adopted) }

// Installed returns the routes the FIB believes are in the kernel, sorted
// by table, prefix and metric.
func (f *FIB) Installed() []Route {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.sortedInstalledLocked()
}

// Result counts what a Set or Resync did.
type Result struct {
	// Added and Changed count successful replacements of absent and of
	// differing routes; Deleted counts removed routes; Unchanged counts
	// desired routes that were already installed as asked.
	Added, Changed, Deleted, Unchanged int
	// Failed counts desired routes that are invalid or that the kernel
	// refused, and routes the kernel would not delete; the error returned
	// with the Result names each one.
	Failed int
	// Skipped are desired routes the Policy kept out.
	Skipped []Skip
	// Installed is the number of our routes in the kernel afterwards
	// (see [FIB.Installed] for the routes).
	Installed int
}

// Set makes the kernel's routes with our protocol number equal to desired
// (after defaults, validation and Policy). It is idempotent. It returns a
// Result even when the error is non-nil: the error joins one error per
// failed route, naming the route and the kernel's reason.
func (f *FIB) Set(ctx context.Context, desired []Route) (Result, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var res Result
	var errs []error
	want := make(map[Key]Route, len(desired))
	for _, r := range desired {
		rr, err := f.resolve(r)
		if err != nil {
			res.Failed++
			errs = append(errs, err)
			continue
		}
		rr, reason := f.opts.Policy.apply(rr)
		if reason != "" {
			res.Skipped = append(res.Skipped, Skip{Route: rr, Reason: reason})
			continue
		}
		if prev, dup := want[rr.Key()]; dup {
			res.Failed++
			errs = append(errs, fmt.Errorf("fib: route %v: duplicate of %v (same table, prefix and metric; merge them into one ECMP route)", rr, prev))
			continue
		}
		want[rr.Key()] = rr
	}
	f.desired, f.haveDesired = want, true
	err := f.reconcileLocked(ctx, &res)
	return res, errors.Join(append(errs, err)...)
}

// Resync re-reads our routes from the kernel and repairs any difference
// from the last Set: routes deleted or changed by hand are put back, and
// routes with our protocol number that Set did not ask for are removed.
// Before the first Set it only refreshes what the FIB believes is installed.
func (f *FIB) Resync(ctx context.Context) (Result, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var res Result
	if err := f.readKernelLocked(ctx); err != nil {
		return res, err
	}
	if !f.haveDesired {
		res.Installed = len(f.installed)
		return res, nil
	}
	err := f.reconcileLocked(ctx, &res)
	return res, err
}

func (f *FIB) readKernelLocked(ctx context.Context) error {
	rs, err := f.kernel.List(ctx, f.opts.Protocol, 0)
	if err != nil {
		return fmt.Errorf("fib: listing routes with protocol %d: %w", f.opts.Protocol, err)
	}
	f.installed = make(map[Key]Route, len(rs))
	for _, r := range rs {
		f.installed[r.Key()] = r
	}
	return nil
}

// reconcileLocked sends the difference between f.desired and f.installed
// to the kernel, replacements before deletions, and records each op's
// outcome in f.installed and res.
func (f *FIB) reconcileLocked(ctx context.Context, res *Result) error {
	// Walk the maps unordered and sort only the ops: most Sets change few
	// routes, and sorting makes the kernel's view of a Set deterministic.
	var adds, dels []Op
	for k, d := range f.desired {
		if have, ok := f.installed[k]; ok && matches(d, have) {
			res.Unchanged++
			continue
		}
		adds = append(adds, Op{Kind: Replace, Route: d, Protocol: f.opts.Protocol})
	}
	for k, r := range f.installed {
		if _, ok := f.desired[k]; !ok {
			dels = append(dels, Op{Kind: Delete, Route: r, Protocol: f.opts.Protocol})
		}
	}
	ops := make([]Op, 0, len(adds)+len(dels))
	ops = appendSorted(ops, adds)
	ops = appendSorted(ops, dels)
	var errs []error
	if len(ops) > 0 {
		opErrs := f.kernel.Apply(ctx, ops)
		for i, op := range ops {
			var err error
			if i < len(opErrs) {
				err = opErrs[i]
			} else {
				err = errors.New("kernel returned no result")
			}
			k := op.Route.Key()
			if err != nil {
				res.Failed++
				errs = append(errs, fmt.Errorf("fib: %s %v: %w", op.Kind, op.Route, err))
				continue
			}
			switch op.Kind {
			case Replace:
				if _, ok := f.installed[k]; ok {
					res.Changed++
				} else {
					res.Added++
				}
				f.installed[k] = op.Route
			case Delete:
				res.Deleted++
				delete(f.installed, k)
			}
		}
	}
	res.Installed = len(f.installed)
	return errors.Join(errs...)
}

func (f *FIB) sortedInstalledLocked() []Route {
	rs := make([]Route, 0, len(f.installed))
	for _, k := range sortedKeys(f.installed) {
		rs = append(rs, f.installed[k])
	}
	return rs
}

// appendSorted appends ops to dst in key order (see Key.Compare). With
// 100k ops the sort is a visible share of a Set, so it sorts compact
// inline keys instead of ~100-byte Ops or pointers to them.
func appendSorted(dst, ops []Op) []Op {
	type sortKey struct {
		hi, lo uint64
		table  int
		metric int
		v6     bool
		bits   int16
		idx    int32
	}
	ks := make([]sortKey, len(ops))
	for i := range ops {
		r := &ops[i].Route
		a := r.Prefix.Addr()
		b := a.As16()
		ks[i] = sortKey{
			hi: binary.BigEndian.Uint64(b[:8]), lo: binary.BigEndian.Uint64(b[8:]),
			table: r.Table, metric: r.Metric, v6: a.Is6(), bits: int16(r.Prefix.Bits()), idx: int32(i),
		}
	}
	slices.SortFunc(ks, func(a, b sortKey) int {
		switch {
		case a.table != b.table:
			return cmp.Compare(a.table, b.table)
		case a.v6 != b.v6:
			if a.v6 {
				return 1
			}
			return -1
		case a.hi != b.hi:
			return cmp.Compare(a.hi, b.hi)
		case a.lo != b.lo:
			return cmp.Compare(a.lo, b.lo)
		case a.bits != b.bits:
			return cmp.Compare(a.bits, b.bits)
		}
		return cmp.Compare(a.metric, b.metric)
	})
	for _, k := range ks {
		dst = append(dst, ops[k.idx])
	}
	return dst
}

func sortedKeys(m map[Key]Route) []Key {
	return slices.SortedFunc(maps.Keys(m), Key.Compare)
}
