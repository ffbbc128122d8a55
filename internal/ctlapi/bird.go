package ctlapi

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/kbgp/kbgp/internal/status"
)

// BIRD CLI compatibility.
//
// Calico's tools read BGP state from BIRD's control socket
// (/var/run/calico/bird.ctl, bird6.ctl for IPv6 with BIRD 1.x):
// calicoctl node status and calico-node -bird-ready send "show protocols",
// -bird-ready also "show status", and -bird-live runs
// `birdcl -s /var/run/calico/bird.ctl show status` and wants the output to
// start with "BIRD". BIRDServer answers those commands in BIRD 1.6's
// format from a status.Provider, so those tools, and birdc/birdcl
// themselves, keep working against a kbgp node unchanged.
//
// The protocol (BIRD nest/cli.c): on connect the server sends
// "0001 <greeting>"; each command line gets reply lines of a four-digit
// code followed by '-' (more lines follow) or ' ' (last line); a line
// continuing the previous line's code starts with a single space instead.
// A command's reply ends with "0000" (success) or an 8xxx/9xxx error.

// Where Calico's tools look for BIRD's control sockets (IPv4 and, with
// BIRD 1.x, IPv6). Serve them with Listen and a BIRDServer.
const (
	BIRDSocket  = "/var/run/calico/bird.ctl"
	BIRD6Socket = "/var/run/calico/bird6.ctl"
)

// BIRDOptions configure a BIRDServer. The zero value serves both families.
type BIRDOptions struct {
	// Family is 4 or 6 to list only that family's peers (BIRD 1.x ran
	// bird and bird6 on separate sockets), 0 for both (BIRD 2/3).
	Family int
	// Version follows "BIRD" in the greeting and in "show status"; empty
	// means "kbgp".
	Version string
	// Now and Location format SINCE; nil means time.Now and time.Local.
	Now      func() time.Time
	Location *time.Location
	// CallTimeout bounds each provider call; zero means DefaultCallTimeout.
	CallTimeout time.Duration
}

// BIRDServer serves the BIRD CLI subset Calico's tools use.
type BIRDServer struct {
	p    status.Provider
	opts BIRDOptions
}

