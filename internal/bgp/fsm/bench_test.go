package fsm

import (
	"net/netip"
	"testing"
	"time"
)

// establishedHandler signals Established on a channel and ignores the rest.
type establishedHandler struct {
	nopHandler
	up chan struct{}
}

func (h establishedHandler) Established(*Session, uint64, *Negotiated) { h.up <- struct{}{} }

// BenchmarkEstablish measures one session set-up over loopback: TCP
// connect, OPEN exchange, negotiation, KEEPALIVEs, both sides Established,
// then teardown with a NOTIFICATION.
func BenchmarkEstablish(b *testing.B) {
	ln, err := Listen(b.Context(), netip.MustParseAddrPort("127.0.0.2:0"))
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	var passive *Session
	got := make(chan *Session, 1)
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			s := <-got
			s.Accept(nc)
		}
	}()
	for b.Loop() {
		up := make(chan struct{}, 2)
		ca := baseConfig(65001, 65002, "10.0.0.1", "127.0.0.2")
		ca.LocalAddr, ca.PeerPort = netip.MustParseAddr("127.0.0.1"), ln.Addr().Port()
		cb := baseConfig(65002, 65001, "10.0.0.2", "127.0.0.1")
		cb.Passive = true
		passive, _ = New(cb, establishedHandler{up: up})
		passive.Start()
		got <- passive
		a, _ := New(ca, establishedHandler{up: up})
		a.Start()
		for range 2 {
			select {
			case <-up:
			case <-time.After(5 * time.Second):
				b.Fatal("not established")
			}
		}
		a.Close()
		passive.Close()
	}
}
