package dut

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/kbgp/kbgp/api"
	"github.com/kbgp/kbgp/bench/rr/load"
	"github.com/kbgp/kbgp/bench/rr/scenario"
	"github.com/kbgp/kbgp/internal/config"
)

func agentSetup(n int) Setup {
	s := Setup{Addr: scenario.DUTAddr, AS: scenario.AS, Dir: "/run/dir"}
	for i := range n {
		s.Clients = append(s.Clients, scenario.ClientAddr(i))
	}
	return s
}

// compileAgent decodes the generated store YAML the way `kbgp apply` does
// and compiles the reflector's state the way the agent does.
func compileAgent(t testing.TB, s Setup) *config.NodeState {
	t.Helper()
	rs, err := config.Decode(agentStoreYAML, []byte(AgentStoreYAML(s)))
	if err != nil {
		t.Fatalf("the generated resources do not decode: %v", err)
	}
	st, err := config.Compile(config.NewInput(rs, nil), AgentNode)
	if err != nil {
		t.Fatalf("the generated resources do not compile: %v", err)
	}
	return st
}

// TestAgentStore: the generated resources make node rr a route reflector
// (cluster ID = its address) listening on its address only, with exactly
// one iBGP route-reflector-client session per benchmark client, each
// exporting every IPv4 route (the table scenario's Internet routes too)
// and importing everything.
func TestAgentStore(t *testing.T) {
	for _, tc := range []struct {
		name string
		n    int
		port uint16
	}{
		{"one client", 1, 0},
		{"k8s 20", 20, 0},
		{"sessions 300, test port", 300, 41793},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := agentSetup(tc.n)
			s.Port = tc.port
			st := compileAgent(t, s)
			wantPort := tc.port
			if wantPort == 0 {
				wantPort = 179
			}
			if st.RouterID != s.Addr || st.RouteReflectorClusterID != s.Addr || uint32(st.ASNumber) != s.AS ||
				st.ListenPort != wantPort || len(st.ListenAddresses) != 1 || st.ListenAddresses[0] != s.Addr {
				t.Errorf("node state: router ID %v, cluster ID %v, AS %d, listen %v port %d; want %v, %v, %d, [%v] port %d",
					st.RouterID, st.RouteReflectorClusterID, st.ASNumber, st.ListenAddresses, st.ListenPort, s.Addr, s.Addr, s.AS, s.Addr, wantPort)
			}
			if len(st.Warnings) > 0 {
				t.Errorf("compile warnings: %q", st.Warnings)
			}
			if len(st.Peers) != tc.n {
				t.Fatalf("%d sessions, want %d", len(st.Peers), tc.n)
			}
			want := map[netip.Addr]bool{}
			for _, c := range s.Clients {
				want[c] = true
			}
			table := netip.MustParsePrefix("1.0.4.0/22")
			for _, p := range st.Peers {
				if !want[p.Address] {
					t.Errorf("session %s to %v: not a client (or a duplicate)", p.Name, p.Address)
				}
				delete(want, p.Address)
				if !p.Internal || !p.RouteReflectorClient || p.ClusterID != s.Addr || p.Port != 179 || p.SourceAddress != s.Addr {
					t.Errorf("session %s: internal %v, RR client %v, cluster ID %v, port %d, source %v; want an iBGP RR client of cluster %v on port 179 from %v",
						p.Name, p.Internal, p.RouteReflectorClient, p.ClusterID, p.Port, p.SourceAddress, s.Addr, s.Addr)
				}
				if len(p.Export) == 0 || p.Export[0].Action != config.Accept || !p.Export[0].Match.Prefix.Contains(table.Addr()) ||
					p.Export[0].Match.MaxLength != 32 {
					t.Errorf("session %s: first export rule %+v does not accept every IPv4 route", p.Name, p.Export)
				}
				if n := len(p.Import); n == 0 || p.Import[n-1].Action != config.Accept {
					t.Errorf("session %s: import %+v does not accept", p.Name, p.Import)
				}
			}
		})
	}
}

// TestAgentStoreGolden: the generated resources are exactly the reviewed
// ones (run with -update after an intended change).
func TestAgentStoreGolden(t *testing.T) {
	got := AgentStoreYAML(testSetup("/run/dir"))
	path := filepath.Join("testdata", agentStoreYAML+".golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("AgentStoreYAML differs from %s:\n%s", path, got)
	}
}

