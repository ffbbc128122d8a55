package wire

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// Message is one decoded message of any type, for tools that print
// messages (kbgp decode). Exactly one of the pointers matching Type is set
// when the body decoded; Err holds the decode error, which for an UPDATE
// with a treat-as-withdraw or attribute-discard error still leaves Update
// set.
type Message struct {
	Type         MsgType
	Length       int
	Open         *Open
	Update       *Update
	Notification *Notification
	RouteRefresh *RouteRefresh
	Err          *Error
}

// DecodeMessage decodes one complete message (header included). It
// returns an error only when the header itself is invalid or b is
// shorter than the header's length; body errors are reported in m.Err.
func DecodeMessage(b []byte, o *Options) (*Message, error) {
	n, typ, err := ParseHeader(b, MaxExtMessageLen)
	if err != nil {
		return nil, err
	}
	if n > len(b) {
		return nil, fmt.Errorf("wire: message header says %d bytes, only %d given", n, len(b))
	}
	m := &Message{Type: typ, Length: n}
	body := b[HeaderLen:n]
	switch typ {
	case MsgOpen:
		m.Open = &Open{}
		err = m.Open.Decode(body)
	case MsgUpdate:
		m.Update = &Update{}
		err = m.Update.Decode(body, o)
	case MsgNotification:
		m.Notification = &Notification{}
		err = m.Notification.Decode(body)
	case MsgRouteRefresh:
		m.RouteRefresh = &RouteRefresh{}
		err = m.RouteRefresh.Decode(body)
	}
	if err != nil {
		m.Err = err.(*Error)
		if m.Err.Action == ActionSessionReset && typ != MsgUpdate {
			m.Open, m.Notification, m.RouteRefresh = nil, nil, nil
		}
	}
	return m, nil
}

// MessageView is a JSON-friendly rendering of a Message: addresses,
// prefixes, families and communities as strings, absent fields omitted.
type MessageView struct {
	Type         string            `json:"type"`
	Length       int               `json:"length"`
	Open         *OpenView         `json:"open,omitempty"`
	Update       *UpdateView       `json:"update,omitempty"`
	Notification *NotificationView `json:"notification,omitempty"`
	RouteRefresh *RouteRefreshView `json:"route_refresh,omitempty"`
	Error        *ErrorView        `json:"error,omitempty"`
}

// OpenView is the JSON form of an OPEN.
type OpenView struct {
	Version        uint8    `json:"version"`
	MyAS           uint16   `json:"my_as"`
	HoldTime       uint16   `json:"hold_time"`
	BGPID          string   `json:"bgp_id"`
	ExtendedParams bool     `json:"extended_params,omitempty"`
	Capabilities   []string `json:"capabilities"`
}

// UpdateView is the JSON form of an UPDATE.
type UpdateView struct {
	Withdrawn  []string   `json:"withdrawn,omitempty"`
	Attributes []AttrView `json:"attributes,omitempty"`
	NLRI       []string   `json:"nlri,omitempty"`
	MPReach    *MPView    `json:"mp_reach,omitempty"`
	MPUnreach  *MPView    `json:"mp_unreach,omitempty"`
	EndOfRIB   string     `json:"end_of_rib,omitempty"`
}

// AttrView is one path attribute: its name and value as text.
type AttrView struct {
	Type  uint8  `json:"type"`
	Name  string `json:"name"`
	Flags string `json:"flags,omitempty"` // unknown attributes only
	Value string `json:"value"`
}

// MPView is MP_REACH_NLRI or MP_UNREACH_NLRI.
type MPView struct {
	Family    string   `json:"family"`
	NextHop   string   `json:"next_hop,omitempty"`
	LinkLocal string   `json:"link_local,omitempty"`
	NLRI      []string `json:"nlri,omitempty"`
	RawNLRI   string   `json:"raw_nlri,omitempty"`
}

// NotificationView is the JSON form of a NOTIFICATION.
type NotificationView struct {
	Code     uint8  `json:"code"`
	Subcode  uint8  `json:"subcode"`
	Name     string `json:"name"`
	Data     string `json:"data,omitempty"`
	Shutdown string `json:"shutdown_message,omitempty"`
}

// RouteRefreshView is the JSON form of a ROUTE-REFRESH.
type RouteRefreshView struct {
	Family  string `json:"family"`
	Subtype string `json:"subtype"`
}

