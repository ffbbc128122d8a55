package netns

import (
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	vnetns "github.com/vishvananda/netns"
)

// withHandle runs fn with a netlink handle in the namespace.
func (n *NS) withHandle(fn func(h *netlink.Handle) error) error {
	h, err := n.Handle()
	if err != nil {
		return err
	}
	defer h.Close()
	return fn(h)
}

// Veth describes one end of a veth pair: the namespace it lives in, the
// interface name (at most 15 bytes) and optional addresses.
type Veth struct {
	NS    *NS
	Name  string
	Addrs []netip.Prefix
}

// AddVeth creates a veth pair with one end in a.NS and the other in b.NS
// (they may be the same namespace), assigns the addresses and brings both
// ends up.
func AddVeth(a, b Veth) error {
	if a.NS == nil || b.NS == nil {
		return fmt.Errorf("netns: veth %s/%s: both ends need a namespace", a.Name, b.Name)
	}
	peerNS, err := vnetns.GetFromPath(b.NS.Path())
	if err != nil {
		return fmt.Errorf("netns: veth %s/%s: open %s: %w", a.Name, b.Name, b.NS.Path(), err)
	}
	defer peerNS.Close()
	err = a.NS.withHandle(func(h *netlink.Handle) error {
		return h.LinkAdd(&netlink.Veth{
			LinkAttrs:     netlink.LinkAttrs{Name: a.Name},
			PeerName:      b.Name,
			PeerNamespace: netlink.NsFd(peerNS),
		})
	})
	if err != nil {
		return fmt.Errorf("netns: add veth %s (in %q) <-> %s (in %q): %w", a.Name, a.NS.Name, b.Name, b.NS.Name, err)
	}
	for _, end := range []Veth{a, b} {
		for _, p := range end.Addrs {
			if err := end.NS.AddAddr(end.Name, p); err != nil {
				return err
			}
		}
		if err := end.NS.LinkUp(end.Name); err != nil {
			return err
		}
	}
	return nil
}

// AddBridge creates a Linux bridge called name in the namespace and brings
// it up.
func (n *NS) AddBridge(name string) error {
	err := n.withHandle(func(h *netlink.Handle) error {
		return h.LinkAdd(&netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: name}})
	})
	if err != nil {
		return fmt.Errorf("netns: add bridge %s in %q: %w", name, n.Name, err)
	}
	return n.LinkUp(name)
}

// SetMaster enslaves link to the bridge (both in the namespace).
func (n *NS) SetMaster(link, bridge string) error {
	err := n.withHandle(func(h *netlink.Handle) error {
		l, err := h.LinkByName(link)
		if err != nil {
			return err
		}
		br, err := h.LinkByName(bridge)
		if err != nil {
			return err
		}
		return h.LinkSetMasterByIndex(l, br.Attrs().Index)
	})
	if err != nil {
		return fmt.Errorf("netns: set master of %s to %s in %q: %w", link, bridge, n.Name, err)
	}
	return nil
}

// LinkUp brings the interface link up.
func (n *NS) LinkUp(link string) error {
	err := n.withHandle(func(h *netlink.Handle) error {
		l, err := h.LinkByName(link)
		if err != nil {
			return err
		}
		return h.LinkSetUp(l)
	})
	if err != nil {
		return fmt.Errorf("netns: set %s up in %q: %w", link, n.Name, err)
	}
	return nil
}

// LinkDown takes the interface link down (to simulate a link failure).
func (n *NS) LinkDown(link string) error {
	err := n.withHandle(func(h *netlink.Handle) error {
		l, err := h.LinkByName(link)
		if err != nil {
			return err
		}
		return h.LinkSetDown(l)
	})
	if err != nil {
		return fmt.Errorf("netns: set %s down in %q: %w", link, n.Name, err)
	}
	return nil
}

// LinkIndex returns the interface index of link in the namespace.
func (n *NS) LinkIndex(link string) (int, error) {
	var idx int
	err := n.withHandle(func(h *netlink.Handle) error {
		l, err := h.LinkByName(link)
		if err != nil {
			return err
		}
		idx = l.Attrs().Index
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("netns: link %s in %q: %w", link, n.Name, err)
	}
	return idx, nil
}

// AddAddr assigns the address p (address and prefix length, e.g.
// 192.0.2.1/24) to link. IPv6 addresses are added with duplicate address
// detection off (IFA_F_NODAD) so they are usable at once.
func (n *NS) AddAddr(link string, p netip.Prefix) error {
	if !p.IsValid() {
		return fmt.Errorf("netns: add address to %s in %q: invalid prefix %v", link, n.Name, p)
	}
	err := n.withHandle(func(h *netlink.Handle) error {
		l, err := h.LinkByName(link)
		if err != nil {
			return err
		}
		a := &netlink.Addr{IPNet: &net.IPNet{
			IP:   p.Addr().AsSlice(),
			Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen()),
		}}
		if p.Addr().Is6() {
			a.Flags = 0x02 // IFA_F_NODAD
		}
		return h.AddrAdd(l, a)
	})
	if err != nil {
		return fmt.Errorf("netns: add address %s to %s in %q: %w", p, link, n.Name, err)
	}
	return nil
}
