package main

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kbgp/kbgp/api"
	"github.com/kbgp/kbgp/internal/config"
	"github.com/kbgp/kbgp/internal/routercfg"
)

// newRouterConfigCmd is `kbgp router-config`: the router side of the
// cluster's peering, generated from the datastore.
func newRouterConfigCmd() *cobra.Command {
	var (
		vendor, peering, ebgpAS, routerID, rosVersion string
		routerAddrs                                   []string
		maxPaths                                      int
		rrClientRole                                  bool
	)
	vendors := make([]string, len(routercfg.Vendors))
	for i, v := range routercfg.Vendors {
		vendors[i] = string(v)
	}
	cmd := &cobra.Command{
		Use:   "router-config --vendor " + strings.Join(vendors, "|"),
		Short: "Generate the external router's side of the BGP peering",
		Long: `Generate the configuration the external router needs to peer with the
cluster: one session per route reflector (or per node with --node-peering all),
with the AS numbers, MD5 passwords, timers, BFD and graceful restart the
nodes' BGPPeers use, multipath (ECMP), ADD-PATH receive where the vendor has
it, an import filter that accepts only the pod pools and service ranges, and
an export filter that sends nothing back to the cluster.

The router's address and AS come from the BGPPeers whose peerIP is no node's
address; --router-address and --ebgp-as override them. Resources that will
not match the generated router side (a node without a BGPPeer to the router,
an AS mismatch, an unknown password) are reported on standard error and as
comments in the output.

FRR and BIRD output loads in bgpd and bird as is (check it with
"bgpd -C -f FILE" and "bird -p -c FILE"); RouterOS output is CLI commands
(--routeros-version 7.20 or later uses /routing/bgp/instance).`,
		Example: "  kbgp router-config --vendor routeros\n" +
			"  kbgp router-config --vendor frr --node-peering all > bgpd.conf\n" +
			"  kbgp router-config --vendor routeros --routeros-version 7.20 --ebgp-as 65000",
		Args: cobra.NoArgs,
	}
	open := storeFlag(cmd)
	f := cmd.Flags()
	f.StringVar(&vendor, "vendor", "", "router dialect: "+strings.Join(vendors, ", ")+" (required)")
	f.StringVar(&peering, "node-peering", routercfg.PeerReflectors, "which nodes the router peers with: reflectors or all")
	f.StringVar(&ebgpAS, "ebgp-as", "", "the router's own AS (overrides the BGPPeers' asNumber), e.g. 65000")
	f.StringArrayVar(&routerAddrs, "router-address", nil, "the router's address facing the cluster, one per family (repeatable; default: the BGPPeers' peerIP)")
	f.StringVar(&routerID, "router-id", "", "the router's BGP identifier (default: its IPv4 address)")
	f.StringVar(&rosVersion, "routeros-version", routercfg.DefaultRouterOSVersion, "RouterOS version: 7.1-7.19 syntax, or 7.20+ with /routing/bgp/instance")
	f.IntVar(&maxPaths, "max-paths", routercfg.DefaultMaxPaths, "multipath (ECMP) width")
	f.BoolVar(&rrClientRole, "routeros-rr-client-role", false, "RouterOS: local.role=ibgp-rr-client toward reflectors that treat the router as their client (default: plain ibgp, as in the seed)")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		opts := routercfg.Options{NodePeering: peering, RouterOSVersion: rosVersion, MaxPaths: maxPaths, RouterOSRRClientRole: rrClientRole}
		if vendor == "" {
			return fmt.Errorf("--vendor is required: one of %s", strings.Join(vendors, ", "))
		}
		v, err := routercfg.ParseVendor(vendor)
		if err != nil {
			return err
		}
		opts.Vendor = v
		if ebgpAS != "" {
			if opts.EBGPAS, err = api.ParseASNumber(ebgpAS); err != nil {
				return fmt.Errorf("--ebgp-as: %w", err)
			}
		}
		for _, s := range routerAddrs {
			a, err := netip.ParseAddr(s)
			if err != nil {
				return fmt.Errorf("--router-address %q: want an IPv4 or IPv6 address", s)
			}
			opts.RouterAddresses = append(opts.RouterAddresses, a)
		}
		if routerID != "" {
			if opts.RouterID, err = netip.ParseAddr(routerID); err != nil || !opts.RouterID.Is4() {
				return fmt.Errorf("--router-id %q: want an IPv4 address", routerID)
			}
		}
		if maxPaths < 1 {
			return fmt.Errorf("--max-paths %d: want 1 or more", maxPaths)
		}
		ds, err := open()
		if err != nil {
			return err
		}
		rs, err := ds.List(cmd.Context())
		if err != nil {
			return err
		}
		plan, err := routercfg.Plan(config.NewInput(rs, nil), opts)
		if err != nil {
			return err
		}
		out, err := routercfg.Render(plan, opts)
		if err != nil {
			return err
		}
		for _, w := range plan.Warnings {
			fmt.Fprintln(cmd.ErrOrStderr(), "warning:", w)
		}
		_, err = cmd.OutOrStdout().Write(out)
		return err
	}
	return cmd
}
