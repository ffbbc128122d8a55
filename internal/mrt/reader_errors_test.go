package mrt

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func rawRecord(ts uint32, t Type, st uint16, length uint32, body []byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, ts)
	b = binary.BigEndian.AppendUint16(b, uint16(t))
	b = binary.BigEndian.AppendUint16(b, st)
	b = binary.BigEndian.AppendUint32(b, length)
	return append(b, body...)
}

func gz(b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

func TestReaderErrors(t *testing.T) {
	good := rawRecord(1, TypeBGP4MP, SubtypeStateChange, 20, make([]byte, 20))
	cases := []struct {
		name      string
		in        []byte
		records   int    // records read before the error
		want      string // "" for a clean io.EOF
		truncated bool
	}{
		{"empty", nil, 0, "", false},
		{"one record", good, 1, "", false},
		{"header cut", append(good, good[:5]...), 1, "mrt: record at offset 32: truncated: header has 5 of 12 bytes", true},
		{"body cut", append(append([]byte{}, good...), rawRecord(2, TypeTableDumpV2, 2, 100, []byte{1, 2, 3})...), 1,
			"mrt: record at offset 32 (TABLE_DUMP_V2 subtype 2): truncated: header says 100 bytes, 3 present", true},
		{"ET without microseconds", rawRecord(1, TypeBGP4MPET, SubtypeMessageAS4, 2, []byte{0, 0}), 0, "too short for the microsecond timestamp", false},
		{"absurd length", rawRecord(1, TypeTableDumpV2, 2, 0xfffffff0, nil), 0, "more than the 67108864-byte limit", false},
		{"gzip clean", gz(append(good, good...)), 2, "", false},
		{"gzip cut", gz(append(good, good...))[:30], 2, "gzip", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := NewReader(bytes.NewReader(tc.in))
			n := 0
			var err error
			for {
				var rec *Record
				rec, err = r.Next()
				if err != nil {
					break
				}
				n++
				if rec.Offset != int64(32*(n-1)) {
					t.Errorf("record %d at offset %d", n, rec.Offset)
				}
			}
			if n != tc.records {
				t.Errorf("read %d records, want %d", n, tc.records)
			}
			if tc.want == "" {
				if err != io.EOF {
					t.Fatalf("got %v, want io.EOF", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
			if errors.Is(err, ErrTruncated) != tc.truncated {
				t.Errorf("errors.Is(ErrTruncated) = %v, want %v", !tc.truncated, tc.truncated)
			}
			if _, err2 := r.Next(); err2 != err {
				t.Errorf("error not sticky: then %v", err2)
			}
		})
	}
}

// TestReaderBzip2Truncated cuts a bzip2 file of the shared data in the
// middle of its compressed stream.
func TestReaderBzip2Truncated(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(sharedDir(t), "libbgpstream__routeviews.route-views.jinx.updates.1427846400.bz2"))
	if err != nil {
		t.Fatal(err)
	}
	r := NewReader(bytes.NewReader(data[:len(data)/2]))
	n := 0
	for {
		_, err = r.Next()
		if err != nil {
			break
		}
		n++
	}
	var re *RecordError
	if !errors.Is(err, ErrTruncated) || !errors.As(err, &re) || !strings.Contains(err.Error(), "bzip2") {
		t.Fatalf("after %d records: %v, want a bzip2 truncation error", n, err)
	}
	if r.Compression() != "bzip2" {
		t.Errorf("compression %q, %d records", r.Compression(), n)
	}
	t.Log(err)
}

func TestDecodeErrors(t *testing.T) {
	cases := []struct {
		name string
		rec  Record
		dec  func(*Record) error
		want string
	}{
		{"TABLE_DUMP unknown AFI", Record{Type: TypeTableDump, Subtype: 3}, func(r *Record) error { return r.TableDump(&TableDump{}) }, "unknown TABLE_DUMP subtype"},
		{"TABLE_DUMP prefix length", Record{Type: TypeTableDump, Subtype: 1, Body: func() []byte {
			b := make([]byte, 22)
			b[8] = 33
			return b
		}()}, func(r *Record) error { return r.TableDump(&TableDump{}) }, "prefix length 33 exceeds 32"},
		{"TABLE_DUMP short", Record{Type: TypeTableDump, Subtype: 1, Body: make([]byte, 10)}, func(r *Record) error { return r.TableDump(&TableDump{}) }, "originated time needs 4 bytes at body offset 10"},
		{"PEER_INDEX_TABLE short", Record{Type: TypeTableDumpV2, Subtype: 1, Body: []byte{10, 0, 0, 1, 0, 0, 0, 2, 3}}, func(r *Record) error { return r.PeerIndexTable(&PeerIndexTable{}) }, "peer BGP ID needs 4 bytes"},
		{"RIB prefix too long", Record{Type: TypeTableDumpV2, Subtype: 2, Body: []byte{0, 0, 0, 0, 40}}, func(r *Record) error { return r.RIB(&RIB{}) }, "prefix length 40 exceeds 32"},
		{"RIB entry cut", Record{Type: TypeTableDumpV2, Subtype: 2, Body: []byte{0, 0, 0, 0, 8, 10, 0, 1, 0, 0}}, func(r *Record) error { return r.RIB(&RIB{}) }, "entry 0 of 1"},
		{"RIB_GENERIC", Record{Type: TypeTableDumpV2, Subtype: 6}, func(r *Record) error { return r.RIB(&RIB{}) }, "RIB_GENERIC"},
		{"BGP4MP_ENTRY", Record{Type: TypeBGP4MP, Subtype: 2}, func(r *Record) error { return r.BGP4MP(&BGP4MP{}) }, "deprecated"},
		{"BGP4MP AFI", Record{Type: TypeBGP4MP, Subtype: 1, Body: []byte{0, 1, 0, 2, 0, 0, 0, 3}}, func(r *Record) error { return r.BGP4MP(&BGP4MP{}) }, "address family 3"},
		{"BGP4MP short message", Record{Type: TypeBGP4MP, Subtype: 1, Body: append([]byte{0, 1, 0, 2, 0, 0, 0, 1}, make([]byte, 12)...)}, func(r *Record) error { return r.BGP4MP(&BGP4MP{}) }, "header alone needs 19"},
		{"wrong decoder", Record{Type: TypeBGP4MP}, func(r *Record) error { return r.RIB(&RIB{}) }, ErrWrongType.Error()},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.dec(&tc.rec)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
		})
	}
}

func TestReaderCorruptGzip(t *testing.T) {
	good := rawRecord(1, TypeBGP4MP, SubtypeStateChange, 20, make([]byte, 20))
	z := gz(good)
	z[len(z)-8] ^= 0xff // CRC-32 of the gzip trailer
	r := NewReader(bytes.NewReader(z))
	_, err := r.Next()
	if err == nil {
		_, err = r.Next()
	}
	if err == nil || errors.Is(err, ErrTruncated) || !strings.Contains(err.Error(), "gzip stream") || !strings.Contains(err.Error(), "offset") {
		t.Fatalf("got %v, want a gzip stream error with the offset, not a truncation", err)
	}
}
