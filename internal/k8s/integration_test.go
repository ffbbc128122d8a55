package k8s

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/kbgp/kbgp/api"
	"github.com/kbgp/kbgp/internal/config"
	"github.com/kbgp/kbgp/internal/status"
	"github.com/kbgp/kbgp/internal/store"
)

// fixture is one integration test's view of the shared API server: the
// admin clients, and a cleanup that deletes what the test created.
type fixture struct {
	t    *testing.T
	s    *apiServer
	kube kubernetes.Interface
	dyn  dynamic.Interface
	ctx  context.Context
}

func newFixture(t *testing.T) *fixture {
	s := testServer(t)
	kube, err := kubernetes.NewForConfig(s.admin)
	if err != nil {
		t.Fatal(err)
	}
	dyn, err := dynamic.NewForConfig(s.admin)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	return &fixture{t: t, s: s, kube: kube, dyn: dyn, ctx: ctx}
}

// node creates a Kubernetes Node (as the kubelet would register it) and
// deletes it when the test ends.
func (f *fixture) node(n *corev1.Node) {
	f.t.Helper()
	if _, err := f.kube.CoreV1().Nodes().Create(f.ctx, n, metav1.CreateOptions{}); err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() {
		_ = f.kube.CoreV1().Nodes().Delete(context.Background(), n.Name, metav1.DeleteOptions{})
	})
}

// apply stores resources through the datastore (as `kbgp apply` would)
// and deletes them when the test ends.
func (f *fixture) apply(ds *Datastore, rs ...api.Resource) {
	f.t.Helper()
	for _, r := range rs {
		if r.Kind() == api.KindNode {
			continue
		}
		if _, err := ds.Apply(f.ctx, r); err != nil {
			f.t.Fatal(err)
		}
		kind, name := r.Kind(), r.Name()
		f.t.Cleanup(func() { _ = ds.Delete(context.Background(), kind, name) })
	}
}

// service creates a Service (and, with endpoints, its EndpointSlice).
func (f *fixture) service(svc *corev1.Service, eps ...discoveryv1.Endpoint) {
	f.t.Helper()
	ns := svc.Namespace
	created, err := f.kube.CoreV1().Services(ns).Create(f.ctx, svc, metav1.CreateOptions{})
	if err != nil {
		f.t.Fatal(err)
	}
	if len(svc.Status.LoadBalancer.Ingress) > 0 {
		created.Status = svc.Status
		if _, err := f.kube.CoreV1().Services(ns).UpdateStatus(f.ctx, created, metav1.UpdateOptions{}); err != nil {
			f.t.Fatal(err)
		}
	}
	f.t.Cleanup(func() {
		_ = f.kube.CoreV1().Services(ns).Delete(context.Background(), svc.Name, metav1.DeleteOptions{})
	})
	if len(eps) > 0 {
		es := endpointSlice(ns, svc.Name, svc.Name+"-1", eps...)
		if _, err := f.kube.DiscoveryV1().EndpointSlices(ns).Create(f.ctx, es, metav1.CreateOptions{}); err != nil {
			f.t.Fatal(err)
		}
		f.t.Cleanup(func() {
			_ = f.kube.DiscoveryV1().EndpointSlices(ns).Delete(context.Background(), es.Name, metav1.DeleteOptions{})
		})
	}
}

// follower folds a datastore's Watch into a store.Cache and compiles the
// desired state of a node on demand, as the agent does.
type follower struct {
	t      *testing.T
	events <-chan store.Event
	cache  store.Cache
	errs   []store.Event
}

func (f *fixture) follow(ds *Datastore) *follower {
	f.t.Helper()
	ctx, cancel := context.WithCancel(f.ctx)
	f.t.Cleanup(cancel)
	events, err := ds.Watch(ctx)
	if err != nil {
		f.t.Fatal(err)
	}
	fl := &follower{t: f.t, events: events}
	deadline := time.After(time.Minute)
	for !fl.cache.Synced() {
		select {
		case ev, ok := <-events:
			if !ok {
				f.t.Fatal("watch ended before the initial sync")
			}
			fl.fold(ev)
		case <-deadline:
			f.t.Fatal("no EventSynced within a minute")
		}
	}
	return fl
}

