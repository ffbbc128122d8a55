package lab

import (
	"bytes"
	"context"
	"fmt"
	"html"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/kbgp/kbgp/internal/ctlapi"
)

// Sessions collects every BGP session of the lab: the router's (from FRR)
// and each agent's (from its control socket). A session seen from both
// ends appears once; if the ends disagree its state reads "A/B".
func Sessions(ctx context.Context, s *State) []Session {
	var all []Session
	if rs, err := RouterSessions(s); err == nil {
		all = append(all, rs...)
	}
	for _, n := range s.Topology.Nodes {
		ps, err := nodePeers(ctx, s.Socket(n.Name))
		if err != nil {
			all = append(all, Session{A: n.Name, B: "", State: "agent unreachable"})
			continue
		}
		all = append(all, ps...)
		for i := range ps {
			all[len(all)-len(ps)+i].A = n.Name
			all[len(all)-len(ps)+i].B = s.Topology.hostOf(ps[i].Addr)
		}
	}
	return mergeSessions(all)
}

func nodePeers(ctx context.Context, sock string) ([]Session, error) {
	c, err := ctlapi.Dial(sock)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	ps, err := c.Peers(ctx)
	if err != nil {
		return nil, err
	}
	var ss []Session
	for _, p := range ps {
		ss = append(ss, Session{Addr: p.Address, State: string(p.State)})
	}
	return ss, nil
}

func mergeSessions(all []Session) []Session {
	type key struct{ a, b string }
	idx := map[key]int{}
	var out []Session
	for _, s := range all {
		if s.B == "" {
			out = append(out, s)
			continue
		}
		k := key{min(s.A, s.B), max(s.A, s.B)}
		if i, ok := idx[k]; ok {
			if out[i].State != s.State {
				out[i].State += "/" + s.State
			}
			continue
		}
		idx[k] = len(out)
		out = append(out, s)
	}
	return out
}

