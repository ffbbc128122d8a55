package fsm

import (
	"io"

	"github.com/kbgp/kbgp/internal/bgp/wire"
)

// framer cuts BGP messages out of a TCP stream with few read(2) calls:
// while messages arrive back to back it reads ahead into a pooled chunk
// and copies each body out of it (a memmove is far cheaper than the two
// reads per message, header then body, it replaces); when the stream
// pauses it returns the chunk, and waiting for the next header is one
// non-blocking read (try) before the reader parks, so an idle connection
// holds no buffer.
//
// The first read after a pause goes into a small chunk: what a peer sends
// between pauses is mostly a message or two (OPEN, KEEPALIVE, a client's
// few routes), and the reader may hold the chunk while it waits to hand a
// message over (with 100 clients coming up together, 43 chunks of 16 KB
// were out at once). A read that fills the small chunk means a stream, and
// the framer moves to a full chunk until the stream pauses.
type framer struct {
	r io.Reader
	// With try set (a non-blocking read of r, errWouldBlock when nothing
	// is there), waiting for the next message when the socket has nothing
	// ends in errIdle at once (the reader then parks, park_linux.go).
	try    interface{ tryRead([]byte) (int, error) }
	hdr    [wire.HeaderLen]byte
	chunk  *[]byte // read-ahead buffer, from chunks; nil while idle
	buf    []byte  // unread bytes, in *chunk
	stream bool    // the last read filled the chunk: more is waiting
}

// chunkLen and smallChunkLen are the sizes of the pooled read-ahead
// chunks.
const (
	chunkLen      = 16 << 10
	smallChunkLen = 1 << 10
)

var chunks = newBufPool(smallChunkLen, chunkLen)

// next returns the next message: its type and body, the body in a buffer
// from getBody (ownership passes to the caller; nil for an empty body).
// maxLen is the largest message accepted (RFC 8654). A header error is a
// *wire.Error; a read error ends the stream.
func (f *framer) next(maxLen int) (typ wire.MsgType, body []byte, buf *[]byte, err error) {
	var hdr []byte
	if len(f.buf) == 0 {
		// Nothing buffered: wait for the next message without a chunk;
		// a pause ends a stream.
		f.release()
		f.stream = false
		if err := f.waitHeader(); err != nil {
			return 0, nil, nil, err
		}
		hdr = f.hdr[:]
	} else {
		if err := f.fill(wire.HeaderLen); err != nil {
			return 0, nil, nil, err
		}
		copy(f.hdr[:], f.buf)
		hdr = f.hdr[:]
		f.buf = f.buf[wire.HeaderLen:]
	}
	n, typ, err := wire.ParseHeader(hdr, maxLen)
	if err != nil {
		return 0, nil, nil, err
	}
	size := n - wire.HeaderLen
	if size == 0 {
		if len(f.buf) == 0 {
			f.release()
		}
		return typ, nil, nil, nil
	}
	buf = getBody(size)
	body = *buf
	if size > chunkLen {
		// Larger than a chunk (an extended message): what is buffered,
		// then the rest straight into the body.
		k := copy(body, f.buf)
		f.buf = f.buf[k:]
		if _, err := io.ReadFull(f.r, body[k:]); err != nil {
			if err == io.EOF && k > 0 {
				err = io.ErrUnexpectedEOF
			}
			putBody(buf)
			return 0, nil, nil, err
		}
		return typ, body, buf, nil
	}
	if err := f.fill(size); err != nil {
		putBody(buf)
		return 0, nil, nil, err
	}
	copy(body, f.buf)
	f.buf = f.buf[size:]
	if len(f.buf) == 0 {
		// Drained: the chunk goes back now, not after the message has
		// been handled. A handler may wait (for the RIB queue), and a
		// reflector's clients coming up together each held 16 KB while
		// theirs did: 0.8 MB at 100 clients.
		f.release()
	}
	return typ, body, buf, nil
}

// waitHeader reads the next header while nothing is buffered. With f.try
// set it first makes one non-blocking read and gives up with errIdle if
// the socket has nothing; once part of the header is in, it reads the rest
// (blocking).
func (f *framer) waitHeader() error {
	n := 0
	if f.try != nil {
		var err error
		if n, err = f.try.tryRead(f.hdr[:]); err == errWouldBlock {
			return errIdle
		} else if err != nil {
			return err
		}
	}
	if n == len(f.hdr) {
		return nil
	}
	_, err := io.ReadFull(f.r, f.hdr[n:])
	if err == io.EOF && n > 0 {
		err = io.ErrUnexpectedEOF
	}
	return err
}

// fill makes at least n (at most chunkLen) bytes buffered, reading ahead
// as much as the socket has.
func (f *framer) fill(n int) error {
	if len(f.buf) >= n {
		return nil
	}
	switch {
	case f.chunk == nil && f.stream:
		f.chunk = chunks.get(chunkLen)
	case f.chunk == nil:
		f.chunk = chunks.get(n)
	case len(*f.chunk) < chunkLen && (f.stream || n > len(*f.chunk)):
		// A stream, or a message larger than the small chunk: the
		// unread bytes move to a full chunk.
		big := chunks.get(chunkLen)
		f.buf = (*big)[:copy(*big, f.buf)]
		chunks.put(f.chunk)
		f.chunk = big
	}
	c := *f.chunk
	have := copy(c, f.buf) // move the partial message to the front
	got, err := io.ReadAtLeast(f.r, c[have:], n-have)
	f.buf = c[:have+got]
	f.stream = have+got == len(c)
	if err == io.EOF && have > 0 {
		// The stream ended inside a message, as io.ReadFull reports it.
		err = io.ErrUnexpectedEOF
	}
	return err
}

// release returns the chunk to its pool; nothing is buffered.
func (f *framer) release() {
	if f.chunk == nil {
		return
	}
	chunks.put(f.chunk)
	f.chunk, f.buf = nil, nil
}
