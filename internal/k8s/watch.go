package k8s

import (
	"cmp"
	"context"
	"encoding/json"
	"slices"
	"sync"
	"time"

	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/informers"
	corelisters "k8s.io/client-go/listers/core/v1"
	discoverylisters "k8s.io/client-go/listers/discovery/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/kbgp/kbgp/api"
	"github.com/kbgp/kbgp/internal/store"
)

// resyncPeriod is how often the informers replay their caches. Watch is
// level-triggered (it recomputes a resource from the caches and reports
// only real changes), so a resync costs a comparison per object and
// repairs nothing but a missed notification.
const resyncPeriod = 10 * time.Minute

// Watch implements store.Datastore with client-go informers: it reports
// every kbgp resource and (unless Options.NoServices) every Service as
// EventAdded, then EventSynced, then each change. Changes that do not
// alter what kbgp sees (a Node's status heartbeat, an unrelated
// annotation) are not reported. An object that does not decode or
// validate is reported as EventError and its last good state stays.
//
// Watch checks up front that every watched resource can be listed, so a
// missing CRD or RBAC permission is an error from Watch rather than a
// silent hang.
func (d *Datastore) Watch(ctx context.Context) (<-chan store.Event, error) {
	return d.watch(ctx, true, !d.opts.NoServices)
}

// WatchServices is Watch for Services alone: every Service as a
// ServiceResource (EventAdded), EventSynced, then each change. The agent
// takes its services from here (a ServiceSource) while its resource watch
// runs with Options.NoServices.
func (d *Datastore) WatchServices(ctx context.Context) (<-chan store.Event, error) {
	return d.watch(ctx, false, true)
}

func (d *Datastore) watch(ctx context.Context, resources, services bool) (<-chan store.Event, error) {
	if err := d.preflight(ctx, resources, services); err != nil {
		return nil, err
	}
	w := &watcher{d: d, last: map[wkey]watched{}, dirty: map[wkey]bool{}, wake: make(chan struct{}, 1),
		out: make(chan store.Event, 64)}
	stop := make(chan struct{})
	kf := informers.NewSharedInformerFactory(d.kube, resyncPeriod)
	df := dynamicinformer.NewDynamicSharedInformerFactory(d.dyn, resyncPeriod)

	if resources {
		nodes := kf.Core().V1().Nodes()
		w.nodes = nodes.Lister()
		w.addHandler(nodes.Informer(), func(obj any) []wkey { return []wkey{{api.KindNode, objName(obj)}} })
		for _, k := range crdKinds {
			gvr, _ := d.opts.Mode.gvr(k.kind)
			inf := df.ForResource(gvr)
			w.crd = append(w.crd, crdLister{kind: k.kind, lister: inf.Lister()})
			kind := k.kind
			w.addHandler(inf.Informer(), func(obj any) []wkey { return []wkey{{kind, objName(obj)}} })
		}
	}
	if services {
		svcs := kf.Core().V1().Services()
		eps := kf.Discovery().V1().EndpointSlices()
		w.services, w.slices = svcs.Lister(), eps.Lister()
		w.addHandler(svcs.Informer(), func(obj any) []wkey { return []wkey{{KindService, objName(obj)}} })
		w.addHandler(eps.Informer(), func(obj any) []wkey {
			o := unwrap(obj)
			m, err := meta.Accessor(o)
			if err != nil {
				return nil
			}
			svc := m.GetLabels()[discoveryv1.LabelServiceName]
			if svc == "" {
				return nil
			}
			return []wkey{{KindService, m.GetNamespace() + "/" + svc}}
		})
	}
	kf.Start(stop)
	df.Start(stop)

	go func() {
		defer close(w.out)
		defer func() {
			close(stop)
			kf.Shutdown()
			df.Shutdown()
		}()
		synced := cache.WaitForCacheSync(ctx.Done(), w.synced...)
		if !synced {
			return // ctx ended first
		}
		w.run(ctx)
	}()
	return w.out, nil
}