// Picture draws the topology with its sessions and their states as SVG:
// the client and router on top, the node bridge, the nodes with their pods
// below, router-node sessions as straight lines and node-node sessions as
// arcs under the nodes. Green means Established.
func Picture(t *Topology, sessions []Session) []byte {
	const (
		boxW = 190
		gap  = 30
		top  = 50
	)
	n := len(t.Nodes)
	nodeH := 60 + 16*t.Cluster.PodsPerNode
	width := max(n*(boxW+gap)+gap, 2*(boxW+gap)+gap+200)
	nodeY := 300
	arcDepth := 40 + 20*n
	height := nodeY + nodeH + arcDepth + 70
	var b bytes.Buffer
	w := func(format string, a ...any) { fmt.Fprintf(&b, format+"\n", a...) }
	esc := html.EscapeString
	w(`<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`, width, height, width, height)
	w(`<rect width="100%%" height="100%%" fill="white"/>`)
	w(`<text x="%d" y="24" font-size="16" font-weight="bold">%s</text>`, gap, esc("kbgp lab: "+t.Name))
	if t.Description != "" {
		w(`<text x="%d" y="40" fill="#555">%s</text>`, gap, esc(t.Description))
	}
	// client and router
	cx, rx := gap, width/2-boxW/2
	box := func(x, y, h int, fill string, lines ...string) {
		w(`<rect x="%d" y="%d" width="%d" height="%d" rx="6" fill="%s" stroke="#333"/>`, x, y, boxW, h, fill)
		for i, l := range lines {
			weight := ""
			if i == 0 {
				weight = ` font-weight="bold"`
			}
			w(`<text x="%d" y="%d"%s>%s</text>`, x+8, y+18+16*i, weight, esc(l))
		}
	}
	routerBottom := top + 90 + 60
	w(`<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#333" stroke-width="2"/>`, cx+boxW, top+110, rx, top+110)
	box(cx, top+60, 80, "#eef3fb", append([]string{t.Client.Name, "external client"}, prefixes(t.Client.Addresses)...)...)
	rl := []string{fmt.Sprintf("%s (FRR, AS %d)", t.Router.Name, t.Router.ASN)}
	rl = append(rl, prefixes(t.Router.ClientAddresses)...)
	rl = append(rl, prefixes(t.Router.ClusterAddresses)...)
	box(rx, top+60, 90, "#fdf3e1", rl...)
	// bridge
	brY := nodeY - 50
	w(`<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#777" stroke-width="6"/>`, gap, brY, width-gap, brY)
	w(`<text x="%d" y="%d" fill="#555">bridge eth2 (%s)</text>`, gap, brY-8, esc(strings.Join(prefixes(subnets(t.Router.ClusterAddresses)), ", ")))
	w(`<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#777" stroke-width="2"/>`, rx+boxW/2, routerBottom, rx+boxW/2, brY)
	// nodes
	nodeX := map[string]int{}
	for i, nd := range t.Nodes {
		x := gap + i*(boxW+gap)
		nodeX[nd.Name] = x + boxW/2
		w(`<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#777" stroke-width="2"/>`, x+boxW/2, brY, x+boxW/2, nodeY)
		lines := append([]string{nd.Name}, prefixes(nd.Addresses)...)
		lines = append(lines, "block "+t.Block(i).String())
		for _, p := range t.Pods() {
			if p.Node == nd.Name {
				lines = append(lines, "pod "+p.Addr.String())
			}
		}
		box(x, nodeY, nodeH, "#eaf7ea", lines...)
	}
	// sessions
	rcx := rx + boxW/2
	arcs := 0
	for _, s := range sessions {
		color, dash := stateStyle(s.State)
		ax, aok := nodeX[s.A]
		bx, bok := nodeX[s.B]
		switch {
		case s.A == t.Router.Name && bok, s.B == t.Router.Name && aok:
			x := bx
			if !bok {
				x = ax
			}
			w(`<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="2.5"%s/>`, rcx, routerBottom, x, nodeY, color, dash)
			mx, my := (rcx+x)/2, (routerBottom+nodeY)/2-20
			w(`<text x="%d" y="%d" fill="%s" text-anchor="middle">%s</text>`, mx, my, color, esc(s.State))
		case aok && bok:
			arcs++
			y0 := nodeY + nodeH
			d := 30 + 20*arcs
			w(`<path d="M %d %d Q %d %d %d %d" fill="none" stroke="%s" stroke-width="2"%s/>`, ax, y0, (ax+bx)/2, y0+2*d, bx, y0, color, dash)
			w(`<text x="%d" y="%d" fill="%s" text-anchor="middle">%s</text>`, (ax+bx)/2, y0+d+14, color, esc(s.A+"-"+s.B+": "+s.State))
		case aok:
			w(`<text x="%d" y="%d" fill="%s" text-anchor="middle">%s</text>`, ax, nodeY-6, color, esc(s.State))
		}
	}
	w(`<text x="%d" y="%d" fill="#555">green: Established, red dashed: other states (router: FRR, nodes: kbgp agents)</text>`, gap, height-14)
	w(`</svg>`)
	return b.Bytes()
}

func stateStyle(state string) (color, dash string) {
	if state == "Established" {
		return "#1f8a3b", ""
	}
	return "#c62828", ` stroke-dasharray="6 4"`
}

func prefixes[T fmt.Stringer](ps []T) []string {
	var s []string
	for _, p := range ps {
		s = append(s, p.String())
	}
	return s
}

func subnets[T interface{ Masked() T }](ps []T) []T {
	var out []T
	for _, p := range ps {
		out = append(out, p.Masked())
	}
	return out
}

// WritePicture writes topology.svg (and topology.png if rsvg-convert is on
// PATH) into the lab directory and returns their paths.
func WritePicture(ctx context.Context, s *State) ([]string, error) {
	svg := filepath.Join(s.Dir, "topology.svg")
	if err := os.WriteFile(svg, Picture(s.Topology, Sessions(ctx, s)), 0o644); err != nil {
		return nil, err
	}
	paths := []string{svg}
	if conv, err := exec.LookPath("rsvg-convert"); err == nil {
		png := filepath.Join(s.Dir, "topology.png")
		if out, err := exec.CommandContext(ctx, conv, "-o", png, svg).CombinedOutput(); err == nil {
			paths = append(paths, png)
		} else {
			return paths, fmt.Errorf("rsvg-convert: %w: %s", err, out)
		}
	}
	return slices.Clip(paths), nil
}
