package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/kbgp/kbgp/internal/lab"
)

// newLabCmd is `kbgp lab`: the seed network (or a topology file) in
// network namespaces on this machine.
func newLabCmd() *cobra.Command {
	var dir, prefix string
	cmd := &cobra.Command{
		Use:   "lab",
		Short: "Run the seed network (client, FRR router, nodes running kbgp agent, pods, services) in network namespaces",
		Long: `kbgp lab builds the network of the user's notes on this machine out of
network namespaces: a client, an FRR router, Kubernetes nodes each running
kbgp agent with its own datastore, pods answering HTTP with their name and
ClusterIP services implemented like kube-proxy (iptables DNAT, no SNAT).
It needs root. One lab per --dir; everything it creates is listed in
DIR/state.json and removed by "kbgp lab down".`,
		Args: cobra.NoArgs,
	}
	cmd.PersistentFlags().StringVar(&dir, "dir", lab.DefaultDir, "directory for the lab's state file, stores, sockets and logs")
	cmd.PersistentFlags().StringVar(&prefix, "prefix", "", "prefix for every namespace name (default none: client, router, ubuntu-1, ...)")

	var file string
	var noAgents bool
	var timeout time.Duration
	up := &cobra.Command{
		Use:   "up [-f TOPOLOGY.yaml]",
		Short: "Create the lab (default: the seed topology, examples/seed-ibgp.yaml)",
		Example: `  kbgp lab up
  kbgp lab up -f examples/two-reflectors.yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			t := lab.Default()
			if file != "" {
				var err error
				if t, err = lab.Load(file); err != nil {
					return err
				}
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "lab %q: %d nodes, %d pods, %d services\n", t.Name, len(t.Nodes), len(t.Pods()), len(t.Services))
			// Ctrl-C while waiting for BGP removes the half-built lab.
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			s, err := lab.Up(ctx, t, lab.Options{Dir: dir, Prefix: prefix, Out: out, Timeout: timeout, NoAgents: noAgents})
			if err != nil {
				return err
			}
			paths, err := lab.WritePicture(cmd.Context(), s)
			for _, p := range paths {
				fmt.Fprintln(out, "picture:", p)
			}
			if err != nil {
				fmt.Fprintln(cmd.ErrOrStderr(), "warning:", err)
			}
			fmt.Fprintf(out, "lab is up; try `kbgp lab check`, `kbgp lab exec %s -- kbgp node status`, `kbgp lab down`\n", t.Nodes[0].Name)
			return nil
		},
	}
	up.Flags().StringVarP(&file, "filename", "f", "", "topology file (see examples/)")
	up.Flags().BoolVar(&noAgents, "no-agents", false, "start no kbgp agents (run them by hand with `kbgp lab exec`)")
	up.Flags().DurationVar(&timeout, "timeout", 90*time.Second, "how long to wait for the router's BGP sessions")

	var conns int
	check := &cobra.Command{
		Use:   "check",
		Short: "Probe every pod and service from the client; print node status and the router's BGP table",
		Long: `Opens many TCP connections with an HTTP request each from the client to every
pod IP and service IP and prints reached/failed per target. Pods and
externalTrafficPolicy Local services must work; an externalTrafficPolicy
Cluster service is expected to fail partially (the seed's failure 1: DNAT
without SNAT returns asymmetrically) and is reported without failing.
Exit status 1 when a target that must work failed.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return lab.Check(cmd.Context(), dir, cmd.OutOrStdout(), lab.CheckOptions{Connections: conns})
		},
	}
	check.Flags().IntVarP(&conns, "connections", "n", 20, "connections per target")

	down := &cobra.Command{
		Use:   "down",
		Short: "Remove every namespace, link, process and file the lab created",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return lab.Down(dir, cmd.OutOrStdout())
		},
	}

	exe := &cobra.Command{
		Use:   "exec HOST -- CMD...",
		Short: "Run a command inside a lab host's namespace",
		Long: `Runs CMD inside HOST's network namespace. On a node, KBGP_SOCKET and
KBGP_STORE point at that node's agent and datastore; on the router, vtysh
talks to the lab's FRR.`,
		Example: `  kbgp lab exec ubuntu-2 -- kbgp node status
  kbgp lab exec router -- vtysh -c 'show bgp summary'
  kbgp lab exec client -- curl -s http://10.96.0.11/`,
		Args: cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := lab.ExecCommand(cmd.Context(), dir, args[0], args[1:])
			if err != nil {
				return err
			}
			c.Stdin, c.Stdout, c.Stderr = os.Stdin, cmd.OutOrStdout(), cmd.ErrOrStderr()
			err = c.Run()
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				return &exitError{code: ee.ExitCode(), err: errors.New("")}
			}
			return err
		},
	}

	var name, listen string
	pod := &cobra.Command{
		Use:    "pod-server --name NAME --listen ADDR",
		Short:  "HTTP server answering with the pod name (run by the lab inside each pod)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return lab.PodServer(ctx, name, listen)
		},
	}
	pod.Flags().StringVar(&name, "name", "", "pod name to answer with")
	pod.Flags().StringVar(&listen, "listen", ":80", "listen address")
	_ = pod.MarkFlagRequired("name")

	var sopt lab.ScenarioOptions
	scen := &cobra.Command{
		Use:   "scenario NAME",
		Short: "Run a failure scenario with continuous probes from the client and report lost probes",
		Long:  "Scenarios (see README, \"The lab\"):\n" + scenarioList(),
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return lab.RunScenario(cmd.Context(), dir, args[0], cmd.OutOrStdout(), sopt)
		},
	}
	scen.Flags().IntVar(&sopt.Rate, "rate", 20, "TCP connections per second per target")
	scen.Flags().DurationVar(&sopt.Before, "before", 3*time.Second, "probing time before the event")
	scen.Flags().DurationVar(&sopt.After, "after", 15*time.Second, "probing time after the event")
	scen.Flags().StringVar(&sopt.Mode, "mode", "agent", "reflector-down's event: agent (SIGKILL the reflector's agent) or links (set the reflector's uplinks down, then up again)")

	cmd.AddCommand(up, check, down, exe, scen, pod)
	return cmd
}

func scenarioList() string {
	var b strings.Builder
	for _, s := range lab.Scenarios {
		fmt.Fprintf(&b, "  %-16s %s\n", s.Name, s.Doc)
	}
	return b.String()
}