// ErrorView is the JSON form of a decode error.
type ErrorView struct {
	Code    uint8    `json:"code"`
	Subcode uint8    `json:"subcode"`
	Name    string   `json:"name"`
	Action  string   `json:"action"`
	Attr    string   `json:"attribute,omitempty"`
	Reason  string   `json:"reason"`
	Data    string   `json:"data,omitempty"`
	Others  []string `json:"others,omitempty"`
}

// View returns the JSON-friendly form of m.
func (m *Message) View() *MessageView {
	v := &MessageView{Type: m.Type.String(), Length: m.Length}
	if o := m.Open; o != nil {
		ov := &OpenView{Version: o.Version, MyAS: o.MyAS, HoldTime: o.HoldTime, BGPID: o.BGPID.String(), ExtendedParams: o.ExtendedParams}
		ov.Capabilities = capStrings(&o.Caps)
		v.Open = ov
	}
	if u := m.Update; u != nil {
		v.Update = updateView(u)
		if m.Err != nil && m.Err.Action == ActionSessionReset {
			v.Update.EndOfRIB = ""
		}
	}
	if n := m.Notification; n != nil {
		nv := &NotificationView{Code: n.Code, Subcode: n.Subcode, Name: NotificationName(n.Code, n.Subcode)}
		if len(n.Data) > 0 {
			nv.Data = hex.EncodeToString(n.Data)
		}
		nv.Shutdown, _ = n.ShutdownMessage()
		v.Notification = nv
	}
	if r := m.RouteRefresh; r != nil {
		st := map[uint8]string{RefreshNormal: "normal", RefreshBoRR: "BoRR", RefreshEoRR: "EoRR"}[r.Subtype]
		if st == "" {
			st = fmt.Sprintf("subtype(%d)", r.Subtype)
		}
		v.RouteRefresh = &RouteRefreshView{Family: r.Family.String(), Subtype: st}
	}
	if e := m.Err; e != nil {
		ev := &ErrorView{Code: e.Code, Subcode: e.Subcode, Name: NotificationName(e.Code, e.Subcode), Action: e.Action.String(), Reason: e.Reason}
		if e.Attr != 0 {
			ev.Attr = e.Attr.String()
		}
		if len(e.Data) > 0 {
			ev.Data = hex.EncodeToString(e.Data)
		}
		for _, o := range e.Others {
			ev.Others = append(ev.Others, o.Error())
		}
		v.Error = ev
	}
	return v
}

func nlriStrs(ns []NLRI) []string {
	var s []string
	for _, n := range ns {
		s = append(s, n.String())
	}
	return s
}

func updateView(u *Update) *UpdateView {
	v := &UpdateView{Withdrawn: nlriStrs(u.Withdrawn), NLRI: nlriStrs(u.NLRI)}
	if f, ok := IsEndOfRIB(u); ok {
		v.EndOfRIB = f.String()
	}
	a := &u.Attrs
	add := func(t AttrType, val string) {
		v.Attributes = append(v.Attributes, AttrView{Type: uint8(t), Name: t.String(), Value: val})
	}
	for _, t := range attrOrder {
		if !a.Has(t) {
			continue
		}
		switch t {
		case AttrOrigin:
			add(t, a.Origin.String())
		case AttrASPath:
			add(t, ASPathString(a.ASPath))
		case AttrNextHop:
			add(t, a.NextHop.String())
		case AttrMED:
			add(t, fmt.Sprint(a.MED))
		case AttrLocalPref:
			add(t, fmt.Sprint(a.LocalPref))
		case AttrAtomicAggregate:
			add(t, "")
		case AttrAggregator:
			add(t, fmt.Sprintf("%d %v", a.Aggregator.AS, a.Aggregator.Addr))
		case AttrCommunities:
			add(t, joinStrings(a.Communities))
		case AttrOriginatorID:
			add(t, a.OriginatorID.String())
		case AttrClusterList:
			add(t, joinStrings(a.ClusterList))
		case AttrExtCommunities:
			add(t, joinStrings(a.ExtCommunities))
		case AttrAS4Path:
			add(t, ASPathString(a.AS4Path))
		case AttrAS4Aggregator:
			add(t, fmt.Sprintf("%d %v", a.AS4Aggregator.AS, a.AS4Aggregator.Addr))
		case AttrLargeCommunities:
			add(t, joinStrings(a.LargeCommunities))
		}
	}
	for _, r := range a.Unknown {
		v.Attributes = append(v.Attributes, AttrView{Type: uint8(r.Type), Name: r.Type.String(), Flags: fmt.Sprintf("%#02x", r.Flags), Value: hex.EncodeToString(r.Value)})
	}
	if m := u.MPReach; m != nil {
		mv := &MPView{Family: m.Family.String(), NLRI: nlriStrs(m.NLRI)}
		if m.NextHop.IsValid() {
			mv.NextHop = m.NextHop.String()
		} else if len(m.RawNextHop) > 0 {
			mv.NextHop = hex.EncodeToString(m.RawNextHop)
		}
		if m.LinkLocal.IsValid() {
			mv.LinkLocal = m.LinkLocal.String()
		}
		if len(m.RawNLRI) > 0 {
			mv.RawNLRI = hex.EncodeToString(m.RawNLRI)
		}
		v.MPReach = mv
	}
	if m := u.MPUnreach; m != nil {
		mv := &MPView{Family: m.Family.String(), NLRI: nlriStrs(m.NLRI)}
		if len(m.RawNLRI) > 0 {
			mv.RawNLRI = hex.EncodeToString(m.RawNLRI)
		}
		v.MPUnreach = mv
	}
	return v
}