// preflight lists one object of every watched resource.
func (d *Datastore) preflight(ctx context.Context, resources, services bool) error {
	one := metav1.ListOptions{Limit: 1}
	if resources {
		for _, k := range crdKinds {
			gvr, _ := d.opts.Mode.gvr(k.kind)
			if _, err := d.dyn.Resource(gvr).List(ctx, one); err != nil {
				return d.apiError("listing", k.kind, "", err)
			}
		}
		if _, err := d.kube.CoreV1().Nodes().List(ctx, one); err != nil {
			return d.apiError("listing", api.KindNode, "", err)
		}
	}
	if services {
		if _, err := d.kube.CoreV1().Services("").List(ctx, one); err != nil {
			return d.apiError("listing", KindService, "", err)
		}
		if _, err := d.kube.DiscoveryV1().EndpointSlices("").List(ctx, one); err != nil {
			return d.apiError("listing", "EndpointSlice", "", err)
		}
	}
	return nil
}

type wkey struct{ kind, name string }

// watched is the last state reported for a key.
type watched struct {
	res api.Resource
	enc []byte // canonical encoding without resourceVersion
}

type crdLister struct {
	kind   string
	lister cache.GenericLister
}

type watcher struct {
	d        *Datastore
	nodes    corelisters.NodeLister    // nil when watching services only
	services corelisters.ServiceLister // nil with Options.NoServices
	slices   discoverylisters.EndpointSliceLister
	crd      []crdLister
	synced   []cache.InformerSynced

	mu    sync.Mutex
	dirty map[wkey]bool
	wake  chan struct{}

	last map[wkey]watched // owned by run
	out  chan store.Event
}

// addHandler marks the keys an informer's notifications touch as dirty.
func (w *watcher) addHandler(inf cache.SharedIndexInformer, keys func(any) []wkey) {
	_ = inf.SetTransform(stripManagedFields)
	mark := func(obj any) { w.mark(keys(obj)...) }
	_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    mark,
		UpdateFunc: func(old, obj any) { mark(old); mark(obj) },
		DeleteFunc: mark,
	})
	w.synced = append(w.synced, inf.HasSynced)
}

// stripManagedFields drops metadata.managedFields from cached objects:
// kbgp never reads them and they are often the largest part of an object.
func stripManagedFields(obj any) (any, error) {
	if m, err := meta.Accessor(obj); err == nil {
		m.SetManagedFields(nil)
	}
	return obj, nil
}

func unwrap(obj any) any {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		return t.Obj
	}
	return obj
}

func objName(obj any) string {
	k, _ := cache.DeletionHandlingMetaNamespaceKeyFunc(obj)
	return k
}

func (w *watcher) mark(keys ...wkey) {
	if len(keys) == 0 {
		return
	}
	w.mu.Lock()
	for _, k := range keys {
		if k.name != "" {
			w.dirty[k] = true
		}
	}
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

func (w *watcher) run(ctx context.Context) {
	// The initial listing: everything in the synced caches. Notifications
	// that arrived during the sync are folded in (their keys are listed
	// anyway) and re-checked afterwards at no cost.
	w.mu.Lock()
	initial := w.allKeys()
	w.mu.Unlock()
	for _, k := range initial {
		if !w.process(ctx, k) {
			return
		}
	}
	if !w.send(ctx, store.Event{Type: store.EventSynced}) {
		return
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-w.wake:
		}
		w.mu.Lock()
		keys := make([]wkey, 0, len(w.dirty))
		for k := range w.dirty {
			keys = append(keys, k)
		}
		clear(w.dirty)
		w.mu.Unlock()
		sortKeys(keys)
		for _, k := range keys {
			if !w.process(ctx, k) {
				return
			}
		}
	}
}

