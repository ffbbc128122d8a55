package wire

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/decode")

// TestDecodeGolden renders each testdata/decode/*.hex as text and JSON and
// compares with the .txt and .json golden files (go test -update rewrites
// them).
func TestDecodeGolden(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("testdata", "decode", "*.hex"))
	if len(files) == 0 {
		t.Fatal("no golden inputs")
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".hex")
		t.Run(name, func(t *testing.T) {
			src, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			o := &Options{AS4: !strings.Contains(string(src), "as4=false")}
			if strings.Contains(string(src), "options: addpath") {
				o.AddPath = []Family{IPv4Unicast, IPv6Unicast}
			}
			raw, err := ParseHex(string(src))
			if err != nil {
				t.Fatal(err)
			}
			msgs, err := SplitMessages(raw)
			if err != nil || len(msgs) != 1 {
				t.Fatalf("SplitMessages: %d messages, %v", len(msgs), err)
			}
			m, err := DecodeMessage(msgs[0], o)
			if err != nil {
				t.Fatal(err)
			}
			js, err := json.MarshalIndent(m.View(), "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			golden(t, filepath.Join("testdata", "decode", name+".txt"), m.String())
			golden(t, filepath.Join("testdata", "decode", name+".json"), string(js)+"\n")
		})
	}
}

func golden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run TestDecodeGolden -update to create it)", err)
	}
	if string(want) != got {
		t.Fatalf("%s differs:\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

func TestSplitMessagesWithoutMarker(t *testing.T) {
	raw, err := ParseHex("0x0017 0x05 0x0002 0x01 0x01 ffffffffffffffffffffffffffffffff:0013:04")
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := SplitMessages(raw)
	if err != nil || len(msgs) != 2 || len(msgs[0]) != 23 || len(msgs[1]) != 19 {
		t.Fatalf("got %d messages %v", len(msgs), err)
	}
	if _, err := SplitMessages([]byte{0, 0x40, 2}); err == nil {
		t.Fatal("a length that does not fit was accepted")
	}
}
