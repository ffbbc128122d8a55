package dut

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/kbgp/kbgp/internal/ctlapi"
)

// The kbgp-agent DUT is `kbgp agent`, the product users run, configured
// the way an operator configures a Calico route reflector: resources in
// its file store, applied with `kbgp apply`.
const (
	// AgentNode is the reflector's Node name.
	AgentNode = "rr"
	// AgentFilter is the BGPFilter that lets the reflector re-advertise
	// every IPv4 route. Calico's (and kbgp's) default export policy
	// rejects routes outside the IP pools, which would drop the table
	// scenario's Internet routes.
	AgentFilter = "reflect-all"
	// agentStoreYAML is the generated resources, kept with the results.
	agentStoreYAML = "kbgp-agent.yaml"
)

// AgentStoreYAML is the multi-document YAML (projectcalico.org/v3, so
// calicoctl would accept it too) that makes `kbgp agent --node-name rr` the
// route reflector of s:
//   - BGPConfiguration default: the AS, no node-to-node mesh, bindMode
//     NodeIP (listen on s.Addr only: on the run's loopback every client
//     address is local, and an all-address listener would accept the
//     agent's own connection attempts to its clients), warnings-only logs
//     like the other DUTs;
//   - Node rr with s.Addr, the AS, routeReflectorClusterID s.Addr and the
//     label route-reflector=true;
//   - BGPFilter reflect-all: export accept 0.0.0.0/0 and longer;
//   - one BGPPeer per client (peerIP, asNumber, nodeSelector
//     route-reflector == 'true', filters [reflect-all]). The clients are
//     not Calico nodes, so these are plain BGPPeers; the compile rule
//     "a route reflector (cluster ID X) marks every iBGP peer whose
//     cluster ID is not X as its client" (docs/reference.md) makes each an
//     RR client (RFC 4456 §6). Calico has no passive flag for BGPPeers, so
//     the agent also tries to connect to its clients; with nothing
//     listening on their port each attempt is refused at once, and the
//     clients' own connections are accepted (RFC 4271 §8.2.2 Active state).
//
// The benchmark is IPv4 only (s.Addr and the clients are IPv4). s.Port,
// when set, is the listenPort (tests).
func AgentStoreYAML(s Setup) string {
	var b strings.Builder
	fmt.Fprintf(&b, `# kbgp benchmark: kbgp agent as route reflector (kbgp apply -f this file)
apiVersion: projectcalico.org/v3
kind: BGPConfiguration
metadata:
  name: default
spec:
  asNumber: %d
  nodeToNodeMeshEnabled: false
  bindMode: NodeIP
  logSeverityScreen: Warning
`, s.AS)
	if s.Port != 0 {
		fmt.Fprintf(&b, "  listenPort: %d\n", s.Port)
	}
	fmt.Fprintf(&b, `---
apiVersion: projectcalico.org/v3
kind: Node
metadata:
  name: %[3]s
  labels:
    route-reflector: "true"
spec:
  bgp:
    ipv4Address: %[1]s/32
    asNumber: %[2]d
    routeReflectorClusterID: %[1]s
---
apiVersion: projectcalico.org/v3
kind: BGPFilter
metadata:
  name: %[4]s
spec:
  exportV4:
  - action: Accept
    matchOperator: In
    cidr: 0.0.0.0/0
`, s.Addr, s.AS, AgentNode, AgentFilter)
	for _, c := range s.Clients {
		fmt.Fprintf(&b, `---
apiVersion: projectcalico.org/v3
kind: BGPPeer
metadata:
  name: client-%[1]s
spec:
  nodeSelector: route-reflector == 'true'
  peerIP: %[2]s
  asNumber: %[3]d
  filters: [%[4]s]
`, strings.NewReplacer(".", "-", ":", "-").Replace(c.String()), c, s.AS, AgentFilter)
	}
	return b.String()
}

// BuildKBGP builds the kbgp binary of the repository at root into out.
func BuildKBGP(ctx context.Context, root, out string) error {
	return goBuild(ctx, root, "./cmd/kbgp", out)
}

// BuildSpeaker builds cmd/kbgp-speaker, the kbgp DUT, of the benchmark
// module at benchDir into out. The measured runs use the plain build;
// profile builds it with -tags profile, the only build that can write
// profiles (speakerdut.Profiling), for the unmeasured profile run: the
// static binary is mapped whole and counts in the DUT's RSS, so the
// measured one links no profiler.
func BuildSpeaker(ctx context.Context, benchDir, out string, profile bool) error {
	var tags []string
	if profile {
		tags = []string{"-tags", "profile"}
	}
	return goBuild(ctx, benchDir, "./cmd/kbgp-speaker", out, tags...)
}

