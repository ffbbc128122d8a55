package store

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/kbgp/kbgp/api"
	"github.com/kbgp/kbgp/internal/config"
)

// File is the embedded datastore: a directory with one canonical YAML file
// per resource at <dir>/<kind-lower-case>/<name>.yaml (for example
// bgppeer/rack1-tor.yaml), and a lock file <dir>/.lock that also holds
// the store revision. Several File values, in one process or many, may use
// the same directory at once.
type File struct {
	dir  string
	opts Options
}

// Options tune a File. The zero value is the default.
type Options struct {
	// PollInterval is how often Watch rescans the directory. With fsnotify
	// working this is only a safety net (default 1s); without it, it is
	// how changes are found (default 250ms).
	PollInterval time.Duration
	// NoFSNotify makes Watch rely on polling alone.
	NoFSNotify bool
}

var _ Datastore = (*File)(nil)

// Dir picks the store directory: flag if set, else $KBGP_STORE, else
// DefaultDir.
func Dir(flag string) string {
	if flag != "" {
		return flag
	}
	if d := os.Getenv(EnvDir); d != "" {
		return d
	}
	return DefaultDir
}

// Open opens (creating if needed) the file store in dir.
func Open(dir string, opts *Options) (*File, error) {
	f := &File{dir: dir}
	if opts != nil {
		f.opts = *opts
	}
	for _, k := range api.Kinds {
		if err := os.MkdirAll(f.kindDir(k), 0o755); err != nil {
			return nil, fmt.Errorf("store %s: %w (use --store DIR or %s to pick another directory)", dir, err, EnvDir)
		}
	}
	// Remove temporary files left by a writer that crashed between create
	// and rename. Under the lock no write is in progress, so every
	// temporary file is stale.
	lf, err := f.lock(context.Background())
	if err != nil {
		return nil, err
	}
	defer lf.Close()
	for _, k := range api.Kinds {
		tmps, _ := filepath.Glob(filepath.Join(f.kindDir(k), ".*.tmp-*"))
		for _, t := range tmps {
			os.Remove(t)
		}
	}
	return f, nil
}

// Path is the store directory.
func (f *File) Path() string { return f.dir }

func (f *File) kindDir(kind string) string { return filepath.Join(f.dir, strings.ToLower(kind)) }

// nameRE is the Kubernetes object name rule (DNS-1123 subdomain), which
// also keeps names safe as file names.
var nameRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)

func (f *File) path(kind, name string) (string, error) {
	if _, ok := kindNames[kind]; !ok {
		return "", fmt.Errorf("unknown kind %q; want one of %s", kind, strings.Join(api.Kinds, ", "))
	}
	if len(name) > 253 || !nameRE.MatchString(name) {
		return "", fmt.Errorf("%s name %q is invalid: want lower-case letters, digits, '-' and '.', starting and ending with a letter or digit, at most 253 characters", kind, name)
	}
	return filepath.Join(f.kindDir(kind), name+".yaml"), nil
}

