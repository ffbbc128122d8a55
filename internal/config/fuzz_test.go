package config

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// FuzzDecode checks that Decode never panics, and that whatever it accepts
// encodes and decodes back to the same resources.
func FuzzDecode(f *testing.F) {
	for _, pat := range []string{"testdata/decode/*", "testdata/seed/*.yaml", "testdata/compile/*/*.yaml"} {
		files, _ := filepath.Glob(pat)
		for _, file := range files {
			data, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
		}
	}
	f.Add([]byte("kind: List\napiVersion: v1\nitems: [{kind: Node, apiVersion: kbgp.io/v1, metadata: {name: a}}]"))
	f.Add([]byte("a: &x [*x]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		rs, err := Decode("fuzz.yaml", data)
		if err != nil {
			if len(FieldErrors(err)) == 0 {
				t.Fatalf("error without FieldErrors: %v", err)
			}
			return
		}
		for _, format := range []string{"yaml", "json"} {
			out, err := EncodeAll(rs, format)
			if err != nil {
				t.Fatalf("EncodeAll %s of accepted input: %v", format, err)
			}
			again, err := Decode("again", out)
			if err != nil {
				t.Fatalf("re-decoding %s: %v\n%s", format, err, out)
			}
			if len(rs) > 0 && !reflect.DeepEqual(rs, again) {
				t.Fatalf("%s round trip changed resources:\n%s", format, out)
			}
		}
	})
}

// FuzzCompile decodes the input and compiles every node: whatever Decode
// accepts must compile without error or panic, deterministically.
func FuzzCompile(f *testing.F) {
	files, _ := filepath.Glob("testdata/compile/*/*.yaml")
	for _, file := range files {
		if filepath.Base(file) == "services.yaml" {
			continue
		}
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		rs, err := Decode("fuzz.yaml", data)
		if err != nil {
			return
		}
		in := NewInput(rs, nil)
		names := map[string]bool{}
		for _, n := range in.Nodes {
			if names[n.Name()] {
				return // a duplicate node is a Compile error by design
			}
			names[n.Name()] = true
		}
		for _, n := range in.Nodes {
			s1, err := Compile(in, n.Name())
			if err != nil {
				t.Fatalf("Compile %s of decoded input: %v", n.Name(), err)
			}
			s2, _ := Compile(in, n.Name())
			if d := Diff(s1, s2); !d.IsEmpty() {
				t.Fatalf("Compile is not deterministic: %+v", d)
			}
		}
	})
}
