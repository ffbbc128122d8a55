package fib

import "context"

// Kernel is the routing table the FIB programs: the real one over netlink
// ([NewNetlink]) or a recording fake (package fibtest) for unit tests of the
// diff logic.
type Kernel interface {
	// List returns the routes tagged with protocol in table (0: every
	// table), resolved like the FIB's own routes: LinkIndex set, next hops
	// sorted, weights 1..256.
	List(ctx context.Context, protocol uint8, table int) ([]Route, error)
	// Apply performs ops in order and returns one error per op, nil where
	// it succeeded. A failing op does not stop the others. Deleting a
	// route that is already gone succeeds.
	Apply(ctx context.Context, ops []Op) []error
	// LinkIndex resolves an interface name.
	LinkIndex(name string) (int, error)
	// Close releases the kernel's resources.
	Close() error
}
