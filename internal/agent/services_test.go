package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kbgp/kbgp/internal/bgp/fsm"
	"github.com/kbgp/kbgp/internal/bgp/speaker"
	"github.com/kbgp/kbgp/internal/bgp/wire"
	"github.com/kbgp/kbgp/internal/config"
	"github.com/kbgp/kbgp/internal/store"
)

// oneNode is a single node n1 (AS 64512, listen port port, BGP addresses
// v4 and optionally v6) with serviceClusterIPs 10.96.0.0/24 and a block.
func oneNode(port uint16, v4, v6 string) string {
	v6line := ""
	if v6 != "" {
		v6line = "    ipv6Address: " + v6 + "\n"
	}
	return fmt.Sprintf(`apiVersion: projectcalico.org/v3
kind: BGPConfiguration
metadata:
  name: default
spec:
  nodeToNodeMeshEnabled: false
  asNumber: 64512
  listenPort: %d
  serviceClusterIPs:
  - cidr: 10.96.0.0/24
---
apiVersion: projectcalico.org/v3
kind: IPPool
metadata:
  name: pool
spec:
  cidr: 192.168.0.0/16
---
apiVersion: kbgp.io/v1
kind: Node
metadata:
  name: n1
spec:
  bgp:
    ipv4Address: %s
%s  affineBlocks:
  - cidr: 192.168.0.0/26
`, port, v4, v6line)
}

// originated lists the agent's applied originated prefixes.
func originated(a *Agent) []string {
	st := a.State()
	if st == nil {
		return nil
	}
	var out []string
	for _, r := range st.Originate {
		out = append(out, r.Prefix.String())
	}
	return out
}

