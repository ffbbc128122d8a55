package agent

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"regexp"
	"strings"
)

// Interface is one network interface and its addresses with prefix length.
type Interface struct {
	Name  string
	Addrs []netip.Prefix
}

// defaultExcludes are the interfaces calico-node's first-found method skips
// (calico node/pkg/lifecycle/startup/autodetection: DEFAULT_INTERFACES_TO_EXCLUDE):
// container bridges, veths, loopback and the tunnels Calico itself creates.
var defaultExcludes = []string{
	"docker.*", "cbr.*", "dummy.*", "virbr.*", "lxcbr.*", "veth.*", "lo",
	"cali.*", "tunl.*", "flannel.*", "kube-ipvs.*", "cni.*", "vxlan.calico.*",
	"vxlan-v6.calico.*", "wireguard.cali.*", "wg-v6.cali.*", "nodelocaldns.*",
}

// Autodetect finds the node's BGP address of one family (4 or 6) the way
// calico-node's IP_AUTODETECTION_METHOD (IP6_AUTODETECTION_METHOD) does:
//
//	first-found              the first global unicast address on an interface
//	                         not in the default exclude list
//	interface=REGEX[,REGEX]  the first address on an interface matching a regex
//	skip-interface=REGEX,... first-found, also skipping matching interfaces
//	can-reach=IP|HOST        the source address the kernel picks to reach IP
//	cidr=CIDR[,CIDR]         the first address inside one of the CIDRs
//
// The result keeps the interface's prefix length (172.16.30.101/24), which
// is what a Node's spec.bgp.ipv4Address holds. ifaces lists the interfaces
// to choose from (nil: the host's, see Interfaces).
func Autodetect(ctx context.Context, method string, family int, ifaces []Interface) (netip.Prefix, error) {
	if method == "" {
		method = "first-found"
	}
	if ifaces == nil && !strings.HasPrefix(method, "can-reach=") {
		var err error
		if ifaces, err = Interfaces(); err != nil {
			return netip.Prefix{}, err
		}
	}
	kind, arg, _ := strings.Cut(method, "=")
	switch kind {
	case "first-found":
		return firstFound(ifaces, family, nil, compileRegexps(defaultExcludes), nil)
	case "interface":
		incl, err := regexps(method, arg)
		if err != nil {
			return netip.Prefix{}, err
		}
		return firstFound(ifaces, family, incl, nil, nil)
	case "skip-interface":
		excl, err := regexps(method, arg)
		if err != nil {
			return netip.Prefix{}, err
		}
		return firstFound(ifaces, family, nil, append(compileRegexps(defaultExcludes), excl...), nil)
	case "cidr":
		var cidrs []netip.Prefix
		for _, s := range strings.Split(arg, ",") {
			p, err := netip.ParsePrefix(strings.TrimSpace(s))
			if err != nil {
				return netip.Prefix{}, fmt.Errorf("autodetection method %q: %q is not a CIDR (want e.g. cidr=172.16.30.0/24): %w", method, s, err)
			}
			cidrs = append(cidrs, p.Masked())
		}
		return firstFound(ifaces, family, nil, nil, cidrs)
	case "can-reach":
		return canReach(ctx, method, arg, family, ifaces)
	}
	return netip.Prefix{}, fmt.Errorf("unknown autodetection method %q: want first-found, interface=REGEX, skip-interface=REGEX, can-reach=IP or cidr=CIDR", method)
}

func regexps(method, arg string) ([]*regexp.Regexp, error) {
	var out []*regexp.Regexp
	for _, s := range strings.Split(arg, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		re, err := regexp.Compile(s)
		if err != nil {
			return nil, fmt.Errorf("autodetection method %q: bad regular expression %q: %w", method, s, err)
		}
		out = append(out, re)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("autodetection method %q: no interface regular expression given", method)
	}
	return out, nil
}

