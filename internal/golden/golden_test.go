package golden

import (
	"os"
	"path/filepath"
	"testing"
)

// recorder captures failures instead of failing the test.
type recorder struct {
	testing.TB
	failed bool
}

func (r *recorder) Errorf(string, ...any) { r.failed = true }
func (r *recorder) Fatalf(string, ...any) { r.failed = true; panic(r) }
func (r *recorder) Helper()               {}
func (r *recorder) Name() string          { return "TestX" }

func check(path string, got []byte) (failed bool) {
	r := &recorder{}
	defer func() {
		if v := recover(); v != nil && v != r {
			panic(v)
		}
		failed = r.failed
	}()
	Check(r, path, got)
	return r.failed
}

func TestCheck(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.golden")
	if !check(path, []byte("a\n")) {
		t.Error("a missing golden file passed")
	}
	if err := os.WriteFile(path, []byte("a\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if check(path, []byte("a\n")) {
		t.Error("equal output failed")
	}
	if !check(path, []byte("b\n")) {
		t.Error("different output passed")
	}
}
