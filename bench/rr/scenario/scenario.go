// Package scenario builds the route-reflector benchmark's workloads: the
// clients of each scenario with their pre-encoded UPDATEs and the prefixes
// each must receive, and the addressing plan every DUT is configured from.
//
// Addressing (all inside the run's network namespace, on its loopback): the
// DUT is 10.0.0.1, AS 64512, and is the route reflector with cluster ID
// 10.0.0.1; client i is 10.100.0.0 + 2 + i (a /16 on lo makes the whole
// range local, so clients bind any address in it). Pod blocks are /26s from
// 100.64.0.0/10, service routes /32s from 198.18.0.0/15.
package scenario

import (
	"fmt"
	"net/netip"

	"github.com/kbgp/kbgp/bench/rr/load"
)

// Addressing plan.
var (
	DUTAddr    = netip.MustParseAddr("10.0.0.1")
	ClientNet  = netip.MustParsePrefix("10.100.0.0/16")
	podBase    = netip.MustParseAddr("100.64.0.0")
	svcBase    = netip.MustParseAddr("198.18.0.0")
	MaxClients = 65000
)

// AS is the AS of the DUT and every client (iBGP).
const AS = 64512

// ServicesPerClient is the number of /32 service routes per k8s client.
const ServicesPerClient = 20

// ClientAddr is the address of client i.
func ClientAddr(i int) netip.Addr { return addAddr(ClientNet.Addr(), uint32(i)+2) }

func addAddr(a netip.Addr, n uint32) netip.Addr {
	b := a.As4()
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	v += n
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// Workload is a built scenario.
type Workload struct {
	Index   *load.Index
	Clients []*load.Client
	// Churn marks the prefixes the churn phase withdraws and re-announces
	// (nil when the scenario has no churn data).
	Churn load.Bits
	// Routes is the number of distinct prefixes announced.
	Routes int
}

// Peers returns the clients' addresses, for the DUT configuration.
func (w *Workload) Peers() []netip.Addr {
	ps := make([]netip.Addr, len(w.Clients))
	for i, c := range w.Clients {
		ps[i] = c.Addr
	}
	return ps
}

// K8s is n nodes, each announcing one /26 pod block and 20 /32 service
// routes, and each wanting every other node's routes (full reflection
// fan-out). With churn, every 10th prefix (10%) is prepared for the
// withdraw/re-announce phase.
func K8s(n int, churn bool) (*Workload, error) {
	if n < 2 || n > MaxClients {
		return nil, fmt.Errorf("scenario k8s: %d clients, need 2..%d", n, MaxClients)
	}
	per := 1 + ServicesPerClient
	x := &load.Index{}
	own := make([][]netip.Prefix, n)
	for i := range n {
		own[i] = append(own[i], netip.PrefixFrom(addAddr(podBase, uint32(i)*64), 26))
		for j := range ServicesPerClient {
			own[i] = append(own[i], netip.PrefixFrom(addAddr(svcBase, uint32(i*ServicesPerClient+j)), 32))
		}
		for _, p := range own[i] {
			x.Add(p)
		}
	}
	w := &Workload{Index: x, Routes: x.Len()}
	if churn {
		w.Churn = load.NewBits(x.Len())
	}
	for i := range n {
		addr := ClientAddr(i)
		a := load.IBGPAttrs(addr)
		c := &load.Client{Addr: addr, AS: AS}
		var err error
		if c.Announce, err = load.AppendAnnounce(nil, &a, own[i]); err != nil {
			return nil, err
		}
		c.Want = load.NewBits(x.Len())
		for k := range x.Len() {
			if k/per != i {
				c.Want.Set(int32(k))
				c.WantN++
			}
		}
		if churn {
			var ch []netip.Prefix
			for k := i * per; k < (i+1)*per; k++ {
				if k%10 == 0 {
					ch = append(ch, x.Prefix(int32(k)))
					w.Churn.Set(int32(k))
				}
			}
			if c.Withdraw, err = load.AppendWithdraw(nil, ch); err != nil {
				return nil, err
			}
			if c.Reannounce, err = load.AppendAnnounce(nil, &a, ch); err != nil {
				return nil, err
			}
		}
		w.Clients = append(w.Clients, c)
	}
	return w, nil
}

// Sessions is n clients announcing one /32 each (drain-only) plus one
// monitor that wants all n routes.
func Sessions(n int) (*Workload, error) {
	if n < 1 || n+1 > MaxClients {
		return nil, fmt.Errorf("scenario sessions: %d clients, need 1..%d", n, MaxClients-1)
	}
	x := &load.Index{}
	w := &Workload{Index: x}
	for i := range n {
		addr := ClientAddr(i)
		p := netip.PrefixFrom(addAddr(svcBase, uint32(i)), 32)
		x.Add(p)
		a := load.IBGPAttrs(addr)
		c := &load.Client{Addr: addr, AS: AS}
		var err error
		if c.Announce, err = load.AppendAnnounce(nil, &a, []netip.Prefix{p}); err != nil {
			return nil, err
		}
		w.Clients = append(w.Clients, c)
	}
	w.Routes = x.Len()
	w.Clients = append(w.Clients, monitor(ClientAddr(n), x))
	return w, nil
}

// monitor is a client that announces nothing and wants every prefix of x.
func monitor(addr netip.Addr, x *load.Index) *load.Client {
	m := &load.Client{Addr: addr, AS: AS, Want: load.NewBits(x.Len()), WantN: x.Len()}
	for k := range x.Len() {
		m.Want.Set(int32(k))
	}
	return m
}