func writeServices(t *testing.T, path string, svcs []config.Service) {
	t.Helper()
	b, err := json.Marshal(svcs)
	if err != nil {
		t.Fatal(err)
	}
	// Write-and-rename, as a careful writer would; the poller also copes
	// with in-place writes (a torn read is an error until the next poll).
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// TestAgentServicesFile runs an agent on a services file: an
// externalTrafficPolicy Local service's /32 is originated only while this
// node has a ready endpoint, changes are picked up within a second, and a
// malformed file keeps the last good set and is reported.
func TestAgentServicesFile(t *testing.T) {
	ds, err := store.Open(t.TempDir(), &store.Options{PollInterval: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	applyYAML(t, ds, "n1.yaml", oneNode(freePort(t), "127.0.0.21/8", ""))
	path := filepath.Join(t.TempDir(), "services.json")
	local := func(nodes ...string) config.Service {
		s := config.Service{Namespace: "default", Name: "web-local", Type: "LoadBalancer", ExternalTrafficPolicy: "Local",
			ClusterIPs: []netip.Addr{netip.MustParseAddr("10.96.0.11")}}
		for i, n := range nodes {
			s.Endpoints = append(s.Endpoints, config.Endpoint{Addr: netip.AddrFrom4([4]byte{192, 168, 0, byte(1 + i)}), Node: n, Ready: true})
		}
		return s
	}
	cluster := config.Service{Namespace: "default", Name: "web", Type: "ClusterIP", ClusterIPs: []netip.Addr{netip.MustParseAddr("10.96.0.10")},
		Endpoints: []config.Endpoint{{Addr: netip.MustParseAddr("192.168.0.1"), Node: "n1", Ready: true}}}
	writeServices(t, path, []config.Service{cluster, local("n1")})

	ra := startAgent(t, Options{Node: "n1", Store: ds, NoFIB: true, IPv4: Address{Mode: "none"},
		Services: FileServices{Path: path, Poll: 50 * time.Millisecond}})
	want := func(what string, pfx []string) {
		t.Helper()
		waitFor(t, time.Second, what, func() string {
			if got := originated(ra.Agent); !slices.Equal(got, pfx) {
				return fmt.Sprintf("originated %q, want %q", got, pfx)
			}
			return ""
		})
	}
	// The first state already has the /32 (the agent waits for the
	// services before its first reconcile): a Cluster ClusterIP service is
	// covered by the range, the Local one adds its /32.
	want("the Local service /32", []string{"10.96.0.0/24", "10.96.0.11/32", "192.168.0.0/26"})

	writeServices(t, path, []config.Service{cluster, local("n2")})
	want("the /32 gone with the local endpoint", []string{"10.96.0.0/24", "192.168.0.0/26"})

	writeServices(t, path, []config.Service{cluster, local("n2", "n1")})
	want("the /32 back", []string{"10.96.0.0/24", "10.96.0.11/32", "192.168.0.0/26"})

	// A malformed file: last good set kept, error reported, then cleared.
	if err := os.WriteFile(path, []byte(`[{"name": "x", "clusterIPs": ["not-an-ip"]}]`), 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, time.Second, "the services error in node status", func() string {
		if e := ra.node(t).Reconcile.Error; !strings.Contains(e, "services file") {
			return fmt.Sprintf("reconcile error %q", e)
		}
		return ""
	})
	want("the last good set kept", []string{"10.96.0.0/24", "10.96.0.11/32", "192.168.0.0/26"})
	writeServices(t, path, []config.Service{cluster})
	want("the /32 withdrawn", []string{"10.96.0.0/24", "192.168.0.0/26"})
	if e := ra.node(t).Reconcile.Error; e != "" {
		t.Errorf("reconcile error %q after a good file", e)
	}
}

// TestFileServicesMissing: a missing file is an error with no services,
// and creating it delivers the set.
func TestFileServicesMissing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "services.json")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch, err := FileServices{Path: path, Poll: 20 * time.Millisecond}.Watch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	set := <-ch
	if set.Err == nil || !strings.Contains(set.Err.Error(), "services.json") || len(set.Services) != 0 {
		t.Fatalf("missing file: got %+v, want an error naming the file and no services", set)
	}
	writeServices(t, path, []config.Service{{Namespace: "a", Name: "b", Type: "ClusterIP"}})
	select {
	case set = <-ch:
	case <-time.After(2 * time.Second):
		t.Fatal("no set within 2 s of creating the file")
	}
	if set.Err != nil || len(set.Services) != 1 || set.Services[0].Name != "b" {
		t.Fatalf("after creating the file: got %+v", set)
	}
	cancel()
	for range ch {
	}
}

// TestDualStackListen runs a node with IPv4 and IPv6 BGP addresses whose
// peers cannot be reached actively (nothing listens on their port), so
// both sessions can only come up through the agent's own listeners: an
// IPv4 peer on 127.0.0.22 and an IPv6 peer on ::1 connect to it.
func TestDualStackListen(t *testing.T) {
	port, dead := freePort(t), freePort(t)
	ds, err := store.Open(t.TempDir(), &store.Options{PollInterval: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	// The node's IPv6 address is not ::1 (a peer on the node's own
	// address is no peer); the IPv6 peer still reaches it over ::1
	// through the [::] listener.
	v4, v6 := netip.MustParseAddr("127.0.0.21"), netip.MustParseAddr("fd00:db8::21")
	p4, p6 := netip.MustParseAddr("127.0.0.22"), netip.MustParseAddr("::1")
	applyYAML(t, ds, "n1.yaml", oneNode(port, v4.String()+"/8", v6.String()+"/128")+fmt.Sprintf(`---
apiVersion: projectcalico.org/v3
kind: BGPPeer
metadata:
  name: v4
spec:
  peerIP: "%s"
  asNumber: 64600
---
apiVersion: projectcalico.org/v3
kind: BGPPeer
metadata:
  name: v6
spec:
  peerIP: "%s"
  asNumber: 64601
`, netip.AddrPortFrom(p4, dead), netip.AddrPortFrom(p6, dead)))

	ra := startAgent(t, Options{Node: "n1", Store: ds, NoFIB: true, IPv4: Address{Mode: "none"}, IPv6: Address{Mode: "none"}})
	ctx := context.Background()
	for _, pc := range []struct {
		as         uint32
		id, local  netip.Addr
		agentLocal netip.Addr
		fam        wire.Family
	}{{64600, p4, p4, v4, wire.IPv4Unicast}, {64601, netip.MustParseAddr("127.0.0.23"), p6, netip.IPv6Loopback(), wire.IPv6Unicast}} {
		sp, err := speaker.New(ctx, speaker.Config{LocalAS: pc.as, RouterID: pc.id})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(sp.Close)
		if err := sp.AddPeer(ctx, speaker.PeerConfig{Session: fsm.Config{PeerAS: 64512, PeerAddr: pc.agentLocal, PeerPort: port,
			LocalAddr: pc.local, Families: []wire.Family{pc.fam}, ConnectRetry: 300 * time.Millisecond, IdleHoldTime: 100 * time.Millisecond}}); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 15*time.Second, "an IPv4 and an IPv6 session", allEstablished(ra, 2))
}
