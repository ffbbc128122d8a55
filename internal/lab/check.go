package lab

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// CheckOptions tune Check.
type CheckOptions struct {
	// Connections per target; default 20.
	Connections int
	// Timeout per connection; default 1s.
	Timeout time.Duration
}

// Check probes every target from the client, prints the table, every
// node's `kbgp node status` and the router's BGP table, redraws the
// picture with the current session states, and returns an error when a
// target that must work did not.
func Check(ctx context.Context, dir string, out io.Writer, opt CheckOptions) error {
	if opt.Connections <= 0 {
		opt.Connections = 20
	}
	if opt.Timeout <= 0 {
		opt.Timeout = time.Second
	}
	if err := RequireRoot(); err != nil {
		return err
	}
	s, err := LoadState(dir)
	if err != nil {
		return err
	}
	t := s.Topology
	fmt.Fprintf(out, "== probes from %s: %d TCP connections + HTTP GET per target\n", t.Client.Name, opt.Connections)
	rs := Probe(s, t.Targets(s.AgentServices), opt.Connections, opt.Timeout)
	WriteTable(out, rs)
	var failed []string
	for _, r := range rs {
		if !r.Pass() {
			failed = append(failed, r.Name)
		}
	}
	for _, n := range t.Nodes {
		fmt.Fprintf(out, "\n== kbgp node status on %s\n", n.Name)
		o, err := exec.CommandContext(ctx, s.Binary, "node", "status", "--socket", s.Socket(n.Name)).CombinedOutput()
		out.Write(o)
		if err != nil {
			fmt.Fprintf(out, "(kbgp node status: %v)\n", err)
		}
	}
	fmt.Fprintf(out, "\n== %s: show bgp ipv4 unicast\n", t.Router.Name)
	o, err := Vtysh(s, "show bgp ipv4 unicast")
	fmt.Fprint(out, o)
	if err != nil {
		fmt.Fprintf(out, "(%v)\n", err)
	}
	fmt.Fprintf(out, "\n== %s: kernel routes\n", t.Router.Name)
	o, _ = output("ip", "-n", s.NSName(t.Router.Name), "route", "show")
	fmt.Fprint(out, o)
	if paths, err := WritePicture(ctx, s); err == nil {
		fmt.Fprintf(out, "\npicture (current session states): %s\n", strings.Join(paths, ", "))
	}
	if len(failed) > 0 {
		return fmt.Errorf("lab check: %d targets that must work failed: %s", len(failed), strings.Join(failed, ", "))
	}
	fmt.Fprintln(out, "\nlab check: every target that must work works")
	return nil
}

// ExecCommand returns a command that runs argv inside host's namespace with
// the host's defaults: on a node, KBGP_SOCKET and KBGP_STORE point at its
// agent's socket and store; on the router, a vtysh without --vty_socket
// gets the router's. The kbgp binary's directory is first on PATH.
func ExecCommand(ctx context.Context, dir, host string, argv []string) (*exec.Cmd, error) {
	if len(argv) == 0 {
		return nil, errors.New("lab exec: no command (usage: kbgp lab exec HOST -- CMD...)")
	}
	s, err := LoadState(dir)
	if err != nil {
		return nil, err
	}
	hosts := s.hosts()
	if !slices.Contains(hosts, host) {
		return nil, fmt.Errorf("lab exec: no host %q in the lab; hosts: %s", host, strings.Join(hosts, ", "))
	}
	env := append(os.Environ(), "PATH="+filepath.Dir(s.Binary)+":"+os.Getenv("PATH"))
	if _, ok := s.Topology.Node(host); ok {
		env = append(env, "KBGP_SOCKET="+s.Socket(host), "KBGP_STORE="+s.Store(host))
	}
	if host == s.Topology.Router.Name && filepath.Base(argv[0]) == "vtysh" && !slices.ContainsFunc(argv, func(a string) bool { return strings.HasPrefix(a, "--vty_socket") }) {
		argv = append([]string{argv[0], "--vty_socket", s.VtySocketDir()}, argv[1:]...)
	}
	if argv[0] == "kbgp" {
		argv[0] = s.Binary
	}
	cmd := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", s.NSName(host)}, argv...)...)
	cmd.Env = env
	return cmd, nil
}
