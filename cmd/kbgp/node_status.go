package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/kbgp/kbgp/internal/ctlapi"
	"github.com/kbgp/kbgp/internal/status"
)

// The clock and time zone `kbgp node` renders SINCE with; tests fix them.
var (
	nodeClock    = time.Now
	nodeLocation = time.Local
)

// newNodeCmd is `kbgp node`: the node's own state over the agent's control
// socket (status, peers, routes) and, from the datastore, `node config`.
func newNodeCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "node",
		Short: "Show this node's BGP status, peers and routes, or a node's compiled config",
	}
	cmd.AddCommand(newNodeStatusCmd(), newNodePeersCmd(), newNodeRoutesCmd(), newNodeConfigCmd(), newNodeDrainCmd())
	return cmd
}

// agentFlags adds --socket and -o to cmd and returns a function that dials
// the agent and one that returns the output format.
func agentFlags(cmd *cobra.Command) (dial func() (*ctlapi.Client, error), format func() (string, error)) {
	var socket, output string
	cmd.Flags().StringVar(&socket, "socket", "", "the agent's control socket (default $"+ctlapi.SocketEnv+" or "+ctlapi.DefaultSocket+")")
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json")
	dial = func() (*ctlapi.Client, error) { return ctlapi.Dial(ctlapi.SocketPath(socket)) }
	format = func() (string, error) {
		if output != "text" && output != "json" {
			return "", fmt.Errorf("unknown output format %q: want text or json", output)
		}
		return output, nil
	}
	return dial, format
}

func writeJSON(w io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

func newNodeStatusCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show BGP peer status like `calicoctl node status`",
		Long: `Ask the local kbgp agent for its BGP sessions and print them exactly as
calicoctl node status does: the same preamble ("Calico process is running.",
kept word for word so scripts written for Calico keep working), one table per
address family with PEER ADDRESS, PEER TYPE, STATE (BIRD protocol state: up,
start, stop, down), SINCE (HH:MM:SS within 20 hours, else the date) and INFO
(BGP state and last error). -o json prints the full node state instead.`,
		Example: "  kbgp node status\n  kbgp node status -o json | jq '.peers[].state'",
		Args:    cobra.NoArgs,
	}
	dial, format := agentFlags(cmd)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		f, err := format()
		if err != nil {
			return err
		}
		c, err := dial()
		if err != nil {
			if f == "text" {
				fmt.Fprintln(cmd.OutOrStdout(), status.ProcessNotRunning)
			}
			return err
		}
		defer c.Close()
		n, err := c.Node(ctx(cmd))
		if err != nil {
			return err
		}
		if f == "json" {
			return writeJSON(cmd.OutOrStdout(), n)
		}
		return status.WriteNodeStatus(cmd.OutOrStdout(), &n, nodeClock(), nodeLocation)
	}
	return cmd
}

func newNodePeersCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "peers [ADDRESS|SESSION]",
		Short: "List BGP peers, or show one peer in detail",
		Long: `Without an argument, list every BGP session with its AS, state, prefix
counts and last error. With a peer address or session name (e.g.
Node_172_16_30_102), show that session in detail: negotiated capabilities,
timers, prefix counts, message and NOTIFICATION counters, last error.`,
		Example: "  kbgp node peers\n  kbgp node peers 172.16.30.102\n  kbgp node peers Mesh_10_0_0_2 -o json",
		Args:    cobra.MaximumNArgs(1),
	}
	dial, format := agentFlags(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		f, err := format()
		if err != nil {
			return err
		}
		c, err := dial()
		if err != nil {
			return err
		}
		defer c.Close()
		out := cmd.OutOrStdout()
		if len(args) == 1 {
			p, err := c.Peer(ctx(cmd), args[0])
			if err != nil {
				return err
			}
			if f == "json" {
				return writeJSON(out, p)
			}
			return status.WritePeerDetail(out, &p, nodeLocation)
		}
		ps, err := c.Peers(ctx(cmd))
		if err != nil {
			return err
		}
		if f == "json" {
			return writeJSON(out, ps)
		}
		return status.WritePeers(out, ps, nodeClock(), nodeLocation)
	}
	return cmd
}

func newNodeRoutesCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "routes [PREFIX|ADDRESS]",
		Short: "Show the node's RIB: every path, best and multipath marked",
		Long: `Print the Loc-RIB with all paths per prefix and their attributes. With a
prefix (10.244.0.0/16), print that prefix and everything inside it; with an
address (10.244.1.5), print the longest-match route for it.`,
		Example: "  kbgp node routes\n  kbgp node routes 10.244.0.0/16\n  kbgp node routes 10.96.0.10 -o json",
		Args:    cobra.MaximumNArgs(1),
	}
	dial, format := agentFlags(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		f, err := format()
		if err != nil {
			return err
		}
		q := ""
		if len(args) == 1 {
			// Check locally so a typo fails before reaching the agent.
			if _, err := status.ParseRouteQuery(args[0]); err != nil {
				return err
			}
			q = args[0]
		}
		c, err := dial()
		if err != nil {
			return err
		}
		defer c.Close()
		rib, err := c.Routes(ctx(cmd), q)
		if err != nil {
			return err
		}
		if f == "json" {
			return writeJSON(cmd.OutOrStdout(), rib)
		}
		return status.WriteRoutes(cmd.OutOrStdout(), &rib)
	}
	return cmd
}

// ctx is the command's context, or Background when run without one.
func ctx(cmd *cobra.Command) context.Context {
	if c := cmd.Context(); c != nil {
		return c
	}
	return context.Background()
}

func newNodeDrainCmd() *cobra.Command {
	var (
		undo    bool
		message string
	)
	cmd := &cobra.Command{
		Use:   "drain",
		Short: "Withdraw this node's routes and shut its BGP sessions down, keeping the agent running",
		Long: `Ask the local kbgp agent to drain its node: it withdraws every prefix it
originates, waits for the withdrawals to reach its peers, then shuts every
session down with an RFC 9003 Administrative Shutdown carrying --message, and
keeps them down. The agent records the drain as the kbgp.io/drain annotation
on its Node (the same as kbgp annotate node NODE kbgp.io/drain=MSG), so it
survives agent restarts. --undo removes it and brings sessions and routes
back. The command returns once the agent has applied the change.`,
		Example: "  kbgp node drain --message 'kernel upgrade, back at 14:00'\n  kbgp node drain --undo",
		Args:    cobra.NoArgs,
	}
	cmd.Flags().BoolVar(&undo, "undo", false, "undrain: bring the sessions and routes back")
	cmd.Flags().StringVar(&message, "message", "", "RFC 9003 shutdown message sent to every peer, at most 255 bytes (default: names the node)")
	dial, format := agentFlags(cmd)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		f, err := format()
		if err != nil {
			return err
		}
		if undo && message != "" {
			return fmt.Errorf("--message is for draining; --undo takes none")
		}
		c, err := dial()
		if err != nil {
			return err
		}
		defer c.Close()
		res, err := c.Drain(ctx(cmd), ctlapi.DrainRequest{Undo: undo, Message: message})
		if err != nil {
			return err
		}
		if f == "json" {
			return writeJSON(cmd.OutOrStdout(), res)
		}
		w := cmd.OutOrStdout()
		switch {
		case res.Drained && res.Changed:
			fmt.Fprintf(w, "node %s drained: routes withdrawn, sessions shut down (%q)\n", res.Node, res.Message)
		case res.Drained:
			fmt.Fprintf(w, "node %s was already drained (%q)\n", res.Node, res.Message)
		case res.Changed:
			fmt.Fprintf(w, "node %s undrained: sessions starting, routes advertised\n", res.Node)
		default:
			fmt.Fprintf(w, "node %s was not drained\n", res.Node)
		}
		return nil
	}
	return cmd
}
