package main

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/kbgp/kbgp/api"
	"github.com/kbgp/kbgp/internal/config"
	"github.com/kbgp/kbgp/internal/doctor"
	"github.com/kbgp/kbgp/internal/fib"
)

// newDoctorCmd is `kbgp doctor`: the cluster's BGP set-up checked for the
// ways it loses traffic.
func newDoctorCmd() *cobra.Command {
	var (
		output, proxyMode, iptFile, nftFile, ipvsFile, routerAS, socket string
		live, addPath                                                   bool
		outage                                                          time.Duration
		ipRoutes                                                        []string
		routeProto                                                      uint8
	)
	cmd := &cobra.Command{
		Use:   "doctor",
		Short: "Check the BGP set-up for the ways it loses traffic",
		Long: `Check the resources in the datastore (and with --live this node's kernel and
agent) for the traps that lose traffic: a single route reflector or clients
not peered with every reflector of their cluster ID, graceful-restart times
shorter than a reflector outage, asymmetric service return paths with
kube-proxy in IPVS mode, a blanket MASQUERADE rule, next-hop self or lost ECMP
through a reflector, isolated nodes, selectors that select nothing, duplicate
router IDs or addresses, AS mismatches with the router, overlapping ranges and
partial IPv6. With the kernel's routes (--live, or --ip-routes NODE=FILE with
the output of "ip -j route show proto 77" on that node) it also reports pod
blocks of other nodes missing from the kernel while the node's sessions are
Established, and missing blackhole routes for the node's own blocks.

Each finding gives its severity, what will happen, the evidence and the fix
(a YAML patch or commands). The exit status is 1 when there are errors.`,
		Example: "  kbgp doctor\n" +
			"  kbgp doctor --kube-proxy-mode ipvs --iptables-save node2-iptables.txt\n" +
			"  kbgp doctor --live -o json\n" +
			"  kbgp doctor --ip-routes ubuntu-1=<(ip -j route show proto 77)",
		Args: cobra.NoArgs,
	}
	open := storeFlag(cmd)
	f := cmd.Flags()
	f.StringVarP(&output, "output", "o", "text", "output format: text or json")
	f.StringVar(&proxyMode, "kube-proxy-mode", "", "kube-proxy mode: ipvs, iptables or nftables (default: inferred from --ipvsadm/--iptables-save/--live)")
	f.StringVar(&iptFile, "iptables-save", "", "file with a node's iptables-save output")
	f.StringVar(&nftFile, "nft-ruleset", "", "file with a node's nft list ruleset output")
	f.StringVar(&ipvsFile, "ipvsadm", "", "file with a node's ipvsadm -Ln output")
	f.StringVar(&routerAS, "router-as", "", "the AS the external router is configured with, to compare with the BGPPeers")
	f.BoolVar(&addPath, "router-add-path", false, "the external router accepts ADD-PATH (RFC 7911)")
	f.DurationVar(&outage, "outage", doctor.DefaultOutage, "the route-reflector outage routes must survive")
	f.BoolVar(&live, "live", false, "also read this node's iptables-save, nft, ipvsadm, kernel routes (ip -j route show proto N) and kbgp agent sessions")
	f.StringArrayVar(&ipRoutes, "ip-routes", nil, "NODE=FILE: a node's `ip -j route show proto N` output (repeatable)")
	f.Uint8Var(&routeProto, "fib-protocol", fib.DefaultProtocol, "rtm_protocol number of kbgp's kernel routes (the agent's --fib-protocol)")
	f.StringVar(&socket, "socket", "", "the agent's control socket for --live (default $KBGP_SOCKET or /run/kbgp/kbgp.sock)")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if output != "text" && output != "json" {
			return fmt.Errorf("unknown output format %q: want text or json", output)
		}
		switch proxyMode {
		case "", doctor.ProxyIPVS, doctor.ProxyIPTables, doctor.ProxyNFTables:
		default:
			return fmt.Errorf("--kube-proxy-mode %q: want ipvs, iptables or nftables", proxyMode)
		}
		in := doctor.Inputs{KubeProxyMode: proxyMode, RouterAddPath: addPath, Outage: outage, RouteProtocol: routeProto}
		for _, nf := range ipRoutes {
			node, file, ok := strings.Cut(nf, "=")
			if !ok || node == "" || file == "" {
				return fmt.Errorf("--ip-routes %q: want NODE=FILE, e.g. ubuntu-1=routes.json", nf)
			}
			b, err := os.ReadFile(file)
			if err != nil {
				return fmt.Errorf("--ip-routes: %w", err)
			}
			rs, err := doctor.ParseIPRouteJSON(file, b)
			if err != nil {
				return fmt.Errorf("--ip-routes: %w", err)
			}
			if in.Routes == nil {
				in.Routes = map[string][]doctor.KernelRoute{}
			}
			in.Routes[node] = append(in.Routes[node], rs...)
		}
		if routerAS != "" {
			a, err := api.ParseASNumber(routerAS)
			if err != nil {
				return fmt.Errorf("--router-as: %w", err)
			}
			in.RouterAS = a
		}
		for _, fl := range []struct {
			name string
			dst  *[]byte
		}{{iptFile, &in.IPTablesSave}, {nftFile, &in.NFTRuleset}, {ipvsFile, &in.IPVS}} {
			if fl.name == "" {
				continue
			}
			b, err := os.ReadFile(fl.name)
			if err != nil {
				return err
			}
			*fl.dst = b
		}
		ds, err := open()
		if err != nil {
			return err
		}
		rs, err := ds.List(cmd.Context())
		if err != nil {
			return err
		}
		in.Resources = config.NewInput(rs, nil)
		if live {
			for _, n := range doctor.Live(cmd.Context(), &in, socket) {
				fmt.Fprintln(cmd.ErrOrStderr(), "note:", n)
			}
		}
		rep, err := doctor.Run(in)
		if err != nil {
			return err
		}
		var out []byte
		if output == "json" {
			if out, err = rep.AppendJSON(nil); err != nil {
				return err
			}
		} else {
			out = rep.AppendText(nil)
		}
		if _, err := cmd.OutOrStdout().Write(out); err != nil {
			return err
		}
		if rep.Errors > 0 {
			return &exitError{code: 1, err: fmt.Errorf("doctor: %d error(s) found", rep.Errors)}
		}
		return nil
	}
	return cmd
}
