package fsm

import (
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/kbgp/kbgp/internal/bgp/wire"
)

func TestNegotiate(t *testing.T) {
	v4, v6 := wire.IPv4Unicast, wire.IPv6Unicast
	base := func() Config {
		c, err := Config{LocalAS: 65001, PeerAS: 65002, RouterID: netip.MustParseAddr("10.0.0.1"),
			PeerAddr: netip.MustParseAddr("192.0.2.2"), Families: []wire.Family{v4, v6}}.validate()
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	tests := []struct {
		name    string
		cfg     func(*Config)
		peer    func(*wire.Open)
		wantSub uint8 // 0: accepted
		check   func(*testing.T, *Negotiated)
	}{
		{name: "hold time is the minimum, keepalive a third", peer: func(o *wire.Open) { o.HoldTime = 30 },
			check: func(t *testing.T, n *Negotiated) {
				if n.HoldTime != 30*time.Second || n.KeepaliveInterval != 10*time.Second {
					t.Errorf("hold %v keepalive %v", n.HoldTime, n.KeepaliveInterval)
				}
			}},
		{name: "configured keepalive below hold/3 wins", cfg: func(c *Config) { c.KeepaliveInterval = 2 * time.Second },
			check: func(t *testing.T, n *Negotiated) {
				if n.KeepaliveInterval != 2*time.Second {
					t.Errorf("keepalive %v", n.KeepaliveInterval)
				}
			}},
		{name: "external peer decodes and encodes as eBGP",
			check: func(t *testing.T, n *Negotiated) {
				if !n.Recv.EBGP || !n.Send.EBGP {
					t.Errorf("eBGP session (65001 vs 65002): Recv.EBGP=%v Send.EBGP=%v, want both true", n.Recv.EBGP, n.Send.EBGP)
				}
			}},
		{name: "internal peer is not eBGP", cfg: func(c *Config) { c.PeerAS = 65001 }, peer: func(o *wire.Open) { o.MyAS = 65001; o.Caps.FourOctetAS = 65001 },
			check: func(t *testing.T, n *Negotiated) {
				if n.Recv.EBGP || n.Send.EBGP {
					t.Errorf("iBGP session: Recv.EBGP=%v Send.EBGP=%v, want both false", n.Recv.EBGP, n.Send.EBGP)
				}
			}},
		{name: "hold time zero means no keepalives", peer: func(o *wire.Open) { o.HoldTime = 0 },
			check: func(t *testing.T, n *Negotiated) {
				if n.HoldTime != 0 || n.KeepaliveInterval != 0 {
					t.Errorf("hold %v keepalive %v", n.HoldTime, n.KeepaliveInterval)
				}
			}},
		{name: "peer without multiprotocol does IPv4 unicast", peer: func(o *wire.Open) { o.Caps.Multiprotocol = nil },
			check: func(t *testing.T, n *Negotiated) {
				if diff := cmp.Diff([]wire.Family{v4}, n.Families); diff != "" {
					t.Error(diff)
				}
			}},
		{name: "families are the intersection", peer: func(o *wire.Open) { o.Caps.Multiprotocol = []wire.Family{v6, {AFI: 25, SAFI: 70}} },
			check: func(t *testing.T, n *Negotiated) {
				if diff := cmp.Diff([]wire.Family{v6}, n.Families); diff != "" {
					t.Error(diff)
				}
			}},
		{name: "no common family", cfg: func(c *Config) { c.Families = []wire.Family{v6} }, peer: func(o *wire.Open) { o.Caps.Multiprotocol = []wire.Family{v4} },
			wantSub: wire.OpenUnsupportedCapability},
		{name: "2-octet peer", peer: func(o *wire.Open) { o.Caps.HasFourOctetAS = false; o.MyAS = 65002 },
			check: func(t *testing.T, n *Negotiated) {
				if n.AS4 || n.Recv.AS4 || n.Send.AS4 || n.PeerAS != 65002 {
					t.Errorf("AS4 %v peer AS %d", n.AS4, n.PeerAS)
				}
			}},
		{name: "any AS for dynamic peers", cfg: func(c *Config) { c.PeerAS = 0 }, peer: func(o *wire.Open) { o.Caps.FourOctetAS = 4200000000; o.MyAS = wire.ASTrans },
			check: func(t *testing.T, n *Negotiated) {
				if n.PeerAS != 4200000000 {
					t.Errorf("peer AS %d", n.PeerAS)
				}
			}},
		{name: "bad peer AS", peer: func(o *wire.Open) { o.Caps.FourOctetAS = 65003 }, wantSub: wire.OpenBadPeerAS},
		{name: "add-path both ways per RFC 7911", cfg: func(c *Config) {
			c.AddPath = []AddPathConfig{{v4, wire.AddPathBoth}, {v6, wire.AddPathReceive}}
		}, peer: func(o *wire.Open) {
			o.Caps.AddPath = []wire.AddPathFamily{{Family: v4, Mode: wire.AddPathSend}, {Family: v6, Mode: wire.AddPathBoth}}
		}, check: func(t *testing.T, n *Negotiated) {
			// v4: we send+receive, peer only sends → we receive only.
			// v6: we receive, peer both → we receive.
			if diff := cmp.Diff([]wire.Family{v4, v6}, n.AddPathRecv); diff != "" {
				t.Error("recv", diff)
			}
			if len(n.AddPathSend) != 0 {
				t.Errorf("send %v", n.AddPathSend)
			}
			if diff := cmp.Diff([]wire.Family{v4, v6}, n.Recv.AddPath); diff != "" {
				t.Error("recv options", diff)
			}
		}},
		{name: "route refresh, enhanced, extended message need both", cfg: func(c *Config) { c.ExtendedMessage = true },
			peer: func(o *wire.Open) { o.Caps.EnhancedRouteRefresh = true; o.Caps.ExtendedMessage = true },
			check: func(t *testing.T, n *Negotiated) {
				if !n.RouteRefresh || !n.EnhancedRouteRefresh || !n.ExtendedMessage || n.MaxMessageLen() != wire.MaxExtMessageLen {
					t.Errorf("%+v", n)
				}
			}},
		{name: "graceful restart families", cfg: func(c *Config) { c.GracefulRestart = &GRConfig{RestartTime: 120 * time.Second} },
			peer: func(o *wire.Open) {
				o.Caps.GracefulRestart = &wire.GracefulRestart{Time: 90, Notification: true, Families: []wire.GRFamily{{Family: v6, Forwarding: true}}}
			},
			check: func(t *testing.T, n *Negotiated) {
				if diff := cmp.Diff([]wire.Family{v6}, n.GRFamilies()); diff != "" {
					t.Error(diff)
				}
				if !notificationGR(n) {
					t.Error("N bit not negotiated")
				}
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := base()
			if tc.cfg != nil {
				tc.cfg(&c)
			}
			local := localOpen(&c)
			peer := peerOpen(65002, "10.0.0.2", 90)
			if tc.peer != nil {
				tc.peer(peer)
			}
			n, notif, err := negotiate(&c, local, peer)
			if tc.wantSub != 0 {
				if notif == nil || notif.Code != wire.NotifOpen || notif.Subcode != tc.wantSub {
					t.Fatalf("got %v (%v), want OPEN Message Error subcode %d", notif, err, tc.wantSub)
				}
				return
			}
			if notif != nil {
				t.Fatalf("refused: %v", err)
			}
			if tc.check != nil {
				tc.check(t, n)
			}
		})
	}
}

func TestLocalOpenAS4(t *testing.T) {
	c := Config{LocalAS: 4200000001, RouterID: netip.MustParseAddr("10.0.0.1")}
	o := localOpen(&c)
	// RFC 6793 §3: AS_TRANS in My Autonomous System, the real AS in the
	// capability.
	if o.MyAS != wire.ASTrans || !o.Caps.HasFourOctetAS || o.Caps.FourOctetAS != 4200000001 {
		t.Errorf("MyAS %d caps %+v", o.MyAS, o.Caps)
	}
}

func TestConfigValidate(t *testing.T) {
	ok := Config{LocalAS: 1, RouterID: netip.MustParseAddr("10.0.0.1"), PeerAddr: netip.MustParseAddr("192.0.2.1")}
	tests := []struct {
		name string
		mod  func(*Config)
	}{
		{"no local AS", func(c *Config) { c.LocalAS = 0 }},
		{"IPv6 router ID", func(c *Config) { c.RouterID = netip.MustParseAddr("::1") }},
		{"no peer address", func(c *Config) { c.PeerAddr = netip.Addr{} }},
		{"hold time 2s", func(c *Config) { c.HoldTime = 2 * time.Second }},
		{"mixed address families", func(c *Config) { c.LocalAddr = netip.MustParseAddr("::1") }},
		{"required family not offered", func(c *Config) { c.RequiredFamilies = []wire.Family{wire.IPv6Unicast} }},
		{"password too long", func(c *Config) { c.Password = string(make([]byte, 81)) }},
		{"restart time too long", func(c *Config) { c.GracefulRestart = &GRConfig{RestartTime: time.Hour * 2} }},
	}
	if _, err := ok.validate(); err != nil {
		t.Fatalf("valid config refused: %v", err)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := ok
			tc.mod(&c)
			if _, err := c.validate(); err == nil {
				t.Error("accepted")
			}
		})
	}
}

