// Package fibtest provides a recording fake of fib.Kernel for unit tests of
// the FIB's diff logic: it keeps routes in memory like the kernel's table,
// records every operation as a line of text for golden comparisons, and
// fails chosen routes on demand.
package fibtest

import (
	"context"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"syscall"

	"github.com/kbgp/kbgp/internal/fib"
)

// Kernel is an in-memory routing table implementing fib.Kernel.
type Kernel struct {
	mu     sync.Mutex
	routes map[fib.Key]entry
	log    []string
	// Links maps interface names to indexes for LinkIndex.
	Links map[string]int
	// Fail makes Apply refuse ops on the listed prefixes with the given
	// error, as the kernel refuses an unreachable gateway.
	Fail map[netip.Prefix]error
}

type entry struct {
	route    fib.Route
	protocol uint8
}

// New returns an empty fake kernel with interface "eth0" at index 2.
func New() *Kernel {
	return &Kernel{routes: map[fib.Key]entry{}, Links: map[string]int{"eth0": 2}}
}

// Add puts a route into the table directly, as another program or an
// earlier agent run would have, with the given protocol. It is not logged.
func (k *Kernel) Add(r fib.Route, protocol uint8) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.routes[r.Key()] = entry{route: r, protocol: protocol}
}

// Remove deletes a route directly (`ip route del` by hand). It is not logged.
func (k *Kernel) Remove(key fib.Key) {
	k.mu.Lock()
	defer k.mu.Unlock()
	delete(k.routes, key)
}

// Ops returns the operations applied since the last call, one per line,
// and clears the record.
func (k *Kernel) Ops() string {
	k.mu.Lock()
	defer k.mu.Unlock()
	s := strings.Join(k.log, "\n")
	k.log = nil
	return s
}

// Dump renders the whole table, one route per line with its protocol,
// sorted.
func (k *Kernel) Dump() string {
	k.mu.Lock()
	defer k.mu.Unlock()
	var lines []string
	for _, e := range k.routes {
		lines = append(lines, fmt.Sprintf("%v proto %d", e.route, e.protocol))
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}

// List implements fib.Kernel.
func (k *Kernel) List(_ context.Context, protocol uint8, table int) ([]fib.Route, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	var rs []fib.Route
	for _, key := range slices.SortedFunc(maps.Keys(k.routes), fib.Key.Compare) {
		e := k.routes[key]
		if e.protocol == protocol && (table == 0 || key.Table == table) {
			rs = append(rs, e.route)
		}
	}
	return rs, nil
}

// Apply implements fib.Kernel: replace and delete like the kernel, restricted
// to the op's protocol for deletes, logging each op with its outcome.
func (k *Kernel) Apply(ctx context.Context, ops []fib.Op) []error {
	k.mu.Lock()
	defer k.mu.Unlock()
	errs := make([]error, len(ops))
	for i, op := range ops {
		line := op.String()
		key := op.Route.Key()
		switch err := k.Fail[op.Route.Prefix]; {
		case ctx.Err() != nil:
			errs[i] = ctx.Err()
		case err != nil:
			errs[i] = err
		case op.Kind == fib.Replace:
			r := op.Route
			// The kernel reports the interface it resolved each
			// gateway through; pretend everything is on eth0.
			r.NextHops = slices.Clone(r.NextHops)
			for j := range r.NextHops {
				if r.NextHops[j].LinkIndex == 0 {
					r.NextHops[j].LinkIndex = 2
				}
			}
			k.routes[key] = entry{route: r, protocol: op.Protocol}
		case op.Kind == fib.Delete:
			if e, ok := k.routes[key]; ok && e.protocol == op.Protocol {
				delete(k.routes, key)
			}
		}
		if errs[i] != nil {
			line += " -> error: " + errs[i].Error()
		}
		k.log = append(k.log, line)
	}
	return errs
}

// LinkIndex implements fib.Kernel.
func (k *Kernel) LinkIndex(name string) (int, error) {
	if i, ok := k.Links[name]; ok {
		return i, nil
	}
	return 0, fmt.Errorf("link %q: %w", name, syscall.ENODEV)
}

// Close implements fib.Kernel.
func (k *Kernel) Close() error { return nil }
