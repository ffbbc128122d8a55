package config

import (
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kbgp/kbgp/api"
	"github.com/kbgp/kbgp/internal/selector"
)

// Annotations on a Node that Calico's Kubernetes datastore uses for BGP
// data. kbgp treats each as the value of the matching spec.bgp field when
// that field is empty (the seed sets the cluster ID this way with
// kubectl annotate).
const (
	AnnotationIPv4Address             = "projectcalico.org/IPv4Address"
	AnnotationIPv6Address             = "projectcalico.org/IPv6Address"
	AnnotationASNumber                = "projectcalico.org/ASNumber"
	AnnotationRouteReflectorClusterID = "projectcalico.org/RouteReflectorClusterID"
)

// LabelExcludeFromLB on a node stops it from advertising service addresses.
const LabelExcludeFromLB = "node.kubernetes.io/exclude-from-external-load-balancers"

// Validate checks one resource (for resources built in code or edited by
// the CLI); Decode already validates what it decodes. The error joins
// *FieldErrors without positions.
func Validate(r api.Resource) error {
	errs := validate(r)
	for _, e := range errs {
		e.Kind, e.Name = r.Kind(), r.Name()
	}
	return joinSorted(errs)
}

// validator collects problems of one resource.
type validator struct {
	errs []*FieldError
}

func (v *validator) add(path, value, format string, args ...any) {
	v.errs = append(v.errs, &FieldError{Path: path, Value: value, Msg: fmt.Sprintf(format, args...)})
}

func validate(r api.Resource) []*FieldError {
	v := &validator{}
	v.meta(r.Meta())
	switch r := r.(type) {
	case *api.BGPConfiguration:
		v.bgpConfiguration(&r.Spec)
	case *api.BGPPeer:
		v.bgpPeer(&r.Spec)
	case *api.BGPFilter:
		v.bgpFilter(&r.Spec)
	case *api.Node:
		v.node(r)
	case *api.IPPool:
		v.ipPool(&r.Spec)
	}
	return v.errs
}

var (
	nameRE     = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)
	labelKeyRE = regexp.MustCompile(`^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$`)
	labelValRE = regexp.MustCompile(`^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$`)
)

func (v *validator) meta(m *api.ObjectMeta) {
	switch {
	case m.Name == "":
		v.add("metadata.name", "", "required")
	case len(m.Name) > 253 || !nameRE.MatchString(m.Name):
		v.add("metadata.name", m.Name, "must be lower-case letters, digits, '-' and '.', starting and ending with a letter or digit, at most 253 characters")
	}
	for _, k := range sortedKeys(m.Labels) {
		if len(k) > 316 || !labelKeyRE.MatchString(k) {
			v.add("metadata.labels", k, "invalid label key: want [prefix/]name with letters, digits, '-', '_' and '.'")
		}
		if val := m.Labels[k]; len(val) > 63 || !labelValRE.MatchString(val) {
			v.add("metadata.labels."+k, val, "invalid label value: at most 63 letters, digits, '-', '_' and '.', starting and ending with a letter or digit")
		}
	}
}

func (v *validator) selector(path, s string) {
	if _, err := selector.Parse(s); err != nil {
		var pe *selector.ParseError
		if errors.As(err, &pe) {
			v.add(path, s, "%s at column %d", pe.Msg, pe.Column)
			return
		}
		v.add(path, s, "%v", err)
	}
}

// prefix checks a CIDR; want is 4, 6 or 0 (either).
func (v *validator) prefix(path string, p netip.Prefix, want int, required bool) {
	if !p.IsValid() {
		if required {
			v.add(path, "", "required")
		}
		return
	}
	v.family(path, p.Addr(), p.String(), want)
	if m := p.Masked(); m != p {
		v.add(path, p.String(), "host bits set, did you mean %s?", m)
	}
}

func (v *validator) family(path string, a netip.Addr, shown string, want int) {
	switch {
	case want == 4 && !a.Is4():
		v.add(path, shown, "must be an IPv4 address")
	case want == 6 && !a.Is6():
		v.add(path, shown, "must be an IPv6 address")
	}
}

func (v *validator) oneOf(path, val string, allowed ...string) {
	if val != "" && !slices.Contains(allowed, val) {
		v.add(path, val, "must be one of %s", strings.Join(allowed, ", "))
	}
}

func (v *validator) asn(path string, a api.ASNumber) {
	// RFC 7607 §2: "A BGP speaker MUST NOT originate or propagate a route
	// with an AS number of zero".
	if a == 0 {
		v.add(path, "0", "AS 0 is reserved (RFC 7607) and cannot be used")
	}
}

func (v *validator) password(path string, p *api.BGPPassword) {
	if p == nil {
		return
	}
	if p.SecretKeyRef == nil {
		v.add(path+".secretKeyRef", "", "required when password is set")
		return
	}
	if p.SecretKeyRef.Name == "" {
		v.add(path+".secretKeyRef.name", "", "required")
	}
	if p.SecretKeyRef.Key == "" {
		v.add(path+".secretKeyRef.key", "", "required")
	}
}