func (fl *follower) fold(ev store.Event) {
	if ev.Type == store.EventError {
		fl.errs = append(fl.errs, ev)
	}
	fl.cache.Apply(ev)
}

func (fl *follower) state(node string) (*config.NodeState, error) {
	rs := fl.cache.Resources()
	return config.Compile(config.NewInput(rs, Services(rs)), node)
}

// await folds events until cond holds for node's compiled state, and
// returns how long that took.
func (fl *follower) await(node string, within time.Duration, what string, cond func(*config.NodeState) bool) time.Duration {
	fl.t.Helper()
	start := time.Now()
	deadline := time.After(within)
	for {
		if st, err := fl.state(node); err == nil && cond(st) {
			return time.Since(start)
		}
		select {
		case ev, ok := <-fl.events:
			if !ok {
				fl.t.Fatalf("%s: the watch ended", what)
			}
			fl.fold(ev)
		case <-deadline:
			st, err := fl.state(node)
			fl.t.Fatalf("%s: not within %v; %s state: %+v (compile error %v)", what, within, node, st, err)
		}
	}
}

func peerAddrs(st *config.NodeState) []string {
	var out []string
	for _, p := range st.Peers {
		out = append(out, p.Address.String())
	}
	slices.Sort(out)
	return out
}

func hasPeers(want ...string) func(*config.NodeState) bool {
	slices.Sort(want)
	return func(st *config.NodeState) bool { return slices.Equal(peerAddrs(st), want) }
}

func seedCluster(f *fixture) {
	f.node(seedNode("ubuntu-1", "172.16.30.101", map[string]string{"kubernetes.io/hostname": "ubuntu-1"}, nil, "192.168.1.0/24"))
	f.node(seedNode("ubuntu-2", "172.16.30.102", map[string]string{"kubernetes.io/hostname": "ubuntu-2"}, nil, "192.168.2.0/24"))
	f.node(seedNode("ubuntu-3", "172.16.30.103", map[string]string{"kubernetes.io/hostname": "ubuntu-3"}, nil, "192.168.3.0/24"))
}

