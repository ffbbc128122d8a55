package wire

import (
	"fmt"
	"strconv"
	"strings"
)

func (t MsgType) String() string {
	switch t {
	case MsgOpen:
		return "OPEN"
	case MsgUpdate:
		return "UPDATE"
	case MsgNotification:
		return "NOTIFICATION"
	case MsgKeepalive:
		return "KEEPALIVE"
	case MsgRouteRefresh:
		return "ROUTE-REFRESH"
	}
	return "type(" + strconv.Itoa(int(t)) + ")"
}

var attrNames = map[AttrType]string{
	AttrOrigin:           "ORIGIN",
	AttrASPath:           "AS_PATH",
	AttrNextHop:          "NEXT_HOP",
	AttrMED:              "MULTI_EXIT_DISC",
	AttrLocalPref:        "LOCAL_PREF",
	AttrAtomicAggregate:  "ATOMIC_AGGREGATE",
	AttrAggregator:       "AGGREGATOR",
	AttrCommunities:      "COMMUNITIES",
	AttrOriginatorID:     "ORIGINATOR_ID",
	AttrClusterList:      "CLUSTER_LIST",
	AttrMPReach:          "MP_REACH_NLRI",
	AttrMPUnreach:        "MP_UNREACH_NLRI",
	AttrExtCommunities:   "EXTENDED_COMMUNITIES",
	AttrAS4Path:          "AS4_PATH",
	AttrAS4Aggregator:    "AS4_AGGREGATOR",
	AttrLargeCommunities: "LARGE_COMMUNITY",
	22:                   "PMSI_TUNNEL",
	23:                   "TUNNEL_ENCAPSULATION",
	25:                   "IPV6_EXT_COMMUNITIES",
	26:                   "AIGP",
	29:                   "BGP-LS",
	35:                   "ONLY_TO_CUSTOMER",
	40:                   "PREFIX_SID",
	128:                  "ATTR_SET",
}

func (t AttrType) String() string {
	if s, ok := attrNames[t]; ok {
		return s
	}
	return "attr(" + strconv.Itoa(int(t)) + ")"
}

var capNames = map[CapCode]string{
	CapMultiprotocol:        "multiprotocol",
	CapRouteRefresh:         "route-refresh",
	CapExtendedNextHop:      "extended-next-hop",
	CapExtendedMessage:      "extended-message",
	CapGracefulRestart:      "graceful-restart",
	CapFourOctetAS:          "4-octet-as",
	CapAddPath:              "add-path",
	CapEnhancedRouteRefresh: "enhanced-route-refresh",
	CapLongLivedGR:          "long-lived-graceful-restart",
	CapFQDN:                 "fqdn",
	3:                       "outbound-route-filtering",
	9:                       "bgp-role",
	75:                      "software-version",
	capRouteRefreshCisco:    "route-refresh-cisco",
}

func (c CapCode) String() string {
	if s, ok := capNames[c]; ok {
		return s
	}
	return "capability(" + strconv.Itoa(int(c)) + ")"
}

func (a AFI) String() string {
	switch a {
	case AFIIPv4:
		return "ipv4"
	case AFIIPv6:
		return "ipv6"
	case 25:
		return "l2vpn"
	case 16388:
		return "bgp-ls"
	}
	return "afi(" + strconv.Itoa(int(a)) + ")"
}

func (s SAFI) String() string {
	switch s {
	case SAFIUnicast:
		return "unicast"
	case 2:
		return "multicast"
	case 4:
		return "nlri-mpls"
	case 70:
		return "evpn"
	case 71:
		return "bgp-ls"
	case 73:
		return "sr-policy"
	case 128:
		return "mpls-vpn"
	case 132:
		return "rtc"
	case 133:
		return "flow"
	case 134:
		return "flow-vpn"
	}
	return "safi(" + strconv.Itoa(int(s)) + ")"
}

// String formats f as "ipv4-unicast".
func (f Family) String() string { return f.AFI.String() + "-" + f.SAFI.String() }

