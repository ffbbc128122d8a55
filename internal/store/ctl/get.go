package ctl

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/kbgp/kbgp/api"
	"github.com/kbgp/kbgp/internal/config"
	"github.com/kbgp/kbgp/internal/store"
)

// Output formats for Get.
const (
	FormatTable = ""
	FormatWide  = "wide"
	FormatYAML  = "yaml"
	FormatJSON  = "json"
)

// Get prints resources of one kind: all of them, or the named ones. The
// table columns are calicoctl's (`calicoctl get bgppeer` prints NAME,
// PEERIP, NODE, ASN); wide adds columns. yaml prints one document per
// resource (a stream `kbgp apply -f` reads back); json prints one object,
// or a List for several. A name that does not exist is an error
// (`bgppeers "x" not found`) after the others are printed.
func Get(ctx context.Context, ds store.Datastore, kindArg string, names []string, format string, out, errOut io.Writer) error {
	kind, err := store.ResolveKind(kindArg)
	if err != nil {
		return err
	}
	switch format {
	case FormatTable, FormatWide, FormatYAML, FormatJSON:
	default:
		return fmt.Errorf("unknown output format %q: want yaml, json or wide", format)
	}
	var rs []api.Resource
	var notFound []error
	if len(names) == 0 {
		all, err := ds.List(ctx)
		if err != nil {
			return err
		}
		for _, r := range all {
			if r.Kind() == kind {
				rs = append(rs, r)
			}
		}
	} else {
		for _, n := range names {
			r, err := ds.Get(ctx, kind, n)
			if store.IsNotFound(err) {
				notFound = append(notFound, err)
				continue
			}
			if err != nil {
				return err
			}
			rs = append(rs, r)
		}
	}
	if err := printResources(ctx, ds, kind, rs, format, len(names) == 1, out); err != nil {
		return err
	}
	if len(rs) == 0 && len(names) == 0 && (format == FormatTable || format == FormatWide) {
		fmt.Fprintln(errOut, "No resources found.")
	}
	switch len(notFound) {
	case 0:
		return nil
	case 1:
		return notFound[0]
	}
	for _, e := range notFound {
		printErr(errOut, "", e)
	}
	return ErrReported
}