func adminDatastore(t *testing.T, f *fixture, m Mode) *Datastore {
	ds, err := NewDatastore(f.s.admin, Options{Mode: m})
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

func agentDatastore(t *testing.T, f *fixture, m Mode) *Datastore {
	ds, err := NewDatastore(f.s.asAgent(), Options{Mode: m})
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

// TestSeedOverKubernetes replays the seed notes against a real API
// server: the peers and config are applied, ubuntu-2 is labelled and
// annotated with kubectl exactly as the notes do, and the desired state
// the agent's watch compiles follows each step within a second.
func TestSeedOverKubernetes(t *testing.T) {
	f := newFixture(t)
	seedCluster(f)
	admin := adminDatastore(t, f, ModeKBGP)
	var rs []api.Resource
	for _, r := range seedResources(t) {
		if r.Kind() != api.KindNode {
			rs = append(rs, r)
		}
	}
	f.apply(admin, rs...)
	// The agent watches with its ServiceAccount's permissions only.
	fl := f.follow(agentDatastore(t, f, ModeKBGP))
	if len(fl.errs) > 0 {
		t.Fatalf("watch errors: %+v", fl.errs)
	}
	st, err := fl.state("ubuntu-1")
	if err != nil {
		t.Fatal(err)
	}
	// No reflector yet, mesh off: no peers; the pod block is originated.
	if len(st.Peers) != 0 || !originates(st, "192.168.1.0/24") || st.IPv4Address.String() != "172.16.30.101/32" {
		t.Fatalf("ubuntu-1 before labelling: peers %v, originate %+v, address %s", peerAddrs(st), st.Originate, st.IPv4Address)
	}

	steps := []struct {
		kubectl []string
		node    string
		cond    func(*config.NodeState) bool
		what    string
	}{
		{[]string{"label", "node", "ubuntu-2", "rack=rack-1"}, "ubuntu-2", hasPeers("172.16.30.254"), "ubuntu-2 peers with the router"},
		{[]string{"annotate", "node", "ubuntu-2", "projectcalico.org/RouteReflectorClusterID=244.0.0.1"}, "ubuntu-2",
			func(st *config.NodeState) bool { return st.RouteReflectorClusterID == netip.MustParseAddr("244.0.0.1") }, "ubuntu-2 is a reflector"},
		{[]string{"label", "node", "ubuntu-2", "route-reflector=true"}, "ubuntu-2",
			hasPeers("172.16.30.101", "172.16.30.103", "172.16.30.254"), "ubuntu-2 reflects to ubuntu-1 and ubuntu-3"},
		{nil, "ubuntu-1", hasPeers("172.16.30.102"), "ubuntu-1 peers with the reflector"},
		{[]string{"label", "node", "ubuntu-3", "rack=rack-1"}, "ubuntu-3", hasPeers("172.16.30.102", "172.16.30.254"), "ubuntu-3 joins rack-1"},
		{[]string{"label", "node", "ubuntu-3", "rack-"}, "ubuntu-3", hasPeers("172.16.30.102"), "ubuntu-3 leaves rack-1"},
	}
	for _, s := range steps {
		start := time.Now()
		if s.kubectl != nil {
			if out, err := f.s.run(s.kubectl...); err != nil {
				t.Fatalf("kubectl %s: %v\n%s", strings.Join(s.kubectl, " "), err, out)
			}
		}
		fl.await(s.node, time.Second, s.what, s.cond)
		t.Logf("%-45s %v after kubectl started", s.what, time.Since(start).Round(time.Millisecond))
	}
	st, _ = fl.state("ubuntu-2")
	for _, p := range st.Peers {
		if p.Address.String() == "172.16.30.254" && (p.RemoteAS != 64513 || !p.Internal) {
			t.Errorf("router peer: %+v, want iBGP AS 64513", p)
		}
	}
}

// TestServicesOverKubernetes: service addresses follow Services and
// EndpointSlices: a Local service's /32 only on the node with a ready
// endpoint, an IP shared by two services withdrawn only when both are
// gone, and the exclude-from-external-load-balancers label.
func TestServicesOverKubernetes(t *testing.T) {
	f := newFixture(t)
	seedCluster(f)
	admin := adminDatastore(t, f, ModeKBGP)
	cfg, err := config.Decode("cfg.yaml", []byte(`apiVersion: kbgp.io/v1
kind: BGPConfiguration
metadata: {name: default}
spec:
  nodeToNodeMeshEnabled: true
  asNumber: 64513
  serviceClusterIPs: [{cidr: 10.96.0.0/16}]
  serviceExternalIPs: [{cidr: 203.0.113.5/32}]
  serviceLoadBalancerIPs: [{cidr: 198.51.100.0/24}]
`))
	if err != nil {
		t.Fatal(err)
	}
	f.apply(admin, cfg...)
	fl := f.follow(agentDatastore(t, f, ModeKBGP))

	f.service(&corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "web-local"},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, ClusterIP: "10.96.0.11", ClusterIPs: []string{"10.96.0.11"},
			ExternalTrafficPolicy: corev1.ServiceExternalTrafficPolicyLocal,
			Ports:                 []corev1.ServicePort{{Port: 80}}},
		Status: corev1.ServiceStatus{LoadBalancer: corev1.LoadBalancerStatus{Ingress: []corev1.LoadBalancerIngress{{IP: "198.51.100.11"}}}}},
		discoveryv1.Endpoint{Addresses: []string{"192.168.3.10"}, NodeName: ptr("ubuntu-3"), Conditions: discoveryv1.EndpointConditions{Ready: ptr(true)}})
	has := func(p string, want bool) func(*config.NodeState) bool {
		return func(st *config.NodeState) bool { return originates(st, p) == want }
	}
	t.Logf("Local service /32 on ubuntu-3: %v", fl.await("ubuntu-3", time.Second, "ubuntu-3 advertises 10.96.0.11/32 and 198.51.100.11/32",
		func(st *config.NodeState) bool {
			return originates(st, "10.96.0.11/32") && originates(st, "198.51.100.11/32")
		}).Round(time.Millisecond))
	fl.await("ubuntu-1", time.Second, "ubuntu-1 does not advertise the Local service", has("10.96.0.11/32", false))

	// Two Cluster services share external IP 203.0.113.5 (allow-listed
	// as a single address: advertised from every node).
	for _, name := range []string{"shared-a", "shared-b"} {
		f.service(&corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name},
			Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort, ExternalIPs: []string{"203.0.113.5"},
				Ports: []corev1.ServicePort{{Port: 80}}}},
			discoveryv1.Endpoint{Addresses: []string{"192.168.1.20"}, NodeName: ptr("ubuntu-1")})
	}
	reasons := func(want ...string) func(*config.NodeState) bool {
		return func(st *config.NodeState) bool {
			for _, r := range st.Originate {
				if r.Prefix.String() == "203.0.113.5/32" {
					return slices.Equal(r.Reasons, want)
				}
			}
			return len(want) == 0
		}
	}
	fl.await("ubuntu-2", time.Second, "ubuntu-2 advertises 203.0.113.5/32 for both services",
		reasons("Service default/shared-a", "Service default/shared-b"))

	del := func(name string) {
		if err := f.kube.CoreV1().Services("default").Delete(f.ctx, name, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	del("shared-a")
	fl.await("ubuntu-2", time.Second, "203.0.113.5/32 stays while shared-b uses it", reasons("Service default/shared-b"))
	del("shared-b")
	t.Logf("shared IP withdrawn after the second delete: %v",
		fl.await("ubuntu-2", time.Second, "203.0.113.5/32 withdrawn", has("203.0.113.5/32", false)).Round(time.Millisecond))

	// The endpoint goes unready: the Local /32 is withdrawn.
	es, err := f.kube.DiscoveryV1().EndpointSlices("default").Get(f.ctx, "web-local-1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	es.Endpoints[0].Conditions.Ready = ptr(false)
	if _, err := f.kube.DiscoveryV1().EndpointSlices("default").Update(f.ctx, es, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	fl.await("ubuntu-3", time.Second, "unready endpoint: 10.96.0.11/32 withdrawn", has("10.96.0.11/32", false))
	es.Endpoints[0].Conditions.Ready = ptr(true)
	es, _ = f.kube.DiscoveryV1().EndpointSlices("default").Get(f.ctx, "web-local-1", metav1.GetOptions{})
	es.Endpoints[0].Conditions.Ready = ptr(true)
	if _, err := f.kube.DiscoveryV1().EndpointSlices("default").Update(f.ctx, es, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	fl.await("ubuntu-3", time.Second, "ready again: 10.96.0.11/32 back", has("10.96.0.11/32", true))

	// Excluded from external load balancers: no service addresses.
	if out, err := f.s.run("label", "node", "ubuntu-3", config.LabelExcludeFromLB+"=true"); err != nil {
		t.Fatalf("kubectl label: %v\n%s", err, out)
	}
	fl.await("ubuntu-3", time.Second, "excluded node withdraws 10.96.0.11/32", has("10.96.0.11/32", false))

	// Deleting the service withdraws it everywhere.
	if out, err := f.s.run("label", "node", "ubuntu-3", config.LabelExcludeFromLB+"-"); err != nil {
		t.Fatalf("kubectl label: %v\n%s", err, out)
	}
	fl.await("ubuntu-3", time.Second, "10.96.0.11/32 back", has("10.96.0.11/32", true))
	del("web-local")
	t.Logf("service deleted, /32 withdrawn: %v",
		fl.await("ubuntu-3", time.Second, "deleted service withdrawn", has("10.96.0.11/32", false)).Round(time.Millisecond))
}

// TestDatastoreCRUD covers the store.Datastore contract over the API
// server.
func TestDatastoreCRUD(t *testing.T) {
	f := newFixture(t)
	f.node(seedNode("crud-1", "10.1.0.1", map[string]string{"zone": "a"}, nil))
	ds := adminDatastore(t, f, ModeKBGP)
	peer := func(asn string) api.Resource {
		rs, err := config.Decode("p.yaml", []byte("apiVersion: projectcalico.org/v3\nkind: BGPPeer\nmetadata: {name: crud-peer, labels: {a: b}}\nspec: {peerIP: 10.1.0.254, asNumber: "+asn+"}\n"))
		if err != nil {
			t.Fatal(err)
		}
		return rs[0]
	}
	for i, want := range []store.Result{store.Created, store.Unchanged} {
		res, err := ds.Apply(f.ctx, peer("65001"))
		if err != nil || res != want {
			t.Fatalf("apply #%d: %v, %v; want %v", i+1, res, err, want)
		}
	}
	t.Cleanup(func() { _ = ds.Delete(context.Background(), api.KindBGPPeer, "crud-peer") })
	if res, err := ds.Apply(f.ctx, peer("65002")); err != nil || res != store.Configured {
		t.Fatalf("apply changed: %v, %v", res, err)
	}
	got, err := ds.Get(f.ctx, api.KindBGPPeer, "crud-peer")
	if err != nil {
		t.Fatal(err)
	}
	if p := got.(*api.BGPPeer); p.Spec.ASNumber != 65002 || p.Metadata.Labels["a"] != "b" || p.Metadata.ResourceVersion == "" || p.Metadata.UID == "" {
		t.Errorf("get: %+v", p)
	}
	res, err := ds.Update(f.ctx, api.KindBGPPeer, "crud-peer", func(r api.Resource) error {
		r.Meta().Labels["rack"] = "rack-1"
		return nil
	})
	if err != nil || res != store.Configured {
		t.Fatalf("update: %v %v", res, err)
	}
	// A rejected edit writes nothing; an invalid one is refused with the field.
	if _, err := ds.Update(f.ctx, api.KindBGPPeer, "crud-peer", func(r api.Resource) error {
		r.(*api.BGPPeer).Spec.NodeSelector = "rack == "
		return nil
	}); err == nil || !strings.Contains(err.Error(), "nodeSelector") {
		t.Errorf("invalid update error = %v, want one naming nodeSelector", err)
	}

	// Nodes: labels through Update land on the Kubernetes Node.
	if _, err := ds.Update(f.ctx, api.KindNode, "crud-1", func(r api.Resource) error {
		r.Meta().Labels["route-reflector"] = "true"
		r.Meta().Annotations = map[string]string{config.AnnotationRouteReflectorClusterID: "244.0.0.1"}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	kn, err := f.kube.CoreV1().Nodes().Get(f.ctx, "crud-1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if kn.Labels["route-reflector"] != "true" || kn.Annotations[config.AnnotationRouteReflectorClusterID] != "244.0.0.1" || kn.Labels["zone"] != "a" {
		t.Errorf("kubernetes node after update: labels %v annotations %v", kn.Labels, kn.Annotations)
	}
	if err := ds.Delete(f.ctx, api.KindNode, "crud-1"); err == nil || !strings.Contains(err.Error(), "kubectl delete node") {
		t.Errorf("deleting a node: %v", err)
	}

	all, err := ds.List(f.ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range all {
		names = append(names, r.Kind()+"/"+r.Name())
	}
	if !slices.Contains(names, "BGPPeer/crud-peer") || !slices.Contains(names, "Node/crud-1") {
		t.Errorf("list: %v", names)
	}

	if err := ds.Delete(f.ctx, api.KindBGPPeer, "crud-peer"); err != nil {
		t.Fatal(err)
	}
	for _, check := range []struct {
		name string
		err  error
	}{
		{"get deleted", func() error { _, err := ds.Get(f.ctx, api.KindBGPPeer, "crud-peer"); return err }()},
		{"delete deleted", ds.Delete(f.ctx, api.KindBGPPeer, "crud-peer")},
		{"get missing node", func() error { _, err := ds.Get(f.ctx, api.KindNode, "nope"); return err }()},
		{"update missing", func() error {
			_, err := ds.Update(f.ctx, api.KindBGPPeer, "nope", func(api.Resource) error { return nil })
			return err
		}()},
	} {
		if !store.IsNotFound(check.err) {
			t.Errorf("%s: %v, want a store.NotFoundError", check.name, check.err)
		}
	}

	// A bad object written behind kbgp's back is an EventError, not a crash.
	bad := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "kbgp.io/v1", "kind": "BGPPeer",
		"metadata": map[string]any{"name": "crud-bad"}, "spec": map[string]any{"peerIP": "10.1.0.9", "asNumber": 65000, "nodeSelector": "rack =="}}}
	if _, err := f.dyn.Resource(schema.GroupVersionResource{Group: Group, Version: Version, Resource: "bgppeers"}).Create(f.ctx, bad, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ds.Delete(context.Background(), api.KindBGPPeer, "crud-bad") })
	fl := f.follow(ds)
	found := false
	for _, e := range fl.errs {
		if e.Name == "crud-bad" && strings.Contains(e.Err.Error(), "nodeSelector") {
			found = true
		}
	}
	if !found {
		t.Errorf("no EventError for bgppeers/crud-bad, errors: %+v", fl.errs)
	}
}

// TestRBAC: the agent's ServiceAccount can read what it needs and write
// its NodeBGPStatus, and nothing else.
func TestRBAC(t *testing.T) {
	f := newFixture(t)
	agent := agentDatastore(t, f, ModeKBGP)
	peer, _ := config.Decode("p.yaml", []byte("apiVersion: projectcalico.org/v3\nkind: BGPPeer\nmetadata: {name: rbac-peer}\nspec: {peerIP: 10.1.0.254, asNumber: 65001}\n"))
	if _, err := agent.Apply(f.ctx, peer[0]); err == nil || !apierrors.IsForbidden(errorsCause(err)) {
		t.Errorf("agent writing a BGPPeer: %v, want forbidden", err)
	} else if !strings.Contains(err.Error(), "deploy/rbac.yaml") {
		t.Errorf("forbidden error does not say where the permissions are: %v", err)
	}
	for _, verb := range []string{"list secrets", "list secrets -n default", "create secrets -n kbgp-system", "delete nodes", "update nodes", "create bgppeers.kbgp.io", "update nodebgpstatuses.kbgp.io"} {
		if out := canI(f, verb); out != "no" {
			t.Errorf("agent can %s: %q, want no", verb, out)
		}
	}
	for _, verb := range []string{"watch nodes", "list endpointslices.discovery.k8s.io", "watch bgppeers.kbgp.io", "create nodebgpstatuses.kbgp.io", "watch secrets -n kbgp-system", "get secrets -n kbgp-system"} {
		if out := canI(f, verb); out != "yes" {
			t.Errorf("agent can %s: %q, want yes", verb, out)
		}
	}
}

// canI asks kubectl whether the agent's ServiceAccount may do verb; the
// answer is the last line (kubectl warns about cluster-scoped resources
// on stderr first).
func canI(f *fixture, verb string) string {
	out, _ := f.s.run(append([]string{"auth", "can-i", "--as", "system:serviceaccount:kbgp-system:kbgp"}, strings.Fields(verb)...)...)
	lines := strings.Split(out, "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

func errorsCause(err error) error {
	for {
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return err
		}
		next := u.Unwrap()
		if next == nil {
			return err
		}
		err = next
	}
}

// TestNodeStatusOverKubernetes: the agent writes its NodeBGPStatus and
// kubectl shows the fabric.
func TestNodeStatusOverKubernetes(t *testing.T) {
	f := newFixture(t)
	agent := agentDatastore(t, f, ModeKBGP)
	since := time.Date(2026, 11, 24, 9, 36, 15, 0, time.UTC)
	n := status.Node{Name: "ubuntu-2", RouterID: netip.MustParseAddr("172.16.30.102"), ASN: 64513, Running: true, Peers: []status.Peer{
		{Address: netip.MustParseAddr("172.16.30.254"), Type: status.PeerNode, State: status.Established, Since: since, PeerASN: 64513, Name: "Node_172_16_30_254"},
		{Address: netip.MustParseAddr("172.16.30.101"), Type: status.PeerNode, State: status.Established, Since: since, PeerASN: 64513},
		{Address: netip.MustParseAddr("172.16.30.103"), Type: status.PeerNode, State: status.Active, PeerASN: 64513,
			LastError: &status.PeerError{Class: "Socket", Message: "connection refused"}},
	}}
	for range 2 { // create, then update
		if err := agent.WriteNodeStatus(f.ctx, "ubuntu-2", NodeBGPStatusFrom(n, time.Now())); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		_ = f.dyn.Resource(nodeStatusGVR).Delete(context.Background(), "ubuntu-2", metav1.DeleteOptions{})
	})
	out, err := f.s.run("get", "nodebgpstatuses.kbgp.io", "ubuntu-2", "--no-headers", "-o", "custom-columns=E:.status.established,P:.status.peerCount,S:.status.peers[1].state,X:.status.peers[1].lastError")
	if err != nil {
		t.Fatalf("kubectl get: %v\n%s", err, out)
	}
	if fields := strings.Fields(out); len(fields) < 4 || fields[0] != "2" || fields[1] != "3" || fields[2] != "Active" {
		t.Errorf("kubectl get nodebgpstatuses: %q, want 2 established of 3, 172.16.30.103 Active", out)
	}
	out, err = f.s.run("get", "nodebgpstatuses.kbgp.io")
	if err != nil || !strings.Contains(out, "ESTABLISHED") || !strings.Contains(out, "ubuntu-2") {
		t.Errorf("kubectl get nodebgpstatuses printer columns: %v\n%s", err, out)
	}
	t.Logf("kubectl get nodebgpstatuses:\n%s", out)
}

// TestDeployManifests: kubectl accepts every manifest in deploy/ against
// the real API server (server-side dry run; the base is also applied for
// real when the server starts).
func TestDeployManifests(t *testing.T) {
	f := newFixture(t)
	root := repoRootDir()
	for _, args := range [][]string{
		{"apply", "--dry-run=server", "-k", root + "/deploy"},
		{"apply", "--dry-run=server", "-f", root + "/deploy/calico-compat-rbac.yaml"},
		{"get", "daemonset", "-n", "kbgp-system", "kbgp"},
	} {
		if out, err := f.s.run(args...); err != nil {
			t.Errorf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	// Schema validation from the generated CRDs is enforced.
	bad := "apiVersion: kbgp.io/v1\nkind: BGPPeer\nmetadata: {name: x}\nspec: {peerIP: 10.0.0.1, asNumber: 1, ttlSecurity: 300}\n"
	path := t.TempDir() + "/bad.yaml"
	if err := writeFile(path, bad); err != nil {
		t.Fatal(err)
	}
	out, err := f.s.run("apply", "--dry-run=server", "-f", path)
	if err == nil || !strings.Contains(out, "ttlSecurity") {
		t.Errorf("kubectl apply of ttlSecurity 300: %v\n%s; want a schema error", err, out)
	}
}

// TestCalicoMode reads Calico's own crd.projectcalico.org/v1 objects.
func TestCalicoMode(t *testing.T) {
	f := newFixture(t)
	// Without Calico's CRDs the watch says what is missing.
	ds := adminDatastore(t, f, ModeCalico)
	if _, err := ds.Watch(f.ctx); err == nil || !strings.Contains(err.Error(), "crd.projectcalico.org") {
		t.Fatalf("calico mode without Calico CRDs: %v", err)
	}
	// Calico's CRDs, reduced to what matters here (Calico ships them with
	// full schemas; the stored objects are the same).
	var crds []string
	for _, k := range crdKinds {
		crds = append(crds, fmt.Sprintf(`apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: %[1]s.crd.projectcalico.org, labels: {kbgp-test: calico}}
spec:
  group: crd.projectcalico.org
  names: {kind: %[2]s, listKind: %[2]sList, plural: %[1]s, singular: %[3]s}
  scope: Cluster
  versions:
  - name: v1
    served: true
    storage: true
    schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
`, k.plural, k.kind, strings.ToLower(k.kind)))
	}
	path := t.TempDir() + "/calico-crds.yaml"
	if err := writeFile(path, strings.Join(crds, "---\n")); err != nil {
		t.Fatal(err)
	}
	if out, err := f.s.run("apply", "-f", path); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	t.Cleanup(func() { _, _ = f.s.run("delete", "-f", path, "--wait=false") })
	if out, err := f.s.run("wait", "--for=condition=established", "--timeout=60s", "crd", "-l", "kbgp-test=calico"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	// A BGPPeer as calicoctl stores it in Kubernetes.
	calicoPeer := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "crd.projectcalico.org/v1", "kind": "BGPPeer",
		"metadata": map[string]any{"name": "rack1-tor"},
		"spec":     map[string]any{"peerIP": "172.16.30.254", "asNumber": 64513, "nodeSelector": "rack == 'rack-1'"}}}
	gvr := schema.GroupVersionResource{Group: CalicoGroup, Version: "v1", Resource: "bgppeers"}
	var err error
	for i := 0; i < 50; i++ { // the new resource type takes a moment to be served
		if _, err = f.dyn.Resource(gvr).Create(f.ctx, calicoPeer, metav1.CreateOptions{}); err == nil || !apierrors.IsNotFound(err) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	f.node(seedNode("calico-1", "172.16.30.110", map[string]string{"rack": "rack-1"}, nil))
	fl := f.follow(ds)
	fl.await("calico-1", time.Second, "calico-1 peers with rack1-tor from Calico's CRD", hasPeers("172.16.30.254"))
	got, err := ds.Get(f.ctx, api.KindBGPPeer, "rack1-tor")
	if err != nil || got.APIVersion() != api.CalicoV3 {
		t.Errorf("get in calico mode: %v, apiVersion %q", err, got.APIVersion())
	}
}

func writeFile(path, s string) error { return os.WriteFile(path, []byte(s), 0o644) }

// TestWatchServicesOnly: WatchServices reports Services and nothing else,
// and follows EndpointSlice changes.
func TestWatchServicesOnly(t *testing.T) {
	f := newFixture(t)
	f.node(seedNode("svc-only-1", "10.2.0.1", nil, nil))
	f.service(&corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "only"},
		Spec: corev1.ServiceSpec{ClusterIP: "10.96.1.1", ClusterIPs: []string{"10.96.1.1"}, Ports: []corev1.ServicePort{{Port: 80}}}},
		discoveryv1.Endpoint{Addresses: []string{"192.168.9.1"}, NodeName: ptr("svc-only-1")})
	ds := agentDatastore(t, f, ModeKBGP)
	events, err := ds.WatchServices(f.ctx)
	if err != nil {
		t.Fatal(err)
	}
	var c store.Cache
	deadline := time.After(30 * time.Second)
	for !c.Synced() {
		select {
		case ev := <-events:
			if ev.Type != store.EventSynced && ev.Kind != KindService {
				t.Fatalf("WatchServices reported %s %s/%s", ev.Type, ev.Kind, ev.Name)
			}
			c.Apply(ev)
		case <-deadline:
			t.Fatal("no sync")
		}
	}
	svcs := Services(c.Resources())
	i := slices.IndexFunc(svcs, func(s config.Service) bool { return s.Name == "only" })
	if i < 0 || len(svcs[i].Endpoints) != 1 || svcs[i].Endpoints[0].Node != "svc-only-1" {
		t.Fatalf("services after sync: %+v", svcs)
	}
	if err := f.kube.DiscoveryV1().EndpointSlices("default").Delete(f.ctx, "only-1", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	select {
	case ev := <-events:
		s, ok := ev.Resource.(*ServiceResource)
		if ev.Type != store.EventModified || !ok || s.Name() != "default/only" || len(s.Spec.Endpoints) != 0 {
			t.Errorf("after deleting the EndpointSlice: %s %+v", ev.Type, ev.Resource)
		}
	case <-time.After(time.Second):
		t.Error("no event within a second of deleting the EndpointSlice")
	}
}
