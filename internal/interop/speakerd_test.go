package interop

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/kbgp/kbgp/internal/bgp/fsm"
	"github.com/kbgp/kbgp/internal/bgp/speaker"
	"github.com/kbgp/kbgp/internal/bgp/wire"
	"github.com/kbgp/kbgp/internal/netns/nstest"
)

// speakerdEnv, when set in the environment, makes the test binary run a
// kbgp speaker from the JSON speakerdConfig in it instead of the tests:
// the graceful-restart tests start kbgp as a separate process in a
// namespace and kill -9 it.
const speakerdEnv = "KBGP_INTEROP_SPEAKERD"

// speakerdConfig is a kbgp speaker listening on port 179 with passive
// peers (TCP MD5 with the interop password, hold time 9 s) that
// originates prefixes.
type speakerdConfig struct {
	AS        uint32
	RouterID  netip.Addr
	Peers     []speakerdPeer
	Originate []netip.Prefix
	// GR is advertised to every peer; SelectionDeferral makes the speaker
	// a restarting one (RFC 4724 §4.1) together with GR.Restarting.
	GR                fsm.GRConfig
	SelectionDeferral time.Duration
}

type speakerdPeer struct {
	Addr netip.Addr
	AS   uint32
}

func TestMain(m *testing.M) {
	if c := os.Getenv(speakerdEnv); c != "" {
		if err := runSpeakerd(c); err != nil {
			fmt.Fprintln(os.Stderr, "speakerd:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	// The tests wait on BGP timers and daemons far more than they compute
	// (the whole package uses a few CPU seconds), so on a 2-core machine
	// the default -test.parallel (GOMAXPROCS) leaves the time spent
	// waiting idle: run up to 4 at a time unless -parallel is given.
	flag.Parse()
	explicit := false
	flag.Visit(func(f *flag.Flag) { explicit = explicit || f.Name == "test.parallel" })
	if !explicit && runtime.GOMAXPROCS(0) < minParallel {
		if err := flag.Set("test.parallel", strconv.Itoa(minParallel)); err != nil {
			fmt.Fprintln(os.Stderr, "interop: -test.parallel:", err)
		}
	}
	os.Exit(m.Run())
}

// minParallel is the -test.parallel the package runs with by default.
const minParallel = 4

// runSpeakerd runs the speaker until SIGTERM or SIGINT.
func runSpeakerd(js string) error {
	var c speakerdConfig
	if err := json.Unmarshal([]byte(js), &c); err != nil {
		return fmt.Errorf("%s: %w", speakerdEnv, err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	sp, err := speaker.New(ctx, speaker.Config{
		LocalAS: c.AS, RouterID: c.RouterID,
		Listen:            []netip.AddrPort{netip.AddrPortFrom(netip.IPv4Unspecified(), 179), netip.AddrPortFrom(netip.IPv6Unspecified(), 179)},
		Logger:            slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})),
		SelectionDeferral: c.SelectionDeferral,
	})
	if err != nil {
		return err
	}
	defer sp.Close()
	for _, p := range c.Peers {
		f := wire.IPv4Unicast
		if p.Addr.Is6() {
			f = wire.IPv6Unicast
		}
		pc := kbgpPeer(p.Addr, p.AS, f)
		gr := c.GR
		pc.Session.GracefulRestart = &gr
		if err := sp.AddPeer(ctx, pc); err != nil {
			return err
		}
	}
	for _, p := range c.Originate {
		if err := sp.Originate(ctx, p, wire.Attrs{}); err != nil {
			return err
		}
	}
	<-ctx.Done()
	return nil
}

// startSpeakerd starts the test binary as a kbgp speaker in ns, logging to
// name.log in the lab directory, and returns the process (nstest kills it
// at cleanup if the test has not).
func (l *lab) startSpeakerd(ns *nstest.NS, name string, c speakerdConfig) *exec.Cmd {
	l.t.Helper()
	js, err := json.Marshal(c)
	if err != nil {
		l.t.Fatal(err)
	}
	exe, err := os.Executable()
	if err != nil {
		l.t.Fatal(err)
	}
	logf, err := os.Create(filepath.Join(l.dir, name+".log"))
	if err != nil {
		l.t.Fatal(err)
	}
	l.t.Cleanup(func() {
		logf.Close()
		if l.t.Failed() {
			b, _ := os.ReadFile(logf.Name())
			if len(b) > 8000 {
				b = b[len(b)-8000:]
			}
			l.t.Logf("%s log (tail):\n%s", name, b)
		}
	})
	cmd := ns.Command(context.Background(), exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), speakerdEnv+"="+string(js))
	cmd.Stdout, cmd.Stderr = logf, logf
	ns.Start(cmd)
	return cmd
}

// kill9 kills a process started with startSpeakerd or nstest's Start
// with SIGKILL and waits until it is gone.
func kill9(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	if err := cmd.Process.Kill(); err != nil {
		t.Fatalf("kill -9 %d: %v", cmd.Process.Pid, err)
	}
	eventually(t, 10*time.Second, fmt.Sprintf("process %d gone", cmd.Process.Pid), func() (bool, string) {
		// Signal 0 fails once the process has been reaped by nstest.
		err := cmd.Process.Signal(syscall.Signal(0))
		return err != nil, fmt.Sprint(err)
	})
}
