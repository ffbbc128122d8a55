package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/spf13/pflag"

	"github.com/kbgp/kbgp/internal/agent"
	"github.com/kbgp/kbgp/internal/k8s"
	"github.com/kbgp/kbgp/internal/status"
	"github.com/kbgp/kbgp/internal/store"
)

// datastoreFlags select the datastore: the file store (default) or the
// Kubernetes API server (--datastore kubernetes, Calico's
// DATASTORE_TYPE=kubernetes).
type datastoreFlags struct {
	kind, kubeconfig, mode string
}

func (d *datastoreFlags) register(f *pflag.FlagSet) {
	f.StringVar(&d.kind, "datastore", "", "file or kubernetes (default $DATASTORE_TYPE, else file)")
	f.StringVar(&d.kubeconfig, "kubeconfig", "", "kubeconfig for --datastore kubernetes (default: in-cluster, else $KUBECONFIG or ~/.kube/config)")
	f.StringVar(&d.mode, "kube-resources", "", "with --datastore kubernetes: kbgp (kbgp.io/v1 CRDs) or calico (Calico's crd.projectcalico.org/v1 CRDs) (default $KBGP_KUBE_RESOURCES, else kbgp)")
}

// open opens the selected datastore; storeDir is the file store's
// --store flag.
func (d *datastoreFlags) open(storeDir string) (store.Datastore, error) {
	kind := d.kind
	if kind == "" {
		kind = os.Getenv("DATASTORE_TYPE")
	}
	switch kind {
	case "", "file", "etcdv3file":
		ds, err := store.Open(store.Dir(storeDir), nil)
		if err != nil {
			return nil, fmt.Errorf("opening the datastore: %w", err)
		}
		return ds, nil
	case "kubernetes", "k8s":
		mode := d.mode
		if mode == "" {
			mode = os.Getenv("KBGP_KUBE_RESOURCES")
		}
		m, err := k8s.ParseMode(mode)
		if err != nil {
			return nil, err
		}
		cfg, err := k8s.RESTConfig(d.kubeconfig)
		if err != nil {
			return nil, err
		}
		// Services reach the agent through serviceSource, not the
		// resource watch.
		return k8s.NewDatastore(cfg, k8s.Options{Mode: m, NoServices: true})
	}
	return nil, fmt.Errorf("--datastore %q: want file or kubernetes", kind)
}

// reportStatus writes the node's NodeBGPStatus every 10 s when ds is the
// Kubernetes datastore, until ctx ends; with the file store it does
// nothing (`kbgp node status` reads the agent's socket instead).
func reportStatus(ctx context.Context, ds store.Datastore, node string, p status.Provider, log *slog.Logger) {
	k, ok := ds.(*k8s.Datastore)
	if !ok {
		return
	}
	go k.ReportStatus(ctx, node, p, 10*time.Second, func(err error) {
		log.Warn("writing the NodeBGPStatus failed; retrying", "node", node, "err", err)
	})
}

// serviceSource is the agent's ServiceSource for ds: Services and
// EndpointSlices from the API server with the Kubernetes datastore, nil
// (no services, or --services FILE) with the file store.
func serviceSource(ds store.Datastore) agent.ServiceSource {
	if k, ok := ds.(*k8s.Datastore); ok {
		return kubeServices{k}
	}
	return nil
}

// kubeServices adapts the Kubernetes datastore's service watch to
// agent.ServiceSource: after the initial listing and after every change
// it sends the complete current set.
type kubeServices struct{ d *k8s.Datastore }

func (s kubeServices) Watch(ctx context.Context) (<-chan agent.ServiceSet, error) {
	events, err := s.d.WatchServices(ctx)
	if err != nil {
		return nil, err
	}
	out := make(chan agent.ServiceSet)
	go func() {
		defer close(out)
		var c store.Cache
		for ev := range events {
			if !c.Apply(ev) || !c.Synced() {
				continue
			}
			select {
			case out <- agent.ServiceSet{Services: k8s.Services(c.Resources())}:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out, nil
}

// defaultSecretsDir is where the file-store agent looks for BGP password
// secrets when neither --secrets-dir nor $KBGP_SECRETS_DIR says.
const defaultSecretsDir = "/etc/kbgp/secrets"

// secretSource is the agent's SecretSource: a directory when --secrets-dir
// (or $KBGP_SECRETS_DIR) is given or the datastore is the file store, the
// Secrets of the agent's namespace with the Kubernetes datastore.
func secretSource(ds store.Datastore, dir, namespace string) agent.SecretSource {
	if dir == "" {
		dir = os.Getenv("KBGP_SECRETS_DIR")
	}
	if k, ok := ds.(*k8s.Datastore); ok && dir == "" {
		if namespace == "" {
			namespace = k8s.AgentNamespace()
		}
		return kubeSecrets{k, namespace}
	}
	if dir == "" {
		dir = defaultSecretsDir
	}
	return agent.FileSecrets{Dir: dir}
}

// kubeSecrets adapts the Kubernetes datastore's secret watch to
// agent.SecretSource.
type kubeSecrets struct {
	d         *k8s.Datastore
	namespace string
}

func (s kubeSecrets) Watch(ctx context.Context) (<-chan agent.SecretSet, error) {
	out := make(chan agent.SecretSet)
	go func() {
		defer close(out)
		send := func(set agent.SecretSet) bool {
			select {
			case out <- set:
				return true
			case <-ctx.Done():
				return false
			}
		}
		// Without permission to read Secrets (an older RBAC, or a cluster
		// that keeps BGP passwords elsewhere) the agent still runs: the
		// error is reported, sessions with a password stay unresolved, and
		// the watch is retried.
		for {
			in, err := s.d.WatchSecrets(ctx, s.namespace)
			if err == nil {
				for m := range in {
					if !send(agent.SecretSet{Secrets: m}) {
						return
					}
				}
				return
			}
			if !send(agent.SecretSet{Err: err}) {
				return
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(30 * time.Second):
			}
		}
	}()
	return out, nil
}
