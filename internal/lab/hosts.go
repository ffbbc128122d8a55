package lab

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kbgp/kbgp/internal/config"
)

// svcChain is the nat chain holding the lab's kube-proxy rules.
const svcChain = "KBGP-LAB-SERVICES"

// services implements every service on every node as kube-proxy's iptables
// mode does: DNAT to one endpoint chosen with `-m statistic --mode random
// --probability 1/(n-i)` for the i-th of n endpoints, and no SNAT, so a
// reply from an endpoint on another node goes straight back to the client
// (the seed's failure 1). For externalTrafficPolicy Local a node with local
// endpoints only uses those.
func (u *upper) services() error {
	t := u.s.Topology
	for _, n := range t.Nodes {
		ipt := func(args ...string) error {
			return run("ip", append([]string{"netns", "exec", u.s.NSName(n.Name), "iptables", "-w", "-t", "nat"}, args...)...)
		}
		if err := ipt("-N", svcChain); err != nil {
			return err
		}
		for _, c := range []string{"PREROUTING", "OUTPUT"} {
			if err := ipt("-A", c, "-j", svcChain); err != nil {
				return err
			}
		}
		for _, s := range t.Services {
			eps := u.s.Topology.nodeEndpoints(s, n.Name)
			for i, ep := range eps {
				args := []string{"-A", svcChain, "-d", s.IP.String() + "/32", "-p", "tcp", "--dport", strconv.Itoa(int(s.Port))}
				if left := len(eps) - i; left > 1 {
					args = append(args, "-m", "statistic", "--mode", "random", "--probability", strconv.FormatFloat(1/float64(left), 'f', 5, 64))
				}
				args = append(args, "-j", "DNAT", "--to-destination", netip.AddrPortFrom(ep.Addr, 80).String())
				if err := ipt(args...); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// nodeEndpoints are the endpoints node's DNAT rules use for s.
func (t *Topology) nodeEndpoints(s Service, node string) []Pod {
	eps := t.Endpoints(s)
	if s.ExternalTrafficPolicy == "Local" {
		var local []Pod
		for _, p := range eps {
			if p.Node == node {
				local = append(local, p)
			}
		}
		if len(local) > 0 {
			return local
		}
	}
	return eps
}

// router writes FRR's configuration and starts zebra and bgpd in the
// router's namespace without systemd (lab-feasibility.md §1: explicit
// -f/-i/-z/--vty_socket paths per instance; the daemons drop to user frr,
// so the directory must be theirs).
func (u *upper) router() error {
	t := u.s.Topology
	r := t.Router.Name
	dir := u.s.HostDir(r)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	zebra, bgpd, err := RouterConfig(t, dir)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "zebra.conf"), zebra, 0o640); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "bgpd.conf"), bgpd, 0o640); err != nil {
		return err
	}
	if fu, err := user.Lookup("frr"); err == nil {
		uid, _ := strconv.Atoi(fu.Uid)
		gid, _ := strconv.Atoi(fu.Gid)
		for _, f := range []string{dir, filepath.Join(dir, "zebra.conf"), filepath.Join(dir, "bgpd.conf")} {
			if err := os.Chown(f, uid, gid); err != nil {
				return err
			}
		}
	}
	if t.Router.Masquerade {
		// The seed's `/ip/firewall/nat/add action=masquerade chain=srcnat`.
		if err := run("ip", "netns", "exec", u.s.NSName(r), "iptables", "-w", "-t", "nat", "-A", "POSTROUTING", "-o", "eth2", "-j", "MASQUERADE"); err != nil {
			return err
		}
	}
	for _, d := range []string{"zebra", "bgpd"} {
		bin := frrZebra
		if d == "bgpd" {
			bin = frrBGPd
		}
		pid := filepath.Join(dir, d+".pid")
		log := filepath.Join(dir, d+".log")
		out, err := exec.Command("ip", "netns", "exec", u.s.NSName(r), bin, "-d", "-u", "frr", "-g", "frr",
			"-f", filepath.Join(dir, d+".conf"), "-i", pid, "-z", filepath.Join(dir, "zserv.api"),
			"--vty_socket", dir, "-A", "127.0.0.1").CombinedOutput()
		if err != nil {
			return fmt.Errorf("start %s: %w: %s", bin, err, strings.TrimSpace(string(out)))
		}
		if err := u.recordPIDFile(r, d, pid, log); err != nil {
			return err
		}
	}
	return nil
}

