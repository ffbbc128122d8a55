// Command kbgp-speaker is the benchmark's "kbgp" DUT: kbgp's speaker as a
// route reflector (package speakerdut), configured by a small text file
// (speakerdut.Config), running until SIGTERM. rrbench builds and starts it;
// it links nothing but the speaker (no encoding/json, and no profiler
// unless built with -tags profile, for the unmeasured profile run), so its
// peak RSS is the speaker's own.
//
//	kbgp-speaker CONFIG
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/kbgp/kbgp/bench/rr/speakerdut"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: kbgp-speaker CONFIG")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "kbgp-speaker:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, path string) error {
	cfg, err := speakerdut.ReadConfig(path)
	if err != nil {
		return err
	}
	return speakerdut.Run(ctx, cfg)
}
