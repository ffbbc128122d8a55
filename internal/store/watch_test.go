package store

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/kbgp/kbgp/api"
)

// next waits up to a second (the promised delivery time) for one event.
func next(t *testing.T, ch <-chan Event) Event {
	t.Helper()
	select {
	case ev, ok := <-ch:
		if !ok {
			t.Fatal("watch channel closed")
		}
		return ev
	case <-time.After(time.Second):
		t.Fatal("no event within 1s")
	}
	return Event{}
}

func expect(t *testing.T, ch <-chan Event, typ EventType, kind, name string) Event {
	t.Helper()
	ev := next(t, ch)
	if ev.Type != typ || ev.Kind != kind || ev.Name != name {
		t.Fatalf("event %v %s/%s (err %v), want %v %s/%s", ev.Type, ev.Kind, ev.Name, ev.Err, typ, kind, name)
	}
	return ev
}

func quiet(t *testing.T, ch <-chan Event, d time.Duration) {
	t.Helper()
	select {
	case ev := <-ch:
		t.Fatalf("unexpected event %v %s/%s", ev.Type, ev.Kind, ev.Name)
	case <-time.After(d):
	}
}

func TestWatch(t *testing.T) {
	for _, mode := range []struct {
		name string
		opts Options
	}{
		{"fsnotify", Options{PollInterval: time.Hour}}, // polling effectively off: fsnotify must deliver
		{"polling", Options{NoFSNotify: true}},
	} {
		t.Run(mode.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			dir := t.TempDir()
			w, err := Open(dir, &mode.opts)
			if err != nil {
				t.Fatal(err)
			}
			// The writer is a separate store instance, as another process
			// would be.
			wr, err := Open(dir, nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := wr.Apply(ctx, decodeOne(t, nodeYAML("ubuntu-1", "172.16.30.101/24"))); err != nil {
				t.Fatal(err)
			}
			ch, err := w.Watch(ctx)
			if err != nil {
				t.Fatal(err)
			}
			expect(t, ch, EventAdded, api.KindNode, "ubuntu-1")
			expect(t, ch, EventSynced, "", "")

			start := time.Now()
			if _, err := wr.Apply(ctx, decodeOne(t, peerYAML)); err != nil {
				t.Fatal(err)
			}
			ev := expect(t, ch, EventAdded, api.KindBGPPeer, "rack1-tor")
			t.Logf("%s: add delivered in %v", mode.name, time.Since(start))
			if p := ev.Resource.(*api.BGPPeer); p.Spec.ASNumber != 64513 {
				t.Errorf("event carries AS %v", p.Spec.ASNumber)
			}

			// An apply that changes nothing writes nothing and reports nothing.
			if res, _ := wr.Apply(ctx, decodeOne(t, peerYAML)); res != Unchanged {
				t.Fatalf("re-apply = %v", res)
			}
			if mode.name == "polling" {
				quiet(t, ch, 400*time.Millisecond)
			}

			if _, err := wr.Update(ctx, api.KindNode, "ubuntu-1", func(r api.Resource) error {
				r.Meta().Labels = map[string]string{"rack": "rack-1"}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			ev = expect(t, ch, EventModified, api.KindNode, "ubuntu-1")
			if ev.Resource.Meta().Labels["rack"] != "rack-1" {
				t.Errorf("modified event lacks the new label: %v", ev.Resource.Meta().Labels)
			}

			// A hand-edited broken file: an error event that keeps the last
			// good state; then a fix brings it back as modified.
			p := filepath.Join(dir, "bgppeer", "rack1-tor.yaml")
			good, _ := os.ReadFile(p)
			os.WriteFile(p, []byte("kind: BGPPeer\nspec: {peerIP: nope}\n"), 0o644)
			ev = expect(t, ch, EventError, api.KindBGPPeer, "rack1-tor")
			if ev.Err == nil || !strings.Contains(ev.Err.Error(), p) || ev.Resource == nil {
				t.Errorf("error event: err %v, resource %v", ev.Err, ev.Resource)
			}
			fixed := strings.Replace(string(good), "64513", "64599", 1)
			os.WriteFile(p, []byte(fixed), 0o644)
			// An in-place write may be seen half done: skip error events.
			for ev = next(t, ch); ev.Type == EventError; ev = next(t, ch) {
			}
			if ev.Type != EventModified || ev.Name != "rack1-tor" {
				t.Fatalf("event %v %s/%s, want modified BGPPeer/rack1-tor", ev.Type, ev.Kind, ev.Name)
			}
			if ev.Resource.(*api.BGPPeer).Spec.ASNumber != 64599 {
				t.Errorf("fixed file not picked up")
			}

			if err := wr.Delete(ctx, api.KindBGPPeer, "rack1-tor"); err != nil {
				t.Fatal(err)
			}
			ev = expect(t, ch, EventDeleted, api.KindBGPPeer, "rack1-tor")
			if ev.Resource == nil || ev.Resource.Name() != "rack1-tor" {
				t.Errorf("deleted event lacks the last state")
			}

			cancel()
			select {
			case _, ok := <-ch:
				for ok {
					_, ok = <-ch
				}
			case <-time.After(time.Second):
				t.Fatal("channel not closed after cancel")
			}
		})
	}
}

// TestWatchBurst checks that a burst of writes ends in the right state,
// with one event per resource at least and no spurious deletions.
func TestWatchBurst(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f := openTemp(t)
	ch, err := f.Watch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	expect(t, ch, EventSynced, "", "")
	const n = 50
	for i := range n {
		name := "n" + string(rune('a'+i%26)) + string(rune('a'+i/26))
		if _, err := f.Apply(ctx, decodeOne(t, nodeYAML(name, "10.0.0.1/24"))); err != nil {
			t.Fatal(err)
		}
	}
	seen := map[string]bool{}
	deadline := time.After(3 * time.Second)
	for len(seen) < n {
		select {
		case ev := <-ch:
			if ev.Type != EventAdded {
				t.Fatalf("unexpected %v %s", ev.Type, ev.Name)
			}
			seen[ev.Name] = true
		case <-deadline:
			t.Fatalf("saw %d of %d additions", len(seen), n)
		}
	}
}

func TestWatchUnreadableDir(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f, err := Open(t.TempDir(), &Options{NoFSNotify: true, PollInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Apply(ctx, decodeOne(t, peerYAML)); err != nil {
		t.Fatal(err)
	}
	ch, err := f.Watch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	expect(t, ch, EventAdded, api.KindBGPPeer, "rack1-tor")
	expect(t, ch, EventSynced, "", "")
	// Make the bgppeer directory unreadable by swapping it for a file
	// (chmod would not stop root). The swaps are atomic (RENAME_EXCHANGE):
	// a moment without the directory is a directory emptied, whose
	// resources the poller would rightly report deleted.
	d := filepath.Join(f.Path(), "bgppeer")
	if err := os.WriteFile(d+".file", nil, 0o644); err != nil {
		t.Fatal(err)
	}
	swap := func() {
		t.Helper()
		if err := unix.Renameat2(unix.AT_FDCWD, d, unix.AT_FDCWD, d+".file", unix.RENAME_EXCHANGE); err != nil {
			t.Fatalf("swapping %s and %s.file: %v", d, d, err)
		}
	}
	swap()
	ev := expect(t, ch, EventError, api.KindBGPPeer, "")
	if ev.Err == nil {
		t.Fatal("error event without an error")
	}
	quiet(t, ch, 200*time.Millisecond) // reported once, and no deletion
	swap()
	quiet(t, ch, 200*time.Millisecond) // back as it was: nothing changed
}