// FuzzNegotiate feeds arbitrary OPEN bodies through decode and negotiation:
// never a panic, and an accepted OPEN yields sane negotiated state.
func FuzzNegotiate(f *testing.F) {
	for _, o := range []*wire.Open{peerOpen(65002, "10.0.0.2", 90), peerOpen(4200000000, "10.0.0.3", 3)} {
		b, err := wire.AppendOpen(nil, o)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b[wire.HeaderLen:])
	}
	c, err := Config{LocalAS: 65001, RouterID: netip.MustParseAddr("10.0.0.1"), PeerAddr: netip.MustParseAddr("192.0.2.2"),
		Families: []wire.Family{wire.IPv4Unicast, wire.IPv6Unicast}, AddPath: []AddPathConfig{{wire.IPv4Unicast, wire.AddPathBoth}},
		GracefulRestart: &GRConfig{RestartTime: time.Minute, LLGRStaleTime: time.Hour}}.validate()
	if err != nil {
		f.Fatal(err)
	}
	local := localOpen(&c)
	f.Fuzz(func(t *testing.T, body []byte) {
		var o wire.Open
		if o.Decode(body) != nil {
			return
		}
		n, notif, err := negotiate(&c, local, &o)
		if notif != nil {
			if err == nil || notif.Code != wire.NotifOpen {
				t.Fatalf("refusal %v without error or with a non-OPEN code", notif)
			}
			return
		}
		if n.HoldTime != 0 && n.HoldTime < 3*time.Second {
			t.Fatalf("negotiated hold time %v", n.HoldTime)
		}
		if len(n.Families) == 0 {
			t.Fatal("accepted without a common family")
		}
		for _, f := range n.Families {
			if !hasFamily(c.Families, f) {
				t.Fatalf("negotiated %v which kbgp did not offer", f)
			}
		}
		for _, f := range append(n.AddPathRecv, n.AddPathSend...) {
			if !n.HasFamily(f) {
				t.Fatalf("ADD-PATH for unnegotiated %v", f)
			}
		}
	})
}
