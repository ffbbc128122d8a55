package main

import (
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/kbgp/kbgp/internal/mrt"
)

func newMRTCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "mrt",
		Short: "Read MRT routing dumps (RFC 6396)",
	}
	var quiet bool
	dump := &cobra.Command{
		Use:   "dump FILE",
		Short: "Print an MRT file (plain, gzip or bzip2; - for stdin) one line per prefix, as `bgpdump -m` does",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var in io.Reader = cmd.InOrStdin()
			if args[0] != "-" {
				f, err := os.Open(args[0])
				if err != nil {
					return err
				}
				defer f.Close()
				in = f
			}
			err := mrt.WriteBGPDump(cmd.OutOrStdout(), in, func(err error) {
				if !quiet {
					fmt.Fprintf(cmd.ErrOrStderr(), "kbgp: %s: skipped: %v\n", args[0], err)
				}
			})
			if err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			return nil
		},
	}
	dump.Flags().BoolVarP(&quiet, "quiet", "q", false, "do not report records that are skipped (unsupported or malformed)")
	cmd.AddCommand(dump)
	return cmd
}