// goBuild builds pkg as deploy/Dockerfile builds the kbgp image: static
// (CGO_ENABLED=0: no libc, whose mapped pages were 1.4 MiB of an idle
// DUT's RSS), without symbol tables, with the extra build flags.
func goBuild(ctx context.Context, dir, pkg, out string, flags ...string) error {
	args := append([]string{"build"}, flags...)
	args = append(args, "-trimpath", "-ldflags", "-s -w", "-o", out, pkg)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("dut: go %s in %s: %v\n%s", strings.Join(args, " "), dir, err, b)
	}
	return nil
}

// agent is `kbgp agent` with a file store under the run directory.
type agent struct {
	procs
	sock    string
	start   time.Time
	clients int
}

func (*agent) Name() string  { return "kbgp-agent" }
func (d *agent) PIDs() []int { return d.pids() }

// Stop sends SIGTERM (a graceful-restart exit) and removes the store: the
// generated YAML beside it is the configuration record.
func (d *agent) Stop() error {
	err := d.stop()
	if d.sock != "" {
		if rerr := os.RemoveAll(filepath.Join(filepath.Dir(d.sock), "store")); rerr != nil {
			err = errors.Join(err, fmt.Errorf("dut: %w", rerr))
		}
	}
	return err
}

// Start writes the resources, applies them to a fresh file store with
// `kbgp apply` (the operator's step, not measured as the DUT's CPU) and
// starts `kbgp agent --no-fib` on that store.
func (d *agent) Start(ctx context.Context, s Setup) error {
	if s.KBGP == "" {
		return errors.New("dut: kbgp-agent needs the kbgp binary (Setup.KBGP)")
	}
	if err := writeFile(s.Dir, agentStoreYAML, AgentStoreYAML(s)); err != nil {
		return err
	}
	store := filepath.Join(s.Dir, "store")
	t0 := time.Now()
	out, err := exec.CommandContext(ctx, s.KBGP, "apply", "--store", store, "-f", filepath.Join(s.Dir, agentStoreYAML)).CombinedOutput()
	if err != nil {
		return fmt.Errorf("dut: kbgp apply -f %s: %v\n%s", filepath.Join(s.Dir, agentStoreYAML), err, out)
	}
	fmt.Fprintf(os.Stderr, "kbgp-agent: %d resources applied to the store in %v\n", len(s.Clients)+3, time.Since(t0).Round(time.Millisecond))
	d.sock = filepath.Join(s.Dir, "kbgp.sock")
	d.clients = len(s.Clients)
	d.start = time.Now()
	args := []string{"agent", "--no-fib",
		"--store", store, "--node-name", AgentNode, "--ip", s.Addr.String() + "/32", "--ip6", "none",
		"--socket", d.sock}
	if s.Profile {
		args = append(args, "--cpu-profile", filepath.Join(s.Dir, "cpu.pprof"), "--heap-profile", filepath.Join(s.Dir, "heap.pprof"))
	}
	return d.procs.start(s.Dir, "kbgp-agent.out", s.KBGP, args...)
}

// Ready waits until the agent has compiled its resources and configured a
// session for every client, and reports how long that took since it was
// started (a client that connects earlier would be refused as unknown).
func (d *agent) Ready(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var last string
	for {
		if err := d.check(filepath.Dir(d.sock)); err != nil {
			return err
		}
		if c, err := ctlapi.Dial(d.sock); err != nil {
			last = err.Error()
		} else {
			n, err := c.Node(ctx)
			c.Close()
			switch {
			case err != nil:
				last = err.Error()
			case n.Reconcile.Error != "":
				return fmt.Errorf("dut: kbgp agent rejects its configuration: %s", n.Reconcile.Error)
			case n.Running && len(n.Peers) == d.clients:
				rr := 0
				for _, p := range n.Peers {
					if p.RouteReflectorClient {
						rr++
					}
				}
				if rr != d.clients {
					return fmt.Errorf("dut: kbgp agent treats %d of its %d peers as route-reflector clients, want all", rr, d.clients)
				}
				fmt.Fprintf(os.Stderr, "kbgp-agent: %d peers configured %v after start\n",
					d.clients, time.Since(d.start).Round(time.Millisecond))
				return nil
			default:
				last = fmt.Sprintf("speaker running %v, %d of %d peers configured", n.Running, len(n.Peers), d.clients)
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("dut: kbgp agent not configured after %v: %s", timeout, last)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Ready waits until d is configured for every client, for DUTs that can
// tell (kbgp-agent); the others are ready once they listen.
func Ready(ctx context.Context, d DUT, timeout time.Duration) error {
	if r, ok := d.(interface {
		Ready(context.Context, time.Duration) error
	}); ok {
		return r.Ready(ctx, timeout)
	}
	return nil
}
