// Package dut starts and measures the devices under test of the
// route-reflector benchmark: kbgp (its speaker alone, and `kbgp agent`
// configured through its file store), BIRD 2, FRR and GoBGP, each configured
// as an iBGP route reflector with every benchmark client as a passive
// route-reflector client (kbgp-agent: an active one, see AgentStoreYAML),
// and a null reflector that forwards bytes (to show the testers are not the
// bottleneck).
//
// Every DUT is started by a process already inside the run's network
// namespace; Stop kills exactly the processes the DUT started, by PID.
// Config generation is separate from process control (Config) so the
// generated files can be checked and kept with the results.
package dut

import (
	"bufio"
	"context"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"
)

// Setup is what every DUT is configured with.
type Setup struct {
	// Addr is the DUT's address: BGP Identifier, cluster ID, and the
	// address the clients connect to.
	Addr netip.Addr
	// AS is the DUT's and every client's AS.
	AS uint32
	// Clients are the route-reflector clients' addresses.
	Clients []netip.Addr
	// Dir is where the DUT keeps its config, sockets, pid files and logs.
	Dir string
	// Self is the path of the benchmark binary (for the Go DUTs).
	Self string
	// KBGP is the path of the kbgp binary (for kbgp-agent).
	KBGP string
	// GoBGP4 is the path of gobgpd v4 (for gobgp4, see GoBGP4Binary).
	GoBGP4 string
	// Speaker is the path of cmd/kbgp-speaker (for kbgp, see BuildSpeaker;
	// with Profile, one built with profile true); empty runs the speaker
	// inside the benchmark binary instead, whose own libraries then count
	// in its memory (and which cannot profile).
	Speaker string
	// Port is the BGP port the DUT listens on; 0 means 179. Only
	// kbgp-agent, kbgp and null honour it (tests run them on loopback).
	Port uint16
	// Profile makes the kbgp and kbgp-agent DUTs write a CPU profile and a heap profile
	// into Dir.
	Profile bool
	// Debug makes BIRD log everything (for looking into its timing).
	Debug bool
}

// DUT is one implementation under test.
type DUT interface {
	// Name is the short name used in results ("kbgp", "bird", ...).
	Name() string
	// Start writes the configuration into s.Dir and starts the daemon.
	Start(ctx context.Context, s Setup) error
	// PIDs are the daemon's processes (for CPU and memory accounting).
	PIDs() []int
	// Stop stops every process Start started, and waits for them.
	Stop() error
}

// Names lists the DUTs New knows, in the benchmark's interleaving order.
var Names = []string{"kbgp", "kbgp-agent", "bird", "frr", "gobgp", "gobgp4", "null"}

// New returns the DUT called name.
func New(name string) (DUT, error) {
	switch name {
	case "kbgp":
		return &goDUT{name: "kbgp", sub: "_dut-kbgp"}, nil
	case "kbgp-agent":
		return &agent{}, nil
	case "null":
		return &goDUT{name: "null", sub: "_dut-null"}, nil
	case "bird":
		return &bird{}, nil
	case "frr":
		return &frr{}, nil
	case "gobgp":
		return &gobgp{}, nil
	case "gobgp4":
		return &gobgp4{}, nil
	}
	return nil, fmt.Errorf("dut: unknown DUT %q (have %s)", name, strings.Join(Names, ", "))
}

// Usage is the resource use of a DUT's processes.
type Usage struct {
	// CPU is user+system time of all processes.
	CPU time.Duration
	// PeakRSS is the sum of the processes' VmHWM (peak resident set).
	PeakRSS int64
	// RSS is the sum of the current VmRSS.
	RSS int64
}

// clockTick is USER_HZ, the unit of /proc/PID/stat times (100 on Linux).
const clockTick = 100

// Measure reads /proc for pids.
func Measure(pids []int) (Usage, error) {
	var u Usage
	for _, pid := range pids {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return u, fmt.Errorf("dut: measure pid %d: %w", pid, err)
		}
		cpu, err := parseStat(string(b))
		if err != nil {
			return u, fmt.Errorf("dut: /proc/%d/stat: %w", pid, err)
		}
		u.CPU += cpu
		hwm, rss, err := memory(pid)
		if err != nil {
			return u, err
		}
		u.PeakRSS += hwm
		u.RSS += rss
	}
	return u, nil
}

// parseStat returns utime+stime from a /proc/PID/stat line. The fields
// after the parenthesised command name (which may itself hold spaces and
// parentheses) start with the state (field 3); utime and stime are fields
// 14 and 15 (proc(5)).
func parseStat(s string) (time.Duration, error) {
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("no command name in %q", s)
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("%d fields after the command name, want at least 13", len(f))
	}
	ut, err1 := strconv.ParseUint(f[11], 10, 63)
	st, err2 := strconv.ParseUint(f[12], 10, 63)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("bad utime/stime %q %q", f[11], f[12])
	}
	if ut > 1<<40 || st > 1<<40 {
		return 0, fmt.Errorf("utime/stime %d/%d out of range", ut, st)
	}
	return time.Duration(ut+st) * time.Second / clockTick, nil
}

// memory returns VmHWM and VmRSS of pid in bytes.
func memory(pid int) (hwm, rss int64, err error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, fmt.Errorf("dut: measure pid %d: %w", pid, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		var dst *int64
		switch {
		case strings.HasPrefix(line, "VmHWM:"):
			dst = &hwm
		case strings.HasPrefix(line, "VmRSS:"):
			dst = &rss
		default:
			continue
		}
		fs := strings.Fields(line)
		if len(fs) >= 2 {
			kb, err := strconv.ParseInt(fs[1], 10, 64)
			if err != nil {
				return 0, 0, fmt.Errorf("dut: /proc/%d/status: %q: %w", pid, line, err)
			}
			*dst = kb * 1024
		}
	}
	return hwm, rss, sc.Err()
}

// WaitListening polls /proc/net/tcp (of the caller's namespace) until a
// socket listens on port.
func WaitListening(ctx context.Context, port uint16, timeout time.Duration) error {
	want := fmt.Sprintf(":%04X", port)
	deadline := time.Now().Add(timeout)
	for {
		b, err := os.ReadFile("/proc/net/tcp")
		if err != nil {
			return fmt.Errorf("dut: %w", err)
		}
		for _, line := range strings.Split(string(b), "\n")[1:] {
			f := strings.Fields(line)
			if len(f) > 3 && strings.HasSuffix(f[1], want) && f[3] == "0A" {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("dut: nothing listens on port %d after %v", port, timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}
