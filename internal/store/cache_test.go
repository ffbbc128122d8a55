package store

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/kbgp/kbgp/api"
	"github.com/kbgp/kbgp/internal/config"
)

// TestCacheFollowsStore drives a Cache from a live Watch and checks that it
// always converges to what List returns, and that the set feeds
// config.NewInput.
func TestCacheFollowsStore(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f := openTemp(t)
	if _, err := f.Apply(ctx, decodeOne(t, nodeYAML("ubuntu-1", "172.16.30.101/24"))); err != nil {
		t.Fatal(err)
	}
	ch, err := f.Watch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var c Cache
	converge := func(step string) {
		t.Helper()
		deadline := time.After(2 * time.Second)
		for {
			want, err := f.List(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if c.Synced() && names(c.Resources()) == names(want) {
				return
			}
			select {
			case ev := <-ch:
				c.Apply(ev)
			case <-deadline:
				t.Fatalf("%s: cache %s, store %s", step, names(c.Resources()), names(want))
			}
		}
	}
	converge("initial")
	f.Apply(ctx, decodeOne(t, peerYAML))
	f.Apply(ctx, decodeOne(t, nodeYAML("ubuntu-0", "172.16.30.100/24")))
	converge("after adds")
	f.Delete(ctx, api.KindNode, "ubuntu-1")
	converge("after delete")
	in := config.NewInput(c.Resources(), nil)
	if len(in.Nodes) != 1 || len(in.Peers) != 1 || in.Nodes[0].Name() != "ubuntu-0" {
		t.Errorf("NewInput from the cache: %d nodes, %d peers", len(in.Nodes), len(in.Peers))
	}
}

func TestCacheApply(t *testing.T) {
	var c Cache
	n := decodeOne(t, nodeYAML("a", "10.0.0.1/24"))
	steps := []struct {
		ev   Event
		want bool
	}{
		{Event{Type: EventAdded, Kind: api.KindNode, Name: "a", Resource: n}, true},
		{Event{Type: EventSynced}, true},
		{Event{Type: EventSynced}, false},
		{Event{Type: EventError, Kind: api.KindNode, Name: "a"}, false},
		{Event{Type: EventDeleted, Kind: api.KindNode, Name: "b"}, false},
		{Event{Type: EventDeleted, Kind: api.KindNode, Name: "a", Resource: n}, true},
	}
	for i, s := range steps {
		if got := c.Apply(s.ev); got != s.want {
			t.Errorf("step %d (%v): Apply = %v, want %v", i, s.ev.Type, got, s.want)
		}
	}
	if len(c.Resources()) != 0 {
		t.Errorf("cache not empty: %s", names(c.Resources()))
	}
}

func names(rs []api.Resource) string {
	var s []string
	for _, r := range rs {
		s = append(s, r.Kind()+"/"+r.Name())
	}
	return strings.Join(s, " ")
}