func printResources(ctx context.Context, ds store.Datastore, kind string, rs []api.Resource, format string, single bool, out io.Writer) error {
	switch format {
	case FormatYAML:
		b, err := config.EncodeAll(rs, "yaml")
		if err != nil {
			return err
		}
		_, err = out.Write(b)
		return err
	case FormatJSON:
		var b []byte
		var err error
		if single && len(rs) == 1 {
			b, err = config.Encode(rs[0], "json")
		} else {
			b, err = config.EncodeAll(rs, "json")
		}
		if err != nil {
			return err
		}
		_, err = out.Write(b)
		return err
	}
	if len(rs) == 0 {
		return nil
	}
	cols := columns(ctx, ds, kind, format == FormatWide)
	var buf bytes.Buffer
	tw := tabwriter.NewWriter(&buf, 0, 8, 3, ' ', 0)
	heads := make([]string, len(cols))
	for i, c := range cols {
		heads[i] = c.head
	}
	fmt.Fprintln(tw, strings.Join(heads, "\t"))
	for _, r := range rs {
		cells := make([]string, len(cols))
		for i, c := range cols {
			cells[i] = c.value(r)
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	// Empty trailing cells would leave padding at the ends of lines.
	for line := range strings.Lines(buf.String()) {
		if _, err := io.WriteString(out, strings.TrimRight(line, " \n")+"\n"); err != nil {
			return err
		}
	}
	return nil
}

type column struct {
	head  string
	value func(api.Resource) string
}

func name(r api.Resource) string { return r.Name() }

// columns returns the table columns of a kind, following calicoctl's
// resource printers (calicoctl/resourcemgr); wide adds the columns after
// calicoctl's.
func columns(ctx context.Context, ds store.Datastore, kind string, wide bool) []column {
	switch kind {
	case api.KindBGPPeer:
		cols := []column{{"NAME", name},
			{"PEERIP", func(r api.Resource) string { return r.(*api.BGPPeer).Spec.PeerIP.String() }},
			{"NODE", func(r api.Resource) string {
				s := r.(*api.BGPPeer).Spec
				switch {
				case s.Node != "":
					return s.Node
				case s.NodeSelector != "":
					return s.NodeSelector
				}
				return "(global)"
			}},
			{"ASN", func(r api.Resource) string { return asn(r.(*api.BGPPeer).Spec.ASNumber) }},
		}
		if wide {
			cols = append(cols, column{"PEERSELECTOR", func(r api.Resource) string { return r.(*api.BGPPeer).Spec.PeerSelector }},
				column{"FILTERS", func(r api.Resource) string { return strings.Join(r.(*api.BGPPeer).Spec.Filters, ",") }})
		}
		return cols
	case api.KindBGPConfiguration:
		return []column{{"NAME", name},
			{"LOGSEVERITY", func(r api.Resource) string { return r.(*api.BGPConfiguration).Spec.LogSeverityScreen }},
			{"MESHENABLED", func(r api.Resource) string {
				if m := r.(*api.BGPConfiguration).Spec.NodeToNodeMeshEnabled; m != nil {
					return strconv.FormatBool(*m)
				}
				return "-"
			}},
			{"ASNUMBER", func(r api.Resource) string {
				if a := r.(*api.BGPConfiguration).Spec.ASNumber; a != nil {
					return a.String()
				}
				return "-"
			}},
		}
	case api.KindBGPFilter:
		count := func(f func(api.BGPFilterSpec) int) func(api.Resource) string {
			return func(r api.Resource) string { return strconv.Itoa(f(r.(*api.BGPFilter).Spec)) }
		}
		if wide {
			return []column{{"NAME", name},
				{"EXPORTV4", count(func(s api.BGPFilterSpec) int { return len(s.ExportV4) })},
				{"IMPORTV4", count(func(s api.BGPFilterSpec) int { return len(s.ImportV4) })},
				{"EXPORTV6", count(func(s api.BGPFilterSpec) int { return len(s.ExportV6) })},
				{"IMPORTV6", count(func(s api.BGPFilterSpec) int { return len(s.ImportV6) })},
			}
		}
		return []column{{"NAME", name},
			{"NUMEXPORT", count(func(s api.BGPFilterSpec) int { return len(s.ExportV4) + len(s.ExportV6) })},
			{"NUMIMPORT", count(func(s api.BGPFilterSpec) int { return len(s.ImportV4) + len(s.ImportV6) })},
		}
	case api.KindNode:
		if !wide {
			return []column{{"NAME", name}}
		}
		global := globalASN(ctx, ds)
		bgp := func(r api.Resource) *api.NodeBGPSpec { return r.(*api.Node).Spec.BGP }
		return []column{{"NAME", name},
			{"ASN", func(r api.Resource) string {
				b := bgp(r)
				switch {
				case b == nil:
					return ""
				case b.ASNumber != nil:
					return b.ASNumber.String()
				}
				return "(" + global + ")"
			}},
			{"IPV4", func(r api.Resource) string { return prefixOf(bgp(r), true) }},
			{"IPV6", func(r api.Resource) string { return prefixOf(bgp(r), false) }},
			{"RRCLUSTERID", func(r api.Resource) string {
				if b := bgp(r); b != nil && b.RouteReflectorClusterID.IsValid() {
					return b.RouteReflectorClusterID.String()
				}
				return r.Meta().Annotations[config.AnnotationRouteReflectorClusterID]
			}},
		}
	case api.KindIPPool:
		spec := func(r api.Resource) *api.IPPoolSpec { return &r.(*api.IPPool).Spec }
		cidr := column{"CIDR", func(r api.Resource) string { return spec(r).CIDR.String() }}
		sel := column{"SELECTOR", func(r api.Resource) string { return orDefault(spec(r).NodeSelector, "all()") }}
		if !wide {
			return []column{{"NAME", name}, cidr, sel}
		}
		return []column{{"NAME", name}, cidr,
			{"NAT", func(r api.Resource) string { return strconv.FormatBool(spec(r).NATOutgoing) }},
			{"IPIPMODE", func(r api.Resource) string { return orDefault(spec(r).IPIPMode, "Never") }},
			{"VXLANMODE", func(r api.Resource) string { return orDefault(spec(r).VXLANMode, "Never") }},
			{"DISABLED", func(r api.Resource) string { return strconv.FormatBool(spec(r).Disabled) }},
			{"DISABLEBGPEXPORT", func(r api.Resource) string { return strconv.FormatBool(spec(r).DisableBGPExport) }},
			sel,
		}
	}
	return []column{{"NAME", name}}
}

func asn(a api.ASNumber) string {
	if a == 0 {
		return ""
	}
	return a.String()
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func prefixOf(b *api.NodeBGPSpec, v4 bool) string {
	if b == nil {
		return ""
	}
	p := b.IPv6Address
	if v4 {
		p = b.IPv4Address
	}
	if !p.IsValid() {
		return ""
	}
	return p.String()
}

// globalASN is the default BGPConfiguration's AS, or Calico's default
// 64512, for the ASN column of nodes that do not set their own.
func globalASN(ctx context.Context, ds store.Datastore) string {
	if r, err := ds.Get(ctx, api.KindBGPConfiguration, "default"); err == nil {
		if a := r.(*api.BGPConfiguration).Spec.ASNumber; a != nil {
			return a.String()
		}
	}
	return "64512"
}
