package k8s

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"slices"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/util/retry"

	"github.com/kbgp/kbgp/api"
	"github.com/kbgp/kbgp/internal/config"
	"github.com/kbgp/kbgp/internal/store"
)

// Options configure a Datastore.
type Options struct {
	// Mode says which custom resources hold the kbgp kinds (default
	// ModeKBGP).
	Mode Mode
	// NoServices stops Watch from watching Services and EndpointSlices
	// (for a route reflector that advertises no service addresses, or a
	// CLI that only edits resources).
	NoServices bool
}

// Datastore is store.Datastore over a Kubernetes API server: the kbgp
// kinds from custom resources (Options.Mode), Nodes from Kubernetes Nodes
// (FromNode), and, in Watch only, Services (ServiceResource).
type Datastore struct {
	opts Options
	kube kubernetes.Interface
	dyn  dynamic.Interface
}

var _ store.Datastore = (*Datastore)(nil)

// RESTConfig loads the client configuration: the kubeconfig file if one
// is given, else the in-cluster service account when running in a pod
// (KUBERNETES_SERVICE_HOST set), else $KUBECONFIG or ~/.kube/config, as
// kubectl does.
func RESTConfig(kubeconfig string) (*rest.Config, error) {
	if kubeconfig == "" && os.Getenv("KUBERNETES_SERVICE_HOST") != "" {
		c, err := rest.InClusterConfig()
		if err != nil {
			return nil, fmt.Errorf("kubernetes datastore: in-cluster config: %w", err)
		}
		return c, nil
	}
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if kubeconfig != "" {
		rules.ExplicitPath = kubeconfig
	}
	c, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{}).ClientConfig()
	if err != nil {
		where := kubeconfig
		if where == "" {
			where = "$KUBECONFIG or ~/.kube/config"
		}
		return nil, fmt.Errorf("kubernetes datastore: loading kubeconfig from %s: %w (outside a cluster, pass --kubeconfig)", where, err)
	}
	return c, nil
}

// NewDatastore returns a Datastore talking to the API server cfg
// describes. It does not contact the server; the first call does.
func NewDatastore(cfg *rest.Config, opts Options) (*Datastore, error) {
	cfg = rest.CopyConfig(cfg)
	if cfg.UserAgent == "" {
		cfg.UserAgent = "kbgp"
	}
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("kubernetes datastore: %w", err)
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("kubernetes datastore: %w", err)
	}
	return &Datastore{opts: opts, kube: kube, dyn: dyn}, nil
}

// Mode is the datastore's custom-resource mode.
func (d *Datastore) Mode() Mode { return d.opts.Mode }

// List implements store.Datastore: every kbgp resource (not Services),
// sorted by kind in api.Kinds order, then name.
func (d *Datastore) List(ctx context.Context) ([]api.Resource, error) {
	var out []api.Resource
	var errs []error
	for _, k := range crdKinds {
		gvr, _ := d.opts.Mode.gvr(k.kind)
		l, err := d.dyn.Resource(gvr).List(ctx, metav1.ListOptions{})
		if err != nil {
			return nil, d.apiError("listing", k.kind, "", err)
		}
		for i := range l.Items {
			r, err := d.opts.Mode.fromObject(&l.Items[i])
			if err != nil {
				errs = append(errs, err)
				continue
			}
			out = append(out, r)
		}
	}
	nodes, err := d.kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, d.apiError("listing", api.KindNode, "", err)
	}
	for i := range nodes.Items {
		n, err := FromNode(&nodes.Items[i])
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, n)
	}
	sortResources(out)
	return out, errors.Join(errs...)
}

func sortResources(rs []api.Resource) {
	idx := func(kind string) int {
		if i := slices.Index(api.Kinds, kind); i >= 0 {
			return i
		}
		return len(api.Kinds)
	}
	slices.SortFunc(rs, func(a, b api.Resource) int {
		return cmp.Or(cmp.Compare(idx(a.Kind()), idx(b.Kind())), cmp.Compare(a.Name(), b.Name()))
	})
}

