package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/kbgp/kbgp/internal/config"
	"github.com/kbgp/kbgp/internal/store"
)

// seedStore loads internal/doctor's seed resources into a file store.
func seedStore(t *testing.T, dir string) string {
	t.Helper()
	sd := t.TempDir()
	ds, err := store.Open(sd, nil)
	if err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join("..", "..", "internal", "doctor", "testdata", dir, "*.yaml"))
	if len(files) == 0 {
		t.Fatalf("no resources in internal/doctor/testdata/%s", dir)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		rs, err := config.Decode(f, data)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rs {
			if _, err := ds.Apply(context.Background(), r); err != nil {
				t.Fatal(err)
			}
		}
	}
	return sd
}

func runCmd(t *testing.T, cmd *cobra.Command, args ...string) (string, string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SetArgs(args)
	err := cmd.Execute()
	return out.String(), errOut.String(), err
}

func TestRouterConfigCmd(t *testing.T) {
	sd := seedStore(t, "seed")
	tests := []struct {
		name    string
		args    []string
		want    string // in stdout
		wantErr string
		stderr  string
	}{
		{name: "seed routeros", args: []string{"--vendor", "routeros"},
			want: "/routing/bgp/connection/add name=k8s-peer-1 remote.address=172.16.30.102 remote.as=64513 local.role=ibgp as=64513 "},
		{name: "ebgp as", args: []string{"--vendor", "routeros", "--ebgp-as", "65000"},
			want: "local.role=ebgp as=65000 ", stderr: "spec.asNumber: 65000"},
		{name: "frr all nodes", args: []string{"--vendor", "frr", "--node-peering", "all"},
			want: " neighbor 172.16.30.103 remote-as 64513\n", stderr: "Node/ubuntu-1 has no BGPPeer"},
		{name: "no vendor", args: nil, wantErr: "--vendor is required"},
		{name: "bad vendor", args: []string{"--vendor", "vyos"}, wantErr: "unknown vendor"},
		{name: "bad address", args: []string{"--vendor", "frr", "--router-address", "router"}, wantErr: "--router-address"},
		{name: "bad routeros version", args: []string{"--vendor", "routeros", "--routeros-version", "6.49"}, wantErr: "RouterOS 6"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, err := runCmd(t, newRouterConfigCmd(), append(tc.args, "--store", sd)...)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(out, tc.want) {
				t.Errorf("output lacks %q:\n%s", tc.want, out)
			}
			if !strings.Contains(errOut, tc.stderr) {
				t.Errorf("stderr lacks %q:\n%s", tc.stderr, errOut)
			}
		})
	}
}

func TestDoctorCmd(t *testing.T) {
	ipt := filepath.Join("..", "..", "internal", "doctor", "testdata", "seed", "iptables-save.txt")
	t.Run("seed", func(t *testing.T) {
		out, _, err := runCmd(t, newDoctorCmd(), "--store", seedStore(t, "seed"), "--iptables-save", ipt, "--kube-proxy-mode", "ipvs")
		var ee *exitError
		if !errors.As(err, &ee) || ee.code != 1 {
			t.Fatalf("want exit code 1, got %v", err)
		}
		for _, want := range []string{"ERROR asymmetric-service-return (seed problem 1)", "ERROR blanket-masquerade (seed problems 2, 3)",
			"ERROR single-route-reflector (seed problem 5)", "4 error(s), 1 warning(s)"} {
			if !strings.Contains(out, want) {
				t.Errorf("output lacks %q:\n%s", want, out)
			}
		}
	})
	t.Run("clean json", func(t *testing.T) {
		out, _, err := runCmd(t, newDoctorCmd(), "--store", seedStore(t, "clean"), "-o", "json")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out, `"findings": []`) || !strings.Contains(out, `"errors": 0`) {
			t.Errorf("want no findings:\n%s", out)
		}
	})
	t.Run("kernel routes from a file", func(t *testing.T) {
		routes := filepath.Join("..", "..", "internal", "doctor", "testdata", "routes", "ubuntu-1-missing.json")
		out, _, err := runCmd(t, newDoctorCmd(), "--store", seedStore(t, "seed"), "--ip-routes", "ubuntu-1="+routes)
		var ee *exitError
		if !errors.As(err, &ee) || ee.code != 1 {
			t.Fatalf("want exit code 1, got %v", err)
		}
		// Without the agent's sessions only the node's own blackholes
		// are checked.
		for _, want := range []string{"WARNING blackhole-missing", "Node/ubuntu-1 has no blackhole route for its block 192.168.10.0/26"} {
			if !strings.Contains(out, want) {
				t.Errorf("output lacks %q:\n%s", want, out)
			}
		}
	})
	t.Run("bad ip-routes", func(t *testing.T) {
		for _, arg := range []string{"ubuntu-1", "=x", "ubuntu-1=" + filepath.Join(t.TempDir(), "absent.json")} {
			_, _, err := runCmd(t, newDoctorCmd(), "--store", seedStore(t, "seed"), "--ip-routes", arg)
			if err == nil || !strings.Contains(err.Error(), "--ip-routes") {
				t.Errorf("--ip-routes %s: error %v, want one naming --ip-routes", arg, err)
			}
		}
	})
	t.Run("bad mode", func(t *testing.T) {
		_, _, err := runCmd(t, newDoctorCmd(), "--store", t.TempDir(), "--kube-proxy-mode", "userspace")
		if err == nil || !strings.Contains(err.Error(), "--kube-proxy-mode") {
			t.Errorf("error %v", err)
		}
	})
}
