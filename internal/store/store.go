// Package store holds kbgp's resources (package api): the Datastore
// interface the agent watches and the CLI edits, and File, the embedded
// datastore that keeps one YAML file per resource in a directory
// (default /var/lib/kbgp/store).
//
// Writes are atomic (temporary file in the same directory, fsync, rename,
// fsync of the directory) and serialised across processes by flock(2) on
// a lock file, so concurrent `kbgp apply`, `label` and `annotate` never
// lose an update or leave a half-written file. Watch reports changes made
// by any process, through fsnotify with a polling fallback.
package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/kbgp/kbgp/api"
)

// DefaultDir is where the file store lives unless --store or KBGP_STORE
// says otherwise.
const DefaultDir = "/var/lib/kbgp/store"

// EnvDir is the environment variable that overrides DefaultDir.
const EnvDir = "KBGP_STORE"

// Datastore is a store of kbgp resources. The file store (File)
// implements it; a Kubernetes datastore implements it the same way.
// Kinds are api kind names (api.KindBGPPeer, ...).
type Datastore interface {
	// List returns every resource, sorted by kind (in api.Kinds order)
	// then name.
	List(ctx context.Context) ([]api.Resource, error)
	// Get returns one resource, or a *NotFoundError.
	Get(ctx context.Context, kind, name string) (api.Resource, error)
	// Apply creates r or replaces the stored resource of the same kind and
	// name, as `calicoctl apply` does. The store sets
	// metadata.resourceVersion, uid and creationTimestamp.
	Apply(ctx context.Context, r api.Resource) (Result, error)
	// Delete removes a resource; it returns a *NotFoundError if there is
	// none.
	Delete(ctx context.Context, kind, name string) error
	// Update reads a resource, calls edit on it and stores the result,
	// atomically with respect to every other writer (the read-modify-write
	// behind `kbgp label` and `kbgp annotate`). If edit returns an error
	// nothing is written. It returns a *NotFoundError if there is no such
	// resource.
	Update(ctx context.Context, kind, name string, edit func(api.Resource) error) (Result, error)
	// Watch reports the current resources as EventAdded events, then one
	// EventSynced, then every later change, until ctx is done; then the
	// channel is closed.
	Watch(ctx context.Context) (<-chan Event, error)
}

// Result is what Apply or Update did, in kubectl's words.
type Result int

const (
	// Unchanged: the stored resource already had this content.
	Unchanged Result = iota
	// Created: there was no such resource before.
	Created
	// Configured: the resource existed and its content changed.
	Configured
)

func (r Result) String() string {
	switch r {
	case Created:
		return "created"
	case Configured:
		return "configured"
	}
	return "unchanged"
}

// EventType says what happened to a resource.
type EventType int

const (
	// EventAdded: a new resource (also used for the initial listing).
	EventAdded EventType = iota
	// EventModified: a resource's content changed.
	EventModified
	// EventDeleted: a resource was removed; Event.Resource is its last
	// known state.
	EventDeleted
	// EventSynced: the initial listing is complete.
	EventSynced
	// EventError: a stored resource could not be read (for example a
	// hand-edited file that no longer decodes). The last good state of the
	// resource, if any, stays in effect. Event.Err says what is wrong.
	EventError
)

func (t EventType) String() string {
	switch t {
	case EventAdded:
		return "added"
	case EventModified:
		return "modified"
	case EventDeleted:
		return "deleted"
	case EventSynced:
		return "synced"
	}
	return "error"
}

// Event is one change reported by Watch.
type Event struct {
	Type     EventType
	Kind     string       // resource kind; empty for EventSynced
	Name     string       // resource name; empty for EventSynced
	Resource api.Resource // new state, or last state for EventDeleted
	Err      error        // for EventError
}

// NotFoundError reports a missing resource in kubectl's words:
// `nodes "ubuntu-9" not found`.
type NotFoundError struct {
	Kind, Name string
}

func (e *NotFoundError) Error() string {
	return fmt.Sprintf("%s %q not found", Plural(e.Kind), e.Name)
}

// IsNotFound reports whether err is or wraps a *NotFoundError.
func IsNotFound(err error) bool {
	var nf *NotFoundError
	return errors.As(err, &nf)
}
