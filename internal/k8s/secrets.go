package k8s

import (
	"context"
	"fmt"
	"maps"
	"os"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"
)

// DefaultNamespace is the namespace deploy/ installs kbgp into.
const DefaultNamespace = "kbgp-system"

// serviceAccountNamespace is where a pod's service account token mount
// names the pod's namespace.
const serviceAccountNamespace = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"

// AgentNamespace is the namespace the agent runs in, where it reads the
// Secrets of BGP passwords (Calico requires them in calico-node's
// namespace too): $POD_NAMESPACE (deploy/daemonset.yaml sets it from the
// downward API), else the service account's namespace file, else
// DefaultNamespace.
func AgentNamespace() string {
	if ns := os.Getenv("POD_NAMESPACE"); ns != "" {
		return ns
	}
	if b, err := os.ReadFile(serviceAccountNamespace); err == nil {
		if ns := strings.TrimSpace(string(b)); ns != "" {
			return ns
		}
	}
	return DefaultNamespace
}

// WatchSecrets watches the Secrets of one namespace and sends their data
// as Secrets[name][key] = value: the complete set after the initial
// listing and after every change that alters it, until ctx ends (the
// channel is closed then). These are what BGPPeer spec.password and
// BGPConfiguration spec.nodeMeshPassword secretKeyRefs name. Reading
// Secrets needs the namespaced Role in deploy/rbac.yaml; a missing
// permission is an error from WatchSecrets, not a silent hang.
func (d *Datastore) WatchSecrets(ctx context.Context, namespace string) (<-chan map[string]map[string]string, error) {
	if _, err := d.kube.CoreV1().Secrets(namespace).List(ctx, metav1.ListOptions{Limit: 1}); err != nil {
		return nil, secretsError(namespace, err)
	}
	f := informers.NewSharedInformerFactoryWithOptions(d.kube, resyncPeriod, informers.WithNamespace(namespace))
	inf := f.Core().V1().Secrets()
	lister := inf.Lister()
	wake := make(chan struct{}, 1)
	poke := func() {
		select {
		case wake <- struct{}{}:
		default:
		}
	}
	if _, err := inf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { poke() },
		UpdateFunc: func(any, any) { poke() },
		DeleteFunc: func(any) { poke() },
	}); err != nil {
		return nil, fmt.Errorf("kubernetes datastore: watching secrets in %s: %w", namespace, err)
	}
	stop := make(chan struct{})
	f.Start(stop)
	out := make(chan map[string]map[string]string)
	go func() {
		defer close(out)
		defer func() {
			close(stop)
			f.Shutdown()
		}()
		if !cache.WaitForCacheSync(ctx.Done(), inf.Informer().HasSynced) {
			return
		}
		var last map[string]map[string]string
		sent := false
		for {
			cur := map[string]map[string]string{}
			list, err := lister.Secrets(namespace).List(labels.Everything())
			if err == nil {
				for _, s := range list {
					cur[s.Name] = secretData(s)
				}
				if !sent || !maps.EqualFunc(cur, last, func(a, b map[string]string) bool { return maps.Equal(a, b) }) {
					select {
					case out <- cur:
						last, sent = cur, true
					case <-ctx.Done():
						return
					}
				}
			}
			select {
			case <-ctx.Done():
				return
			case <-wake:
			}
		}
	}()
	return out, nil
}

// secretData is a Secret's data as strings; stringData is folded into
// data by the API server on write, so only data is read.
func secretData(s *corev1.Secret) map[string]string {
	m := make(map[string]string, len(s.Data))
	for k, v := range s.Data {
		m[k] = string(v)
	}
	return m
}

func secretsError(namespace string, err error) error {
	if apierrors.IsForbidden(err) {
		return fmt.Errorf("kubernetes datastore: listing secrets in namespace %s: %w (BGP passwords are read from the agent's namespace: check the kbgp-secrets Role in deploy/rbac.yaml, or set --secrets-namespace)", namespace, err)
	}
	return fmt.Errorf("kubernetes datastore: listing secrets in namespace %s: %w", namespace, err)
}