// ParseFamily parses "ipv4-unicast", "ipv6-unicast" or "AFI/SAFI" numbers
// ("1/1").
func ParseFamily(s string) (Family, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "ipv4-unicast", "ipv4", "inet":
		return IPv4Unicast, nil
	case "ipv6-unicast", "ipv6", "inet6":
		return IPv6Unicast, nil
	}
	a, b, ok := strings.Cut(s, "/")
	if ok {
		x, err1 := strconv.ParseUint(a, 10, 16)
		y, err2 := strconv.ParseUint(b, 10, 8)
		if err1 == nil && err2 == nil {
			return Family{AFI(x), SAFI(y)}, nil
		}
	}
	return Family{}, fmt.Errorf("unknown address family %q (want ipv4-unicast, ipv6-unicast or AFI/SAFI like 1/1)", s)
}

func (o Origin) String() string {
	switch o {
	case OriginIGP:
		return "IGP"
	case OriginEGP:
		return "EGP"
	case OriginIncomplete:
		return "INCOMPLETE"
	}
	return "origin(" + strconv.Itoa(int(o)) + ")"
}

func (m AddPathMode) String() string {
	switch m {
	case AddPathReceive:
		return "receive"
	case AddPathSend:
		return "send"
	case AddPathBoth:
		return "send/receive"
	}
	return "mode(" + strconv.Itoa(int(m)) + ")"
}

// String formats c as "ASN:value" or its well-known name (RFC 1997,
// RFC 8326, RFC 9494).
func (c Community) String() string {
	switch c {
	case CommunityNoExport:
		return "no-export"
	case CommunityNoAdvertise:
		return "no-advertise"
	case CommunityNoExportSubconfed:
		return "no-export-subconfed"
	case CommunityLLGRStale:
		return "llgr-stale"
	case CommunityNoLLGR:
		return "no-llgr"
	case CommunityGracefulShutdown:
		return "graceful-shutdown"
	case 0xFFFFFF04:
		return "no-peer"
	case 0xFFFF029A:
		return "blackhole"
	}
	return strconv.Itoa(int(c>>16)) + ":" + strconv.Itoa(int(c&0xffff))
}

// String formats c as "type:subtype:hex" or, for the common 2-octet-AS and
// IPv4 route targets and origins, "rt 65000:100" / "soo 10.0.0.1:5".
func (c ExtCommunity) String() string {
	kind := ""
	switch c[1] {
	case 2:
		kind = "rt"
	case 3:
		kind = "soo"
	}
	switch {
	case kind != "" && (c[0] == 0x00 || c[0] == 0x40):
		return fmt.Sprintf("%s %d:%d", kind, uint16(c[2])<<8|uint16(c[3]), uint32(c[4])<<24|uint32(c[5])<<16|uint32(c[6])<<8|uint32(c[7]))
	case kind != "" && (c[0] == 0x01 || c[0] == 0x41):
		return fmt.Sprintf("%s %d.%d.%d.%d:%d", kind, c[2], c[3], c[4], c[5], uint16(c[6])<<8|uint16(c[7]))
	case kind != "" && (c[0] == 0x02 || c[0] == 0x42):
		return fmt.Sprintf("%s %d:%d", kind, uint32(c[2])<<24|uint32(c[3])<<16|uint32(c[4])<<8|uint32(c[5]), uint16(c[6])<<8|uint16(c[7]))
	}
	return fmt.Sprintf("0x%02x:0x%02x:%x", c[0], c[1], c[2:])
}

// String formats c as "global:local1:local2" (RFC 8092 §2).
func (c LargeCommunity) String() string {
	return fmt.Sprintf("%d:%d:%d", c.GlobalAdmin, c.LocalData1, c.LocalData2)
}

// String formats n as the prefix, with " path-id N" under ADD-PATH.
func (n NLRI) String() string {
	if n.PathID != 0 {
		return n.Prefix.String() + " path-id " + strconv.FormatUint(uint64(n.PathID), 10)
	}
	return n.Prefix.String()
}

// String formats s like bgpdump ("64512 {1 2}").
func (s ASPathSegment) String() string { return ASPathString([]ASPathSegment{s}) }