func compileRegexps(ss []string) []*regexp.Regexp {
	out := make([]*regexp.Regexp, len(ss))
	for i, s := range ss {
		// Anchored: the patterns name whole interfaces, and "lo" must
		// not exclude "long0".
		out[i] = regexp.MustCompile("^(" + s + ")$")
	}
	return out
}

func anyMatch(res []*regexp.Regexp, s string) bool {
	for _, re := range res {
		if re.MatchString(s) {
			return true
		}
	}
	return false
}

// usable reports whether a is an address a BGP session can use: global
// unicast (not loopback, link-local or multicast) of the wanted family.
func usable(a netip.Addr, family int) bool {
	if (family == 4) != a.Is4() || a.Is4In6() {
		return false
	}
	return a.IsGlobalUnicast()
}

func firstFound(ifaces []Interface, family int, incl, excl []*regexp.Regexp, cidrs []netip.Prefix) (netip.Prefix, error) {
	for _, ifc := range ifaces {
		if incl != nil && !anyMatch(incl, ifc.Name) || anyMatch(excl, ifc.Name) {
			continue
		}
		for _, p := range ifc.Addrs {
			if !usable(p.Addr(), family) {
				continue
			}
			if cidrs != nil {
				in := false
				for _, c := range cidrs {
					in = in || c.Contains(p.Addr())
				}
				if !in {
					continue
				}
			}
			return p, nil
		}
	}
	return netip.Prefix{}, fmt.Errorf("no usable IPv%d address found on %s", family, describeIfaces(ifaces))
}

func describeIfaces(ifaces []Interface) string {
	if len(ifaces) == 0 {
		return "any interface (none found)"
	}
	var names []string
	for _, i := range ifaces {
		names = append(names, i.Name)
	}
	return "interfaces " + strings.Join(names, ", ")
}

// canReach asks the kernel which source address it would use toward the
// target: a connected UDP socket sends nothing, but has its local address
// chosen by a route lookup. The prefix length comes from the interface that
// holds that address.
func canReach(ctx context.Context, method, target string, family int, ifaces []Interface) (netip.Prefix, error) {
	if target == "" {
		return netip.Prefix{}, fmt.Errorf("autodetection method %q: no destination given (want can-reach=IP or can-reach=HOST)", method)
	}
	network := "udp4"
	if family == 6 {
		network = "udp6"
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, network, net.JoinHostPort(target, "179"))
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("autodetection method %q: no route to %s: %w", method, target, err)
	}
	local := c.LocalAddr().(*net.UDPAddr).AddrPort().Addr().Unmap()
	c.Close()
	if ifaces == nil {
		if ifaces, err = Interfaces(); err != nil {
			return netip.Prefix{}, err
		}
	}
	for _, ifc := range ifaces {
		for _, p := range ifc.Addrs {
			if p.Addr() == local {
				return p, nil
			}
		}
	}
	return netip.PrefixFrom(local, local.BitLen()), nil
}

// Interfaces lists the host's up interfaces and their addresses, in the
// kernel's order.
func Interfaces() ([]Interface, error) {
	ifs, err := net.Interfaces()
	if err != nil {
		return nil, fmt.Errorf("listing network interfaces: %w", err)
	}
	var out []Interface
	for _, ifc := range ifs {
		if ifc.Flags&net.FlagUp == 0 {
			continue
		}
		addrs, err := ifc.Addrs()
		if err != nil {
			return nil, fmt.Errorf("listing addresses of %s: %w", ifc.Name, err)
		}
		i := Interface{Name: ifc.Name}
		for _, a := range addrs {
			n, ok := a.(*net.IPNet)
			if !ok {
				continue
			}
			ip, ok := netip.AddrFromSlice(n.IP)
			if !ok {
				continue
			}
			ones, _ := n.Mask.Size()
			ip = ip.Unmap()
			if ip.Is4() && ones > 32 {
				ones -= 96
			}
			i.Addrs = append(i.Addrs, netip.PrefixFrom(ip, ones))
		}
		out = append(out, i)
	}
	return out, nil
}
