package fsm

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"testing"
	"testing/iotest"

	"github.com/kbgp/kbgp/internal/bgp/wire"
)

// splitReader returns the stream in reads of the given sizes, cycling.
type splitReader struct {
	data  []byte
	sizes []int
	i     int
}

func (r *splitReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	n := len(p)
	if len(r.sizes) > 0 {
		n = min(n, max(r.sizes[r.i%len(r.sizes)], 1))
		r.i++
	}
	n = copy(p, r.data[:min(n, len(r.data))])
	r.data = r.data[n:]
	return n, nil
}

// pieceReader returns its pieces one at a time: a read never spans two
// (as if the sender paused between them).
type pieceReader struct{ pieces [][]byte }

func (r *pieceReader) Read(p []byte) (int, error) {
	for len(r.pieces) > 0 && len(r.pieces[0]) == 0 {
		r.pieces = r.pieces[1:]
	}
	if len(r.pieces) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.pieces[0])
	r.pieces[0] = r.pieces[0][n:]
	return n, nil
}

// frameAll reads messages until an error and returns them re-encoded
// (header + body) and the final error.
func frameAll(r io.Reader, maxLen int) ([][]byte, error) {
	f := framer{r: r}
	defer f.release()
	var out [][]byte
	for {
		typ, body, buf, err := f.next(maxLen)
		if err != nil {
			return out, err
		}
		m := wire.AppendHeader(nil, typ, len(body))
		m = append(m, body...)
		out = append(out, m)
		if buf != nil {
			putBody(buf)
		}
	}
}

func testMessages(t testing.TB) [][]byte {
	var msgs [][]byte
	for i := range 50 {
		u, err := wire.AppendUpdate(nil, routeUpdate("192.168.0.1", "192.0.2.0/24", fmt.Sprintf("10.%d.0.0/16", i)), &wire.Options{AS4: true})
		if err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, u, wire.AppendKeepalive(nil))
	}
	return msgs
}

