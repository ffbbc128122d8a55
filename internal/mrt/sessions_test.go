package mrt

import (
	"net/netip"
	"slices"
	"testing"

	"github.com/kbgp/kbgp/internal/bgp/wire"
)

func openMsg(t *testing.T, as4 bool, ap ...wire.AddPathFamily) []byte {
	t.Helper()
	o := &wire.Open{Version: 4, MyAS: 64512, HoldTime: 90, BGPID: netip.MustParseAddr("10.0.0.1")}
	o.Caps.Multiprotocol = []wire.Family{wire.IPv4Unicast, wire.IPv6Unicast}
	if as4 {
		o.Caps.HasFourOctetAS, o.Caps.FourOctetAS = true, 64512
	}
	o.Caps.AddPath = ap
	b, err := wire.AppendOpen(nil, o)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSessionsOptions(t *testing.T) {
	peer, local := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")
	msg := func(st uint16, b []byte) *BGP4MP {
		return &BGP4MP{Subtype: st, PeerAddr: peer, LocalAddr: local, Message: b}
	}
	send4 := wire.AddPathFamily{Family: wire.IPv4Unicast, Mode: wire.AddPathSend}
	both4 := wire.AddPathFamily{Family: wire.IPv4Unicast, Mode: wire.AddPathBoth}
	recv4 := wire.AddPathFamily{Family: wire.IPv4Unicast, Mode: wire.AddPathReceive}
	send6 := wire.AddPathFamily{Family: wire.IPv6Unicast, Mode: wire.AddPathSend}
	cases := []struct {
		name    string
		opens   []*BGP4MP
		msg     *BGP4MP
		as4     bool
		addPath []wire.Family
	}{
		{"no OPEN: subtype decides", nil, msg(SubtypeMessageAS4, nil), true, nil},
		{"RFC 8050 subtype", nil, msg(SubtypeMessageAS4AddPath, nil), true, []wire.Family{wire.IPv4Unicast, wire.IPv6Unicast}},
		{"peer sends, we receive", []*BGP4MP{
			msg(SubtypeMessageAS4, openMsg(t, true, send4, send6)),
			msg(SubtypeMessageAS4Local, openMsg(t, true, recv4)),
		}, msg(SubtypeMessageAS4, nil), true, []wire.Family{wire.IPv4Unicast}},
		{"only the peer's OPEN", []*BGP4MP{msg(SubtypeMessage, openMsg(t, true, both4))}, msg(SubtypeMessageAS4, nil), true, []wire.Family{wire.IPv4Unicast}},
		{"we do not receive", []*BGP4MP{
			msg(SubtypeMessageAS4, openMsg(t, true, send4)),
			msg(SubtypeMessageAS4Local, openMsg(t, true)),
		}, msg(SubtypeMessageAS4, nil), true, nil},
		{"our messages to a receiving peer", []*BGP4MP{
			msg(SubtypeMessageAS4, openMsg(t, true, recv4)),
			msg(SubtypeMessageAS4Local, openMsg(t, true, both4)),
		}, msg(SubtypeMessageAS4Local, nil), true, []wire.Family{wire.IPv4Unicast}},
		{"AS4 not negotiated despite the subtype", []*BGP4MP{
			msg(SubtypeMessageAS4, openMsg(t, false)),
			msg(SubtypeMessageAS4Local, openMsg(t, true)),
		}, msg(SubtypeMessageAS4, nil), false, nil},
		{"session reset forgets", []*BGP4MP{
			msg(SubtypeMessageAS4, openMsg(t, true, send4)),
			{Subtype: SubtypeStateChangeAS4, PeerAddr: peer, LocalAddr: local, OldState: 6, NewState: 1},
		}, msg(SubtypeMessageAS4, nil), true, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var s Sessions
			for _, o := range tc.opens {
				s.Observe(o)
			}
			got := s.Options(tc.msg)
			if got.AS4 != tc.as4 || !slices.Equal(got.AddPath, tc.addPath) {
				t.Errorf("got AS4 %v ADD-PATH %v, want %v %v", got.AS4, got.AddPath, tc.as4, tc.addPath)
			}
		})
	}
}