// BenchmarkAgentConfig: decoding the generated YAML (what kbgp apply
// does) and compiling it (what every agent reconcile does). ns/peer stays
// flat from 100 to 2,000 peers when both are linear.
func BenchmarkAgentConfig(b *testing.B) {
	for _, n := range []int{100, 1000, 2000} {
		s := agentSetup(n)
		y := []byte(AgentStoreYAML(s))
		var rs []api.Resource
		b.Run(fmt.Sprintf("decode/%d", n), func(b *testing.B) {
			for b.Loop() {
				var err error
				if rs, err = config.Decode(agentStoreYAML, y); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/peer")
		})
		b.Run(fmt.Sprintf("compile/%d", n), func(b *testing.B) {
			for b.Loop() {
				if _, err := config.Compile(config.NewInput(rs, nil), AgentNode); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/peer")
		})
	}
}

// repoRoot is the kbgp repository: the directory above this module with
// the go.mod of module github.com/kbgp/kbgp.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("..", "..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil || !bytes.HasPrefix(b, []byte("module github.com/kbgp/kbgp\n")) {
		t.Fatalf("%s is not the kbgp repository (%v)", dir, err)
	}
	return dir
}

// TestAgentDUT runs the kbgp-agent DUT exactly as the harness does (build
// kbgp, kbgp apply, kbgp agent, wait until configured) on loopback with a
// small k8s workload and its churn phase: every client must get every
// other client's routes through the agent, lose the churned ones and get
// them back; Stop must end the agent and remove its store.
func TestAgentDUT(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("needs the go command to build kbgp")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "kbgp")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := BuildKBGP(ctx, repoRoot(t), bin); err != nil {
		t.Fatal(err)
	}
	const n, port = 6, 41793
	w, err := scenario.K8s(n, true)
	if err != nil {
		t.Fatal(err)
	}
	s := Setup{Addr: netip.MustParseAddr("127.0.0.1"), AS: scenario.AS, Port: port, Dir: dir, KBGP: bin}
	for i, c := range w.Clients {
		c.Addr = netip.AddrFrom4([4]byte{127, 0, 2, byte(i + 1)})
		s.Clients = append(s.Clients, c.Addr)
	}
	d, err := New("kbgp-agent")
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Start(ctx, s); err != nil {
		t.Fatal(err)
	}
	stopped := false
	defer func() {
		if !stopped {
			_ = d.Stop()
		}
	}()
	if err := Ready(ctx, d, time.Minute); err != nil {
		t.Fatal(errors.Join(err, Check(d, dir)))
	}
	if len(d.PIDs()) != 1 {
		t.Fatalf("PIDs %v, want the agent's", d.PIDs())
	}
	r := &load.Run{DUT: netip.AddrPortFrom(s.Addr, port), Index: w.Index, Clients: w.Clients}
	r.Start(ctx)
	defer r.Close()
	tm, err := r.Wait(ctx, r.T0(), 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	_, prefixes, bad := r.Counts()
	if want := int64(n * (n - 1) * (1 + scenario.ServicesPerClient)); prefixes < want || bad != 0 {
		t.Errorf("clients received %d prefixes (%d undecodable), want at least %d", prefixes, bad, want)
	}
	if _, err := r.Churn(ctx, w.Churn, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	u, err := Measure(d.PIDs())
	if err != nil || u.PeakRSS <= 0 {
		t.Errorf("Measure(agent) = %+v, %v", u, err)
	}
	t.Logf("kbgp-agent: converged in %v, peak RSS %d MiB", tm.Converged, u.PeakRSS>>20)
	stopped = true
	if err := d.Stop(); err != nil {
		t.Error(err)
	}
	if len(d.PIDs()) != 0 {
		t.Errorf("agent still running after Stop: %v", d.PIDs())
	}
	if _, err := os.Stat(filepath.Join(dir, "store")); !os.IsNotExist(err) {
		t.Errorf("the store is left behind after Stop (%v)", err)
	}
	if _, err := os.Stat(filepath.Join(dir, agentStoreYAML)); err != nil {
		t.Errorf("the generated resources are not kept: %v", err)
	}
}
