//go:build !profile

package speakerdut

import (
	"context"
	"fmt"
)

// Profiling reports whether this build can write profiles (Config.Profile):
// only one built with -tags profile, so that the measured binary links no
// runtime/pprof, runtime/metrics or compress/flate.
const Profiling = false

// profile is not built in without the profile tag.
type profile struct{}

func startProfile(dir string) (*profile, error) {
	return nil, fmt.Errorf("profile %s: this binary was built without profiling; build it with `go build -tags profile` (dut.BuildSpeaker with profile=true)", dir)
}

func (*profile) watchPeak(context.Context) {}
func (*profile) finish() error             { return nil }
func (*profile) abort()                    {}