func (v *validator) seconds(path string, d *api.Duration, min, max time.Duration, why string) {
	if d == nil {
		return
	}
	if d.Duration < min || d.Duration > max {
		v.add(path, d.Duration.String(), "must be between %s and %s%s", min, max, why)
	}
}

func (v *validator) bgpConfiguration(s *api.BGPConfigurationSpec) {
	v.oneOf("spec.logSeverityScreen", s.LogSeverityScreen, "Trace", "Debug", "Info", "Warning", "Error", "Fatal")
	if s.ASNumber != nil {
		v.asn("spec.asNumber", *s.ASNumber)
	}
	for name, list := range map[string][]api.ServiceCIDR{"serviceClusterIPs": s.ServiceClusterIPs,
		"serviceExternalIPs": s.ServiceExternalIPs, "serviceLoadBalancerIPs": s.ServiceLoadBalancerIPs} {
		for i, c := range list {
			v.prefix(fmt.Sprintf("spec.%s[%d].cidr", name, i), c.CIDR, 0, true)
		}
	}
	v.oneOf("spec.serviceLoadBalancerAggregation", s.ServiceLoadBalancerAggregation, "Enabled", "Disabled")
	if len(s.Communities) > 500 {
		v.add("spec.communities", "", "at most 500 entries")
	}
	names := map[string]bool{}
	for i, c := range s.Communities {
		p := fmt.Sprintf("spec.communities[%d]", i)
		if c.Name == "" {
			v.add(p+".name", "", "required")
		} else if names[c.Name] {
			v.add(p+".name", c.Name, "duplicate community name")
		}
		names[c.Name] = true
		if _, err := ParseCommunity(c.Value); err != nil {
			v.add(p+".value", c.Value, "%v", err)
		}
	}
	if len(s.PrefixAdvertisements) > 500 {
		v.add("spec.prefixAdvertisements", "", "at most 500 entries")
	}
	for i, pa := range s.PrefixAdvertisements {
		p := fmt.Sprintf("spec.prefixAdvertisements[%d]", i)
		v.prefix(p+".cidr", pa.CIDR, 0, true)
		for j, c := range pa.Communities {
			if names[c] {
				continue
			}
			if _, err := ParseCommunity(c); err != nil {
				v.add(fmt.Sprintf("%s.communities[%d]", p, j), c, "neither a name from spec.communities nor a community value (aa:nn or aa:nn:mm)")
			}
		}
	}
	if s.ListenPort != nil && *s.ListenPort == 0 {
		v.add("spec.listenPort", "0", "must be 1-65535")
	}
	v.password("spec.nodeMeshPassword", s.NodeMeshPassword)
	v.seconds("spec.nodeMeshMaxRestartTime", s.NodeMeshMaxRestartTime, 0, 4095*time.Second, " (RFC 4724 §3: the restart time is a 12-bit number of seconds)")
	if s.NodeToNodeMeshEnabled != nil && !*s.NodeToNodeMeshEnabled {
		if s.NodeMeshPassword != nil {
			v.add("spec.nodeMeshPassword", "", "not allowed when nodeToNodeMeshEnabled is false")
		}
		if s.NodeMeshMaxRestartTime != nil {
			v.add("spec.nodeMeshMaxRestartTime", "", "not allowed when nodeToNodeMeshEnabled is false")
		}
	}
	v.oneOf("spec.bindMode", s.BindMode, "None", "NodeIP")
	for i, g := range s.IgnoredInterfaces {
		if g == "" {
			v.add(fmt.Sprintf("spec.ignoredInterfaces[%d]", i), "", "must not be empty")
		}
	}
	if a := s.LocalWorkloadPeeringIPV4; a.IsValid() {
		v.family("spec.localWorkloadPeeringIPV4", a, a.String(), 4)
	}
	if a := s.LocalWorkloadPeeringIPV6; a.IsValid() {
		v.family("spec.localWorkloadPeeringIPV6", a, a.String(), 6)
	}
	v.oneOf("spec.programClusterRoutes", s.ProgramClusterRoutes, "Enabled", "Disabled", "EnabledIPIPOnly", "EnabledNoEncapOnly")
	for path, p := range map[string]*int{"spec.ipv4NormalRoutePriority": s.IPv4NormalRoutePriority, "spec.ipv6NormalRoutePriority": s.IPv6NormalRoutePriority} {
		if p != nil && (*p < 1 || *p > 2147483646) {
			v.add(path, strconv.Itoa(*p), "must be 1-2147483646")
		}
	}
}

// ParseCommunity parses "aa:nn" (RFC 1997 standard community, 16-bit
// parts) or "aa:nn:mm" (RFC 8092 large community, 32-bit parts).
func ParseCommunity(s string) ([]uint32, error) {
	parts := strings.Split(s, ":")
	bits := 16
	switch len(parts) {
	case 2:
	case 3:
		bits = 32
	default:
		return nil, fmt.Errorf("want a community aa:nn (16-bit parts) or aa:nn:mm (32-bit parts)")
	}
	out := make([]uint32, len(parts))
	for i, p := range parts {
		n, err := strconv.ParseUint(p, 10, bits)
		if err != nil {
			return nil, fmt.Errorf("community part %q must be a %d-bit unsigned integer", p, bits)
		}
		out[i] = uint32(n)
	}
	return out, nil
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}
