package lab

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strings"
	"time"

	"github.com/kbgp/kbgp/internal/config"
	"github.com/kbgp/kbgp/internal/routercfg"
)

// podOn is the node a pod target runs on ("" for services and unknown
// names).
func podOn(t *Topology, target string) string {
	for _, p := range t.Pods() {
		if p.Name == target {
			return p.Node
		}
	}
	return ""
}

// retention is how long the router keeps a failed session's routes: the
// longest graceful restart time and LLGR stale time the nodes' BGPPeers
// announce (what `kbgp router-config` gives the router).
func (t *Topology) retention() (gr, llgr time.Duration, err error) {
	rs, err := t.Resources()
	if err != nil {
		return 0, 0, err
	}
	opts, err := t.routerOptions("/nonexistent")
	if err != nil {
		return 0, 0, err
	}
	plan, err := routercfg.Plan(config.NewInput(rs, nil), opts)
	if err != nil {
		return 0, 0, fmt.Errorf("lab: topology %q: %w", t.Name, err)
	}
	if !plan.GracefulRestart {
		return 0, 0, nil
	}
	return plan.RestartTime, plan.LLGRStaleTime, nil
}

// uplinks are the links in node's namespace that carry one of its node
// addresses (its veths to the bridge), by name.
func uplinks(s *State, node string) ([]string, error) {
	i := slices.IndexFunc(s.Topology.Nodes, func(n Node) bool { return n.Name == node })
	if i < 0 {
		return nil, fmt.Errorf("no node %s in topology %q", node, s.Topology.Name)
	}
	out, err := exec.Command("ip", "-n", s.NSName(node), "-j", "addr", "show").Output()
	if err != nil {
		return nil, fmt.Errorf("ip -n %s addr show: %w", s.NSName(node), err)
	}
	var links []struct {
		IfName   string `json:"ifname"`
		AddrInfo []struct {
			Local string `json:"local"`
		} `json:"addr_info"`
	}
	if err := json.Unmarshal(out, &links); err != nil {
		return nil, fmt.Errorf("ip -j addr show in %s: %w", s.NSName(node), err)
	}
	var names []string
	for _, l := range links {
		for _, a := range l.AddrInfo {
			ad, err := netip.ParseAddr(a.Local)
			if err != nil {
				continue
			}
			if slices.ContainsFunc(s.Topology.Nodes[i].Addresses, func(p netip.Prefix) bool { return p.Addr() == ad }) && !slices.Contains(names, l.IfName) {
				names = append(names, l.IfName)
			}
		}
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("no link in %s carries the node addresses %v", s.NSName(node), s.Topology.Nodes[i].Addresses)
	}
	return names, nil
}

// linksDown sets node's uplinks down and returns the function that sets
// them up again. Setting a link down makes the kernel delete the routes
// through it (and IPv6 addresses), so the addresses and routes of the
// namespace are saved first (`ip addr save`, `ip route save`) and
// restored afterwards; restore skips what already exists again.
func linksDown(s *State, node string) (func() error, error) {
	links, err := uplinks(s, node)
	if err != nil {
		return nil, err
	}
	ns := s.NSName(node)
	var saved [][2]string // {command prefix, saved dump}
	for _, what := range [][]string{{"-6", "addr", "save"}, {"-4", "route", "save", "table", "main"}, {"-6", "route", "save", "table", "main"}} {
		args := append([]string{"netns", "exec", ns, "ip"}, what...)
		out, err := exec.Command("ip", args...).Output()
		if err != nil {
			return nil, fmt.Errorf("ip %s: %w", strings.Join(args, " "), err)
		}
		saved = append(saved, [2]string{what[0] + " " + what[1], string(out)})
	}
	for _, l := range links {
		if err := run("ip", "-n", ns, "link", "set", l, "down"); err != nil {
			return nil, err
		}
	}
	return func() error {
		for _, l := range links {
			if err := run("ip", "-n", ns, "link", "set", l, "up"); err != nil {
				return err
			}
		}
		for _, sv := range saved {
			f := strings.Fields(sv[0])
			if err := restore(ns, f[0], f[1], sv[1]); err != nil {
				return err
			}
		}
		return nil
	}, nil
}

// restore runs `ip FAMILY WHAT restore` in ns with dump on its standard
// input, which must be a seekable file (ip checks the dump's header with
// ftell). Restore reports entries that exist again (the connected routes,
// IPv6 addresses kept over the down) and goes on; only a failure to run
// counts.
func restore(ns, family, what, dump string) error {
	f, err := os.CreateTemp("", "kbgp-lab-restore-")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	if _, err := f.WriteString(dump); err != nil {
		return err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	cmd := exec.Command("ip", "netns", "exec", ns, "ip", family, what, "restore")
	cmd.Stdin = f
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("ip -n %s %s %s restore: %w: %s", ns, family, what, err, strings.TrimSpace(stderr.String()))
	}
	return nil
}
