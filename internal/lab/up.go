package lab

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/kbgp/kbgp/internal/netns"
)

// Options says where a lab lives and what it runs.
type Options struct {
	// Dir holds the state file and every file the lab writes; default
	// DefaultDir. One lab per Dir.
	Dir string
	// Prefix starts every namespace name; "" gives the seed's names
	// (client, router, ubuntu-1, ...). Tests use e.g. "kbgpt<pid>-".
	Prefix string
	// Binary is the kbgp binary (default: this executable).
	Binary string
	// Out receives progress lines; nil discards them.
	Out io.Writer
	// Timeout bounds the wait for BGP sessions in Up; default 90s.
	Timeout time.Duration
	// NoAgents brings up the network, pods, services, router and stores
	// but starts no agents (to run kbgp agent by hand with `lab exec`).
	NoAgents bool
}

func (o *Options) fill() error {
	if o.Dir == "" {
		o.Dir = DefaultDir
	}
	if o.Out == nil {
		o.Out = io.Discard
	}
	if o.Timeout == 0 {
		o.Timeout = 90 * time.Second
	}
	if o.Binary == "" {
		exe, err := os.Executable()
		if err != nil {
			return fmt.Errorf("lab: find the kbgp binary: %w", err)
		}
		o.Binary = exe
	}
	if len(o.Prefix) > 32 || strings.ContainsAny(o.Prefix, "/ \x00") {
		return fmt.Errorf("lab: namespace prefix %q must be at most 32 characters without '/' or spaces", o.Prefix)
	}
	return nil
}

