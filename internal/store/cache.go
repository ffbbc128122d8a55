package store

import (
	"cmp"
	"slices"

	"github.com/kbgp/kbgp/api"
)

// Cache folds Watch events into the current set of resources, for a
// consumer that recompiles from the whole set on every change:
//
//	events, _ := ds.Watch(ctx)
//	var c store.Cache
//	for ev := range events {
//		if c.Apply(ev) && c.Synced() {
//			state, err := config.Compile(config.NewInput(c.Resources(), nil), node)
//			...
//		}
//	}
//
// The zero value is an empty cache. A Cache is not safe for concurrent use.
type Cache struct {
	m      map[key]api.Resource
	synced bool
}

// Apply records ev and reports whether the resource set changed (or, for
// EventSynced, whether this is the first sync). EventError leaves the last
// good state in place and reports no change.
func (c *Cache) Apply(ev Event) bool {
	if c.m == nil {
		c.m = map[key]api.Resource{}
	}
	k := key{ev.Kind, ev.Name}
	switch ev.Type {
	case EventAdded, EventModified:
		c.m[k] = ev.Resource
		return true
	case EventDeleted:
		_, had := c.m[k]
		delete(c.m, k)
		return had
	case EventSynced:
		first := !c.synced
		c.synced = true
		return first
	}
	return false
}

// Synced reports whether the initial listing has been seen.
func (c *Cache) Synced() bool { return c.synced }

// Resources returns the current resources in List order (kind as in
// api.Kinds, then name).
func (c *Cache) Resources() []api.Resource {
	out := make([]api.Resource, 0, len(c.m))
	for _, r := range c.m {
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b api.Resource) int {
		return cmp.Or(cmp.Compare(kindIndex(a.Kind()), kindIndex(b.Kind())), cmp.Compare(a.Name(), b.Name()))
	})
	return out
}