// Registration is what a node's calico-node (and Calico IPAM) would have
// put in the datastore before the user's commands: the Node resources with
// their BGP addresses and affine blocks, and the default IP pool.
func (t *Topology) Registration() string {
	var b strings.Builder
	for i, n := range t.Nodes {
		fmt.Fprintf(&b, "apiVersion: kbgp.io/v1\nkind: Node\nmetadata:\n  name: %s\n  labels:\n    kubernetes.io/hostname: %s\nspec:\n  bgp:\n", n.Name, n.Name)
		for _, a := range n.Addresses {
			k := "ipv4Address"
			if a.Addr().Is6() {
				k = "ipv6Address"
			}
			fmt.Fprintf(&b, "    %s: %s\n", k, a)
		}
		fmt.Fprintf(&b, "  affineBlocks:\n  - cidr: %s\n---\n", t.Block(i))
	}
	fmt.Fprintf(&b, "apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata:\n  name: default-ipv4-ippool\nspec:\n  cidr: %s\n  blockSize: %d\n  ipipMode: Never\n  vxlanMode: Never\n  natOutgoing: true\n  nodeSelector: all()\n",
		t.Cluster.PodCIDR, t.Cluster.BlockSize)
	return b.String()
}

// ServiceInput is the services as the agent's compiler sees them.
func (t *Topology) ServiceInput() []config.Service {
	var out []config.Service
	for _, s := range t.Services {
		cs := config.Service{Namespace: "default", Name: s.Name, Type: "ClusterIP", ClusterIPs: []netip.Addr{s.IP}}
		if s.ExternalTrafficPolicy == "Local" {
			// Only LoadBalancer/NodePort services carry the policy.
			cs.Type, cs.ExternalTrafficPolicy = "LoadBalancer", "Local"
		}
		for _, p := range t.Endpoints(s) {
			cs.Endpoints = append(cs.Endpoints, config.Endpoint{Addr: p.Addr, Node: p.Node, Ready: true})
		}
		out = append(out, cs)
	}
	return out
}

// stores seeds every node's file store: the registration, then the
// topology's setup commands, run with the kbgp binary from the files
// directory, exactly as a user would type them.
func (u *upper) stores() error {
	t := u.s.Topology
	files := filepath.Join(u.s.Dir, "files")
	if err := os.MkdirAll(files, 0o755); err != nil {
		return err
	}
	for name, content := range t.Files {
		if err := os.WriteFile(filepath.Join(files, name), []byte(content), 0o644); err != nil {
			return err
		}
	}
	reg := filepath.Join(u.s.Dir, "registration.yaml")
	if err := os.WriteFile(reg, []byte(t.Registration()), 0o644); err != nil {
		return err
	}
	svc, err := json.MarshalIndent(t.ServiceInput(), "", "  ")
	if err != nil {
		return err
	}
	for _, n := range t.Nodes {
		st := u.s.Store(n.Name)
		if err := os.MkdirAll(st, 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(u.s.HostDir(n.Name), "services.json"), svc, 0o644); err != nil {
			return err
		}
		cmds := append([]string{"apply -f " + reg}, t.Setup...)
		for _, c := range cmds {
			args := append(strings.Fields(c), "--store", st)
			cmd := exec.Command(u.s.Binary, args...)
			cmd.Dir = files
			if out, err := cmd.CombinedOutput(); err != nil {
				return fmt.Errorf("node %s: kbgp %s: %w: %s", n.Name, c, err, strings.TrimSpace(string(out)))
			}
		}
	}
	return nil
}

// agentFlags are the optional flags this build's `kbgp agent` supports.
func (u *upper) agentFlags() (map[string]bool, error) {
	out, err := exec.Command(u.s.Binary, "agent", "--help").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--node-name") {
		return nil, fmt.Errorf("this kbgp build has no usable `kbgp agent` (%s agent --help: %v)", u.s.Binary, err)
	}
	flags := map[string]bool{}
	for _, f := range []string{"--services", "--ip", "--ip6", "--connect-retry"} {
		flags[f] = strings.Contains(string(out), f+" ")
	}
	return flags, nil
}

