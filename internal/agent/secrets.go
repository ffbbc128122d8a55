package agent

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// SecretSet is one complete, current view of the secrets BGP passwords
// may refer to: Secrets[name][key] is the value of key in Secret name
// (BGPPeer spec.password.secretKeyRef, BGPConfiguration
// spec.nodeMeshPassword.secretKeyRef). Err, when set, says the source
// could not be read; Secrets is then the last good set, so sessions keep
// the passwords they have.
type SecretSet struct {
	Secrets map[string]map[string]string
	Err     error
}

// SecretSource feeds the agent the secrets BGP passwords refer to. Watch
// sends the current set first, then a new complete set after every change,
// until ctx ends; the channel is closed then. FileSecrets reads a
// directory; the Kubernetes datastore implements the same interface from
// the Secrets of the agent's namespace, which is where Calico requires
// them too.
type SecretSource interface {
	Watch(ctx context.Context) (<-chan SecretSet, error)
}

// FileSecrets is a SecretSource reading a directory laid out as
// DIR/SECRET/KEY, one file per key holding the value: the layout of a
// Kubernetes projected volume with one directory per Secret, or of files
// written by hand. Names starting with "." are skipped (Kubernetes keeps
// its atomic-update machinery in ..data and ..TIMESTAMP entries). One
// trailing newline is removed from a value, since `echo pw > file` adds
// one and no TCP MD5 key ends in a newline on purpose. The directory is
// re-read every Poll (default 1 s). A directory that does not exist is an
// empty set, so --secrets-dir can default to a path that only some nodes
// have; an unreadable one is an error that keeps the last good set.
type FileSecrets struct {
	Dir  string
	Poll time.Duration
}

// Watch implements SecretSource.
func (f FileSecrets) Watch(ctx context.Context) (<-chan SecretSet, error) {
	if f.Dir == "" {
		return nil, errors.New("secrets directory: no path")
	}
	poll := f.Poll
	if poll <= 0 {
		poll = time.Second
	}
	ch := make(chan SecretSet, 1)
	go pollLoop(ctx, poll,
		func() (map[string]map[string]string, error) { return ReadSecretsDir(f.Dir) },
		equalSecrets,
		func(m map[string]map[string]string, err error) SecretSet { return SecretSet{Secrets: m, Err: err} },
		ch)
	return ch, nil
}

// maxSecretSize bounds one value: TCP MD5 keys are at most 80 bytes
// (TCP_MD5SIG_MAXKEYLEN); anything much larger is not a BGP password.
const maxSecretSize = 4096

// ReadSecretsDir reads a FileSecrets directory once. A missing directory
// is an empty set.
func ReadSecretsDir(dir string) (map[string]map[string]string, error) {
	out := map[string]map[string]string{}
	secrets, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return out, nil
	}
	if err != nil {
		return nil, fmt.Errorf("secrets directory: %w", err)
	}
	var errs []error
	for _, s := range secrets {
		if strings.HasPrefix(s.Name(), ".") {
			continue
		}
		sdir := filepath.Join(dir, s.Name())
		if fi, err := os.Stat(sdir); err != nil || !fi.IsDir() {
			if err != nil {
				errs = append(errs, fmt.Errorf("secret %s: %w", sdir, err))
			}
			continue // a file at the top level is not a Secret
		}
		keys, err := os.ReadDir(sdir)
		if err != nil {
			errs = append(errs, fmt.Errorf("secret %s: %w", sdir, err))
			continue
		}
		m := map[string]string{}
		for _, k := range keys {
			if strings.HasPrefix(k.Name(), ".") {
				continue
			}
			path := filepath.Join(sdir, k.Name())
			fi, err := os.Stat(path)
			if err != nil {
				errs = append(errs, fmt.Errorf("secret %s key %s: %w", s.Name(), k.Name(), err))
				continue
			}
			if fi.IsDir() {
				continue
			}
			if fi.Size() > maxSecretSize {
				errs = append(errs, fmt.Errorf("secret %s key %s: %s is %d bytes, more than a BGP password can be", s.Name(), k.Name(), path, fi.Size()))
				continue
			}
			b, err := os.ReadFile(path)
			if err != nil {
				errs = append(errs, fmt.Errorf("secret %s key %s: %w", s.Name(), k.Name(), err))
				continue
			}
			m[k.Name()] = strings.TrimSuffix(string(b), "\n")
		}
		out[s.Name()] = m
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

func equalSecrets(a, b map[string]map[string]string) bool {
	return maps.EqualFunc(a, b, func(x, y map[string]string) bool { return maps.Equal(x, y) })
}

// secretNames lists "secret/key" pairs for logs, never the values.
func secretNames(s map[string]map[string]string) []string {
	var out []string
	for name, keys := range s {
		for k := range keys {
			out = append(out, name+"/"+k)
		}
	}
	sort.Strings(out)
	return out
}

// setSecrets records a set from the secret source and reports whether the
// desired state must be recompiled.
func (a *Agent) setSecrets(set SecretSet) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	first := !a.secSynced
	a.secSynced = true
	if set.Err != nil {
		if a.secErr != set.Err.Error() {
			a.log.Error("secrets unreadable; keeping the last good set", "err", set.Err, "secrets", len(a.secrets))
			a.gauges.errors.Inc()
		}
		a.secErr = set.Err.Error()
		return first
	}
	if a.secErr != "" {
		a.log.Info("secrets readable again")
	}
	a.secErr = ""
	changed := first || !equalSecrets(a.secrets, set.Secrets)
	a.secrets = set.Secrets
	if changed {
		a.log.Info("secrets updated", "keys", secretNames(set.Secrets))
	}
	return changed
}

// secretsSynced reports whether the secret source has sent its first set
// (always true without a source).
func (a *Agent) secretsSynced() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.secSynced
}

// sourcesSynced reports whether the service and secret sources have both
// sent their first set: before that a compile would drop service routes or
// configure sessions without their passwords.
func (a *Agent) sourcesSynced() bool {
	return a.servicesSynced() && a.secretsSynced()
}
