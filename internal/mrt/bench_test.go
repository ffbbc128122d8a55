package mrt

import (
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/kbgp/kbgp/internal/bgp/wire"
)

// loadRaw returns the decompressed PCH full-table UPDATE stream.
func loadRaw(b *testing.B) []byte {
	f, err := os.Open(filepath.Join(sharedDir(b), "bgpdump__updates.et-header.2015.gz"))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		b.Fatal(err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		b.Fatal(err)
	}
	return raw
}

// BenchmarkReadTable reads the 89,686 records of a full-table BGP4MP_ET
// stream from memory and decodes every UPDATE with wire.
func BenchmarkReadTable(b *testing.B) {
	raw := loadRaw(b)
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	var (
		m BGP4MP
		d RouteDecoder
		u wire.Update
	)
	prefixes := 0
	for b.Loop() {
		prefixes = 0
		r := NewReader(bytes.NewReader(raw))
		for {
			rec, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			if rec.BGP4MP(&m) != nil || m.IsStateChange() {
				continue
			}
			if typ, err := m.MessageType(); err != nil || typ != wire.MsgUpdate {
				continue
			}
			_ = d.Update(&u, &m)
			prefixes += len(u.NLRI)
		}
	}
	b.ReportMetric(float64(prefixes)*float64(b.N)/b.Elapsed().Seconds(), "prefixes/s")
}

// BenchmarkBGPDump formats the same stream as `bgpdump -m` text.
func BenchmarkBGPDump(b *testing.B) {
	raw := loadRaw(b)
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		if err := WriteBGPDump(io.Discard, bytes.NewReader(raw), nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(577744*float64(b.N)/b.Elapsed().Seconds(), "lines/s")
}
