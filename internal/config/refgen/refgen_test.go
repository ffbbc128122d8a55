package refgen

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite docs/reference.md")

var (
	apiDir  = filepath.Join("..", "..", "..", "api")
	docPath = filepath.Join("..", "..", "..", "docs", "reference.md")
)

// TestReference fails when docs/reference.md is not what the api types
// generate.
func TestReference(t *testing.T) {
	got, err := Generate(apiDir)
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.MkdirAll(filepath.Dir(docPath), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(docPath, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(docPath)
	if err != nil {
		t.Fatalf("%v; run go generate ./internal/config/refgen", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("docs/reference.md is stale; run go generate ./internal/config/refgen")
	}
}

// TestReferenceCoversFields spot-checks rows, defaults and groups.
func TestReferenceCoversFields(t *testing.T) {
	got, err := Generate(apiDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, row := range []string{
		"| `spec.asNumber` | AS number | `64512` | both |",
		"| `spec.nodeToNodeMeshEnabled` | bool | `true` | both |",
		"| `spec.holdTime` | duration | `240s` | kbgp.io/v1 |",
		"| `spec.addPath.send` | bool | `true` | kbgp.io/v1 |",
		"| `spec.exportV4[].prefixLength.min` | integer |",
		"| `spec.affineBlocks[].cidr` | CIDR | – | kbgp.io/v1 |",
		"| `spec.blockSize` | integer | `26 (IPv4), 122 (IPv6)` | both |",
		"| `metadata.labels` | map of string |",
	} {
		if !strings.Contains(string(got), row) {
			t.Errorf("reference lacks %q", row)
		}
	}
	if _, err := Generate(t.TempDir()); err == nil {
		t.Error("Generate of an empty dir succeeded")
	}
}