// allKeys lists every object in the caches (and clears the dirty set).
func (w *watcher) allKeys() []wkey {
	clear(w.dirty)
	var keys []wkey
	for _, c := range w.crd {
		objs, _ := c.lister.List(labels.Everything())
		for _, o := range objs {
			keys = append(keys, wkey{c.kind, objName(o)})
		}
	}
	if w.nodes != nil {
		ns, _ := w.nodes.List(labels.Everything())
		for _, n := range ns {
			keys = append(keys, wkey{api.KindNode, n.Name})
		}
	}
	if w.services != nil {
		ss, _ := w.services.List(labels.Everything())
		for _, s := range ss {
			keys = append(keys, wkey{KindService, s.Namespace + "/" + s.Name})
		}
	}
	sortKeys(keys)
	return keys
}

func sortKeys(keys []wkey) {
	idx := func(kind string) int {
		if i := slices.Index(api.Kinds, kind); i >= 0 {
			return i
		}
		return len(api.Kinds)
	}
	slices.SortFunc(keys, func(a, b wkey) int {
		return cmp.Or(cmp.Compare(idx(a.kind), idx(b.kind)), cmp.Compare(a.name, b.name))
	})
}

// process recomputes one key from the caches and reports what changed.
// It returns false once ctx is done.
func (w *watcher) process(ctx context.Context, k wkey) bool {
	r, err := w.current(k)
	prev, had := w.last[k]
	switch {
	case err != nil:
		return w.send(ctx, store.Event{Type: store.EventError, Kind: k.kind, Name: k.name, Err: err})
	case r == nil && had:
		delete(w.last, k)
		return w.send(ctx, store.Event{Type: store.EventDeleted, Kind: k.kind, Name: k.name, Resource: prev.res})
	case r == nil:
		return true
	}
	enc := canonical(r)
	if had && string(enc) == string(prev.enc) {
		return true
	}
	w.last[k] = watched{res: r, enc: enc}
	t := store.EventAdded
	if had {
		t = store.EventModified
	}
	return w.send(ctx, store.Event{Type: t, Kind: k.kind, Name: k.name, Resource: r})
}

// current is the resource for k in the caches; nil, nil if there is none.
func (w *watcher) current(k wkey) (api.Resource, error) {
	switch k.kind {
	case api.KindNode:
		n, err := w.nodes.Get(k.name)
		if err != nil {
			return nil, nil // not found: the only error a lister returns
		}
		return FromNode(n)
	case KindService:
		ns, name, _ := cutKey(k.name)
		svc, err := w.services.Services(ns).Get(name)
		if err != nil {
			return nil, nil
		}
		sel := labels.SelectorFromSet(labels.Set{discoveryv1.LabelServiceName: name})
		mine, _ := w.slices.EndpointSlices(ns).List(sel)
		slices.SortFunc(mine, func(a, b *discoveryv1.EndpointSlice) int { return cmp.Compare(a.Name, b.Name) })
		return FromService(svc, mine), nil
	}
	for _, c := range w.crd {
		if c.kind != k.kind {
			continue
		}
		o, err := c.lister.Get(k.name)
		if err != nil {
			return nil, nil
		}
		u, ok := o.(*unstructured.Unstructured)
		if !ok {
			return nil, nil
		}
		return w.d.opts.Mode.fromObject(u)
	}
	return nil, nil
}

func cutKey(s string) (ns, name string, ok bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == '/' {
			return s[:i], s[i+1:], true
		}
	}
	return "", s, false
}

// canonical encodes r without its resourceVersion, so that writes that
// change nothing kbgp reads compare equal.
func canonical(r api.Resource) []byte {
	m := r.Meta()
	rv := m.ResourceVersion
	m.ResourceVersion = ""
	b, _ := json.Marshal(r)
	m.ResourceVersion = rv
	return b
}

func (w *watcher) send(ctx context.Context, ev store.Event) bool {
	select {
	case w.out <- ev:
		return true
	case <-ctx.Done():
		return false
	}
}
