package agent

import (
	"context"
	"errors"
	"fmt"
	"net/netip"

	"github.com/kbgp/kbgp/api"
	"github.com/kbgp/kbgp/internal/config"
	"github.com/kbgp/kbgp/internal/store"
)

// Annotations with which the agent marks the addresses it autodetected, so
// that a later start may re-detect (and move) them, while an address an
// operator wrote into the Node resource (no annotation, or a different
// value) is never overwritten.
const (
	AnnotationAutodetectedIPv4 = "kbgp.io/autodetected-ipv4-address"
	AnnotationAutodetectedIPv6 = "kbgp.io/autodetected-ipv6-address"
)

// Address says how the agent finds one family's BGP address, like
// calico-node's IP / IP6 and IP_AUTODETECTION_METHOD settings.
type Address struct {
	// Mode is "autodetect" (the default for IPv4), "none" (the default for
	// IPv6: leave the family alone) or an explicit CIDR such as
	// 172.16.30.101/24.
	Mode string
	// Method is the autodetection method (see Autodetect); empty means
	// first-found.
	Method string
}

// registerNode creates or updates the node's own Node resource with its
// BGP addresses and reports what it did. Rules:
//   - no Node: create one with the detected (or given) addresses;
//   - a family whose spec address is empty (and not set by the
//     projectcalico.org/IPv4Address annotation): fill it in;
//   - a family whose address the agent set earlier (the autodetected
//     annotation equals it): update it if it changed;
//   - anything else was set by an operator and is left alone.
func registerNode(ctx context.Context, ds store.Datastore, name string, v4, v6 Address, ifaces []Interface) (string, error) {
	want := map[int]netip.Prefix{}
	for _, f := range []struct {
		fam  int
		addr Address
	}{{4, v4}, {6, v6}} {
		switch f.addr.Mode {
		case "none":
			continue
		case "", "autodetect":
			if f.fam == 6 && f.addr.Mode == "" {
				continue
			}
			p, err := Autodetect(ctx, f.addr.Method, f.fam, ifaces)
			if err != nil {
				return "", fmt.Errorf("node %s: autodetecting the IPv%d BGP address: %w", name, f.fam, err)
			}
			want[f.fam] = p
		default:
			p, err := netip.ParsePrefix(f.addr.Mode)
			if err != nil || (f.fam == 4) != p.Addr().Is4() {
				return "", fmt.Errorf("node %s: IPv%d address %q: want autodetect, none or a CIDR such as %s", name, f.fam, f.addr.Mode, map[int]string{4: "172.16.30.101/24", 6: "fd00::1/64"}[f.fam])
			}
			want[f.fam] = p
		}
	}

	var did string
	_, err := ds.Update(ctx, api.KindNode, name, func(r api.Resource) error {
		did = applyAddresses(r.(*api.Node), want)
		if did == "" {
			return errUnchanged
		}
		return nil
	})
	switch {
	case errors.Is(err, errUnchanged):
		return "unchanged", nil
	case store.IsNotFound(err):
		n := &api.Node{Metadata: api.ObjectMeta{Name: name}}
		did = applyAddresses(n, want)
		if _, err := ds.Apply(ctx, n); err != nil {
			return "", fmt.Errorf("node %s: creating the Node resource: %w", name, err)
		}
		return "created: " + did, nil
	case err != nil:
		return "", fmt.Errorf("node %s: updating the Node resource: %w", name, err)
	}
	return "updated: " + did, nil
}

var errUnchanged = errors.New("unchanged")

// applyAddresses edits n per registerNode's rules and describes the
// changes ("" if none).
func applyAddresses(n *api.Node, want map[int]netip.Prefix) string {
	var did string
	for _, fam := range []int{4, 6} {
		p, ok := want[fam]
		if !ok {
			continue
		}
		ann, calicoAnn := AnnotationAutodetectedIPv4, config.AnnotationIPv4Address
		if fam == 6 {
			ann, calicoAnn = AnnotationAutodetectedIPv6, config.AnnotationIPv6Address
		}
		var cur netip.Prefix
		if n.Spec.BGP != nil {
			cur = n.Spec.BGP.IPv4Address
			if fam == 6 {
				cur = n.Spec.BGP.IPv6Address
			}
		}
		meta := &n.Metadata
		switch {
		case cur == p:
			continue
		case !cur.IsValid() && meta.Annotations[calicoAnn] != "":
			continue // set by Calico's annotation: the operator's
		case cur.IsValid() && meta.Annotations[ann] != cur.String():
			continue // set by an operator
		}
		if n.Spec.BGP == nil {
			n.Spec.BGP = &api.NodeBGPSpec{}
		}
		if fam == 4 {
			n.Spec.BGP.IPv4Address = p
		} else {
			n.Spec.BGP.IPv6Address = p
		}
		if meta.Annotations == nil {
			meta.Annotations = map[string]string{}
		}
		meta.Annotations[ann] = p.String()
		if did != "" {
			did += ", "
		}
		did += fmt.Sprintf("IPv%d address %s", fam, p)
	}
	return did
}