// Get implements store.Datastore.
func (d *Datastore) Get(ctx context.Context, kind, name string) (api.Resource, error) {
	if kind == api.KindNode {
		n, err := d.kube.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return nil, d.apiError("reading", kind, name, err)
		}
		return FromNode(n)
	}
	gvr, ok := d.opts.Mode.gvr(kind)
	if !ok {
		return nil, fmt.Errorf("kubernetes datastore: unknown kind %q", kind)
	}
	u, err := d.dyn.Resource(gvr).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, d.apiError("reading", kind, name, err)
	}
	return d.opts.Mode.fromObject(u)
}

// Apply implements store.Datastore. A Node must already exist in
// Kubernetes (the kubelet registers it); Apply writes its labels and BGP
// annotations (see FromNode).
func (d *Datastore) Apply(ctx context.Context, r api.Resource) (store.Result, error) {
	if err := config.Validate(r); err != nil {
		return store.Unchanged, err
	}
	if r.Kind() == api.KindNode {
		return d.Update(ctx, api.KindNode, r.Name(), func(cur api.Resource) error {
			n := cur.(*api.Node)
			want := r.(*api.Node)
			n.Metadata.Labels, n.Metadata.Annotations = want.Metadata.Labels, want.Metadata.Annotations
			n.Spec = want.Spec
			if len(want.Spec.Addresses) == 0 {
				n.Spec.Addresses = nil
			}
			return nil
		})
	}
	gvr, ok := d.opts.Mode.gvr(r.Kind())
	if !ok {
		return store.Unchanged, fmt.Errorf("kubernetes datastore: unknown kind %q", r.Kind())
	}
	obj, err := d.opts.Mode.toObject(r)
	if err != nil {
		return store.Unchanged, err
	}
	res := d.dyn.Resource(gvr)
	var result store.Result
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur, err := res.Get(ctx, r.Name(), metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			_, err = res.Create(ctx, obj, metav1.CreateOptions{FieldManager: "kbgp"})
			result = store.Created
			return err
		}
		if err != nil {
			return err
		}
		if sameContent(cur, obj) {
			result = store.Unchanged
			return nil
		}
		upd := obj.DeepCopy()
		upd.SetResourceVersion(cur.GetResourceVersion())
		_, err = res.Update(ctx, upd, metav1.UpdateOptions{FieldManager: "kbgp"})
		result = store.Configured
		return err
	})
	if err != nil {
		return store.Unchanged, d.apiError("writing", r.Kind(), r.Name(), err)
	}
	return result, nil
}

// sameContent compares what kbgp writes: labels, annotations and spec.
func sameContent(cur, want *unstructured.Unstructured) bool {
	strip := func(u *unstructured.Unstructured) []byte {
		a := u.GetAnnotations()
		delete(a, lastAppliedAnnotation)
		if len(a) == 0 {
			a = nil
		}
		l := u.GetLabels()
		if len(l) == 0 {
			l = nil
		}
		b, _ := (&unstructured.Unstructured{Object: map[string]any{
			"labels": l, "annotations": a, "spec": u.Object["spec"],
		}}).MarshalJSON()
		return b
	}
	return bytes.Equal(strip(cur), strip(want))
}

// Delete implements store.Datastore. Nodes belong to Kubernetes and are
// not deleted through kbgp.
func (d *Datastore) Delete(ctx context.Context, kind, name string) error {
	if kind == api.KindNode {
		return fmt.Errorf("nodes/%s: Nodes belong to Kubernetes; remove the node with kubectl delete node %s", name, name)
	}
	gvr, ok := d.opts.Mode.gvr(kind)
	if !ok {
		return fmt.Errorf("kubernetes datastore: unknown kind %q", kind)
	}
	if err := d.dyn.Resource(gvr).Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
		return d.apiError("deleting", kind, name, err)
	}
	return nil
}

