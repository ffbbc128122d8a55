package store

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/kbgp/kbgp/api"
	"github.com/kbgp/kbgp/internal/config"
)

const iterations = 15

// hammer is one writer: it opens its own store instance on dir and, for
// each iteration, sets its own label on the shared node (read-modify-write),
// applies one of its own peers, and replaces a peer every writer fights
// over. It returns how many writes changed the store.
func hammer(dir string, id int) (int, error) {
	ctx := context.Background()
	f, err := Open(dir, nil)
	if err != nil {
		return 0, err
	}
	writes := 0
	count := func(r Result, err error) error {
		if r != Unchanged {
			writes++
		}
		return err
	}
	for j := range iterations {
		label := fmt.Sprintf("w%d", id)
		err := count(f.Update(ctx, api.KindNode, "shared", func(r api.Resource) error {
			m := r.Meta()
			if m.Labels == nil {
				m.Labels = map[string]string{}
			}
			m.Labels[label] = strconv.Itoa(j)
			return nil
		}))
		if err != nil {
			return writes, err
		}
		own, err := decodeResource(fmt.Sprintf(peerTemplate, fmt.Sprintf("p-%d-%d", id, j%3), 64512+j))
		if err != nil {
			return writes, err
		}
		if err := count(f.Apply(ctx, own)); err != nil {
			return writes, err
		}
		common, err := decodeResource(fmt.Sprintf(peerTemplate, "common", 65000+id))
		if err != nil {
			return writes, err
		}
		if err := count(f.Apply(ctx, common)); err != nil {
			return writes, err
		}
	}
	return writes, nil
}

const peerTemplate = `apiVersion: projectcalico.org/v3
kind: BGPPeer
metadata:
  name: %s
spec:
  peerIP: 10.0.0.1
  asNumber: %d
`

// checkConsistent verifies the store after the writers: every file decodes,
// no temporary files remain, every writer's last label is present (no lost
// update) and the revision equals the number of changing writes (no write
// went unserialised).
func checkConsistent(t *testing.T, dir string, writers, writes int) {
	t.Helper()
	f, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	rs, err := f.List(context.Background())
	if err != nil {
		t.Fatalf("List after concurrent writes: %v", err)
	}
	peers := 0
	for _, r := range rs {
		if r.Kind() == api.KindBGPPeer {
			peers++
		}
	}
	if want := writers*3 + 1; peers != want {
		t.Errorf("%d peers stored, want %d", peers, want)
	}
	node, err := f.Get(context.Background(), api.KindNode, "shared")
	if err != nil {
		t.Fatal(err)
	}
	for i := range writers {
		if v := node.Meta().Labels[fmt.Sprintf("w%d", i)]; v != strconv.Itoa(iterations-1) {
			t.Errorf("label w%d = %q, want %d (lost update)", i, v, iterations-1)
		}
	}
	rev, _ := os.ReadFile(filepath.Join(dir, ".lock"))
	if got := strings.TrimSpace(string(rev)); got != strconv.Itoa(writes) {
		t.Errorf("revision %s, want %d changing writes", got, writes)
	}
	tmps, _ := filepath.Glob(filepath.Join(dir, "*", ".*"))
	if len(tmps) > 0 {
		t.Errorf("temporary files left: %v", tmps)
	}
}

func setupShared(t *testing.T) string {
	dir := t.TempDir()
	f, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Apply(context.Background(), decodeOne(t, nodeYAML("shared", "10.0.0.9/24"))); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestConcurrentWritersGoroutines(t *testing.T) {
	dir := setupShared(t)
	const writers = 6
	var wg sync.WaitGroup
	var mu sync.Mutex
	total := 1 // the node created by setupShared
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n, err := hammer(dir, i)
			mu.Lock()
			defer mu.Unlock()
			total += n
			if err != nil {
				t.Errorf("writer %d: %v", i, err)
			}
		}()
	}
	wg.Wait()
	checkConsistent(t, dir, writers, total)
}

// TestConcurrentWritersProcesses runs the writers as separate processes
// (this test binary re-executed), which exercises flock between processes.
func TestConcurrentWritersProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("starts subprocesses")
	}
	dir := setupShared(t)
	const writers = 4
	cmds := make([]*exec.Cmd, writers)
	outs := make([]*strings.Builder, writers)
	for i := range writers {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperWriter$")
		cmd.Env = append(os.Environ(), "KBGP_STORE_TEST_DIR="+dir, "KBGP_STORE_TEST_ID="+strconv.Itoa(i))
		outs[i] = &strings.Builder{}
		cmd.Stdout, cmd.Stderr = outs[i], outs[i]
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds[i] = cmd
	}
	total := 1
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Fatalf("writer process %d: %v\n%s", i, err, outs[i])
		}
		var n int
		for _, line := range strings.Split(outs[i].String(), "\n") {
			if s, ok := strings.CutPrefix(line, "writes="); ok {
				n, _ = strconv.Atoi(s)
			}
		}
		if n == 0 {
			t.Fatalf("writer process %d reported no writes:\n%s", i, outs[i])
		}
		total += n
	}
	checkConsistent(t, dir, writers, total)
}

// TestHelperWriter is the body of a writer process; it does nothing unless
// started by TestConcurrentWritersProcesses.
func TestHelperWriter(t *testing.T) {
	dir := os.Getenv("KBGP_STORE_TEST_DIR")
	if dir == "" {
		t.Skip("helper process for TestConcurrentWritersProcesses")
	}
	id, _ := strconv.Atoi(os.Getenv("KBGP_STORE_TEST_ID"))
	n, err := hammer(dir, id)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("writes=%d\n", n)
}

func decodeResource(text string) (api.Resource, error) {
	rs, err := config.Decode("test.yaml", []byte(text))
	if err != nil {
		return nil, err
	}
	if len(rs) != 1 {
		return nil, fmt.Errorf("decoded %d resources, want 1", len(rs))
	}
	return rs[0], nil
}
