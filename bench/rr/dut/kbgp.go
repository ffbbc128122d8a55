package dut

import (
	"context"

	"github.com/kbgp/kbgp/bench/rr/speakerdut"
)

// RunKBGP runs kbgp's speaker as the route reflector until ctx ends (see
// speakerdut.Run). The harness runs it as its own small binary,
// cmd/kbgp-speaker, so that the DUT's memory is the speaker's alone.
func RunKBGP(ctx context.Context, cfg GoConfig) error {
	return speakerdut.Run(ctx, cfg)
}