func joinStrings[T fmt.Stringer](xs []T) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = x.String()
	}
	return strings.Join(s, " ")
}

// capStrings describes each capability on one line.
func capStrings(c *Capabilities) []string {
	var out []string
	for _, f := range c.Multiprotocol {
		out = append(out, "multiprotocol "+f.String())
	}
	if c.RouteRefresh {
		out = append(out, "route-refresh")
	}
	for _, t := range c.ExtendedNextHop {
		out = append(out, fmt.Sprintf("extended-next-hop %v via %v", t.Family, t.NextHopAFI))
	}
	if c.ExtendedMessage {
		out = append(out, "extended-message")
	}
	if gr := c.GracefulRestart; gr != nil {
		s := fmt.Sprintf("graceful-restart time %d", gr.Time)
		if gr.Restarting {
			s += " restarting"
		}
		if gr.Notification {
			s += " notification"
		}
		for _, f := range gr.Families {
			s += " " + f.Family.String()
			if f.Forwarding {
				s += "(F)"
			}
		}
		out = append(out, s)
	}
	if c.HasFourOctetAS {
		out = append(out, fmt.Sprintf("4-octet-as %d", c.FourOctetAS))
	}
	for _, t := range c.AddPath {
		out = append(out, fmt.Sprintf("add-path %v %v", t.Family, t.Mode))
	}
	if c.EnhancedRouteRefresh {
		out = append(out, "enhanced-route-refresh")
	}
	if c.HasLongLivedGR {
		s := "long-lived-graceful-restart"
		for _, f := range c.LongLivedGR {
			s += fmt.Sprintf(" %v stale %ds", f.Family, f.StaleTime)
			if f.Forwarding {
				s += "(F)"
			}
		}
		out = append(out, s)
	}
	if c.HasFQDN {
		out = append(out, fmt.Sprintf("fqdn %q domain %q", c.Hostname, c.DomainName))
	}
	for _, u := range c.Unknown {
		out = append(out, fmt.Sprintf("%v %x", u.Code, u.Value))
	}
	return out
}

