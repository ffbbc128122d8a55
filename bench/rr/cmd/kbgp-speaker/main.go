// Command kbgp-speaker is the benchmark's "kbgp" DUT: kbgp's speaker as a
// route reflector (package speakerdut), configured by a JSON file, running
// until SIGTERM. rrbench builds and starts it; it links nothing but the
// speaker, so its peak RSS is the speaker's own.
//
//	kbgp-speaker CONFIG.json
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/kbgp/kbgp/bench/rr/speakerdut"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: kbgp-speaker CONFIG.json")
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
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var cfg speakerdut.Config
	if err := json.Unmarshal(b, &cfg); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return speakerdut.Run(ctx, cfg)
}
