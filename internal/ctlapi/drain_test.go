package ctlapi

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/kbgp/kbgp/internal/status"
)

// drainable is a provider that records drain requests.
type drainable struct {
	status.Snapshot
	mu   sync.Mutex
	reqs []DrainRequest
	msg  string
}

func (d *drainable) Drain(_ context.Context, req DrainRequest) (DrainResult, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.reqs = append(d.reqs, req)
	was := d.msg != ""
	if req.Undo {
		d.msg = ""
		return DrainResult{Node: d.State.Name, Changed: was}, nil
	}
	if req.Message == "boom" {
		return DrainResult{}, errors.New("datastore unreachable")
	}
	d.msg = req.Message
	return DrainResult{Node: d.State.Name, Drained: true, Message: d.msg, Changed: !was}, nil
}

func TestDrainEndpoint(t *testing.T) {
	p := &drainable{Snapshot: status.Snapshot{State: ubuntu2}}
	c := dial(t, start(t, p, Options{}))
	ctx := context.Background()
	for _, tc := range []struct {
		name    string
		req     DrainRequest
		want    DrainResult
		wantErr string
	}{
		{"drain", DrainRequest{Message: "maintenance"}, DrainResult{Node: "ubuntu-2", Drained: true, Message: "maintenance", Changed: true}, ""},
		{"drain again", DrainRequest{Message: "maintenance"}, DrainResult{Node: "ubuntu-2", Drained: true, Message: "maintenance"}, ""},
		{"undo", DrainRequest{Undo: true}, DrainResult{Node: "ubuntu-2", Changed: true}, ""},
		{"provider error", DrainRequest{Message: "boom"}, DrainResult{}, "datastore unreachable"},
		{"message too long", DrainRequest{Message: strings.Repeat("x", 256)}, DrainResult{}, "at most 255"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := c.Drain(ctx, tc.req)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Drain: %v, want an error containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("Drain = %+v, want %+v", got, tc.want)
			}
		})
	}
	if n := len(p.reqs); n != 4 { // the over-long message never reaches the provider
		t.Errorf("provider saw %d requests, want 4", n)
	}
}

func TestDrainNotSupported(t *testing.T) {
	c := dial(t, start(t, &status.Snapshot{State: ubuntu2}, Options{}))
	_, err := c.Drain(context.Background(), DrainRequest{})
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status != http.StatusNotImplemented {
		t.Fatalf("Drain on a provider without Drainer: %v, want HTTP 501", err)
	}
	// GET is not the drain.
	var out map[string]any
	if _, err := c.get(context.Background(), "/v1/drain", &out, http.StatusOK); err == nil {
		t.Error("GET /v1/drain succeeded")
	}
}
