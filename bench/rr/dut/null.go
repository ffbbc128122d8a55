package dut

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sync"

	"github.com/kbgp/kbgp/internal/bgp/wire"
)

// RunNull runs the null reflector until ctx ends: it accepts the clients'
// sessions and forwards every UPDATE's bytes unchanged to every other
// Established client, replaying what it already forwarded to clients that
// come up later. It keeps no RIB and makes no decisions, so a benchmark
// against it measures the testers and the loopback, not a BGP
// implementation: its time is the floor for every real DUT.
func RunNull(ctx context.Context, cfg GoConfig) error {
	ln, err := net.Listen("tcp4", cfg.Listen().String())
	if err != nil {
		return fmt.Errorf("null reflector: %w", err)
	}
	go func() {
		<-ctx.Done()
		ln.Close()
	}()
	n := &nullRR{cfg: cfg, allowed: map[netip.Addr]bool{}}
	for _, c := range cfg.Clients {
		n.allowed[c] = true
	}
	for {
		conn, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("null reflector: accept: %w", err)
		}
		go n.serve(conn)
	}
}

type nullRR struct {
	cfg     GoConfig
	allowed map[netip.Addr]bool

	mu    sync.Mutex
	log   []nullMsg // every UPDATE forwarded so far, for late joiners
	peers []*nullPeer
}

type nullMsg struct {
	from *nullPeer
	b    []byte
}

type nullPeer struct {
	mu   sync.Mutex
	cond *sync.Cond
	q    [][]byte
	dead bool
}

func (p *nullPeer) push(b ...[]byte) {
	p.mu.Lock()
	p.q = append(p.q, b...)
	p.mu.Unlock()
	p.cond.Signal()
}

// writer sends queued messages in batches.
func (p *nullPeer) writer(conn net.Conn) {
	w := bufio.NewWriterSize(conn, 256<<10)
	for {
		p.mu.Lock()
		for len(p.q) == 0 && !p.dead {
			p.cond.Wait()
		}
		if p.dead {
			p.mu.Unlock()
			return
		}
		q := p.q
		p.q = nil
		p.mu.Unlock()
		for _, b := range q {
			if _, err := w.Write(b); err != nil {
				conn.Close()
				return
			}
		}
		if err := w.Flush(); err != nil {
			conn.Close()
			return
		}
	}
}

func readFull(r *bufio.Reader, buf []byte) ([]byte, wire.MsgType, error) {
	hdr := buf[:wire.HeaderLen]
	if _, err := io.ReadFull(r, hdr); err != nil {
		return nil, 0, err
	}
	n, typ, err := wire.ParseHeader(hdr, wire.MaxMessageLen)
	if err != nil {
		return nil, 0, err
	}
	m := make([]byte, n)
	copy(m, hdr)
	if _, err := io.ReadFull(r, m[wire.HeaderLen:]); err != nil {
		return nil, 0, err
	}
	return m, typ, nil
}

func (n *nullRR) serve(conn net.Conn) {
	defer conn.Close()
	ap, err := netip.ParseAddrPort(conn.RemoteAddr().String())
	if err != nil || !n.allowed[ap.Addr().Unmap()] {
		return
	}
	open, err := wire.AppendOpen(nil, &wire.Open{MyAS: uint16(n.cfg.AS), HoldTime: 90, BGPID: n.cfg.Addr,
		Caps: wire.Capabilities{Multiprotocol: []wire.Family{wire.IPv4Unicast}, HasFourOctetAS: true, FourOctetAS: n.cfg.AS}})
	if err != nil {
		return
	}
	if _, err := conn.Write(append(open, wire.AppendKeepalive(nil)...)); err != nil {
		return
	}
	r := bufio.NewReaderSize(conn, 128<<10)
	buf := make([]byte, wire.HeaderLen)
	// OpenConfirm: wait for the client's KEEPALIVE.
	for {
		_, typ, err := readFull(r, buf)
		if err != nil {
			return
		}
		if typ == wire.MsgKeepalive {
			break
		}
	}
	p := &nullPeer{}
	p.cond = sync.NewCond(&p.mu)
	n.mu.Lock()
	var backlog [][]byte
	for _, m := range n.log {
		if m.from != p {
			backlog = append(backlog, m.b)
		}
	}
	p.push(backlog...)
	n.peers = append(n.peers, p)
	n.mu.Unlock()
	go p.writer(conn)
	defer func() {
		p.mu.Lock()
		p.dead = true
		p.mu.Unlock()
		p.cond.Signal()
	}()
	for {
		m, typ, err := readFull(r, buf)
		if err != nil {
			return
		}
		if typ != wire.MsgUpdate {
			continue
		}
		n.mu.Lock()
		n.log = append(n.log, nullMsg{from: p, b: m})
		for _, q := range n.peers {
			if q != p {
				q.push(m)
			}
		}
		n.mu.Unlock()
	}
}
