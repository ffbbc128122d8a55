package fib_test

import (
	"bufio"
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/kbgp/kbgp/internal/fib"
)

// benchRoutes is the size of the install/remove benchmarks.
const benchRoutes = 100_000

// benchPrefix returns the i-th /26 in 10.0.0.0/8 (Calico's block size).
func benchPrefix(i int) netip.Prefix {
	v := uint32(10)<<24 | uint32(i)<<6
	return netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), 26)
}

// BenchmarkNetlinkInstallRemove100k installs 100k routes with one Set and
// removes them with another, in a fresh namespace, and reports routes/s
// for each half. Compare with BenchmarkIPBatchInstallRemove100k:
//
//	go test -run XXX -bench InstallRemove100k -benchtime 3x ./internal/fib/
func BenchmarkNetlinkInstallRemove100k(b *testing.B) {
	ns := lab(b)
	f := newFIB(b, ns, fib.Options{})
	ctx := context.Background()
	desired := make([]fib.Route, benchRoutes)
	for i := range desired {
		desired[i] = fib.Route{Prefix: benchPrefix(i), NextHops: []fib.NextHop{{Gateway: netip.AddrFrom4([4]byte{192, 0, 2, 2})}}}
	}
	var add, del, addCPU, delCPU time.Duration
	for b.Loop() {
		t0, c0 := time.Now(), cpuTime(b)
		res, err := f.Set(ctx, desired)
		if err != nil || res.Added != benchRoutes {
			b.Fatalf("install: %+v, %v", res, err)
		}
		t1, c1 := time.Now(), cpuTime(b)
		res, err = f.Set(ctx, nil)
		if err != nil || res.Deleted != benchRoutes {
			b.Fatalf("remove: %+v, %v", res, err)
		}
		add += t1.Sub(t0)
		del += time.Since(t1)
		addCPU += c1 - c0
		delCPU += cpuTime(b) - c1
	}
	report(b, add, del, addCPU, delCPU)
}

// report adds routes per wall-clock second and per CPU second (user+system
// time of the programming process, which includes the kernel's work in its
// syscalls): the second is meaningful on a loaded machine.
func report(b *testing.B, add, del, addCPU, delCPU time.Duration) {
	n := float64(benchRoutes * b.N)
	b.ReportMetric(n/add.Seconds(), "install-routes/s")
	b.ReportMetric(n/del.Seconds(), "remove-routes/s")
	b.ReportMetric(n/addCPU.Seconds(), "install-routes/cpu-s")
	b.ReportMetric(n/delCPU.Seconds(), "remove-routes/cpu-s")
}

// cpuTime is this process's user+system CPU time so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkIPBatchInstallRemove100k does the same with `ip -n NS -batch`
// (iproute2: one request and ack per route), as the baseline.
func BenchmarkIPBatchInstallRemove100k(b *testing.B) {
	ns := lab(b)
	dir := b.TempDir()
	write := func(name, verb, suffix string) string {
		p := filepath.Join(dir, name)
		fh, err := os.Create(p)
		if err != nil {
			b.Fatal(err)
		}
		w := bufio.NewWriter(fh)
		for i := range benchRoutes {
			fmt.Fprintf(w, "route %s %v%s\n", verb, benchPrefix(i), suffix)
		}
		if err := w.Flush(); err != nil {
			b.Fatal(err)
		}
		if err := fh.Close(); err != nil {
			b.Fatal(err)
		}
		return p
	}
	addFile := write("add", "replace", " via 192.0.2.2 proto 77")
	delFile := write("del", "del", " proto 77")
	run := func(file string) (wall, cpu time.Duration) {
		cmd := ns.Command(context.Background(), "ip", "-batch", file)
		t0 := time.Now()
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("ip -batch %s: %v\n%s", file, err, out)
		}
		return time.Since(t0), cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	}
	var add, del, addCPU, delCPU time.Duration
	for b.Loop() {
		w, c := run(addFile)
		add, addCPU = add+w, addCPU+c
		w, c = run(delFile)
		del, delCPU = del+w, delCPU+c
	}
	report(b, add, del, addCPU, delCPU)
}
