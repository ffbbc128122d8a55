package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/spf13/pflag"

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
		return k8s.NewDatastore(cfg, k8s.Options{Mode: m})
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
