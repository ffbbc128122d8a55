package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/kbgp/kbgp/internal/config"
)

// ServiceSet is one complete, current view of the cluster's services as a
// ServiceSource sees them. Err, when set, says the source could not be
// read; Services is then the last good set (the agent keeps advertising
// what it advertised).
type ServiceSet struct {
	Services []config.Service
	Err      error
}

// ServiceSource feeds the agent the services (and their endpoints) that
// decide which service addresses the node originates (config.Compile:
// the service ranges, and the /32s of externalTrafficPolicy Local services
// with a ready endpoint on this node). Watch sends the current set first,
// then a new complete set after every change, until ctx ends; the channel
// is closed then. FileServices reads a JSON file; the Kubernetes datastore
// implements the same interface from Services and EndpointSlices.
type ServiceSource interface {
	Watch(ctx context.Context) (<-chan ServiceSet, error)
}

// FileServices is a ServiceSource reading a JSON list of config.Service
// (the format `kbgp lab` writes to DIR/hosts/NODE/services.json). The file
// is re-read when its size, modification time or content changes, checked
// every Poll (default 250 ms), so a change is applied within a second. A
// missing or malformed file is reported (ServiceSet.Err) and the last good
// list kept; a missing file at start means no services.
type FileServices struct {
	Path string
	Poll time.Duration
}

// Watch implements ServiceSource.
func (f FileServices) Watch(ctx context.Context) (<-chan ServiceSet, error) {
	if f.Path == "" {
		return nil, fmt.Errorf("services file: no path")
	}
	poll := f.Poll
	if poll <= 0 {
		poll = 250 * time.Millisecond
	}
	type read struct {
		raw  []byte
		svcs []config.Service
	}
	ch := make(chan ServiceSet, 1)
	go pollLoop(ctx, poll,
		func() (read, error) {
			raw, svcs, err := readServices(f.Path)
			return read{raw, svcs}, err
		},
		func(a, b read) bool { return bytes.Equal(a.raw, b.raw) },
		func(r read, err error) ServiceSet { return ServiceSet{Services: r.svcs, Err: err} },
		ch)
	return ch, nil
}

// readServices reads and decodes the services file.
func readServices(path string) ([]byte, []config.Service, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("services file: %w", err)
	}
	svcs, err := decodeServices(raw)
	if err != nil {
		return nil, nil, fmt.Errorf("services file %s: %w", path, err)
	}
	return raw, svcs, nil
}

// decodeServices decodes a JSON list of config.Service; unknown fields and
// services without a name are errors.
func decodeServices(raw []byte) ([]config.Service, error) {
	var svcs []config.Service
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&svcs); err != nil {
		return nil, fmt.Errorf("want a JSON list of services ({\"namespace\", \"name\", \"type\", \"clusterIPs\", \"externalTrafficPolicy\", \"endpoints\": [{\"addr\", \"node\", \"ready\"}]}): %w", err)
	}
	if dec.More() {
		return nil, errors.New("trailing data after the list of services")
	}
	for i, s := range svcs {
		if s.Name == "" {
			return nil, fmt.Errorf("services[%d]: no name", i)
		}
	}
	return svcs, nil
}

// setServices records a set from the service source and reports whether
// the desired state must be recompiled.
func (a *Agent) setServices(set ServiceSet) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	first := !a.svcSynced
	a.svcSynced = true
	if set.Err != nil {
		if a.svcErr != set.Err.Error() {
			a.log.Error("services unreadable; keeping the last good set", "err", set.Err, "services", len(a.services))
			a.gauges.errors.Inc()
		}
		a.svcErr = set.Err.Error()
		return first
	}
	if a.svcErr != "" {
		a.log.Info("services readable again")
	}
	a.svcErr = ""
	a.services = set.Services
	a.log.Info("services updated", "services", len(set.Services))
	return true
}

// servicesSynced reports whether the service source has sent its first
// set (always true without a source).
func (a *Agent) servicesSynced() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.svcSynced
}
