// Command kbgp is the single kbgp binary: the node agent (`kbgp agent`), the
// datastore CLI (`kbgp apply|get|delete|label|annotate`), node status and the
// lab, and protocol tools (`kbgp mrt dump`, `kbgp decode`).
//
// main only wires subcommands; each lives in its own file and calls into
// internal packages.
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

// version is set at link time with -ldflags "-X main.version=...".
var version = "dev"

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "kbgp",
		Short:         "BGP networking for Kubernetes: speaker, route reflector and node agent",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(
		newVersionCmd(),
		newDecodeCmd(),
		newMRTCmd(),
		newApplyCmd(), newGetCmd(), newDeleteCmd(), newLabelCmd(), newAnnotateCmd(),
		newNodeCmd(), newHealthCmd(),
		newAgentCmd(),
		newLabCmd(),
		newRouterConfigCmd(), newDoctorCmd(),
	)
	return root
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the kbgp version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprintln(cmd.OutOrStdout(), "kbgp", version)
			return nil
		},
	}
}

// exitError carries a process exit code through cobra's RunE.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func main() {
	if err := newRootCmd().Execute(); err != nil {
		code := 1
		if ee, ok := err.(*exitError); ok {
			code = ee.code
		}
		if err.Error() != "" {
			fmt.Fprintln(os.Stderr, "kbgp:", err)
		}
		os.Exit(code)
	}
}
