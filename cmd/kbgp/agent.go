package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/signal"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/kbgp/kbgp/internal/agent"
	"github.com/kbgp/kbgp/internal/ctlapi"
	"github.com/kbgp/kbgp/internal/fib"
	"github.com/kbgp/kbgp/internal/k8s"
	"github.com/kbgp/kbgp/internal/store"
)

// newAgentCmd is `kbgp agent`, the node agent (internal/agent).
func newAgentCmd() *cobra.Command {
	var (
		node, storeDir, ip4, ip4Method, ip6, ip6Method string
		listen                                         []string
		logLevel, logFormat, socket, metricsAddr       string
		servicesFile, secretsDir, secretsNS            string
		cpuProfile, heapProfile                        string
		dsf                                            datastoreFlags
		fibProto                                       uint8
		drain, noFIB                                   bool
		connectRetry, grHold                           time.Duration
	)
	cmd := &cobra.Command{
		Use:   "agent",
		Short: "Run the node agent: BGP speaker, route reflector and kernel route programming",
		Long: `Run kbgp on this node. The agent registers (or updates) its Node resource with
its autodetected BGP address, watches the datastore, compiles this node's
desired BGP state and applies every change to its BGP speaker without
resetting unaffected sessions, and programs the learned routes into the
kernel. It serves kbgp node status/peers/routes and kbgp health on its unix
control socket and, optionally, Prometheus metrics on a loopback address.

A resource that fails validation never takes the node down: the agent keeps
running on its last good state, reports the error (logs, node status,
kbgp_config_valid) and applies the next good one.

Exit (SIGTERM, SIGINT): by default the agent closes its BGP connections
without a NOTIFICATION and leaves its kernel routes in place, so that peers
keep its routes under graceful restart and forwarding continues while it
restarts (a rolling update). With --drain-on-exit it withdraws its routes,
closes every session with an RFC 9003 shutdown message and removes its
kernel routes (the node is leaving).

Every other setting comes from the resources (BGPConfiguration, BGPPeer,
BGPFilter, Node, IPPool).`,
		Example: `  kbgp agent --store /var/lib/kbgp/store
  NODENAME=ubuntu-2 IP_AUTODETECTION_METHOD=can-reach=172.16.30.254 kbgp agent`,
		Args: cobra.NoArgs,
	}
	f := cmd.Flags()
	f.StringVar(&node, "node-name", "", "this node's name (default $NODENAME, $KBGP_NODE, else the hostname)")
	f.StringVar(&storeDir, "store", "", "file datastore directory (default $"+store.EnvDir+" or "+store.DefaultDir+")")
	dsf.register(f)
	f.StringVar(&ip4, "ip", "", "IPv4 BGP address: autodetect, none or a CIDR such as 172.16.30.101/24 (default $IP or autodetect)")
	f.StringVar(&ip4Method, "ip-autodetection-method", "", "first-found, interface=REGEX, skip-interface=REGEX, can-reach=IP or cidr=CIDR (default $IP_AUTODETECTION_METHOD or first-found)")
	f.StringVar(&ip6, "ip6", "", "IPv6 BGP address: autodetect, none or a CIDR (default $IP6 or none)")
	f.StringVar(&ip6Method, "ip6-autodetection-method", "", "as --ip-autodetection-method, for IPv6 (default $IP6_AUTODETECTION_METHOD or first-found)")
	f.StringSliceVar(&listen, "listen", nil, "BGP listen address:port, repeatable (default: the BGPConfiguration's bindMode and listenPort)")
	f.StringVar(&logLevel, "log-level", "", "debug, info, warning or error (default: the BGPConfiguration's logSeverityScreen)")
	f.StringVar(&logFormat, "log-format", "text", "text or json")
	f.StringVar(&socket, "socket", "", "control API unix socket (default $"+ctlapi.SocketEnv+" or "+ctlapi.DefaultSocket+")")
	f.StringVar(&metricsAddr, "metrics-addr", "", "loopback host:port for /metrics, /livez and /readyz (default: none)")
	f.Uint8Var(&fibProto, "fib-protocol", fib.DefaultProtocol, "rtm_protocol number of kbgp's kernel routes (ip route show proto N)")
	f.BoolVar(&noFIB, "no-fib", false, "do not program kernel routes (a node that only reflects routes)")
	f.BoolVar(&drain, "drain-on-exit", false, "on exit withdraw routes, send Cease (RFC 9003) and remove kernel routes instead of a graceful-restart exit")
	f.StringVar(&servicesFile, "services", "", "JSON file listing the cluster's services and endpoints, re-read within a second of a change: the node originates the /32 of each externalTrafficPolicy Local service with a ready endpoint on it (default: no services)")
	f.StringVar(&secretsDir, "secrets-dir", "", "directory of BGP password secrets laid out DIR/SECRET/KEY (a projected Secret volume works), re-read every second (default $KBGP_SECRETS_DIR, else "+defaultSecretsDir+"; with --datastore kubernetes the default is the Secrets of --secrets-namespace)")
	f.StringVar(&secretsNS, "secrets-namespace", "", "with --datastore kubernetes: namespace whose Secrets hold BGP passwords (default $POD_NAMESPACE, else the service account's namespace, else "+k8s.DefaultNamespace+")")
	f.StringVar(&cpuProfile, "cpu-profile", "", "write a CPU profile of the whole run to this file (go tool pprof), for performance investigations")
	f.StringVar(&heapProfile, "heap-profile", "", "write a heap profile to this file on exit")
	f.DurationVar(&connectRetry, "connect-retry", 0, "BGP ConnectRetry time (default 5s)")
	f.DurationVar(&grHold, "graceful-restart-hold", 0, "after a restart, longest time to keep the adopted kernel routes untouched while sessions come back (default 2m)")

	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if node == "" {
			node = firstEnv("NODENAME", "KBGP_NODE")
		}
		if node == "" {
			h, err := os.Hostname()
			if err != nil {
				return fmt.Errorf("no node name: set --node-name or $NODENAME (hostname: %w)", err)
			}
			node = strings.ToLower(h)
		}
		level := new(slog.LevelVar)
		fromConfig := logLevel == ""
		if !fromConfig {
			l, err := parseLevel(logLevel)
			if err != nil {
				return err
			}
			level.Set(l)
		}
		var h slog.Handler
		hopts := &slog.HandlerOptions{Level: level}
		switch logFormat {
		case "text":
			h = slog.NewTextHandler(cmd.ErrOrStderr(), hopts)
		case "json":
			h = slog.NewJSONHandler(cmd.ErrOrStderr(), hopts)
		default:
			return fmt.Errorf("--log-format %q: want text or json", logFormat)
		}
		var listenAddrs []netip.AddrPort
		for _, s := range listen {
			ap, err := netip.ParseAddrPort(s)
			if err != nil {
				return fmt.Errorf("--listen %q: want address:port such as 0.0.0.0:179 or [::]:179: %w", s, err)
			}
			listenAddrs = append(listenAddrs, ap)
		}
		ds, err := dsf.open(storeDir)
		if err != nil {
			return err
		}
		opts := agent.Options{
			Node:         node,
			Store:        ds,
			IPv4:         agent.Address{Mode: orEnv(ip4, "IP"), Method: orEnv(ip4Method, "IP_AUTODETECTION_METHOD")},
			IPv6:         agent.Address{Mode: orEnv(ip6, "IP6"), Method: orEnv(ip6Method, "IP6_AUTODETECTION_METHOD")},
			Listen:       listenAddrs,
			Socket:       ctlapi.SocketPath(socket),
			MetricsAddr:  metricsAddr,
			FIBProtocol:  fibProto,
			NoFIB:        noFIB,
			Logger:       slog.New(h),
			DrainOnExit:  drain,
			ConnectRetry: connectRetry,
			GRHold:       grHold,
		}
		if servicesFile != "" {
			opts.Services = agent.FileServices{Path: servicesFile}
		} else if src := serviceSource(ds); src != nil {
			// The Kubernetes datastore watches Services and EndpointSlices.
			opts.Services = src
		}
		opts.Secrets = secretSource(ds, secretsDir, secretsNS)
		if opts.IPv6.Mode == "" {
			opts.IPv6.Mode = "none"
		}
		if fromConfig {
			opts.Level = level
		}
		a, err := agent.New(opts)
		if err != nil {
			return err
		}
		ctx, stop := signal.NotifyContext(ctx(cmd), syscall.SIGTERM, syscall.SIGINT)
		defer stop()
		stopProfiles, err := startProfiles(cpuProfile, heapProfile)
		if err != nil {
			return err
		}
		reportStatus(ctx, ds, node, a, opts.Logger)
		return errors.Join(a.Run(ctx), stopProfiles())
	}
	return cmd
}

