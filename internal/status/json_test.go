package status

import (
	"encoding/json"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestPeerJSONGolden pins the API's JSON for a fully populated peer, the
// contract `kbgp node peers -o json` users script against.
func TestPeerJSONGolden(t *testing.T) {
	b, err := json.MarshalIndent(detailPeer, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "peer.json", append(b, '\n'))

	var back Peer
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	opts := cmp.Options{cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) }), cmpAddr}
	if diff := cmp.Diff(detailPeer, back, opts); diff != "" {
		t.Errorf("JSON round trip (-want +got):\n%s", diff)
	}
}

func TestDurationJSON(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    Duration
		wantErr bool
	}{
		{"string", `"1m30s"`, Duration(90 * time.Second), false},
		{"fraction", `"1.5s"`, Duration(1500 * time.Millisecond), false},
		{"nanoseconds", `2000000000`, Duration(2 * time.Second), false},
		{"bad string", `"soon"`, 0, true},
		{"bad type", `true`, 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var d Duration
			err := json.Unmarshal([]byte(tc.in), &d)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tc.wantErr)
			}
			if err == nil && d != tc.want {
				t.Errorf("got %v, want %v", d, tc.want)
			}
		})
	}
	b, _ := json.Marshal(Duration(240 * time.Second))
	if string(b) != `"4m0s"` {
		t.Errorf("Marshal = %s", b)
	}
}

// cmpAddr compares netip values by value.
var cmpAddr = cmp.Options{
	cmp.Comparer(func(a, b netip.Addr) bool { return a == b }),
	cmp.Comparer(func(a, b netip.Prefix) bool { return a == b }),
}
