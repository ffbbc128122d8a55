package mrt

import (
	"bufio"
	"bytes"
	"compress/bzip2"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// ErrTruncated is wrapped by errors for records or headers cut short by the
// end of the input.
var ErrTruncated = errors.New("truncated")

// RecordError describes a record that could not be read or decoded. Offset
// is the byte offset of the record in the decompressed input.
type RecordError struct {
	Offset  int64
	Type    Type
	Subtype uint16
	Err     error
}

func (e *RecordError) Error() string {
	if e.Type == 0 {
		return fmt.Sprintf("mrt: record at offset %d: %v", e.Offset, e.Err)
	}
	return fmt.Sprintf("mrt: record at offset %d (%v subtype %d): %v", e.Offset, e.Type, e.Subtype, e.Err)
}

func (e *RecordError) Unwrap() error { return e.Err }

// Reader reads MRT records from a stream. It is not safe for concurrent use.
type Reader struct {
	src         io.Reader
	r           *bufio.Reader
	compression string
	off         int64
	hdr         [ETHeaderLen]byte
	buf         []byte
	rec         Record
	err         error
	started     bool
}

// NewReader returns a Reader for r. Gzip and bzip2 input is detected from
// its magic bytes and decompressed transparently.
func NewReader(r io.Reader) *Reader {
	return &Reader{src: r}
}

// Compression returns "gzip", "bzip2" or "" once the first record has been
// read.
func (r *Reader) Compression() string { return r.compression }

func (r *Reader) start() error {
	r.started = true
	br := bufio.NewReaderSize(r.src, 64<<10)
	magic, _ := br.Peek(3)
	switch {
	case len(magic) >= 2 && magic[0] == 0x1f && magic[1] == 0x8b:
		zr, err := gzip.NewReader(br)
		if err != nil {
			return fmt.Errorf("mrt: gzip header: %w", err)
		}
		zr.Multistream(true)
		r.compression = "gzip"
		r.r = bufio.NewReaderSize(zr, 64<<10)
	case bytes.HasPrefix(magic, []byte("BZh")):
		r.compression = "bzip2"
		r.r = bufio.NewReaderSize(bzip2.NewReader(br), 64<<10)
	default:
		r.r = br
	}
	return nil
}

// Next returns the next record, or io.EOF after the last one. The record and
// its Body are overwritten by the following call. A truncated record or
// compressed stream yields a *RecordError wrapping ErrTruncated; errors are
// sticky.
func (r *Reader) Next() (*Record, error) {
	if r.err != nil {
		return nil, r.err
	}
	if !r.started {
		if err := r.start(); err != nil {
			r.err = err
			return nil, err
		}
	}
	rec, err := r.next()
	if err != nil {
		r.err = err
		return nil, err
	}
	return rec, nil
}

func (r *Reader) streamErr(err error) string {
	if err == nil || err == io.EOF || err == io.ErrUnexpectedEOF {
		if r.compression != "" && err == io.ErrUnexpectedEOF {
			return fmt.Sprintf(" (%s stream ends early)", r.compression)
		}
		return ""
	}
	if r.compression != "" {
		return fmt.Sprintf(" (%s: %v)", r.compression, err)
	}
	return fmt.Sprintf(" (%v)", err)
}

// corrupt names the decompressor in a stream error that is not an early
// end (a bad checksum or block).
func (r *Reader) corrupt(err error) error {
	if r.compression != "" {
		return fmt.Errorf("%s stream: %w", r.compression, err)
	}
	return err
}

func (r *Reader) next() (*Record, error) {
	off := r.off
	n, err := io.ReadFull(r.r, r.hdr[:HeaderLen])
	r.off += int64(n)
	if n == 0 && err == io.EOF {
		return nil, io.EOF
	}
	if err != nil {
		if err == io.ErrUnexpectedEOF {
			return nil, &RecordError{Offset: off, Err: fmt.Errorf("%w: header has %d of %d bytes%s", ErrTruncated, n, HeaderLen, r.streamErr(err))}
		}
		return nil, &RecordError{Offset: off, Err: fmt.Errorf("reading the header: %w", r.corrupt(err))}
	}
	rec := &r.rec
	*rec = Record{
		Offset:    off,
		Timestamp: binary.BigEndian.Uint32(r.hdr[0:4]),
		Type:      Type(binary.BigEndian.Uint16(r.hdr[4:6])),
		Subtype:   binary.BigEndian.Uint16(r.hdr[6:8]),
	}
	length := binary.BigEndian.Uint32(r.hdr[8:12])
	if length > MaxRecordLen {
		return nil, &RecordError{Offset: off, Type: rec.Type, Subtype: rec.Subtype,
			Err: fmt.Errorf("header says %d bytes, more than the %d-byte limit (corrupt input?)", length, MaxRecordLen)}
	}
	body, got, err := r.readBody(int(length))
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return nil, &RecordError{Offset: off, Type: rec.Type, Subtype: rec.Subtype,
			Err: fmt.Errorf("%w: header says %d bytes, %d present%s", ErrTruncated, length, got, r.streamErr(err))}
	}
	if err != nil {
		return nil, &RecordError{Offset: off, Type: rec.Type, Subtype: rec.Subtype,
			Err: fmt.Errorf("reading %d body bytes (%d read): %w", length, got, r.corrupt(err))}
	}
	if rec.Type == TypeBGP4MPET {
		// RFC 6396 §3: "The Microsecond Timestamp is included in the
		// computation of the Length field value."
		if len(body) < 4 {
			return nil, &RecordError{Offset: off, Type: rec.Type, Subtype: rec.Subtype,
				Err: fmt.Errorf("BGP4MP_ET length %d too short for the microsecond timestamp", length)}
		}
		rec.Microseconds = binary.BigEndian.Uint32(body)
		body = body[4:]
	}
	rec.Body = body
	return rec, nil
}

// readBody reads n bytes into the reused buffer. It grows the buffer as data
// arrives, so a corrupt header cannot make it allocate more than the input
// holds.
func (r *Reader) readBody(n int) ([]byte, int, error) {
	const chunk = 1 << 20
	if cap(r.buf) >= n {
		b := r.buf[:n]
		got, err := io.ReadFull(r.r, b)
		r.off += int64(got)
		return b, got, err
	}
	b := r.buf[:0]
	for len(b) < n {
		want := min(n-len(b), chunk)
		if cap(b)-len(b) < want {
			nb := make([]byte, len(b), max(len(b)+want, 2*cap(b)))
			copy(nb, b)
			b = nb
		}
		got, err := io.ReadFull(r.r, b[len(b):len(b)+want])
		b = b[:len(b)+got]
		r.off += int64(got)
		if err != nil {
			r.buf = b
			return nil, len(b), err
		}
	}
	r.buf = b
	return b, n, nil
}
