package lab

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/kbgp/kbgp/internal/netns"
)

// DefaultDir is where the lab keeps its state file and per-host files.
const DefaultDir = "/run/kbgp-lab"

// StateFile is the state file's name inside the lab directory.
const StateFile = "state.json"

// State lists everything a lab created, so Down removes exactly that.
// Links and the bridge live inside the lab's namespaces (nothing is created
// in the root namespace), so deleting the namespaces removes them; they
// are listed for the record.
type State struct {
	// Prefix starts every namespace name ("" for the seed's plain names).
	Prefix  string    `json:"prefix"`
	Dir     string    `json:"dir"`
	Created time.Time `json:"created"`
	// Binary is the kbgp binary the lab runs (agents, pod servers).
	Binary     string      `json:"binary"`
	Topology   *Topology   `json:"topology"`
	Namespaces []Namespace `json:"namespaces"`
	Links      []string    `json:"links"`
	Processes  []Process   `json:"processes"`
	// AgentServices is set when the agents were given the services
	// (their --services flag); without it no node advertises a service /32.
	AgentServices bool `json:"agentServices"`
	// Ready is set when `up` finished.
	Ready bool `json:"ready"`
}

// Namespace is a namespace the lab created, identified by its nsfs inode
// so Down never deletes a namespace of the same name made by someone else.
type Namespace struct {
	Name  string `json:"name"`
	Host  string `json:"host"`
	Dev   uint64 `json:"dev"`
	Inode uint64 `json:"inode"`
}

// Process is a process the lab started, identified by PID and start time
// (clock ticks since boot, /proc/PID/stat field 22) so Down never signals
// a recycled PID.
type Process struct {
	Host  string `json:"host"`
	Role  string `json:"role"` // agent, pod-server, zebra, bgpd
	PID   int    `json:"pid"`
	Start uint64 `json:"start"`
	Log   string `json:"log,omitempty"`
	// Argv is the command line (for restarts); empty for daemons that
	// forked away.
	Argv []string `json:"argv,omitempty"`
}

// NSName is the namespace of host in this lab.
func (s *State) NSName(host string) string { return s.Prefix + host }

// path of the state file.
func statePath(dir string) string { return filepath.Join(dir, StateFile) }

// LoadState reads the lab's state file in dir.
func LoadState(dir string) (*State, error) {
	b, err := os.ReadFile(statePath(dir))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("lab: no lab is running (no %s; start one with `kbgp lab up`)", statePath(dir))
	}
	if err != nil {
		return nil, fmt.Errorf("lab: read state: %w", err)
	}
	var s State
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("lab: state file %s is corrupt: %w (remove the lab by hand: ip netns delete ...)", statePath(dir), err)
	}
	if s.Topology == nil {
		return nil, fmt.Errorf("lab: state file %s has no topology", statePath(dir))
	}
	return &s, nil
}

// save writes the state atomically.
func (s *State) save() error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	tmp := statePath(s.Dir) + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("lab: write state: %w", err)
	}
	if err := os.Rename(tmp, statePath(s.Dir)); err != nil {
		return fmt.Errorf("lab: write state: %w", err)
	}
	return nil
}

// claim creates the state file exclusively: it fails if a lab exists.
func claim(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("lab: create %s: %w", dir, err)
	}
	f, err := os.OpenFile(statePath(dir), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return fmt.Errorf("lab: a lab already exists (%s); use `kbgp lab check` or remove it with `kbgp lab down` first", statePath(dir))
	}
	if err != nil {
		return fmt.Errorf("lab: create state file: %w", err)
	}
	return f.Close()
}

// nsInode is the device and inode of a named namespace's file.
func nsInode(name string) (dev, ino uint64, err error) {
	var st unix.Stat_t
	if err := unix.Stat(filepath.Join(netns.Dir, name), &st); err != nil {
		return 0, 0, err
	}
	return uint64(st.Dev), uint64(st.Ino), nil
}

// startTime returns the start time of pid (field 22 of /proc/PID/stat).
func startTime(pid int) (uint64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	// The command name (field 2) is in parentheses and may hold spaces.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: no ')'", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	return strconv.ParseUint(f[19], 10, 64) // field 22 overall
}

// alive reports whether p is still the process the lab started.
func (p Process) alive() bool {
	st, err := startTime(p.PID)
	return err == nil && st == p.Start
}
