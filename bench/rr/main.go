// Command rrbench benchmarks route reflectors: kbgp, BIRD 2, FRR and GoBGP
// (and a null reflector that only forwards bytes), each alone in a fresh
// network namespace, against the same Go testers and monitors built on
// kbgp's wire codec. See bench/README.md and docs/benchmarks.md.
//
// kbgp runs twice: "kbgp" is its speaker alone, as its own small binary
// (cmd/kbgp-speaker, built for each run, so that no harness library counts
// in its memory); "kbgp-agent" is `kbgp agent`, the product, built from the repository (or
// given with --kbgp) and configured through its file store with Calico
// resources (dut.AgentStoreYAML). GoBGP runs twice too: "gobgp" is Debian's
// gobgpd (3.10), "gobgp4" the newest release on the Go module proxy
// (dut.GoBGP4Version), built from source once and cached.
//
//	rrbench [--quick] [--duts kbgp,kbgp-agent,bird,frr,gobgp,gobgp4] [--scenarios k8s,table,sessions] [--runs 3] [--kbgp bin/kbgp]
//	rrbench report [--name combined] results1.json results2.json ...
//
// Internal subcommands (run by rrbench itself, inside a run's namespace):
// _run (one DUT, one scenario), _dut-kbgp and _dut-null (the Go DUTs).
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/kbgp/kbgp/bench/rr/dut"
	"github.com/kbgp/kbgp/bench/rr/speakerdut"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "_run":
			err = runInner(ctx, os.Args[2:])
		case "_dut-kbgp", "_dut-null":
			err = runGoDUT(ctx, os.Args[1], os.Args[2:])
		case "report":
			err = reportCmd(os.Args[2:])
		default:
			err = orchestrate(ctx, os.Args[1:])
		}
	} else {
		err = orchestrate(ctx, nil)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "rrbench:", err)
		os.Exit(1)
	}
}

func runGoDUT(ctx context.Context, which string, args []string) error {
	if len(args) != 1 {
		return fmt.Errorf("%s: want one argument, the config file (speakerdut.Config)", which)
	}
	cfg, err := speakerdut.ReadConfig(args[0])
	if err != nil {
		return fmt.Errorf("%s: %w", which, err)
	}
	if which == "_dut-kbgp" {
		return dut.RunKBGP(ctx, cfg)
	}
	return dut.RunNull(ctx, cfg)
}
