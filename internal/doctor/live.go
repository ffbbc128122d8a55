package doctor

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"time"

	"github.com/kbgp/kbgp/internal/ctlapi"
	"github.com/kbgp/kbgp/internal/fib"
	"github.com/kbgp/kbgp/internal/status"
)

// liveTimeout bounds each command and API call of Live.
const liveTimeout = 10 * time.Second

// Live reads this node's kernel and agent state into in: iptables-save
// (nat table), nft list ruleset and ipvsadm -Ln when installed and not
// already given, the presence of kube-ipvs0 (kube-proxy IPVS mode), the
// kernel's routes with protocol in.RouteProtocol (`ip -j route show proto
// N`), and the sessions of the kbgp agent listening on socket. The routes
// are filed under the agent's node name, or the host name when the agent
// cannot be reached. It returns notes on what could not be read; none of
// them is fatal.
func Live(ctx context.Context, in *Inputs, socket string) []string {
	var notes []string
	run := func(name string, args ...string) []byte {
		if _, err := exec.LookPath(name); err != nil {
			notes = append(notes, name+" not installed: skipped")
			return nil
		}
		cctx, cancel := context.WithTimeout(ctx, liveTimeout)
		defer cancel()
		out, err := exec.CommandContext(cctx, name, args...).Output()
		if err != nil {
			var ee *exec.ExitError
			if errors.As(err, &ee) && len(ee.Stderr) > 0 {
				err = fmt.Errorf("%w: %s", err, ee.Stderr)
			}
			notes = append(notes, fmt.Sprintf("%s %v: %v", name, args, err))
			return nil
		}
		return out
	}
	host, _ := os.Hostname()
	if in.Source == "" {
		in.Source = "node " + host
	}
	if in.IPTablesSave == nil {
		in.IPTablesSave = run("iptables-save", "-t", "nat")
	}
	if in.NFTRuleset == nil {
		in.NFTRuleset = run("nft", "list", "ruleset")
	}
	if in.IPVS == nil {
		in.IPVS = run("ipvsadm", "-Ln")
	}
	if in.KubeProxyMode == "" {
		if _, err := os.Stat("/sys/class/net/kube-ipvs0"); err == nil {
			in.KubeProxyMode = ProxyIPVS
		}
	}
	proto := cmp.Or(in.RouteProtocol, fib.DefaultProtocol)
	var routes []KernelRoute
	routesRead := false
	if _, err := exec.LookPath("ip"); err != nil {
		notes = append(notes, "ip not installed: kernel routes skipped")
	} else {
		cctx, cancel := context.WithTimeout(ctx, liveTimeout)
		routes, err = KernelRoutes(cctx, "", proto)
		cancel()
		if err != nil {
			notes = append(notes, fmt.Sprintf("kernel routes not read: %v", err))
		} else {
			routesRead = true
		}
	}
	fileRoutes := func(node string) {
		if !routesRead {
			return
		}
		if in.Routes == nil {
			in.Routes = map[string][]KernelRoute{}
		}
		if _, given := in.Routes[node]; !given {
			in.Routes[node] = routes
		}
	}
	c, err := ctlapi.Dial(ctlapi.SocketPath(socket))
	if err != nil {
		fileRoutes(host)
		return append(notes, fmt.Sprintf("agent status not read: %v", err))
	}
	defer c.Close()
	cctx, cancel := context.WithTimeout(ctx, liveTimeout)
	defer cancel()
	n, err := c.Node(cctx)
	if err != nil {
		fileRoutes(host)
		return append(notes, fmt.Sprintf("agent status not read: %v", err))
	}
	fileRoutes(n.Name)
	peers, err := c.Peers(cctx)
	if err != nil {
		return append(notes, fmt.Sprintf("agent sessions not read: %v", err))
	}
	if in.Sessions == nil {
		in.Sessions = map[string][]status.Peer{}
	}
	in.Sessions[n.Name] = peers
	return notes
}
