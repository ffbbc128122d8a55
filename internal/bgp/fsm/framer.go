package fsm

import (
	"errors"
	"io"
	"os"
	"sync"
	"time"

	"github.com/kbgp/kbgp/internal/bgp/wire"
)

// framer cuts BGP messages out of a TCP stream with few read(2) calls:
// while messages arrive back to back it reads ahead into a pooled chunk
// and copies each body out of it (a memmove is far cheaper than the two
// reads per message, header then body, it replaces); when the stream
// pauses it returns the chunk and waits on a 19-byte header read, so an
// idle connection holds no buffer.
type framer struct {
	r io.Reader
	// With idle > 0, a wait for the next message that lasts idle ends in
	// errIdle (the reader then parks, park_linux.go); dl sets r's read
	// deadline for it.
	idle  time.Duration
	dl    interface{ SetReadDeadline(time.Time) error }
	hdr   [wire.HeaderLen]byte
	chunk *[]byte // read-ahead buffer, from chunkPool; nil while idle
	buf   []byte  // unread bytes, in *chunk
}

// chunkLen is the size of the pooled read-ahead chunks.
const chunkLen = 16 << 10

var chunkPool = sync.Pool{New: func() any {
	b := make([]byte, chunkLen)
	return &b
}}

// next returns the next message: its type and body, the body in a buffer
// from getBody (ownership passes to the caller; nil for an empty body).
// maxLen is the largest message accepted (RFC 8654). A header error is a
// *wire.Error; a read error ends the stream.
func (f *framer) next(maxLen int) (typ wire.MsgType, body []byte, buf *[]byte, err error) {
	var hdr []byte
	if len(f.buf) == 0 {
		// Nothing buffered: wait for the next message without a chunk.
		f.release()
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

// waitHeader reads the next header while nothing is buffered. With
// f.idle set it gives up with errIdle if no byte came within f.idle; once
// part of the header is in, it reads the rest without a deadline.
func (f *framer) waitHeader() error {
	if f.idle <= 0 {
		_, err := io.ReadFull(f.r, f.hdr[:])
		return err
	}
	if err := f.dl.SetReadDeadline(time.Now().Add(f.idle)); err != nil {
		return err
	}
	n, err := io.ReadFull(f.r, f.hdr[:])
	if errors.Is(err, os.ErrDeadlineExceeded) {
		if err = f.dl.SetReadDeadline(time.Time{}); err != nil {
			return err
		}
		if n == 0 {
			return errIdle
		}
		if _, err = io.ReadFull(f.r, f.hdr[n:]); err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return err
	}
	if err != nil {
		return err
	}
	return f.dl.SetReadDeadline(time.Time{})
}

// fill makes at least n (at most chunkLen) bytes buffered, reading ahead
// as much as the socket has.
func (f *framer) fill(n int) error {
	if len(f.buf) >= n {
		return nil
	}
	if f.chunk == nil {
		f.chunk = chunkPool.Get().(*[]byte)
	}
	c := *f.chunk
	have := copy(c, f.buf) // move the partial message to the front
	got, err := io.ReadAtLeast(f.r, c[have:], n-have)
	f.buf = c[:have+got]
	if err == io.EOF && have > 0 {
		// The stream ended inside a message, as io.ReadFull reports it.
		err = io.ErrUnexpectedEOF
	}
	return err
}

// release returns the chunk to the pool; nothing is buffered.
func (f *framer) release() {
	if f.chunk != nil {
		chunkPool.Put(f.chunk)
		f.chunk, f.buf = nil, nil
	}
}
