package fsm

import (
	"encoding/binary"
	"net"
	"testing"
	"time"

	"github.com/kbgp/kbgp/internal/bgp/wire"
)

// nopHandler discards session events.
type nopHandler struct{}

func (nopHandler) StateChanged(*Session, State, State, error)       {}
func (nopHandler) Established(*Session, uint64, *Negotiated)        {}
func (nopHandler) Update(_ *Session, _ uint64, u *ReceivedUpdate)   { u.Release() }
func (nopHandler) EndOfRIB(*Session, uint64, wire.Family)           {}
func (nopHandler) RouteRefresh(*Session, uint64, wire.RouteRefresh) {}
func (nopHandler) Down(*Session, uint64, *SessionError, bool)       {}

// FuzzEstablishedInput feeds arbitrary message sequences to an Established
// session's message handling (RFC 7606 actions, prefix limits, route
// refresh, FSM errors): it must never panic, and the Adj-RIB-In count must
// match what Status reports. Input: repeated [type(1) length(2) body].
func FuzzEstablishedInput(f *testing.F) {
	opts := &wire.Options{AS4: true, AddPath: []wire.Family{wire.IPv6Unicast}}
	seed := func(msgs ...[]byte) []byte {
		var b []byte
		for _, m := range msgs {
			body := m[wire.HeaderLen:]
			b = append(b, m[18], byte(len(body)>>8), byte(len(body)))
			b = append(b, body...)
		}
		return b
	}
	u1, _ := wire.AppendUpdate(nil, routeUpdate("192.168.0.1", "192.0.2.0/24", "198.51.100.0/24"), opts)
	w := &wire.Update{Withdrawn: []wire.NLRI{{Prefix: pfx("192.0.2.0/24")}}}
	u2, _ := wire.AppendUpdate(nil, w, opts)
	bad := append([]byte(nil), u1...)
	bad[23+3] = 9 // invalid ORIGIN: treat-as-withdraw
	f.Add(seed(u1, wire.AppendKeepalive(nil), u2))
	f.Add(seed(u1, bad, wire.AppendEndOfRIB(nil, wire.IPv6Unicast)))
	f.Add(seed(wire.AppendRouteRefresh(nil, &wire.RouteRefresh{Family: wire.IPv4Unicast, Subtype: 1}), u1))
	n, _ := wire.AppendNotification(nil, &wire.Notification{Code: 6, Subcode: 2, Data: []byte{3, 'b', 'y', 'e'}})
	f.Add(seed(u1, n))

	// Each iteration gets its own TCP connection (the teardown at its end
	// closes it); the other end only drains what kbgp writes.
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		f.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				buf := make([]byte, 4096)
				for {
					if _, err := c.Read(buf); err != nil {
						return
					}
				}
			}()
		}
	}()
	cfg := baseConfig(65001, 65002, "10.0.0.1", "127.0.0.2")
	cfg.MaxPrefix = map[wire.Family]int{wire.IPv4Unicast: 3}
	cfg.AddPath = []AddPathConfig{{wire.IPv6Unicast, wire.AddPathBoth}}
	s, err := New(cfg, nopHandler{})
	if err != nil {
		f.Fatal(err)
	}
	defer s.Close()
	local := localOpen(&s.cfg)
	peer := peerOpen(65002, "10.0.0.2", 90)
	peer.Caps.AddPath = []wire.AddPathFamily{{Family: wire.IPv6Unicast, Mode: wire.AddPathBoth}}
	neg, _, err := negotiate(&s.cfg, local, peer)
	if err != nil {
		f.Fatal(err)
	}

	f.Fuzz(func(t *testing.T, data []byte) {
		nc, err := net.Dial("tcp4", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		s.do(func() {
			c := newConn(s, nc.(*net.TCPConn), true)
			c.state, c.neg, c.epoch = Established, neg, 1
			s.conns = append(s.conns, c)
			s.est.Store(c)
			s.st.PrefixesReceived = map[wire.Family]int{}
			for len(data) >= 3 && !c.closed {
				typ := wire.MsgType(data[0])
				l := int(binary.BigEndian.Uint16(data[1:]))
				data = data[3:]
				l = min(l, len(data))
				body := append([]byte(nil), data[:l]...)
				data = data[l:]
				s.handleEvent(connEvent{c: c, typ: typ, body: body})
				if !c.closed {
					for f, m := range s.adjIn {
						if got := s.st.PrefixesReceived[f]; got != m.len() {
							t.Fatalf("status says %d %v prefixes, Adj-RIB-In has %d", got, f, m.len())
						}
					}
				}
			}
			if !c.closed {
				s.closeConn(c, nil, &SessionError{Class: ClassAdmin})
			}
			// Undo what a failure scheduled, for the next iteration.
			s.adminDown, s.idleHoldAt, s.base = true, time.Time{}, Idle
		})
	})
}
