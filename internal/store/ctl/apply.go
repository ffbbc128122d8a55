// Package ctl implements kbgp's kubectl-style resource commands (apply,
// get, delete, label, annotate) over a store.Datastore, with kubectl's
// messages: `bgppeer.projectcalico.org/rack1-tor created`,
// `nodes "x" not found`. The cobra wiring lives in cmd/kbgp.
package ctl

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/kbgp/kbgp/api"
	"github.com/kbgp/kbgp/internal/config"
	"github.com/kbgp/kbgp/internal/store"
)

// Stdin is the file name that means standard input, as in `apply -f -`.
const Stdin = "-"

// stdinName names standard input in messages.
const stdinName = "<stdin>"

// ref is how kubectl names a resource in messages: kind.group/name.
func ref(r api.Resource) string { return typeName(r) + "/" + r.Name() }

// typeName is kind.group, e.g. bgppeer.projectcalico.org.
func typeName(r api.Resource) string {
	group := "projectcalico.org"
	if r.APIVersion() == api.KBGPV1 {
		group = "kbgp.io"
	}
	return store.Singular(r.Kind()) + "." + group
}

// source is one input: a file name (or stdinName) and its content.
type source struct {
	name string
	data []byte
}

// readSources expands the -f arguments: "-" is stdin, a directory means
// its *.yaml, *.yml and *.json files in name order (all levels below it
// when recursive), anything else is a file.
func readSources(paths []string, recursive bool, stdin io.Reader) ([]source, error) {
	if len(paths) == 0 {
		return nil, errors.New("no input: give -f FILE, -f DIR or -f - (standard input)")
	}
	var out []source
	for _, p := range paths {
		if p == Stdin {
			data, err := io.ReadAll(stdin)
			if err != nil {
				return nil, fmt.Errorf("reading standard input: %w", err)
			}
			out = append(out, source{stdinName, data})
			continue
		}
		fi, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("the path %q does not exist or cannot be read: %w", p, unwrapPath(err))
		}
		if !fi.IsDir() {
			data, err := os.ReadFile(p)
			if err != nil {
				return nil, err
			}
			out = append(out, source{p, data})
			continue
		}
		var files []string
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				if path != p && !recursive {
					return filepath.SkipDir
				}
				return nil
			}
			switch strings.ToLower(filepath.Ext(path)) {
			case ".yaml", ".yml", ".json":
				files = append(files, path)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		if len(files) == 0 {
			return nil, fmt.Errorf("directory %s holds no .yaml, .yml or .json files", p)
		}
		slices.Sort(files)
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				return nil, err
			}
			out = append(out, source{f, data})
		}
	}
	return out, nil
}

func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// ErrReported is returned when the errors of individual files or
// resources have already been written to the error output; its message is
// empty so that the caller only sets the exit status.
var ErrReported = errors.New("")

// Apply creates or replaces the resources in paths (see readSources),
// printing one line per resource to out: `<kind>.<group>/<name>
// created|configured|unchanged`.
//
// Each file is all or nothing: a file with any decoding or validation
// error applies nothing, and every problem in it is reported with its
// file, line, resource and field. Other files are still applied, as
// kubectl does. The result is an error if anything failed.
func Apply(ctx context.Context, ds store.Datastore, paths []string, recursive bool, stdin io.Reader, out, errOut io.Writer) error {
	srcs, err := readSources(paths, recursive, stdin)
	if err != nil {
		return err
	}
	failed := false
	for _, src := range srcs {
		rs, err := config.Decode(src.name, src.data)
		if err != nil {
			printErr(errOut, "", err)
			failed = true
			continue
		}
		if len(rs) == 0 {
			fmt.Fprintf(errOut, "error: %s: no resources found\n", src.name)
			failed = true
			continue
		}
		for _, r := range rs {
			var dropped []string
			if old, err := ds.Get(ctx, r.Kind(), r.Name()); err == nil {
				dropped = droppedKeys(old.Meta(), r.Meta())
			}
			res, err := ds.Apply(ctx, r)
			if err != nil {
				printErr(errOut, src.name+": "+ref(r)+": ", err)
				failed = true
				continue
			}
			fmt.Fprintf(out, "%s %s\n", ref(r), res)
			if res == store.Configured && len(dropped) > 0 {
				fmt.Fprintf(errOut, "warning: %s: apply removed %s (not in %s); add to the file, or set again with kbgp label/annotate\n",
					ref(r), strings.Join(dropped, ", "), src.name)
			}
		}
	}
	if failed {
		return ErrReported
	}
	return nil
}

// DeleteFiles deletes the resources named in paths (their kinds and
// names; the rest of each resource is ignored), printing
// `<kind>.<group> "<name>" deleted` for each.
func DeleteFiles(ctx context.Context, ds store.Datastore, paths []string, recursive, ignoreNotFound bool, stdin io.Reader, out, errOut io.Writer) error {
	srcs, err := readSources(paths, recursive, stdin)
	if err != nil {
		return err
	}
	failed := false
	for _, src := range srcs {
		rs, err := config.Decode(src.name, src.data)
		if err != nil {
			printErr(errOut, "", err)
			failed = true
			continue
		}
		for _, r := range rs {
			if !deleteOne(ctx, ds, r.Kind(), r.Name(), typeName(r), ignoreNotFound, src.name+": ", out, errOut) {
				failed = true
			}
		}
	}
	if failed {
		return ErrReported
	}
	return nil
}

// Delete deletes the named resources of one kind (as typed on the command
// line, e.g. "bgppeers").
func Delete(ctx context.Context, ds store.Datastore, kindArg string, names []string, ignoreNotFound bool, out, errOut io.Writer) error {
	kind, err := store.ResolveKind(kindArg)
	if err != nil {
		return err
	}
	if len(names) == 0 {
		return fmt.Errorf("resource name(s) required: kbgp delete %s NAME", store.Singular(kind))
	}
	failed := false
	tn := typeName(api.New(kind))
	for _, name := range names {
		if !deleteOne(ctx, ds, kind, name, tn, ignoreNotFound, "", out, errOut) {
			failed = true
		}
	}
	if failed {
		return ErrReported
	}
	return nil
}

func deleteOne(ctx context.Context, ds store.Datastore, kind, name, tn string, ignoreNotFound bool, prefix string, out, errOut io.Writer) bool {
	err := ds.Delete(ctx, kind, name)
	switch {
	case err == nil:
		fmt.Fprintf(out, "%s %q deleted\n", tn, name)
	case store.IsNotFound(err) && ignoreNotFound:
	default:
		printErr(errOut, prefix, err)
		return false
	}
	return true
}

// printErr writes err to w as kubectl does, one "error: " line per
// problem (Decode and Validate join one error per field).
func printErr(w io.Writer, prefix string, err error) {
	if fes := config.FieldErrors(err); len(fes) > 0 {
		for _, fe := range fes {
			fmt.Fprintf(w, "error: %s%v\n", prefix, fe)
		}
		return
	}
	fmt.Fprintf(w, "error: %s%v\n", prefix, err)
}

// droppedKeys lists the labels and annotations of old that next lacks, as
// "label rack" / "annotation projectcalico.org/...". apply replaces the
// whole resource, so these are removed; often they were set with
// kbgp label, and the user should know.
func droppedKeys(old, next *api.ObjectMeta) []string {
	var out []string
	for _, k := range slices.Sorted(maps.Keys(old.Labels)) {
		if _, ok := next.Labels[k]; !ok {
			out = append(out, "label "+k)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(old.Annotations)) {
		if _, ok := next.Annotations[k]; !ok {
			out = append(out, "annotation "+k)
		}
	}
	return out
}
