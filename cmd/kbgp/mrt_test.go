package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kbgp/kbgp/internal/mrt"
)

func TestMRTDumpCmd(t *testing.T) {
	dir := filepath.Join("..", "..", "..", "shared", "testdata", "mrt")
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("shared MRT test data not present: %v", err)
	}
	cases := []struct {
		name    string
		file    string
		out     string // expected stdout prefix
		errPart string // expected error substring, "" for success
	}{
		{"update", "bgpdump__updates.nlri_mask_trailing_bits.gz",
			"BGP4MP|1289168632|A|12.0.1.63|7018|11.8.0.0/13|7018 3549 12389 48275 51044|IGP|12.0.1.63|0|0|6923:3339|NAG||\n", ""},
		{"truncated bzip2", "pyasn__rib6.20151101.0600_firstMB.bz2", "TABLE_DUMP2|1446357600|B|", "offset 12131168"},
		{"missing file", "no-such-file.mrt", "", "no such file"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			root := newRootCmd()
			root.SetOut(&out)
			root.SetErr(&errOut)
			root.SetArgs([]string{"mrt", "dump", "-q", filepath.Join(dir, tc.file)})
			err := root.Execute()
			if tc.errPart == "" {
				if err != nil {
					t.Fatal(err)
				}
				if out.String() != tc.out {
					t.Errorf("stdout %q, want %q", out.String(), tc.out)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.errPart) {
				t.Fatalf("error %v, want one containing %q", err, tc.errPart)
			}
			if tc.name == "truncated bzip2" && !errors.Is(err, mrt.ErrTruncated) {
				t.Errorf("error does not wrap mrt.ErrTruncated: %v", err)
			}
			if !strings.HasPrefix(out.String(), tc.out) {
				t.Errorf("stdout starts %q, want %q", out.String()[:min(len(out.String()), 80)], tc.out)
			}
		})
	}
}