// Update implements store.Datastore with the API server's optimistic
// concurrency: the write carries the resourceVersion that was read, and a
// conflict re-reads and calls edit again.
func (d *Datastore) Update(ctx context.Context, kind, name string, edit func(api.Resource) error) (store.Result, error) {
	result := store.Unchanged
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if kind == api.KindNode {
			return d.updateNode(ctx, name, edit, &result)
		}
		gvr, ok := d.opts.Mode.gvr(kind)
		if !ok {
			return fmt.Errorf("kubernetes datastore: unknown kind %q", kind)
		}
		res := d.dyn.Resource(gvr)
		u, err := res.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		r, err := d.opts.Mode.fromObject(u)
		if err != nil {
			return err
		}
		if err := edit(r); err != nil {
			return editError{err}
		}
		if err := config.Validate(r); err != nil {
			return editError{err}
		}
		obj, err := d.opts.Mode.toObject(r)
		if err != nil {
			return editError{err}
		}
		if sameContent(u, obj) {
			result = store.Unchanged
			return nil
		}
		obj.SetResourceVersion(u.GetResourceVersion())
		if _, err := res.Update(ctx, obj, metav1.UpdateOptions{FieldManager: "kbgp"}); err != nil {
			return err
		}
		result = store.Configured
		return nil
	})
	var ee editError
	if errors.As(err, &ee) {
		return store.Unchanged, ee.err
	}
	if err != nil {
		return store.Unchanged, d.apiError("updating", kind, name, err)
	}
	return result, nil
}

// editError marks an error from the caller's edit (or validation), which
// is returned as is.
type editError struct{ err error }

func (e editError) Error() string { return e.err.Error() }

func (d *Datastore) updateNode(ctx context.Context, name string, edit func(api.Resource) error, result *store.Result) error {
	nodes := d.kube.CoreV1().Nodes()
	k, err := nodes.Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	n, err := FromNode(k)
	if err != nil {
		// Let the edit repair bad annotations: start from what is readable.
		n = &api.Node{Metadata: api.ObjectMeta{Name: name, Labels: k.Labels}}
	}
	if err := edit(n); err != nil {
		return editError{err}
	}
	if err := config.Validate(n); err != nil {
		return editError{err}
	}
	upd := k.DeepCopy()
	if err := applyToNode(upd, n); err != nil {
		return editError{err}
	}
	if sameNodeMeta(k, upd) {
		*result = store.Unchanged
		return nil
	}
	if _, err := nodes.Update(ctx, upd, metav1.UpdateOptions{FieldManager: "kbgp"}); err != nil {
		return err
	}
	*result = store.Configured
	return nil
}

func sameNodeMeta(a, b *corev1.Node) bool {
	eq := func(x, y map[string]string) bool {
		if len(x) != len(y) {
			return false
		}
		for k, v := range x {
			if w, ok := y[k]; !ok || w != v {
				return false
			}
		}
		return true
	}
	return eq(a.Labels, b.Labels) && eq(a.Annotations, b.Annotations)
}

// apiError turns an API error into the store's vocabulary (NotFoundError)
// or an error naming the resource and, for a missing CRD or permission,
// what to do about it.
func (d *Datastore) apiError(verb, kind, name string, err error) error {
	what := pluralOf(kind)
	if gvr, ok := d.opts.Mode.gvr(kind); ok {
		what = gvr.Resource + "." + gvr.Group
	}
	if name != "" {
		what += "/" + name
	}
	switch {
	case apierrors.IsNotFound(err) && name != "" && isMissingObject(err):
		return &store.NotFoundError{Kind: kind, Name: name}
	case apierrors.IsNotFound(err):
		return fmt.Errorf("kubernetes datastore: %s %s: %w (is the CustomResourceDefinition installed? kubectl apply -k deploy/)", verb, what, err)
	case apierrors.IsForbidden(err):
		return fmt.Errorf("kubernetes datastore: %s %s: %w (check the kbgp ClusterRole in deploy/rbac.yaml)", verb, what, err)
	}
	return fmt.Errorf("kubernetes datastore: %s %s: %w", verb, what, err)
}

// isMissingObject tells a missing object from a missing resource type
// (no CRD), which the API server also reports as 404.
func isMissingObject(err error) bool {
	var st apierrors.APIStatus
	if !errors.As(err, &st) {
		return false
	}
	det := st.Status().Details
	return det != nil && det.Name != ""
}
