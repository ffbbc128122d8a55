// Package load is the traffic side of the route-reflector benchmark: BGP
// clients (testers and monitors) that pre-encode their UPDATEs with kbgp's
// wire codec, blast them at the device under test (DUT) as soon as the
// session is up, and count the prefixes the DUT reflects back to them.
//
// A client is a tester when it has routes to announce and a monitor when it
// has prefixes it must receive (Want); it can be both (the k8s scenario) or
// neither (it then only drains what the DUT sends, so the DUT never blocks
// on a full socket). Counting uses one shared prefix Index and a bitset per
// client, so a thousand clients each tracking twenty thousand prefixes cost
// a few megabytes, and the per-prefix work is one map lookup.
package load

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kbgp/kbgp/internal/bgp/wire"
)

// Index numbers the prefixes a scenario uses, so clients can track them in
// bitsets.
type Index struct {
	ids  map[netip.Prefix]int32
	list []netip.Prefix
}

// NewIndex numbers ps in order; duplicates keep their first number.
func NewIndex(ps []netip.Prefix) *Index {
	x := &Index{ids: make(map[netip.Prefix]int32, len(ps))}
	for _, p := range ps {
		x.Add(p)
	}
	return x
}

// Add numbers p (if new) and returns its number.
func (x *Index) Add(p netip.Prefix) int32 {
	if id, ok := x.ids[p]; ok {
		return id
	}
	if x.ids == nil {
		x.ids = map[netip.Prefix]int32{}
	}
	id := int32(len(x.list))
	x.ids[p] = id
	x.list = append(x.list, p)
	return id
}

// ID returns p's number.
func (x *Index) ID(p netip.Prefix) (int32, bool) {
	id, ok := x.ids[p]
	return id, ok
}

// Len is the number of prefixes.
func (x *Index) Len() int { return len(x.list) }

// Prefix returns prefix number id.
func (x *Index) Prefix(id int32) netip.Prefix { return x.list[id] }

// Bits is a fixed-size bitset over an Index.
type Bits []uint64

// NewBits returns a bitset for n prefixes.
func NewBits(n int) Bits { return make(Bits, (n+63)/64) }

// Set sets bit i and reports whether it was clear.
func (b Bits) Set(i int32) bool {
	w, m := i>>6, uint64(1)<<(i&63)
	if b[w]&m != 0 {
		return false
	}
	b[w] |= m
	return true
}

// Clear clears bit i and reports whether it was set.
func (b Bits) Clear(i int32) bool {
	w, m := i>>6, uint64(1)<<(i&63)
	if b[w]&m == 0 {
		return false
	}
	b[w] &^= m
	return true
}

// Has reports bit i.
func (b Bits) Has(i int32) bool { return b[i>>6]&(uint64(1)<<(i&63)) != 0 }

// Client is one BGP session from a local address to the DUT.
type Client struct {
	// Addr is the local address (and BGP Identifier).
	Addr netip.Addr
	// AS is the client's AS (the DUT's AS: every session is iBGP).
	AS uint32
	// Announce holds complete pre-encoded UPDATE messages sent as soon as
	// the session is Established.
	Announce []byte
	// Withdraw and Reannounce are sent by Run.Churn.
	Withdraw, Reannounce []byte
	// Want marks the prefixes (numbers in the run's Index) this client
	// must receive; nil makes it drain-only (no UPDATE decoding).
	Want Bits
	// WantN is the number of bits set in Want.
	WantN int

	have     Bits
	count    atomic.Int64 // wanted prefixes present
	target   atomic.Int64 // count at which the client is converged
	doneAt   atomic.Int64 // unix ns when count last reached target
	lastMsg  atomic.Int64 // unix ns of the last UPDATE received
	estAt    atomic.Int64 // unix ns the session was Established
	updates  atomic.Int64 // UPDATEs received
	prefixes atomic.Int64 // prefixes announced or withdrawn to us
	badMsgs  atomic.Int64 // UPDATEs that failed to decode

	conn    net.Conn
	wmu     sync.Mutex
	errv    atomic.Pointer[error]
	lastErr atomic.Pointer[error] // last failed attempt before Established
	retries atomic.Int64          // failed attempts before Established
	drops   atomic.Int64          // sessions lost after Established
}

// Err returns the client's first session error, if any.
func (c *Client) Err() error {
	if p := c.errv.Load(); p != nil {
		return *p
	}
	return nil
}

func (c *Client) fail(err error) {
	c.errv.CompareAndSwap(nil, &err)
}

// establishTimeout bounds the OPEN/KEEPALIVE exchange of one attempt.
const establishTimeout = 30 * time.Second

// holdTime is the hold time clients propose; keepalives go every third.
const holdTime = 90