// agents starts `kbgp agent` in every node's namespace, with the node's
// address given explicitly (--ip) rather than autodetected.
func (u *upper) agents() error {
	if u.opt.NoAgents {
		return nil
	}
	flags, err := u.agentFlags()
	if err != nil {
		return err
	}
	u.s.AgentServices = flags["--services"]
	for _, n := range u.s.Topology.Nodes {
		argv := []string{u.s.Binary, "agent", "--node-name", n.Name, "--store", u.s.Store(n.Name), "--socket", u.s.Socket(n.Name)}
		for _, a := range n.Addresses {
			if f := map[bool]string{true: "--ip", false: "--ip6"}[a.Addr().Is4()]; flags[f] {
				argv = append(argv, f, a.String())
			}
		}
		if flags["--connect-retry"] {
			argv = append(argv, "--connect-retry", "1s")
		}
		if flags["--services"] {
			argv = append(argv, "--services", filepath.Join(u.s.HostDir(n.Name), "services.json"))
		}
		if err := u.start(n.Name, "agent", filepath.Join(u.s.HostDir(n.Name), "agent.log"), argv...); err != nil {
			return err
		}
	}
	return nil
}

// waitSessions waits until every router session is Established and the
// router has a route for every node's block.
func (u *upper) waitSessions(ctx context.Context) error {
	if u.opt.NoAgents {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, u.opt.Timeout)
	defer cancel()
	lastDot := time.Now()
	for {
		if time.Since(lastDot) >= 2*time.Second {
			fmt.Fprint(u.opt.Out, ".") // progress while BGP converges
			lastDot = time.Now()
		}
		ss, err := RouterSessions(u.s)
		down := 0
		for _, s := range ss {
			if s.State != "Established" {
				down++
			}
		}
		if err == nil && down == 0 && len(ss) > 0 {
			missing := u.missingBlocks()
			if len(missing) == 0 {
				return nil
			}
			err = fmt.Errorf("router has no route yet for %v", missing)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("BGP not converged after %s: router sessions %v: %v (logs under %s)", u.opt.Timeout, ss, err, u.s.Dir)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// missingBlocks are the node blocks the router has no kernel route for
// (BGP converged means the client can reach every pod).
func (u *upper) missingBlocks() []string {
	out, err := output("ip", "-n", u.s.NSName(u.s.Topology.Router.Name), "-4", "route", "show", "proto", "bgp")
	if err != nil {
		return []string{err.Error()}
	}
	var missing []string
	have := map[string]bool{}
	for _, l := range strings.Split(out, "\n") {
		if f := strings.Fields(l); len(f) > 0 {
			have[f[0]] = true
		}
	}
	for i := range u.s.Topology.Nodes {
		if b := u.s.Topology.Block(i); b.Addr().Is4() && !have[b.String()] {
			missing = append(missing, b.String())
		}
	}
	return missing
}

// Session is one BGP session as seen from host A.
type Session struct {
	A, B  string // host names
	Addr  netip.Addr
	State string
}

func (s Session) String() string { return s.A + "->" + s.B + ":" + s.State }

// Vtysh runs vtysh commands against the lab router.
func Vtysh(s *State, cmds ...string) (string, error) {
	args := []string{"--vty_socket", s.VtySocketDir()}
	for _, c := range cmds {
		args = append(args, "-c", c)
	}
	return output("vtysh", args...)
}

// RouterSessions are the router's sessions from `show bgp summary json`.
func RouterSessions(s *State) ([]Session, error) {
	out, err := Vtysh(s, "show bgp neighbors json")
	if err != nil {
		return nil, err
	}
	var nbrs map[string]struct {
		State string `json:"bgpState"`
	}
	if err := json.Unmarshal([]byte(out), &nbrs); err != nil {
		return nil, fmt.Errorf("vtysh show bgp neighbors json: %w", err)
	}
	var ss []Session
	for addr, n := range nbrs {
		a, err := netip.ParseAddr(addr)
		if err != nil {
			continue
		}
		ss = append(ss, Session{A: s.Topology.Router.Name, B: s.Topology.hostOf(a), Addr: a, State: n.State})
	}
	slices.SortFunc(ss, func(x, y Session) int { return x.Addr.Compare(y.Addr) })
	if len(ss) == 0 {
		return nil, errors.New("router has no BGP neighbors")
	}
	return ss, nil
}

// hostOf names the host with address a ("" if none).
func (t *Topology) hostOf(a netip.Addr) string {
	for _, n := range t.Nodes {
		for _, p := range n.Addresses {
			if p.Addr() == a {
				return n.Name
			}
		}
	}
	for _, p := range append(slices.Clone(t.Router.ClusterAddresses), t.Router.ClientAddresses...) {
		if p.Addr() == a {
			return t.Router.Name
		}
	}
	return a.String()
}
