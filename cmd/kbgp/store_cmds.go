package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/kbgp/kbgp/internal/store"
	"github.com/kbgp/kbgp/internal/store/ctl"
)

// storeFlag adds --store DIR to cmd and returns a function that opens the
// file store it names (default $KBGP_STORE, else /var/lib/kbgp/store).
func storeFlag(cmd *cobra.Command) func() (store.Datastore, error) {
	dir := cmd.Flags().String("store", "", fmt.Sprintf("datastore directory (default $%s, else %s)", store.EnvDir, store.DefaultDir))
	var dsf datastoreFlags
	dsf.register(cmd.Flags())
	return func() (store.Datastore, error) { return dsf.open(*dir) }
}

const kindsHelp = `Kinds: bgpconfiguration (bgpconfig), bgppeer (bp), bgpfilter (bf), node (no),
ippool (pool); singular, plural and short names are accepted.`

func newApplyCmd() *cobra.Command {
	var files []string
	var recursive bool
	cmd := &cobra.Command{
		Use:   "apply -f FILE|DIR|-",
		Short: "Create or replace resources from YAML or JSON files",
		Long: `Create or replace resources (BGPConfiguration, BGPPeer, BGPFilter, Node, IPPool)
from files, directories or standard input (-f -). Each resource is reported
as created, configured or unchanged.

Apply replaces the whole stored resource, labels and annotations included,
as calicoctl apply does: labels set with kbgp label are kept only if the
file carries them too (apply warns when it removes any).

A file with any error applies nothing; every problem in it is reported with
file, line, resource and field. Other files are still applied, and the exit
status is 1 if anything failed.`,
		Example: "  kbgp apply -f peer-1.yaml\n  kbgp apply -f manifests/\n  cat peer.yaml | kbgp apply -f -",
		Args:    cobra.NoArgs,
	}
	open := storeFlag(cmd)
	cmd.Flags().StringArrayVarP(&files, "filename", "f", nil, "file, directory or - for standard input (repeatable)")
	cmd.Flags().BoolVarP(&recursive, "recursive", "R", false, "also read the subdirectories of -f directories")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if len(files) == 0 {
			return fmt.Errorf("must specify -f FILE, -f DIR or -f -")
		}
		ds, err := open()
		if err != nil {
			return err
		}
		return ctl.Apply(cmd.Context(), ds, files, recursive, cmd.InOrStdin(), cmd.OutOrStdout(), cmd.ErrOrStderr())
	}
	return cmd
}

func newGetCmd() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:     "get KIND [NAME...]",
		Short:   "Show resources as a table, YAML or JSON",
		Long:    "Show resources of one kind, all or by name.\n\n" + kindsHelp,
		Example: "  kbgp get bgppeers\n  kbgp get node ubuntu-2 -o yaml\n  kbgp get nodes -o wide",
		Args:    cobra.MinimumNArgs(1),
	}
	open := storeFlag(cmd)
	cmd.Flags().StringVarP(&output, "output", "o", "", "output format: yaml, json or wide (default: table)")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		ds, err := open()
		if err != nil {
			return err
		}
		return ctl.Get(cmd.Context(), ds, args[0], args[1:], output, cmd.OutOrStdout(), cmd.ErrOrStderr())
	}
	return cmd
}

func newDeleteCmd() *cobra.Command {
	var files []string
	var recursive, ignoreNotFound bool
	cmd := &cobra.Command{
		Use:     "delete (-f FILE|DIR|- | KIND NAME...)",
		Short:   "Delete resources by file or by kind and name",
		Long:    "Delete the resources named in files, or resources by kind and name.\n\n" + kindsHelp,
		Example: "  kbgp delete -f peer-1.yaml\n  kbgp delete bgppeer rack1-tor",
	}
	open := storeFlag(cmd)
	cmd.Flags().StringArrayVarP(&files, "filename", "f", nil, "file, directory or - for standard input (repeatable)")
	cmd.Flags().BoolVarP(&recursive, "recursive", "R", false, "also read the subdirectories of -f directories")
	cmd.Flags().BoolVar(&ignoreNotFound, "ignore-not-found", false, "treat resources that do not exist as deleted")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		switch {
		case len(files) > 0 && len(args) > 0:
			return fmt.Errorf("give either -f FILE or KIND NAME, not both")
		case len(files) == 0 && len(args) < 2:
			return fmt.Errorf("must specify -f FILE or KIND NAME")
		}
		ds, err := open()
		if err != nil {
			return err
		}
		if len(files) > 0 {
			return ctl.DeleteFiles(cmd.Context(), ds, files, recursive, ignoreNotFound, cmd.InOrStdin(), cmd.OutOrStdout(), cmd.ErrOrStderr())
		}
		return ctl.Delete(cmd.Context(), ds, args[0], args[1:], ignoreNotFound, cmd.OutOrStdout(), cmd.ErrOrStderr())
	}
	return cmd
}

func newLabelCmd() *cobra.Command    { return newEditCmd(ctl.Labels) }
func newAnnotateCmd() *cobra.Command { return newEditCmd(ctl.Annotations) }

// newEditCmd builds `kbgp label` or `kbgp annotate`.
func newEditCmd(f ctl.Field) *cobra.Command {
	verb, what, example := "label", "labels", "  kbgp label node ubuntu-2 rack=rack-1\n  kbgp label node ubuntu-2 route-reflector=true\n  kbgp label node ubuntu-2 rack-"
	if f == ctl.Annotations {
		verb, what, example = "annotate", "annotations", "  kbgp annotate node ubuntu-2 projectcalico.org/RouteReflectorClusterID=244.0.0.1"
	}
	var overwrite bool
	cmd := &cobra.Command{
		Use:   verb + " KIND NAME KEY=VALUE... [KEY-...]",
		Short: "Set or remove the " + what + " of a resource",
		Long: "Set (KEY=VALUE) or remove (KEY-) " + what + " of one resource, as kubectl " + verb +
			" does. Changing an existing value needs --overwrite.\n\n" + kindsHelp,
		Example: example,
		Args:    cobra.MinimumNArgs(2),
	}
	open := storeFlag(cmd)
	cmd.Flags().BoolVar(&overwrite, "overwrite", false, "allow changing existing "+what)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		ds, err := open()
		if err != nil {
			return err
		}
		return ctl.Edit(cmd.Context(), ds, f, args[0], args[1], args[2:], overwrite, cmd.OutOrStdout())
	}
	return cmd
}