// NewBIRDServer returns a BIRD-compatible CLI server for p.
func NewBIRDServer(p status.Provider, opts BIRDOptions) *BIRDServer {
	if opts.Version == "" {
		opts.Version = "kbgp"
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Location == nil {
		opts.Location = time.Local
	}
	if opts.CallTimeout <= 0 {
		opts.CallTimeout = DefaultCallTimeout
	}
	return &BIRDServer{p: p, opts: opts}
}

// birdIdle is how long a CLI connection may sit without a command.
const birdIdle = 5 * time.Minute

// Serve accepts CLI connections on l until ctx is cancelled, then closes
// l and every open connection and waits for their handlers.
func (s *BIRDServer) Serve(ctx context.Context, l net.Listener) error {
	var wg sync.WaitGroup
	var mu sync.Mutex
	conns := map[net.Conn]struct{}{}
	stop := context.AfterFunc(ctx, func() {
		l.Close()
		mu.Lock()
		for c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	defer stop()
	for {
		c, err := l.Accept()
		if err != nil {
			wg.Wait()
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("BIRD CLI on %s: %w", l.Addr(), err)
		}
		mu.Lock()
		conns[c] = struct{}{}
		mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.serveConn(ctx, c)
			mu.Lock()
			delete(conns, c)
			mu.Unlock()
			c.Close()
		}()
	}
}

func (s *BIRDServer) serveConn(ctx context.Context, c net.Conn) {
	w := bufio.NewWriter(c)
	fmt.Fprintf(w, "0001 BIRD %s ready.\n", s.opts.Version)
	if w.Flush() != nil {
		return
	}
	sc := bufio.NewScanner(c)
	sc.Buffer(make([]byte, 0, 4096), 4096) // BIRD's CLI_RX_BUF_SIZE
	for {
		c.SetReadDeadline(time.Now().Add(birdIdle))
		if !sc.Scan() {
			if errors.Is(sc.Err(), bufio.ErrTooLong) {
				fmt.Fprintln(w, "9000 Command too long")
				w.Flush()
			}
			return
		}
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		s.Reply(ctx, w, line)
		c.SetWriteDeadline(time.Now().Add(10 * time.Second))
		if w.Flush() != nil {
			return
		}
	}
}

// Reply writes the reply to one command line. Each word may be
// abbreviated to a prefix, as in BIRD ("sh pro").
func (s *BIRDServer) Reply(ctx context.Context, w io.Writer, cmd string) {
	words := strings.Fields(strings.ToLower(cmd))
	is := func(i int, kw string) bool { return i < len(words) && strings.HasPrefix(kw, words[i]) }
	switch {
	case len(words) == 2 && is(0, "show") && is(1, "protocols"):
		s.showProtocols(ctx, w)
	case len(words) == 2 && is(0, "show") && is(1, "status"):
		s.showStatus(ctx, w)
	default:
		fmt.Fprintf(w, "9001 syntax error, kbgp serves only \"show protocols\" and \"show status\"\n")
	}
}

func (s *BIRDServer) node(ctx context.Context, w io.Writer) (status.Node, bool) {
	n, err := call(ctx, s.opts.CallTimeout, s.p.Node)
	if err != nil {
		// 8xxx are run-time errors in BIRD's reply codes.
		fmt.Fprintf(w, "8001 %s\n", strings.ReplaceAll(err.Error(), "\n", " "))
		return n, false
	}
	return n, true
}

// showProtocols lists the BGP sessions as BIRD 1.6's proto_cmd_show does:
// "%-8s %-8s %-8s %-5s  %-10s  %s" of name, protocol, table, state, since
// and info, where BGP's info is "%-14s%s" of the BGP state and the last
// error with its class prefix, or only the error for a disabled session
// (proto/bgp/bgp.c bgp_get_status).
func (s *BIRDServer) showProtocols(ctx context.Context, w io.Writer) {
	n, ok := s.node(ctx, w)
	if !ok {
		return
	}
	fmt.Fprintln(w, "2002-name     proto    table    state  since       info")
	now := s.opts.Now()
	first := true
	// confd writes the protocols sorted by name and BIRD lists them in
	// configuration order.
	slices.SortStableFunc(n.Peers, func(a, b status.Peer) int { return strings.Compare(a.SessionName(), b.SessionName()) })
	for _, p := range n.Peers {
		if !p.Address.IsValid() || (s.opts.Family == 4 && !p.Address.Unmap().Is4()) || (s.opts.Family == 6 && p.Address.Unmap().Is4()) {
			continue
		}
		var info string
		if p.Admin == status.AdminDown {
			info = p.LastError.String()
		} else {
			info = fmt.Sprintf("%-14s%s", p.StateText(), p.LastError.String())
		}
		row := fmt.Sprintf("%-8s %-8s %-8s %-5s  %-10s  %s", p.SessionName(), "BGP", "master",
			p.ProtocolState(), status.SinceText(p.Since, now, s.opts.Location), strings.ReplaceAll(info, "\n", " "))
		if first {
			fmt.Fprintf(w, "1002-%s\n", row)
			first = false
		} else {
			fmt.Fprintf(w, " %s\n", row)
		}
	}
	fmt.Fprintln(w, "0000 ")
}

// showStatus answers "show status" like BIRD 1.6 (cmd_show_status): the
// version, router ID and times, "0024" while a graceful restart recovery
// is in progress, and "0013 Daemon is up and running".
func (s *BIRDServer) showStatus(ctx context.Context, w io.Writer) {
	n, ok := s.node(ctx, w)
	if !ok {
		return
	}
	ts := func(t time.Time) string { return t.In(s.opts.Location).Format("2006-01-02 15:04:05") }
	started := n.StartedAt
	if started.IsZero() {
		started = s.opts.Now()
	}
	fmt.Fprintf(w, "1000-BIRD %s\n", s.opts.Version)
	rid := "0.0.0.0"
	if n.RouterID.IsValid() {
		rid = n.RouterID.String()
	}
	fmt.Fprintf(w, "1011-Router ID is %s\n", rid)
	fmt.Fprintf(w, " Current server time is %s\n", ts(s.opts.Now()))
	fmt.Fprintf(w, " Last reboot on %s\n", ts(started))
	fmt.Fprintf(w, " Last reconfiguration on %s\n", ts(started))
	if n.GracefulRestart {
		waiting := 0
		for _, p := range n.Peers {
			if p.State != status.Established && p.Admin != status.AdminDown {
				waiting++
			}
		}
		fmt.Fprintln(w, "0024-Graceful restart recovery in progress")
		fmt.Fprintf(w, "  Waiting for %d protocols to recover\n", waiting)
	}
	if n.Running {
		fmt.Fprintln(w, "0013 Daemon is up and running")
	} else {
		fmt.Fprintln(w, "0013 Daemon is up, BGP speaker stopped")
	}
}
