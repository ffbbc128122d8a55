package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/kbgp/kbgp/internal/ctlapi"
	"github.com/kbgp/kbgp/internal/status"
)

// newHealthCmd is `kbgp health --live|--ready`, the exec probe for the
// kbgp DaemonSet. It asks the agent over its unix socket, so no NAT rule
// can get in the way, and exits 0 when healthy, 1 with the reason on
// standard error otherwise.
func newHealthCmd() *cobra.Command {
	var live, ready bool
	var socket string
	cmd := &cobra.Command{
		Use:   "health --live | --ready",
		Short: "Liveness or readiness probe: exit 0 if healthy, 1 with the reason",
		Long: `Ask the local kbgp agent whether it is live or ready, over its unix control
socket. Exit 0 silently when it is; otherwise print the reason on standard
error and exit 1.

--live: the agent answers and its main loops are making progress.
--ready: Calico's BGP readiness rule. No peers: ready. Within 30 s of the
agent starting, every peer must be Established and no graceful restart may be
in progress; after that one Established peer per address family is enough.`,
		Example: "  kbgp health --ready\n  kbgp health --live --socket /run/kbgp/kbgp.sock",
		Args:    cobra.NoArgs,
	}
	cmd.Flags().BoolVar(&live, "live", false, "check liveness")
	cmd.Flags().BoolVar(&ready, "ready", false, "check readiness")
	cmd.Flags().StringVar(&socket, "socket", "", "the agent's control socket (default $"+ctlapi.SocketEnv+" or "+ctlapi.DefaultSocket+")")
	cmd.MarkFlagsMutuallyExclusive("live", "ready")
	cmd.MarkFlagsOneRequired("live", "ready")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		kind := "ready"
		if live {
			kind = "live"
		}
		fail := func(msg string) error {
			fmt.Fprintln(cmd.ErrOrStderr(), msg)
			return &exitError{code: 1, err: errors.New("")}
		}
		c, err := ctlapi.Dial(ctlapi.SocketPath(socket))
		if err != nil {
			return fail("kbgp is not " + kind + ": " + err.Error())
		}
		defer c.Close()
		var h status.Health
		if live {
			h, err = c.Live(ctx(cmd))
		} else {
			h, err = c.Ready(ctx(cmd))
		}
		if err != nil {
			return fail("kbgp is not " + kind + ": " + err.Error())
		}
		if !h.OK {
			return fail(h.Message(kind))
		}
		return nil
	}
	return cmd
}
