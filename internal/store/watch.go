package store

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/kbgp/kbgp/api"
	"github.com/kbgp/kbgp/internal/config"
)

// Watch implements Datastore. Changes are found by rescanning the store
// directory, which is cheap: a directory read and one stat per file; only
// files whose inode, size or modification time changed are read again
// (writes rename a new file into place, so every write changes the
// inode). A rescan runs as soon as fsnotify reports activity and every
// Options.PollInterval in any case, so changes arrive within a second
// even where inotify is unavailable (for example on some network file
// systems).
func (f *File) Watch(ctx context.Context) (<-chan Event, error) {
	w := &watcher{f: f, known: map[key]*fileState{}, dirErrs: map[string]string{}, out: make(chan Event, 16)}
	// The first scan happens before Watch returns, so that a change made
	// right after Watch returns is reported as a change, not folded into
	// the initial listing.
	initial := w.scan()

	var notify *fsnotify.Watcher
	if !f.opts.NoFSNotify {
		if nw, err := fsnotify.NewWatcher(); err == nil {
			notify = nw
			for _, k := range api.Kinds {
				if err := nw.Add(f.kindDir(k)); err != nil {
					nw.Close()
					notify = nil
					break
				}
			}
		}
	}
	poll := f.opts.PollInterval
	if poll <= 0 {
		poll = time.Second
		if notify == nil {
			poll = 250 * time.Millisecond
		}
	}
	go w.run(ctx, initial, notify, poll)
	return w.out, nil
}

type key struct{ kind, name string }

// fileState is what the watcher knows about one file.
type fileState struct {
	ino, size uint64
	mtime     time.Time
	res       api.Resource // last good content; nil if never readable
	enc       []byte       // canonical encoding of res
}

type watcher struct {
	f       *File
	known   map[key]*fileState
	dirErrs map[string]string // kind -> last reported directory error
	out     chan Event
}

func (w *watcher) run(ctx context.Context, initial []Event, notify *fsnotify.Watcher, poll time.Duration) {
	defer close(w.out)
	var notifyEvents <-chan fsnotify.Event
	var notifyErrors <-chan error
	if notify != nil {
		defer notify.Close()
		notifyEvents, notifyErrors = notify.Events, notify.Errors
	}
	for _, ev := range initial {
		if !w.send(ctx, ev) {
			return
		}
	}
	if !w.send(ctx, Event{Type: EventSynced}) {
		return
	}
	ticker := time.NewTicker(poll)
	defer ticker.Stop()
	// debounce coalesces a burst of inotify events into one rescan.
	var debounce <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case _, ok := <-notifyEvents:
			if !ok {
				notifyEvents = nil
				continue
			}
			if debounce == nil {
				debounce = time.After(10 * time.Millisecond)
			}
			continue
		case _, ok := <-notifyErrors:
			if !ok {
				notifyErrors = nil
			}
			// An overflow or error: the periodic rescan catches up.
			continue
		case <-debounce:
			debounce = nil
		case <-ticker.C:
		}
		for _, ev := range w.scan() {
			if !w.send(ctx, ev) {
				return
			}
		}
	}
}

func (w *watcher) send(ctx context.Context, ev Event) bool {
	select {
	case w.out <- ev:
		return true
	case <-ctx.Done():
		return false
	}
}

// scan compares the directory with what the watcher knows and returns the
// differences as events, in kind then name order.
func (w *watcher) scan() []Event {
	var evs []Event
	seen := map[key]bool{}
	for _, kind := range api.Kinds {
		names, err := w.f.names(kind)
		if err != nil {
			// The directory is unreadable right now: report it (once) and
			// keep the last known state rather than deleting everything.
			if w.dirErrs[kind] != err.Error() {
				w.dirErrs[kind] = err.Error()
				evs = append(evs, Event{Type: EventError, Kind: kind, Err: err})
			}
			for k := range w.known {
				if k.kind == kind {
					seen[k] = true
				}
			}
			continue
		}
		delete(w.dirErrs, kind)
		for _, name := range names {
			k := key{kind, name}
			seen[k] = true
			if ev, ok := w.check(k); ok {
				evs = append(evs, ev)
			}
		}
	}
	for _, kind := range api.Kinds { // deletions, in order
		var gone []string
		for k := range w.known {
			if k.kind == kind && !seen[k] {
				gone = append(gone, k.name)
			}
		}
		slices.Sort(gone)
		for _, name := range gone {
			k := key{kind, name}
			st := w.known[k]
			delete(w.known, k)
			if st.res != nil {
				evs = append(evs, Event{Type: EventDeleted, Kind: kind, Name: name, Resource: st.res})
			}
		}
	}
	return evs
}

// check stats one file and reads it again if it changed.
func (w *watcher) check(k key) (Event, bool) {
	p := filepath.Join(w.f.kindDir(k.kind), k.name+".yaml")
	fi, err := os.Stat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return Event{}, false // removed since the directory read; next scan
	}
	if err != nil {
		return Event{Type: EventError, Kind: k.kind, Name: k.name, Err: err}, true
	}
	var ino uint64
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		ino = st.Ino
	}
	old := w.known[k]
	if old != nil && old.ino == ino && old.size == uint64(fi.Size()) && old.mtime.Equal(fi.ModTime()) {
		return Event{}, false
	}
	st := &fileState{ino: ino, size: uint64(fi.Size()), mtime: fi.ModTime()}
	if old != nil {
		st.res, st.enc = old.res, old.enc
	}
	w.known[k] = st
	r, err := readFile(p, k.kind, k.name)
	if errors.Is(err, fs.ErrNotExist) {
		delete(w.known, k)
		if old != nil {
			w.known[k] = old // let the next scan report the deletion
		}
		return Event{}, false
	}
	if err != nil {
		return Event{Type: EventError, Kind: k.kind, Name: k.name, Resource: st.res, Err: err}, true
	}
	enc, err := config.Encode(r, "yaml")
	if err != nil {
		return Event{Type: EventError, Kind: k.kind, Name: k.name, Resource: st.res, Err: err}, true
	}
	prev := st.res
	st.res, st.enc = r, enc
	switch {
	case prev == nil:
		return Event{Type: EventAdded, Kind: k.kind, Name: k.name, Resource: r}, true
	case !bytes.Equal(old.enc, enc):
		return Event{Type: EventModified, Kind: k.kind, Name: k.name, Resource: r}, true
	}
	return Event{}, false
}
