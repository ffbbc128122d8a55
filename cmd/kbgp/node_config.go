package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/kbgp/kbgp/internal/config"
)

// newNodeConfigCmd is `kbgp node config NAME`: the desired BGP state the
// agent on NAME would run, compiled from the store.
func newNodeConfigCmd() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "config NAME",
		Short: "Show the BGP state compiled for one node from the datastore",
		Long: `Compile the resources in the datastore for node NAME and print the result:
the node's AS, router ID and listen port, every BGP session (mesh, global and
node-specific, with passive flag, route-reflector client marking, timers and
the complete ordered import/export policy) and the routes the node
originates. This is what kbgp agent on that node configures.

Warnings about ignored input (a missing BGPFilter, an unresolved password)
go to standard error.`,
		Example: "  kbgp node config ubuntu-2\n  kbgp node config ubuntu-1 -o json",
		Args:    cobra.ExactArgs(1),
	}
	open := storeFlag(cmd)
	cmd.Flags().StringVarP(&output, "output", "o", "yaml", "output format: yaml or json")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if output != "yaml" && output != "json" {
			return fmt.Errorf("unknown output format %q: want yaml or json", output)
		}
		ds, err := open()
		if err != nil {
			return err
		}
		rs, err := ds.List(cmd.Context())
		if err != nil {
			return err
		}
		s, err := config.Compile(config.NewInput(rs, nil), args[0])
		if err != nil {
			return err
		}
		out, err := config.EncodeState(s, output)
		if err != nil {
			return err
		}
		for _, w := range s.Warnings {
			fmt.Fprintln(cmd.ErrOrStderr(), "warning:", w)
		}
		_, err = cmd.OutOrStdout().Write(out)
		return err
	}
	return cmd
}