// String renders the message as indented text, one field per line.
func (m *Message) String() string {
	v := m.View()
	var b strings.Builder
	fmt.Fprintf(&b, "%s (%d bytes)\n", v.Type, v.Length)
	if o := v.Open; o != nil {
		fmt.Fprintf(&b, "  version %d, my AS %d, hold time %d, BGP ID %s", o.Version, o.MyAS, o.HoldTime, o.BGPID)
		if o.ExtendedParams {
			b.WriteString(", extended optional parameters (RFC 9072)")
		}
		b.WriteString("\n")
		for _, c := range o.Capabilities {
			fmt.Fprintf(&b, "  capability %s\n", c)
		}
	}
	if u := v.Update; u != nil {
		if u.EndOfRIB != "" {
			fmt.Fprintf(&b, "  End-of-RIB %s\n", u.EndOfRIB)
		}
		list := func(name string, xs []string) {
			if len(xs) > 0 {
				fmt.Fprintf(&b, "  %s:\n", name)
				for _, x := range xs {
					fmt.Fprintf(&b, "    %s\n", x)
				}
			}
		}
		list("withdrawn", u.Withdrawn)
		for _, a := range u.Attributes {
			switch {
			case a.Flags != "":
				fmt.Fprintf(&b, "  %s flags %s: %s\n", a.Name, a.Flags, a.Value)
			case a.Type == uint8(AttrASPath) && a.Value == "":
				fmt.Fprintf(&b, "  %s: (empty)\n", a.Name)
			case a.Value == "":
				fmt.Fprintf(&b, "  %s\n", a.Name)
			default:
				fmt.Fprintf(&b, "  %s: %s\n", a.Name, a.Value)
			}
		}
		if r := u.MPReach; r != nil {
			fmt.Fprintf(&b, "  MP_REACH_NLRI %s next hop %s", r.Family, r.NextHop)
			if r.LinkLocal != "" {
				fmt.Fprintf(&b, " link-local %s", r.LinkLocal)
			}
			b.WriteString("\n")
			for _, x := range r.NLRI {
				fmt.Fprintf(&b, "    %s\n", x)
			}
			if r.RawNLRI != "" {
				fmt.Fprintf(&b, "    raw %s\n", r.RawNLRI)
			}
		}
		if r := u.MPUnreach; r != nil {
			fmt.Fprintf(&b, "  MP_UNREACH_NLRI %s\n", r.Family)
			for _, x := range r.NLRI {
				fmt.Fprintf(&b, "    %s\n", x)
			}
			if r.RawNLRI != "" {
				fmt.Fprintf(&b, "    raw %s\n", r.RawNLRI)
			}
		}
		list("nlri", u.NLRI)
	}
	if n := v.Notification; n != nil {
		fmt.Fprintf(&b, "  %d/%d %s\n", n.Code, n.Subcode, n.Name)
		if n.Shutdown != "" {
			fmt.Fprintf(&b, "  shutdown message %q\n", n.Shutdown)
		} else if n.Data != "" {
			fmt.Fprintf(&b, "  data %s\n", n.Data)
		}
	}
	if r := v.RouteRefresh; r != nil {
		fmt.Fprintf(&b, "  %s %s\n", r.Family, r.Subtype)
	}
	if e := v.Error; e != nil {
		fmt.Fprintf(&b, "  error (%s): %d/%d %s", e.Action, e.Code, e.Subcode, e.Name)
		if e.Attr != "" {
			fmt.Fprintf(&b, " in %s", e.Attr)
		}
		fmt.Fprintf(&b, ": %s\n", e.Reason)
		for _, o := range e.Others {
			fmt.Fprintf(&b, "  also: %s\n", o)
		}
	}
	return b.String()
}

// ParseHex decodes hex text as people paste it: whitespace, colons, "0x"
// prefixes and a trailing "# comment" on each line are ignored.
func ParseHex(s string) ([]byte, error) {
	var sb strings.Builder
	for _, line := range strings.Split(s, "\n") {
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		for _, f := range strings.FieldsFunc(line, func(r rune) bool { return r == ' ' || r == '\t' || r == ':' || r == '\r' || r == ',' }) {
			f = strings.TrimPrefix(strings.TrimPrefix(f, "0x"), "0X")
			sb.WriteString(f)
		}
	}
	h := sb.String()
	if len(h)%2 != 0 {
		return nil, fmt.Errorf("hex has an odd number of digits (%d)", len(h))
	}
	b, err := hex.DecodeString(h)
	if err != nil {
		return nil, fmt.Errorf("bad hex: %w", err)
	}
	return b, nil
}

// SplitMessages cuts b into complete messages. A message given without its
// 16-byte marker (starting at the length field) gets the marker added.
func SplitMessages(b []byte) ([][]byte, error) {
	var out [][]byte
	for len(b) > 0 {
		if len(b) >= 16 && [16]byte(b[:16]) == allOnes {
			if len(b) < HeaderLen {
				return out, fmt.Errorf("message %d: %d bytes left, a header needs %d", len(out)+1, len(b), HeaderLen)
			}
			n := int(b[16])<<8 | int(b[17])
			if n < HeaderLen || n > len(b) {
				return out, fmt.Errorf("message %d: length field %d, but %d bytes left", len(out)+1, n, len(b))
			}
			out = append(out, b[:n])
			b = b[n:]
			continue
		}
		if len(b) < 3 {
			return out, errors.New("trailing bytes are not a message")
		}
		n := int(b[0])<<8 | int(b[1]) - 16
		if n < 3 || n > len(b) {
			return out, fmt.Errorf("message %d: no marker, and length field %d does not fit the %d bytes given", len(out)+1, n+16, len(b))
		}
		m := append(allOnes[:16:16], b[:n]...)
		out = append(out, m)
		b = b[n:]
	}
	return out, nil
}

var allOnes = [16]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