func TestFramer(t *testing.T) {
	small := testMessages(t)
	var big []byte
	{
		var prefixes []string
		for j := range 9000 {
			prefixes = append(prefixes, fmt.Sprintf("11.%d.%d.0/24", j>>8, j&0xff))
		}
		var err error
		big, err = wire.AppendUpdate(nil, routeUpdate("192.168.0.1", prefixes...), &wire.Options{AS4: true, ExtendedMessage: true})
		if err != nil {
			t.Fatal(err)
		}
		if len(big) <= chunkLen {
			t.Fatalf("big message %d bytes, want more than %d", len(big), chunkLen)
		}
	}
	chunkEdge := func() [][]byte {
		// Messages whose boundaries fall across the chunk's end.
		var ms [][]byte
		for len(bytes.Join(ms, nil)) < 3*chunkLen {
			ms = append(ms, small...)
		}
		return ms
	}()
	for _, tc := range []struct {
		name   string
		msgs   [][]byte
		sizes  []int
		maxLen int
	}{
		{"one read", small, nil, wire.MaxMessageLen},
		{"one byte at a time", small, []int{1}, wire.MaxMessageLen},
		{"odd splits", small, []int{7, 19, 20, 3, 1000}, wire.MaxMessageLen},
		{"across chunk ends", chunkEdge, []int{chunkLen - 5, 13, chunkLen}, wire.MaxMessageLen},
		{"extended message", append(append(append([][]byte(nil), small[:3]...), big), small[3:6]...), []int{100, chunkLen}, wire.MaxExtMessageLen},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stream := bytes.Join(tc.msgs, nil)
			got, err := frameAll(&splitReader{data: stream, sizes: tc.sizes}, tc.maxLen)
			if !errors.Is(err, io.EOF) {
				t.Errorf("final error %v, want EOF", err)
			}
			if len(got) != len(tc.msgs) {
				t.Fatalf("%d messages, want %d", len(got), len(tc.msgs))
			}
			for i := range got {
				if !bytes.Equal(got[i], tc.msgs[i]) {
					t.Fatalf("message %d differs", i)
				}
			}
		})
	}
	t.Run("errors", func(t *testing.T) {
		bad := append([]byte(nil), small[0]...)
		bad[3] = 0 // marker
		for _, tc := range []struct {
			name   string
			stream []byte
			want   func(error) bool
		}{
			{"bad marker after good messages", append(append([]byte(nil), small[1]...), bad...), func(err error) bool {
				var we *wire.Error
				return errors.As(err, &we) && we.Subcode == wire.HeaderNotSynchronized
			}},
			{"truncated body", small[0][:len(small[0])-2], func(err error) bool { return errors.Is(err, io.ErrUnexpectedEOF) }},
			{"too long without extended messages", big, func(err error) bool {
				var we *wire.Error
				return errors.As(err, &we) && we.Subcode == wire.HeaderBadLength
			}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, err := frameAll(iotest.HalfReader(bytes.NewReader(tc.stream)), wire.MaxMessageLen)
				if !tc.want(err) {
					t.Errorf("error %v", err)
				}
			})
		}
	})
	t.Run("idle releases the chunk", func(t *testing.T) {
		stream := bytes.Join(small[:4], nil)
		f := framer{r: bytes.NewReader(stream)}
		for range 4 {
			if _, _, buf, err := f.next(wire.MaxMessageLen); err != nil {
				t.Fatal(err)
			} else if buf != nil {
				putBody(buf)
			}
		}
		if _, _, _, err := f.next(wire.MaxMessageLen); !errors.Is(err, io.EOF) {
			t.Fatalf("after the stream: %v", err)
		}
		if f.chunk != nil {
			t.Error("framer holds its chunk while waiting for the next message")
		}
	})
	t.Run("small chunk after a pause, full chunk for a stream", func(t *testing.T) {
		// One UPDATE read alone (a pause after it: the reader's next read
		// returns only that much), then more than a small chunk at once:
		// the UPDATE's body is read into a small chunk, the stream moves
		// to a full one.
		first := small[0]
		stream := bytes.Join(small, nil)
		r := &pieceReader{pieces: [][]byte{first, stream}}
		f := framer{r: r}
		sizes := map[int]bool{}
		for {
			_, _, buf, err := f.next(wire.MaxMessageLen)
			if f.chunk != nil {
				sizes[len(*f.chunk)] = true
			}
			if err != nil {
				break
			}
			if buf != nil {
				putBody(buf)
			}
		}
		if !sizes[smallChunkLen] || !sizes[chunkLen] {
			t.Errorf("chunk sizes used %v, want both %d and %d", sizes, smallChunkLen, chunkLen)
		}
	})
	t.Run("drained chunk goes back before handling", func(t *testing.T) {
		// The whole stream arrives in one read: the chunk holds messages
		// until the last is taken, which returns it at once, while the
		// caller still handles that message.
		stream := bytes.Join(small[:3], nil) // UPDATE, KEEPALIVE, UPDATE
		f := framer{r: bytes.NewReader(stream)}
		for i := range 3 {
			_, _, buf, err := f.next(wire.MaxMessageLen)
			if err != nil {
				t.Fatal(err)
			}
			if held, last := f.chunk != nil, i == 2; held == last {
				t.Errorf("message %d of 3: chunk held %v", i+1, held)
			}
			if buf != nil {
				putBody(buf)
			}
		}
	})
}

// FuzzFramer: however the stream is split into reads, the framer returns
// what reading header and body of each message separately returns.
// Input: the stream, and read sizes (one byte each).
func FuzzFramer(f *testing.F) {
	msgs := testMessages(f)
	f.Add(bytes.Join(msgs[:6], nil), []byte{1, 19, 200})
	f.Add(bytes.Join(msgs, nil), []byte{255})
	f.Add(append(bytes.Join(msgs[:2], nil), 0xff, 0xff), []byte{3})
	f.Fuzz(func(t *testing.T, stream, sizes []byte) {
		split := make([]int, len(sizes))
		for i, s := range sizes {
			split[i] = int(s) * 67 // up to ~17 KB: past a chunk
		}
		got, gerr := frameAll(&splitReader{data: stream, sizes: split}, wire.MaxExtMessageLen)
		// Reference: header, then body, with plain reads.
		r := bytes.NewReader(stream)
		var want [][]byte
		var werr error
		for {
			hdr := make([]byte, wire.HeaderLen)
			if _, werr = io.ReadFull(r, hdr); werr != nil {
				break
			}
			n, _, err := wire.ParseHeader(hdr, wire.MaxExtMessageLen)
			if err != nil {
				werr = err
				break
			}
			body := make([]byte, n-wire.HeaderLen)
			if _, werr = io.ReadFull(r, body); werr != nil {
				break
			}
			want = append(want, append(hdr, body...))
		}
		if len(got) != len(want) {
			t.Fatalf("%d messages, reference %d (errors %v, %v)", len(got), len(want), gerr, werr)
		}
		for i := range got {
			if !bytes.Equal(got[i], want[i]) {
				t.Fatalf("message %d differs", i)
			}
		}
		if (gerr == nil) != (werr == nil) || errors.Is(gerr, io.EOF) != errors.Is(werr, io.EOF) {
			t.Fatalf("error %v, reference %v", gerr, werr)
		}
	})
}
