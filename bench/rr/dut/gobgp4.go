package dut

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// GoBGP4Module and GoBGP4Version name the newest GoBGP the Go module proxy
// serves, which the gobgp4 DUT builds from source (Debian's gobgpd, the
// gobgp DUT, is 3.10).
const (
	GoBGP4Module  = "github.com/osrg/gobgp/v4/cmd/gobgpd"
	GoBGP4Version = "v4.8.0"
)

// GoBGP4Binary returns the gobgpd built from GoBGP4Module@GoBGP4Version,
// building it with `go install` into cacheDir/gobgp/VERSION on first use.
func GoBGP4Binary(ctx context.Context, cacheDir string) (string, error) {
	dir := filepath.Join(cacheDir, "gobgp", GoBGP4Version)
	bin := filepath.Join(dir, "gobgpd")
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("dut: %w", err)
	}
	cmd := exec.CommandContext(ctx, "go", "install", GoBGP4Module+"@"+GoBGP4Version)
	// Outside any module, so the bench module's go.mod is not involved.
	cmd.Dir = os.TempDir()
	cmd.Env = append(os.Environ(), "GOBIN="+dir, "GOFLAGS=-mod=mod")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("dut: building %s@%s: %v\n%s", GoBGP4Module, GoBGP4Version, err, b)
	}
	return bin, nil
}

// gobgp4 is GoBGP v4 built from source, with the same configuration as the
// gobgp DUT (the TOML format did not change).
type gobgp4 struct{ procs }

func (*gobgp4) Name() string  { return "gobgp4" }
func (d *gobgp4) PIDs() []int { return d.pids() }
func (d *gobgp4) Stop() error { return d.stop() }
func (d *gobgp4) Start(ctx context.Context, s Setup) error {
	if s.GoBGP4 == "" {
		return errors.New("dut: gobgp4 needs the gobgpd v4 binary (Setup.GoBGP4)")
	}
	if err := writeFile(s.Dir, "gobgpd.toml", GoBGPConfig(s)); err != nil {
		return err
	}
	return d.start(s.Dir, "gobgpd.out", s.GoBGP4, "-f", filepath.Join(s.Dir, "gobgpd.toml"), "-t", "toml",
		"-l", "warn", "--api-hosts", "127.0.0.1:50051", "--pprof-disable")
}