// RequireRoot fails unless the process runs as root with the tools the lab
// needs on $PATH.
func RequireRoot() error {
	if os.Geteuid() != 0 {
		return errors.New("lab: must run as root (it creates network namespaces, veths and iptables rules): try `sudo kbgp lab ...`")
	}
	var missing []string
	for _, b := range []string{"ip", "iptables", "vtysh", frrZebra, frrBGPd} {
		if _, err := exec.LookPath(b); err != nil {
			missing = append(missing, b)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("lab: missing %s (Debian: apt-get install iproute2 iptables frr, or run hack/install-deps.sh)", strings.Join(missing, ", "))
	}
	return nil
}

const (
	frrZebra = "/usr/lib/frr/zebra"
	frrBGPd  = "/usr/lib/frr/bgpd"
)

// step prints a progress line around fn.
func step(out io.Writer, n, total int, what string, fn func() error) error {
	fmt.Fprintf(out, "[%d/%d] %s ... ", n, total, what)
	t0 := time.Now()
	err := fn()
	if err != nil {
		fmt.Fprintf(out, "FAILED (%v)\n", err)
		return err
	}
	fmt.Fprintf(out, "done (%.2fs)\n", time.Since(t0).Seconds())
	return nil
}

// Up creates the lab described by t. On failure it removes whatever it
// created. It refuses to run when a lab already exists in opt.Dir or when
// one of the lab's namespace names is taken.
func Up(ctx context.Context, t *Topology, opt Options) (*State, error) {
	if err := opt.fill(); err != nil {
		return nil, err
	}
	if err := RequireRoot(); err != nil {
		return nil, err
	}
	if _, err := os.Stat(statePath(opt.Dir)); err == nil {
		return nil, fmt.Errorf("lab: a lab already exists (%s); use `kbgp lab check` or remove it with `kbgp lab down` first", statePath(opt.Dir))
	}
	s := &State{Prefix: opt.Prefix, Dir: opt.Dir, Created: time.Now().UTC(), Binary: opt.Binary, Topology: t}
	for _, h := range s.hosts() {
		if _, err := os.Stat(filepath.Join(netns.Dir, s.NSName(h))); err == nil {
			return nil, fmt.Errorf("lab: namespace %q already exists (another lab, or left over?): not creating a second lab; remove it with `kbgp lab down` or `ip netns delete %s`", s.NSName(h), s.NSName(h))
		}
	}
	if err := claim(opt.Dir); err != nil {
		return nil, err
	}
	if err := s.save(); err != nil {
		_ = os.Remove(statePath(opt.Dir))
		return nil, err
	}
	u := &upper{s: s, opt: opt}
	steps := []struct {
		what string
		fn   func() error
	}{
		{"namespaces", u.namespaces},
		{"links, bridge and routes", u.links},
		{"pods and pod servers", u.pods},
		{"services (iptables DNAT)", u.services},
		{"router (FRR zebra + bgpd)", u.router},
		{"node datastores (kbgp apply/label/annotate)", u.stores},
		{"node agents (kbgp agent)", u.agents},
		{"BGP sessions", func() error { return u.waitSessions(ctx) }},
	}
	for i, st := range steps {
		if err := step(opt.Out, i+1, len(steps), st.what, st.fn); err != nil {
			s.tailLogs(opt.Out, 5)
			fmt.Fprintln(opt.Out, "lab up failed; removing what it created")
			if derr := Down(opt.Dir, io.Discard); derr != nil {
				err = errors.Join(err, derr)
			}
			return nil, err
		}
		if err := s.save(); err != nil {
			return nil, err
		}
	}
	s.Ready = true
	return s, s.save()
}

// hosts are all host names in creation order: client, router, nodes, pods.
func (s *State) hosts() []string {
	t := s.Topology
	h := []string{t.Client.Name, t.Router.Name}
	for _, n := range t.Nodes {
		h = append(h, n.Name)
	}
	for _, p := range t.Pods() {
		h = append(h, p.Name)
	}
	return h
}

// HostDir is the per-host directory (store, sockets, logs).
func (s *State) HostDir(host string) string { return filepath.Join(s.Dir, "hosts", host) }

// Socket is the agent control socket of node.
func (s *State) Socket(node string) string { return filepath.Join(s.HostDir(node), "kbgp.sock") }

// Store is the file store directory of node.
func (s *State) Store(node string) string { return filepath.Join(s.HostDir(node), "store") }

// VtySocketDir is the router's FRR vty socket directory.
func (s *State) VtySocketDir() string { return s.HostDir(s.Topology.Router.Name) }

type upper struct {
	s   *State
	opt Options
}

func (u *upper) ns(host string) *netns.NS { return &netns.NS{Name: u.s.NSName(host)} }

// ip runs `ip -n NS args...`.
func (u *upper) ip(host string, args ...string) error {
	return run("ip", append([]string{"-n", u.s.NSName(host)}, args...)...)
}

func (u *upper) namespaces() error {
	for _, h := range u.s.hosts() {
		n, err := netns.Add(u.s.NSName(h))
		if err != nil {
			return err
		}
		dev, ino, err := nsInode(n.Name)
		if err != nil {
			return err
		}
		u.s.Namespaces = append(u.s.Namespaces, Namespace{Name: n.Name, Host: h, Dev: dev, Inode: ino})
		if err := u.s.save(); err != nil {
			return err
		}
	}
	return nil
}

func (u *upper) veth(aHost, aName string, aAddrs []netip.Prefix, bHost, bName string, bAddrs []netip.Prefix) error {
	err := netns.AddVeth(netns.Veth{NS: u.ns(aHost), Name: aName, Addrs: aAddrs}, netns.Veth{NS: u.ns(bHost), Name: bName, Addrs: bAddrs})
	if err == nil {
		u.s.Links = append(u.s.Links, fmt.Sprintf("veth %s/%s <-> %s/%s", u.s.NSName(aHost), aName, u.s.NSName(bHost), bName))
	}
	return err
}

func (u *upper) links() error {
	t := u.s.Topology
	r := t.Router.Name
	if err := u.veth(t.Client.Name, "eth0", t.Client.Addresses, r, "eth1", t.Router.ClientAddresses); err != nil {
		return err
	}
	for _, a := range t.Client.Addresses {
		gw, _ := sameSubnet(a, t.Router.ClientAddresses)
		if err := u.ip(t.Client.Name, family(gw), "route", "add", "default", "via", gw.String()); err != nil {
			return err
		}
	}
	// The cluster segment: a bridge in the router's namespace (the switch
	// of the seed) that carries the router's cluster-side addresses.
	if err := u.ns(r).AddBridge("eth2"); err != nil {
		return err
	}
	u.s.Links = append(u.s.Links, fmt.Sprintf("bridge %s/eth2", u.s.NSName(r)))
	for _, a := range t.Router.ClusterAddresses {
		if err := u.ns(r).AddAddr("eth2", a); err != nil {
			return err
		}
	}
	if err := u.forwarding(r); err != nil {
		return err
	}
	for i, n := range t.Nodes {
		port := fmt.Sprintf("swp%d", i+1)
		if err := u.veth(n.Name, "eth0", n.Addresses, r, port, nil); err != nil {
			return err
		}
		if err := u.ns(r).SetMaster(port, "eth2"); err != nil {
			return err
		}
		for _, a := range n.Addresses {
			gw, _ := sameSubnet(a, t.Router.ClusterAddresses)
			if err := u.ip(n.Name, family(gw), "route", "add", "default", "via", gw.String()); err != nil {
				return err
			}
		}
		if err := u.forwarding(n.Name); err != nil {
			return err
		}
	}
	return nil
}

func (u *upper) forwarding(host string) error {
	for _, k := range []string{"net.ipv4.ip_forward", "net.ipv6.conf.all.forwarding"} {
		if err := u.ns(host).SetSysctl(k, "1"); err != nil {
			return err
		}
	}
	return nil
}

func family(a netip.Addr) string {
	if a.Is6() {
		return "-6"
	}
	return "-4"
}

// pods wires every pod the way Calico's CNI plugin does: a /32 on the
// pod's eth0, a default route via the link-local 169.254.1.1, proxy ARP on
// the node's end and a /32 route to the pod on the node. The node also gets
// a blackhole for its whole block (Felix does this for affine blocks).
func (u *upper) pods() error {
	t := u.s.Topology
	for i, n := range t.Nodes {
		if err := u.ip(n.Name, "route", "add", "blackhole", t.Block(i).String()); err != nil {
			return err
		}
	}
	for _, p := range t.Pods() {
		if err := u.veth(p.Node, p.Host, nil, p.Name, "eth0", []netip.Prefix{netip.PrefixFrom(p.Addr, p.Addr.BitLen())}); err != nil {
			return err
		}
		if err := u.ns(p.Node).SetSysctl("net.ipv4.conf."+p.Host+".proxy_arp", "1"); err != nil {
			return err
		}
		if err := u.ip(p.Node, "route", "add", p.Addr.String()+"/32", "dev", p.Host); err != nil {
			return err
		}
		if err := u.ip(p.Name, "route", "add", "169.254.1.1", "dev", "eth0", "scope", "link"); err != nil {
			return err
		}
		if err := u.ip(p.Name, "route", "add", "default", "via", "169.254.1.1", "dev", "eth0"); err != nil {
			return err
		}
		log := filepath.Join(u.s.HostDir(p.Name), "pod-server.log")
		if err := u.start(p.Name, "pod-server", log, u.s.Binary, "lab", "pod-server", "--name", p.Name, "--listen", ":80"); err != nil {
			return err
		}
	}
	// Wait until every pod server listens, so `check` right after `up`
	// measures the network, not the start-up.
	deadline := time.Now().Add(10 * time.Second)
	for _, p := range t.Pods() {
		for {
			err := u.ns(p.Name).Do(func() error {
				c, err := dialTimeout(netip.AddrPortFrom(p.Addr, 80), time.Second)
				if err == nil {
					c.Close()
				}
				return err
			})
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("pod server %s does not listen on %s:80: %v (log: %s)", p.Name, p.Addr, err, filepath.Join(u.s.HostDir(p.Name), "pod-server.log"))
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return nil
}

// start runs argv inside host's namespace as a detached process (own
// session, output to log) and records it.
func (u *upper) start(host, role, log string, argv ...string) error {
	p, err := startDetached(u.s.NSName(host), log, argv)
	if err != nil {
		return err
	}
	p.Host, p.Role = host, role
	u.s.Processes = append(u.s.Processes, p)
	return u.s.save()
}

// startDetached starts argv in namespace ns in its own session with its
// output appended to log.
func startDetached(ns, log string, argv []string) (Process, error) {
	if err := os.MkdirAll(filepath.Dir(log), 0o755); err != nil {
		return Process{}, err
	}
	f, err := os.OpenFile(log, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return Process{}, err
	}
	defer f.Close()
	cmd := exec.Command("ip", append([]string{"netns", "exec", ns}, argv...)...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return Process{}, fmt.Errorf("start %s in %s: %w", strings.Join(argv, " "), ns, err)
	}
	pid := cmd.Process.Pid
	// Reap it if it dies while we still run; after we exit, init does.
	go func() { _ = cmd.Wait() }()
	st, err := startTime(pid)
	if err != nil {
		return Process{}, fmt.Errorf("%s in %s exited at once (log: %s)", strings.Join(argv, " "), ns, log)
	}
	return Process{PID: pid, Start: st, Log: log, Argv: argv}, nil
}

// recordPIDFile records a daemon that forked away and wrote its PID file.
func (u *upper) recordPIDFile(host, role, pidFile, log string) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, err := os.ReadFile(pidFile)
		if err == nil {
			var pid int
			if _, err := fmt.Sscan(string(b), &pid); err == nil && pid > 0 {
				if st, err := startTime(pid); err == nil {
					u.s.Processes = append(u.s.Processes, Process{Host: host, Role: role, PID: pid, Start: st, Log: log})
					return u.s.save()
				}
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s in %s wrote no PID file %s (log: %s)", role, u.s.NSName(host), pidFile, log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func run(name string, args ...string) error {
	var out bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(out.String()))
	}
	return nil
}

func output(name string, args ...string) (string, error) {
	var out, errb bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(errb.String()))
	}
	return out.String(), nil
}

// tailLogs prints the last n lines of every recorded process's log (they
// are removed with the lab).
func (s *State) tailLogs(out io.Writer, n int) {
	for _, p := range s.Processes {
		if p.Log == "" || p.Role == "pod-server" {
			continue
		}
		b, err := os.ReadFile(p.Log)
		if err != nil || len(b) == 0 {
			continue
		}
		lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
		fmt.Fprintf(out, "--- last lines of %s (%s on %s):\n", p.Log, p.Role, p.Host)
		for _, l := range lines[max(0, len(lines)-n):] {
			fmt.Fprintln(out, "   ", l)
		}
	}
}