// lock takes the store-wide write lock: flock on <dir>/.lock, which also
// holds the store revision. Closing the returned file releases the lock.
func (f *File) lock(ctx context.Context) (*os.File, error) {
	lf, err := os.OpenFile(filepath.Join(f.dir, ".lock"), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("store %s: lock: %w", f.dir, err)
	}
	for {
		err = unix.Flock(int(lf.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			return lf, nil
		}
		if !errors.Is(err, unix.EWOULDBLOCK) && !errors.Is(err, unix.EINTR) {
			lf.Close()
			return nil, fmt.Errorf("store %s: lock %s: %w", f.dir, lf.Name(), err)
		}
		select {
		case <-ctx.Done():
			lf.Close()
			return nil, fmt.Errorf("store %s: waiting for the lock: %w", f.dir, ctx.Err())
		case <-time.After(time.Millisecond):
		}
	}
}

// readFile decodes the resource stored at p, checking that it is the
// resource its path says.
func readFile(p, kind, name string) (api.Resource, error) {
	data, err := os.ReadFile(p)
	if err != nil {
		return nil, err
	}
	rs, err := config.Decode(p, data)
	if err != nil {
		return nil, fmt.Errorf("%w (fix the file with `kbgp apply`, or delete it)", err)
	}
	if len(rs) != 1 || rs[0].Kind() != kind || rs[0].Name() != name {
		return nil, fmt.Errorf("%s: expected exactly one %s named %q in this file (delete it, then `kbgp apply` the resource)", p, kind, name)
	}
	return rs[0], nil
}

// List implements Datastore.
func (f *File) List(ctx context.Context) ([]api.Resource, error) {
	var out []api.Resource
	var errs []error
	for _, kind := range api.Kinds {
		names, err := f.names(kind)
		if err != nil {
			return nil, err
		}
		for _, name := range names {
			r, err := readFile(filepath.Join(f.kindDir(kind), name+".yaml"), kind, name)
			switch {
			case errors.Is(err, fs.ErrNotExist):
				// deleted since ReadDir
			case err != nil:
				errs = append(errs, err)
			default:
				out = append(out, r)
			}
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

// names lists the resource names of kind, sorted.
func (f *File) names(kind string) ([]string, error) {
	ents, err := os.ReadDir(f.kindDir(kind))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("store %s: %w", f.dir, err)
	}
	var names []string
	for _, e := range ents {
		n := e.Name()
		if strings.HasPrefix(n, ".") || !strings.HasSuffix(n, ".yaml") || !e.Type().IsRegular() {
			continue
		}
		names = append(names, strings.TrimSuffix(n, ".yaml"))
	}
	slices.Sort(names)
	return names, nil
}

// Get implements Datastore.
func (f *File) Get(ctx context.Context, kind, name string) (api.Resource, error) {
	p, err := f.path(kind, name)
	if err != nil {
		return nil, err
	}
	r, err := readFile(p, kind, name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, &NotFoundError{Kind: kind, Name: name}
	}
	return r, err
}

// Apply implements Datastore. It sets r's metadata.resourceVersion, uid and
// creationTimestamp to the stored values.
func (f *File) Apply(ctx context.Context, r api.Resource) (Result, error) {
	if err := config.Validate(r); err != nil {
		return 0, err
	}
	p, err := f.path(r.Kind(), r.Name())
	if err != nil {
		return 0, err
	}
	lf, err := f.lock(ctx)
	if err != nil {
		return 0, err
	}
	defer lf.Close()
	old, err := readFile(p, r.Kind(), r.Name())
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		// An unreadable file is replaced, and that counts as configuring it.
		return f.store(lf, p, nil, true, r)
	}
	return f.store(lf, p, old, false, r)
}

// Update implements Datastore.
func (f *File) Update(ctx context.Context, kind, name string, edit func(api.Resource) error) (Result, error) {
	p, err := f.path(kind, name)
	if err != nil {
		return 0, err
	}
	lf, err := f.lock(ctx)
	if err != nil {
		return 0, err
	}
	defer lf.Close()
	old, err := readFile(p, kind, name)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, &NotFoundError{Kind: kind, Name: name}
	}
	if err != nil {
		return 0, err
	}
	r, err := readFile(p, kind, name) // a private copy for edit to change
	if err != nil {
		return 0, err
	}
	if err := edit(r); err != nil {
		return 0, err
	}
	if r.Kind() != kind || r.Name() != name {
		return 0, fmt.Errorf("%s/%s: an update may not change the kind or name (got %s/%s)", kind, name, r.Kind(), r.Name())
	}
	if err := config.Validate(r); err != nil {
		return 0, err
	}
	return f.store(lf, p, old, false, r)
}

// store writes r to p unless its content equals old's. replacing says that
// an unreadable file is being overwritten. The lock is held.
func (f *File) store(lf *os.File, p string, old api.Resource, replacing bool, r api.Resource) (Result, error) {
	m := r.Meta()
	res := Created
	if replacing {
		res = Configured
	}
	if old != nil {
		same, err := sameContent(old, r)
		if err != nil {
			return 0, err
		}
		om := old.Meta()
		m.UID, m.CreationTimestamp = om.UID, om.CreationTimestamp
		if same {
			m.ResourceVersion = om.ResourceVersion
			return Unchanged, nil
		}
		res = Configured
	}
	if m.UID == "" {
		m.UID = newUID()
	}
	if m.CreationTimestamp.IsZero() {
		m.CreationTimestamp = time.Now().UTC().Truncate(time.Second)
	}
	rev, err := bumpRevision(lf)
	if err != nil {
		return 0, fmt.Errorf("store %s: %w", f.dir, err)
	}
	m.ResourceVersion = strconv.FormatUint(rev, 10)
	data, err := config.Encode(r, "yaml")
	if err != nil {
		return 0, err
	}
	if err := writeAtomic(p, data); err != nil {
		return 0, fmt.Errorf("store %s: %w", f.dir, err)
	}
	return res, nil
}

// sameContent compares two resources by canonical encoding, ignoring the
// fields the store sets.
func sameContent(a, b api.Resource) (bool, error) {
	ea, err := contentBytes(a)
	if err != nil {
		return false, err
	}
	eb, err := contentBytes(b)
	if err != nil {
		return false, err
	}
	return bytes.Equal(ea, eb), nil
}

func contentBytes(r api.Resource) ([]byte, error) {
	m := r.Meta()
	saved := *m
	m.ResourceVersion, m.UID, m.CreationTimestamp = "", "", time.Time{}
	defer func() { *m = saved }()
	return config.Encode(r, "yaml")
}

// Delete implements Datastore.
func (f *File) Delete(ctx context.Context, kind, name string) error {
	p, err := f.path(kind, name)
	if err != nil {
		return err
	}
	lf, err := f.lock(ctx)
	if err != nil {
		return err
	}
	defer lf.Close()
	if err := os.Remove(p); errors.Is(err, fs.ErrNotExist) {
		return &NotFoundError{Kind: kind, Name: name}
	} else if err != nil {
		return fmt.Errorf("store %s: %w", f.dir, err)
	}
	if err := syncDir(filepath.Dir(p)); err != nil {
		return fmt.Errorf("store %s: %w", f.dir, err)
	}
	if _, err := bumpRevision(lf); err != nil {
		return fmt.Errorf("store %s: %w", f.dir, err)
	}
	return nil
}

// bumpRevision increments the store revision, kept as decimal text in the
// lock file, which the caller holds locked. The counter is not fsynced: a
// crash may lose the last increments, so resourceVersion values are
// unique while the machine stays up and always increase within a run of
// the store, which is what watchers compare.
func bumpRevision(lf *os.File) (uint64, error) {
	buf := make([]byte, 32)
	n, err := lf.ReadAt(buf, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return 0, fmt.Errorf("read revision from %s: %w", lf.Name(), err)
	}
	rev, _ := strconv.ParseUint(strings.TrimSpace(string(buf[:n])), 10, 64)
	rev++
	text := strconv.FormatUint(rev, 10) + "\n"
	if _, err := lf.WriteAt([]byte(text), 0); err != nil {
		return 0, fmt.Errorf("write revision to %s: %w", lf.Name(), err)
	}
	if err := lf.Truncate(int64(len(text))); err != nil {
		return 0, fmt.Errorf("write revision to %s: %w", lf.Name(), err)
	}
	return rev, nil
}

// writeAtomic replaces p with data so that readers see either the old or
// the new content, even across a crash: write a temporary file in the same
// directory, fsync it, rename it over p, fsync the directory.
func writeAtomic(p string, data []byte) (err error) {
	dir, base := filepath.Split(p)
	tmp, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err = tmp.Write(data); err != nil {
		return err
	}
	if err = tmp.Chmod(0o644); err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp.Name(), p); err != nil {
		return err
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// newUID returns a random RFC 9562 version 4 UUID.
func newUID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
