package scenario

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/kbgp/kbgp/internal/bgp/wire"
)

func TestClientAddr(t *testing.T) {
	for _, tc := range []struct {
		i    int
		want string
	}{{0, "10.100.0.2"}, {253, "10.100.0.255"}, {254, "10.100.1.0"}, {1999, "10.100.7.209"}} {
		if got := ClientAddr(tc.i).String(); got != tc.want {
			t.Errorf("ClientAddr(%d) = %s, want %s", tc.i, got, tc.want)
		}
		if !ClientNet.Contains(ClientAddr(tc.i)) {
			t.Errorf("ClientAddr(%d) outside %v", tc.i, ClientNet)
		}
	}
}

func TestK8s(t *testing.T) {
	const n = 5
	w, err := K8s(n, true)
	if err != nil {
		t.Fatal(err)
	}
	per := 1 + ServicesPerClient
	if w.Routes != n*per || len(w.Clients) != n {
		t.Fatalf("%d routes, %d clients; want %d, %d", w.Routes, len(w.Clients), n*per, n)
	}
	churned := 0
	for i := range w.Routes {
		if w.Churn.Has(int32(i)) {
			churned++
		}
	}
	if want := (w.Routes + 9) / 10; churned != want {
		t.Errorf("churn marks %d prefixes, want 10%% = %d", churned, want)
	}
	for i, c := range w.Clients {
		if c.WantN != (n-1)*per {
			t.Errorf("client %d wants %d prefixes, want %d", i, c.WantN, (n-1)*per)
		}
		// A client never wants its own routes.
		for k := i * per; k < (i+1)*per; k++ {
			if c.Want.Has(int32(k)) {
				t.Errorf("client %d wants its own prefix %v", i, w.Index.Prefix(int32(k)))
			}
		}
		var u wire.Update
		msg := c.Announce
		if err := u.Decode(msg[wire.HeaderLen:], nil); err != nil {
			t.Fatal(err)
		}
		if len(u.NLRI) != per || u.Attrs.NextHop != c.Addr || u.NLRI[0].Prefix.Bits() != 26 {
			t.Errorf("client %d announces %d prefixes via %v, want %d via its own address, the /26 first", i, len(u.NLRI), u.Attrs.NextHop, per)
		}
	}
	for _, bad := range []int{1, MaxClients + 1} {
		if _, err := K8s(bad, false); err == nil {
			t.Errorf("K8s(%d): no error", bad)
		}
	}
}

func TestSessions(t *testing.T) {
	w, err := Sessions(30)
	if err != nil {
		t.Fatal(err)
	}
	if len(w.Clients) != 31 || w.Routes != 30 {
		t.Fatalf("%d clients, %d routes; want 31 (30 + monitor), 30", len(w.Clients), w.Routes)
	}
	for i, c := range w.Clients[:30] {
		if c.Want != nil {
			t.Errorf("client %d is not drain-only", i)
		}
	}
	if m := w.Clients[30]; m.WantN != 30 || len(m.Announce) != 0 {
		t.Errorf("monitor wants %d, announces %d bytes", m.WantN, len(m.Announce))
	}
}

// sharedData finds ../shared/testdata beside the repository root.
func sharedData(t *testing.T) string {
	dir, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && string(b[:min(len(b), 28)]) == "module github.com/kbgp/kbgp\n" {
			break
		}
		if filepath.Dir(dir) == dir {
			t.Fatal("kbgp repository root not found")
		}
		dir = filepath.Dir(dir)
	}
	d := filepath.Join(dir, "..", "shared", "testdata")
	if _, err := os.Stat(filepath.Join(d, TableFile)); err != nil {
		t.Skipf("shared test data not present (%v); clone ../shared beside the repository", err)
	}
	return d
}

func TestTable(t *testing.T) {
	path := filepath.Join(sharedData(t), TableFile)
	const limit = 5000
	tb, err := LoadTable(path, limit, AS)
	if err != nil {
		t.Fatal(err)
	}
	if tb.Prefixes != limit {
		t.Fatalf("%d prefixes, want %d", tb.Prefixes, limit)
	}
	for _, g := range tb.Groups {
		if hasAS(g.Attrs.ASPath, AS) || !g.Attrs.Has(wire.AttrLocalPref) || g.Attrs.Has(wire.AttrNextHop) {
			t.Fatalf("group %v: AS path %v (must not hold %d), LOCAL_PREF set, NEXT_HOP not yet set", g.Prefixes[0], g.Attrs.ASPath, AS)
		}
	}
	w, err := TableLoad(tb, 3)
	if err != nil {
		t.Fatal(err)
	}
	if len(w.Clients) != 4 || w.Routes != limit || w.Clients[3].WantN != limit {
		t.Fatalf("%d clients, %d routes, monitor wants %d", len(w.Clients), w.Routes, w.Clients[3].WantN)
	}
	// Each tester's stream decodes back to the whole table with its own
	// next hop.
	for _, c := range w.Clients[:3] {
		seen := 0
		for b := c.Announce; len(b) > 0; {
			msg, rest, ok, err := wire.Split(b, wire.MaxMessageLen)
			if err != nil || !ok {
				t.Fatalf("tester %s: bad stream: %v", c.Addr, err)
			}
			var u wire.Update
			if err := u.Decode(msg[wire.HeaderLen:], &wire.Options{AS4: true}); err != nil {
				t.Fatalf("tester %s: %v", c.Addr, err)
			}
			if u.Attrs.NextHop != c.Addr {
				t.Fatalf("tester %s announces next hop %v", c.Addr, u.Attrs.NextHop)
			}
			seen += len(u.NLRI)
			b = rest
		}
		if seen != limit {
			t.Errorf("tester %s announces %d prefixes, want %d", c.Addr, seen, limit)
		}
	}
	// The whole table: the loop-free distinct prefixes.
	if testing.Short() {
		return
	}
	full, err := LoadTable(path, 0, AS)
	if err != nil {
		t.Fatal(err)
	}
	if full.Prefixes != 577672 {
		t.Errorf("whole table: %d prefixes, want 577672 (577684 minus 12 with AS %d in the path)", full.Prefixes, AS)
	}
}
