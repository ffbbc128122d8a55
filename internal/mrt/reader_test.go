package mrt

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// TestSharedFiles reads every MRT file of the shared test data to the end,
// decoding every record body kbgp understands. Files known to be cut short
// must fail with ErrTruncated and the offset of the cut record.
func TestSharedFiles(t *testing.T) {
	dir := sharedDir(t)
	files, err := filepath.Glob(filepath.Join(dir, "*"))
	if err != nil {
		t.Fatal(err)
	}
	truncated := map[string]string{
		"pyasn__rib.20140523.0600_firstMB.bz2":  "bzip2",
		"pyasn__rib6.20151101.0600_firstMB.bz2": "bzip2",
	}
	n := 0
	for _, f := range files {
		base := filepath.Base(f)
		if strings.HasSuffix(base, ".md") || strings.Contains(base, ".expected-") {
			continue
		}
		n++
		t.Run(base, func(t *testing.T) {
			fh, err := os.Open(f)
			if err != nil {
				t.Fatal(err)
			}
			defer fh.Close()
			counts, err := readAll(fh)
			if want, ok := truncated[base]; ok {
				var re *RecordError
				if !errors.Is(err, ErrTruncated) || !errors.As(err, &re) {
					t.Fatalf("want a truncation error, got %v", err)
				}
				if !strings.Contains(err.Error(), fmt.Sprintf("offset %d", re.Offset)) || !strings.Contains(err.Error(), want) {
					t.Errorf("error %q should name the offset and the %s stream", err, want)
				}
				t.Logf("records %v; %v", counts, err)
				return
			}
			if err != nil {
				t.Fatalf("records %v: %v", counts, err)
			}
			if len(counts) == 0 {
				t.Fatal("no records")
			}
			t.Logf("records %v", counts)
		})
	}
	if n < 20 {
		t.Errorf("found only %d MRT files in %s", n, dir)
	}
}

type countMap map[string]int

func (c countMap) String() string {
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%d ", k, c[k])
	}
	return strings.TrimSpace(b.String())
}

// readAll reads and decodes every record of r, returning counts per
// type/subtype (and per decode outcome).
func readAll(r io.Reader) (countMap, error) {
	counts := countMap{}
	mr := NewReader(r)
	var (
		td  TableDump
		pit PeerIndexTable
		rib RIB
		mp  BGP4MP
	)
	for {
		rec, err := mr.Next()
		if err == io.EOF {
			return counts, nil
		}
		if err != nil {
			return counts, err
		}
		key := fmt.Sprintf("%v/%d", rec.Type, rec.Subtype)
		var derr error
		switch rec.Type {
		case TypeTableDump:
			derr = rec.TableDump(&td)
		case TypeTableDumpV2:
			if rec.Subtype == SubtypePeerIndexTable {
				derr = rec.PeerIndexTable(&pit)
			} else {
				derr = rec.RIB(&rib)
			}
		case TypeBGP4MP, TypeBGP4MPET:
			derr = rec.BGP4MP(&mp)
		}
		if derr != nil {
			// Only the deprecated and non-unicast record kinds may fail.
			msg := errors.Unwrap(derr).Error()
			if !strings.Contains(msg, "RIB_GENERIC") && !strings.Contains(msg, "deprecated BGP4MP subtype") {
				return counts, derr
			}
			key += " skipped"
		}
		counts[key]++
	}
}
