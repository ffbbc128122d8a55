package status

import (
	"bufio"
	"cmp"
	"fmt"
	"io"
	"slices"
	"time"
)

// The lines `calicoctl node status` prints around its tables. kbgp keeps
// Calico's words, not its own name, so that scripts which grep
// calicoctl's output ("Calico process is running.", "Established") keep
// working when kbgp replaces calico-node; "BIRD" there means the BGP
// backend, which is kbgp's own speaker.
const (
	ProcessRunning    = "Calico process is running."
	ProcessNotRunning = "Calico process is not running."
	backendNotRunning = "None of the BGP backend processes (BIRD or GoBGP) are running."
)

// NodeStatusHeader is calicoctl's table header (tablewriter upper-cases it).
var NodeStatusHeader = []string{"Peer address", "Peer type", "State", "Since", "Info"}

// WriteNodeStatus writes n the way `calicoctl node status` prints it, byte
// for byte: the process line, then an "IPv4 BGP status" and an "IPv6 BGP
// status" section, each a table of that family's peers sorted by session
// name (or "No IPv4 peers found."), then an empty line. SINCE is rendered
// relative to now in loc (see SinceText).
func WriteNodeStatus(w io.Writer, n *Node, now time.Time, loc *time.Location) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintln(bw, ProcessRunning)
	if !n.Running {
		fmt.Fprintf(bw, "\n%s\n", backendNotRunning)
	} else {
		for _, fam := range []int{4, 6} {
			fmt.Fprintf(bw, "\nIPv%d BGP status\n", fam)
			peers := familyPeers(n.Peers, fam)
			if len(peers) == 0 {
				fmt.Fprintf(bw, "No IPv%d peers found.\n", fam)
				continue
			}
			t := Table{Header: NodeStatusHeader}
			for _, p := range peers {
				t.Rows = append(t.Rows, []string{
					p.Address.Unmap().String(),
					string(p.Type),
					p.ProtocolState(),
					SinceText(p.Since, now, loc),
					p.Info(),
				})
			}
			if err := t.Render(bw); err != nil {
				return err
			}
		}
	}
	// calicoctl ends with an empty line.
	fmt.Fprintln(bw)
	return bw.Flush()
}

// familyPeers returns the peers of one address family (4 or 6) sorted by
// session name, the order BIRD lists confd's protocols in.
func familyPeers(all []Peer, fam int) []Peer {
	type keyed struct {
		name string
		p    *Peer
	}
	var ks []keyed
	for i := range all {
		p := &all[i]
		if p.Address.IsValid() && p.Address.Unmap().Is4() == (fam == 4) {
			ks = append(ks, keyed{p.SessionName(), p})
		}
	}
	slices.SortStableFunc(ks, func(a, b keyed) int {
		return cmp.Or(cmp.Compare(a.name, b.name), a.p.Address.Compare(b.p.Address))
	})
	out := make([]Peer, len(ks))
	for i, k := range ks {
		out[i] = *k.p
	}
	return out
}
