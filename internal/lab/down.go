package lab

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/kbgp/kbgp/internal/netns"
)

// Down removes the lab recorded in dir: it stops the processes it started
// (each checked by PID and start time, so a recycled PID is left alone),
// kills any process left inside its namespaces, deletes the namespaces it
// created (checked by inode, so a namespace of the same name created by
// someone else is left alone; links and the bridge go with them) and
// removes its directory. It touches nothing else.
func Down(dir string, out io.Writer) error {
	if dir == "" {
		dir = DefaultDir
	}
	if out == nil {
		out = io.Discard
	}
	if os.Geteuid() != 0 {
		return errors.New("lab: must run as root to remove the lab: try `sudo kbgp lab down`")
	}
	s, err := LoadState(dir)
	if err != nil {
		return err
	}
	var errs []error
	stopped := 0
	for _, p := range s.Processes {
		if !p.alive() {
			continue
		}
		_ = syscall.Kill(p.PID, syscall.SIGTERM)
		stopped++
	}
	deadline := time.Now().Add(3 * time.Second)
	for _, p := range s.Processes {
		for p.alive() && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if p.alive() {
			_ = syscall.Kill(p.PID, syscall.SIGKILL)
		}
	}
	fmt.Fprintf(out, "stopped %d processes\n", stopped)
	deleted := 0
	for i := len(s.Namespaces) - 1; i >= 0; i-- {
		n := s.Namespaces[i]
		dev, ino, err := nsInode(n.Name)
		if err != nil {
			continue // already gone
		}
		if dev != n.Dev || ino != n.Inode {
			errs = append(errs, fmt.Errorf("lab: namespace %q is not the one this lab created (inode changed); left alone", n.Name))
			continue
		}
		ns := &netns.NS{Name: n.Name}
		if err := killAll(ns); err != nil {
			errs = append(errs, err)
		}
		if err := ns.Delete(); err != nil {
			errs = append(errs, err)
			continue
		}
		deleted++
	}
	fmt.Fprintf(out, "deleted %d namespaces (with their veths and the bridge)\n", deleted)
	if len(errs) > 0 {
		errs = append(errs, fmt.Errorf("lab: state kept in %s; fix the above and run `kbgp lab down` again", statePath(dir)))
		return errors.Join(errs...)
	}
	// Only what the lab wrote: its state file and its subdirectories.
	for _, f := range []string{"hosts", "files", "registration.yaml", "topology.svg", "topology.png", StateFile} {
		if err := os.RemoveAll(filepath.Join(dir, f)); err != nil {
			errs = append(errs, err)
		}
	}
	_ = os.Remove(dir) // only if empty
	fmt.Fprintf(out, "removed %s\n", dir)
	return errors.Join(errs...)
}

// killAll kills every process left in ns (daemons that forked, shells from
// `lab exec`), by PID, and waits for them to go.
func killAll(ns *netns.NS) error {
	for range 50 {
		pids, err := ns.Pids()
		if err != nil {
			return err
		}
		if len(pids) == 0 {
			return nil
		}
		for _, pid := range pids {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("lab: processes in namespace %q do not exit", ns.Name)
}