// startProfiles starts a CPU profile into cpuPath (if set); the returned
// function stops it and writes a heap profile into heapPath (if set).
func startProfiles(cpuPath, heapPath string) (stop func() error, err error) {
	var cpu *os.File
	if cpuPath != "" {
		if cpu, err = os.Create(cpuPath); err != nil {
			return nil, fmt.Errorf("--cpu-profile: %w", err)
		}
		if err := pprof.StartCPUProfile(cpu); err != nil {
			cpu.Close()
			return nil, fmt.Errorf("--cpu-profile: %w", err)
		}
	}
	return func() error {
		var errs []error
		if cpu != nil {
			pprof.StopCPUProfile()
			errs = append(errs, cpu.Close())
		}
		if heapPath != "" {
			f, err := os.Create(heapPath)
			if err != nil {
				return errors.Join(append(errs, fmt.Errorf("--heap-profile: %w", err))...)
			}
			// The in-use numbers are as of the last GC, as with any heap
			// profile; no forced GC on exit.
			errs = append(errs, pprof.Lookup("heap").WriteTo(f, 0), f.Close())
		}
		return errors.Join(errs...)
	}, nil
}

func firstEnv(names ...string) string {
	for _, n := range names {
		if v := os.Getenv(n); v != "" {
			return v
		}
	}
	return ""
}

func orEnv(v, env string) string {
	if v != "" {
		return v
	}
	return os.Getenv(env)
}

func parseLevel(s string) (slog.Level, error) {
	switch strings.ToLower(s) {
	case "debug":
		return slog.LevelDebug, nil
	case "info":
		return slog.LevelInfo, nil
	case "warning", "warn":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("--log-level %q: want debug, info, warning or error", s)
}
