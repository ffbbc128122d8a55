package lab

import (
	"context"
	"os"
	"slices"
	"strings"
	"testing"
)

func TestStateClaimAndLoad(t *testing.T) {
	dir := t.TempDir()
	if _, err := LoadState(dir); err == nil || !strings.Contains(err.Error(), "no lab is running") {
		t.Errorf("LoadState of an empty dir: %v", err)
	}
	if err := claim(dir); err != nil {
		t.Fatal(err)
	}
	if err := claim(dir); err == nil || !strings.Contains(err.Error(), "a lab already exists") {
		t.Errorf("second claim: %v, want a refusal", err)
	}
	if _, err := LoadState(dir); err == nil || !strings.Contains(err.Error(), "corrupt") {
		t.Errorf("LoadState of an empty state file: %v", err)
	}
	s := &State{Prefix: "p-", Dir: dir, Binary: "/usr/bin/kbgp", Topology: Default(),
		Processes: []Process{{Host: "ubuntu-1", Role: "agent", PID: 1, Start: 42}}}
	if err := s.save(); err != nil {
		t.Fatal(err)
	}
	got, err := LoadState(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got.Prefix != "p-" || got.Topology.Name != "seed" || got.NSName("router") != "p-router" || len(got.Processes) != 1 {
		t.Errorf("state did not round-trip: %+v", got)
	}
}

func TestProcessAlive(t *testing.T) {
	st, err := startTime(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		p    Process
		want bool
	}{
		{"this process", Process{PID: os.Getpid(), Start: st}, true},
		{"recycled pid", Process{PID: os.Getpid(), Start: st + 1}, false},
		{"no such pid", Process{PID: 1 << 30, Start: st}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.p.alive(); got != tc.want {
				t.Errorf("alive = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestExecCommand(t *testing.T) {
	dir := t.TempDir()
	s := &State{Prefix: "kx-", Dir: dir, Binary: "/opt/kbgp/bin/kbgp", Topology: Default()}
	if err := s.save(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, tc := range []struct {
		name     string
		host     string
		argv     []string
		wantArgs []string
		wantEnv  []string
		wantErr  string
	}{
		{"node gets its socket and store", "ubuntu-2", []string{"kbgp", "node", "status"},
			[]string{"ip", "netns", "exec", "kx-ubuntu-2", "/opt/kbgp/bin/kbgp", "node", "status"},
			[]string{"KBGP_SOCKET=" + dir + "/hosts/ubuntu-2/kbgp.sock", "KBGP_STORE=" + dir + "/hosts/ubuntu-2/store"}, ""},
		{"router vtysh gets the vty socket", "router", []string{"vtysh", "-c", "show bgp summary"},
			[]string{"ip", "netns", "exec", "kx-router", "vtysh", "--vty_socket", dir + "/hosts/router", "-c", "show bgp summary"}, nil, ""},
		{"explicit vty socket kept", "router", []string{"vtysh", "--vty_socket=/x", "-c", "x"},
			[]string{"ip", "netns", "exec", "kx-router", "vtysh", "--vty_socket=/x", "-c", "x"}, nil, ""},
		{"pod", "web-ubuntu-1-0", []string{"ip", "addr"},
			[]string{"ip", "netns", "exec", "kx-web-ubuntu-1-0", "ip", "addr"}, nil, ""},
		{"unknown host", "ubuntu-9", []string{"true"}, nil, nil, `no host "ubuntu-9"`},
		{"no command", "client", nil, nil, nil, "no command"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd, err := ExecCommand(ctx, dir, tc.host, tc.argv)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(cmd.Args, tc.wantArgs) {
				t.Errorf("args %q, want %q", cmd.Args, tc.wantArgs)
			}
			for _, e := range tc.wantEnv {
				if !slices.Contains(cmd.Env, e) {
					t.Errorf("env lacks %s", e)
				}
			}
			if !slices.Contains(cmd.Env, "PATH=/opt/kbgp/bin:"+os.Getenv("PATH")) {
				t.Errorf("PATH does not start with the kbgp binary's directory")
			}
		})
	}
}
