package dut

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// procs are the foreground processes a DUT started.
type procs struct {
	cmds []*exec.Cmd
	done []chan struct{}
}

// start starts name with args, logging to dir/logName, and records it.
func (p *procs) start(dir, logName, name string, args ...string) error {
	logf, err := os.Create(filepath.Join(dir, logName))
	if err != nil {
		return fmt.Errorf("dut: %w", err)
	}
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	// Own process group: a Ctrl-C at the terminal reaches the harness,
	// which stops the DUT itself in order.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("dut: start %s: %w", name, err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		logf.Close()
		close(done)
	}()
	p.cmds = append(p.cmds, cmd)
	p.done = append(p.done, done)
	return nil
}

// alive reports whether process i has not exited.
func (p *procs) alive(i int) bool {
	select {
	case <-p.done[i]:
		return false
	default:
		return true
	}
}

// check returns an error naming the first process that already exited.
func (p *procs) check(dir string) error {
	for i, c := range p.cmds {
		if !p.alive(i) {
			return fmt.Errorf("dut: %s exited early (%v); see the logs in %s", filepath.Base(c.Path), c.ProcessState, dir)
		}
	}
	return nil
}

func (p *procs) pids() []int {
	var ps []int
	for i, c := range p.cmds {
		if p.alive(i) {
			ps = append(ps, c.Process.Pid)
		}
	}
	return ps
}

// stopWait is how long a DUT may take to exit after SIGTERM (the kbgp DUT
// writes its profiles then) before it is killed.
const stopWait = 60 * time.Second

// stop sends SIGTERM to each process (last started first), waits up to
// stopWait for it and then kills it.
func (p *procs) stop() error {
	var errs []error
	for i := len(p.cmds) - 1; i >= 0; i-- {
		c := p.cmds[i]
		if !p.alive(i) {
			continue
		}
		_ = c.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done[i]:
		case <-time.After(stopWait):
			_ = c.Process.Kill()
			<-p.done[i]
			errs = append(errs, fmt.Errorf("dut: %s (pid %d) ignored SIGTERM for %v and was killed", filepath.Base(c.Path), c.Process.Pid, stopWait))
		}
	}
	return errors.Join(errs...)
}

func writeFile(dir, name, text string) error {
	if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
		return fmt.Errorf("dut: %w", err)
	}
	return nil
}

// bird is BIRD 2, in the foreground (-f).
type bird struct{ procs }

func (*bird) Name() string  { return "bird" }
func (d *bird) PIDs() []int { return d.pids() }
func (d *bird) Stop() error { return d.stop() }
func (d *bird) Start(ctx context.Context, s Setup) error {
	if err := writeFile(s.Dir, "bird.conf", BIRDConfig(s)); err != nil {
		return err
	}
	return d.start(s.Dir, "bird.out", "bird", "-f", "-c", filepath.Join(s.Dir, "bird.conf"),
		"-s", filepath.Join(s.Dir, "bird.ctl"), "-P", filepath.Join(s.Dir, "bird.pid"))
}

// frr is FRR's zebra and bgpd, in the foreground, with their own paths
// under the run directory (no frrinit.sh or watchfrr).
type frr struct{ procs }

func (*frr) Name() string  { return "frr" }
func (d *frr) PIDs() []int { return d.pids() }
func (d *frr) Stop() error { return d.stop() }
func (d *frr) Start(ctx context.Context, s Setup) error {
	if err := writeFile(s.Dir, "bgpd.conf", FRRConfig(s)); err != nil {
		return err
	}
	if err := writeFile(s.Dir, "zebra.conf", "hostname dut\n"); err != nil {
		return err
	}
	// The daemons drop to user frr: the directory must be theirs.
	if u, err := user.Lookup("frr"); err == nil {
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		_ = filepath.Walk(s.Dir, func(path string, _ os.FileInfo, err error) error {
			if err == nil {
				err = os.Chown(path, uid, gid)
			}
			return err
		})
	}
	common := func(name string) []string {
		return []string{"-u", "frr", "-g", "frr", "-f", filepath.Join(s.Dir, name+".conf"),
			"-i", filepath.Join(s.Dir, name+".pid"), "-z", filepath.Join(s.Dir, "zserv.api"),
			"--vty_socket", s.Dir, "-A", "127.0.0.1"}
	}
	if err := d.start(s.Dir, "zebra.out", "/usr/lib/frr/zebra", common("zebra")...); err != nil {
		return err
	}
	// bgpd connects to zebra's socket; give zebra a moment to create it.
	sock := filepath.Join(s.Dir, "zserv.api")
	for i := 0; i < 100; i++ {
		if _, err := os.Stat(sock); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	return d.start(s.Dir, "bgpd.out", "/usr/lib/frr/bgpd", common("bgpd")...)
}

// gobgp is gobgpd, in the foreground.
type gobgp struct{ procs }

func (*gobgp) Name() string  { return "gobgp" }
func (d *gobgp) PIDs() []int { return d.pids() }
func (d *gobgp) Stop() error { return d.stop() }
func (d *gobgp) Start(ctx context.Context, s Setup) error {
	if err := writeFile(s.Dir, "gobgpd.toml", GoBGPConfig(s)); err != nil {
		return err
	}
	return d.start(s.Dir, "gobgpd.out", "gobgpd", "-f", filepath.Join(s.Dir, "gobgpd.toml"), "-t", "toml",
		"-l", "warn", "--api-hosts", "127.0.0.1:50051", "--pprof-disable")
}

// goDUT is a DUT implemented in this module (kbgp's speaker, or the null
// reflector), run as a subcommand of the benchmark binary.
type goDUT struct {
	procs
	name, sub string
}

func (d *goDUT) Name() string { return d.name }
func (d *goDUT) PIDs() []int  { return d.pids() }

// Stop sends SIGTERM (the kbgp DUT then writes its profiles).
func (d *goDUT) Stop() error { return d.stop() }
func (d *goDUT) Start(ctx context.Context, s Setup) error {
	cfg, err := GoDUTConfig(s)
	if err != nil {
		return err
	}
	path := filepath.Join(s.Dir, d.name+".conf")
	if err := writeFile(s.Dir, d.name+".conf", string(cfg)); err != nil {
		return err
	}
	if d.name == "kbgp" && s.Speaker != "" {
		return d.start(s.Dir, d.name+".out", s.Speaker, path)
	}
	return d.start(s.Dir, d.name+".out", s.Self, d.sub, path)
}

// Check returns an error if one of d's processes has already exited.
func Check(d DUT, dir string) error {
	type checker interface{ check(string) error }
	if c, ok := d.(checker); ok {
		return c.check(dir)
	}
	return nil
}