// open returns the client's OPEN: IPv4 unicast, 4-octet AS, route refresh.
func (c *Client) open() ([]byte, error) {
	m := &wire.Open{
		MyAS:     uint16(c.AS),
		HoldTime: holdTime,
		BGPID:    c.Addr,
		Caps: wire.Capabilities{
			Multiprotocol:  []wire.Family{wire.IPv4Unicast},
			RouteRefresh:   true,
			HasFourOctetAS: true,
			FourOctetAS:    c.AS,
		},
	}
	if c.AS > 0xffff {
		m.MyAS = 23456 // AS_TRANS, RFC 6793 §9
	}
	return wire.AppendOpen(nil, m)
}

// dial connects to dut from c.Addr, retrying while the DUT is not yet
// listening or refuses.
func (c *Client) dial(ctx context.Context, dut netip.AddrPort) (net.Conn, error) {
	d := net.Dialer{LocalAddr: net.TCPAddrFromAddrPort(netip.AddrPortFrom(c.Addr, 0)), Timeout: 10 * time.Second}
	for {
		conn, err := d.DialContext(ctx, "tcp4", dut.String())
		if err == nil {
			return conn, nil
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("client %s: connect to %s: %w", c.Addr, dut, err)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("client %s: connect to %s: %w", c.Addr, dut, err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// readMsg reads one BGP message into buf (grown as needed) and returns it.
func readMsg(r *bufio.Reader, buf []byte) ([]byte, wire.MsgType, error) {
	buf = buf[:wire.HeaderLen]
	if _, err := io.ReadFull(r, buf); err != nil {
		return nil, 0, err
	}
	n, typ, err := wire.ParseHeader(buf, wire.MaxMessageLen)
	if err != nil {
		return nil, 0, err
	}
	if cap(buf) < n {
		nb := make([]byte, n, wire.MaxMessageLen)
		copy(nb, buf)
		buf = nb
	}
	buf = buf[:n]
	if _, err := io.ReadFull(r, buf[wire.HeaderLen:]); err != nil {
		return nil, 0, err
	}
	return buf, typ, nil
}

// establish runs the OPEN/KEEPALIVE exchange (RFC 4271 §8.2.2: OpenSent,
// OpenConfirm, then Established on the peer's KEEPALIVE).
func (c *Client) establish(conn net.Conn, r *bufio.Reader) error {
	o, err := c.open()
	if err != nil {
		return fmt.Errorf("client %s: encode OPEN: %w", c.Addr, err)
	}
	if _, err := conn.Write(o); err != nil {
		return fmt.Errorf("client %s: send OPEN: %w", c.Addr, err)
	}
	buf := make([]byte, wire.MaxMessageLen)
	gotOpen := false
	for {
		msg, typ, err := readMsg(r, buf)
		if err != nil {
			return fmt.Errorf("client %s: waiting for the DUT's OPEN/KEEPALIVE: %w", c.Addr, err)
		}
		switch typ {
		case wire.MsgOpen:
			var peer wire.Open
			if err := peer.Decode(msg[wire.HeaderLen:]); err != nil {
				return fmt.Errorf("client %s: DUT's OPEN: %w", c.Addr, err)
			}
			if peer.ASN() != c.AS {
				return fmt.Errorf("client %s: DUT says AS %d, want %d (iBGP)", c.Addr, peer.ASN(), c.AS)
			}
			gotOpen = true
			if _, err := conn.Write(wire.AppendKeepalive(nil)); err != nil {
				return fmt.Errorf("client %s: send KEEPALIVE: %w", c.Addr, err)
			}
		case wire.MsgKeepalive:
			if gotOpen {
				return nil
			}
		case wire.MsgNotification:
			var n wire.Notification
			if err := n.Decode(msg[wire.HeaderLen:]); err != nil {
				return fmt.Errorf("client %s: bad NOTIFICATION from DUT: %w", c.Addr, err)
			}
			return fmt.Errorf("client %s: DUT refused the session: %s", c.Addr, n.String())
		default:
			return fmt.Errorf("client %s: unexpected %v before Established", c.Addr, typ)
		}
	}
}

// send writes b to the current session under the write lock.
func (c *Client) send(b []byte) error {
	c.wmu.Lock()
	conn := c.conn
	c.wmu.Unlock()
	return c.sendOn(conn, b)
}

// maxDrops is how many times a session may go down after Established
// before the client gives up.
const maxDrops = 20

// run connects, establishes, starts the announcement and then reads until
// the run ends. A session that goes down is re-established (as a BGP
// speaker would): the client forgets what it had received, announces its
// routes again and counts the drop. up reports each Established (+1) and
// each drop (-1).
func (c *Client) run(ctx context.Context, dut netip.AddrPort, dialSem chan struct{}, up func(int64)) {
	for drops := 0; ; drops++ {
		conn, r, err := c.connect(ctx, dut, dialSem)
		if err != nil {
			c.fail(err)
			return
		}
		if drops > 0 && c.Want != nil {
			clear(c.have)
			c.count.Store(0)
		}
		c.estAt.Store(time.Now().UnixNano())
		up(1)
		done := make(chan struct{})
		go c.announce(ctx, conn, done)
		err = c.read(r)
		close(done)
		conn.Close()
		if ctx.Err() != nil {
			return
		}
		up(-1)
		c.drops.Add(1)
		c.lastErr.Store(&err)
		if drops+1 >= maxDrops {
			c.fail(fmt.Errorf("%w (session dropped %d times)", err, drops+1))
			return
		}
	}
}

// connect dials and establishes a session, retrying failed attempts.
func (c *Client) connect(ctx context.Context, dut netip.AddrPort, dialSem chan struct{}) (net.Conn, *bufio.Reader, error) {
	for {
		var r *bufio.Reader
		dialSem <- struct{}{}
		conn, err := c.dial(ctx, dut)
		if err == nil {
			// Closing the connection is what unblocks its reads when the
			// run ends; a DUT that never answers the OPEN gets a deadline.
			context.AfterFunc(ctx, func() { conn.Close() })
			_ = conn.SetDeadline(time.Now().Add(establishTimeout))
			r = bufio.NewReaderSize(conn, 128<<10)
			if err = c.establish(conn, r); err != nil {
				conn.Close()
			} else {
				_ = conn.SetDeadline(time.Time{})
			}
		}
		<-dialSem
		if err == nil {
			c.wmu.Lock()
			c.conn = conn
			c.wmu.Unlock()
			return conn, r, nil
		}
		// A DUT may refuse sessions while it is still starting (FRR
		// answers an early OPEN with an FSM error): retry, as a BGP
		// speaker's ConnectRetryTimer would (RFC 4271 §8.2.2), but fast.
		c.lastErr.Store(&err)
		c.retries.Add(1)
		select {
		case <-ctx.Done():
			return nil, nil, err
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// announce sends the client's routes and End-of-RIB on conn, then
// KEEPALIVEs until done.
func (c *Client) announce(ctx context.Context, conn net.Conn, done chan struct{}) {
	err := c.sendOn(conn, c.Announce)
	if err == nil {
		err = c.sendOn(conn, wire.AppendEndOfRIB(nil, wire.IPv4Unicast))
	}
	if err != nil {
		return // the reader sees the session end
	}
	t := time.NewTicker(holdTime / 3 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-done:
			return
		case <-t.C:
			if err := c.sendOn(conn, wire.AppendKeepalive(nil)); err != nil {
				return
			}
		}
	}
}

// sendOn writes b to conn under the write lock.
func (c *Client) sendOn(conn net.Conn, b []byte) error {
	if len(b) == 0 {
		return nil
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_, err := conn.Write(b)
	return err
}

// read processes messages from the DUT until the connection ends.
func (c *Client) read(r *bufio.Reader) error {
	var (
		u    wire.Update
		opts = wire.Options{AS4: true}
		buf  = make([]byte, wire.MaxMessageLen)
	)
	for {
		msg, typ, err := readMsg(r, buf)
		if err != nil {
			if errors.Is(err, io.EOF) {
				return fmt.Errorf("client %s: DUT closed the session (EOF without NOTIFICATION)", c.Addr)
			}
			return fmt.Errorf("client %s: read: %w", c.Addr, err)
		}
		switch typ {
		case wire.MsgUpdate:
			c.updates.Add(1)
			if c.Want != nil {
				if err := u.Decode(msg[wire.HeaderLen:], &opts); err != nil {
					c.badMsgs.Add(1)
					var we *wire.Error
					if !errors.As(err, &we) || we.Action == wire.ActionSessionReset {
						return fmt.Errorf("client %s: UPDATE from DUT: %w", c.Addr, err)
					}
					if we.Action == wire.ActionTreatAsWithdraw {
						// RFC 7606 §2: "treat-as-withdraw": the NLRI are
						// withdrawn, not announced.
						u.Withdrawn = append(u.Withdrawn, u.NLRI...)
						u.NLRI = u.NLRI[:0]
					}
				}
				c.apply(&u)
			}
			c.lastMsg.Store(time.Now().UnixNano())
		case wire.MsgNotification:
			var n wire.Notification
			_ = n.Decode(msg[wire.HeaderLen:])
			return fmt.Errorf("client %s: DUT sent NOTIFICATION %s", c.Addr, n.String())
		}
	}
}

// idx is the Index the clients of the current run count against; Run sets it.
var idx atomic.Pointer[Index]

// apply counts u's withdrawals and announcements against Want.
func (c *Client) apply(u *wire.Update) {
	x := idx.Load()
	n := c.count.Load()
	for _, w := range u.Withdrawn {
		if id, ok := x.ID(w.Prefix); ok && c.Want.Has(id) && c.have.Clear(id) {
			n--
		}
	}
	for _, a := range u.NLRI {
		if id, ok := x.ID(a.Prefix); ok && c.Want.Has(id) && c.have.Set(id) {
			n++
		}
	}
	c.prefixes.Add(int64(len(u.Withdrawn) + len(u.NLRI)))
	c.count.Store(n)
	if n == c.target.Load() {
		c.doneAt.Store(time.Now().UnixNano())
	}
}
