package lab

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestSummarize(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		var d []time.Duration
		for _, x := range v {
			d = append(d, time.Duration(x)*time.Millisecond)
		}
		return d
	}
	end := 3 * time.Second
	for _, tc := range []struct {
		name string
		at   []time.Duration
		ok   []bool
		want ScenarioResult
	}{
		{"no loss", ms(-100, 0, 100, 2900), []bool{true, true, true, true},
			ScenarioResult{Sent: 4, Recovered: true, FirstLoss: -1}},
		{"loss before only", ms(-100, 0, 2900), []bool{false, true, true},
			ScenarioResult{Sent: 3, LostBefore: 1, Recovered: true, FirstLoss: -1}},
		{"outage then recovery", ms(-50, 100, 150, 200, 250, 2900), []bool{true, false, false, false, true, true},
			ScenarioResult{Sent: 6, LostAfter: 3, FirstLoss: 100 * time.Millisecond, Outage: 150 * time.Millisecond, Recovered: true}},
		{"never recovers", ms(-50, 100, 2500), []bool{true, false, false},
			ScenarioResult{Sent: 3, LostAfter: 2, FirstLoss: 100 * time.Millisecond, Outage: 2400 * time.Millisecond, Recovered: false}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := summarize(&probeLog{at: tc.at, ok: tc.ok}, end)
			if diff := cmp.Diff(tc.want, got, netipCmp...); diff != "" {
				t.Error(diff)
			}
		})
	}
}

func TestReflectors(t *testing.T) {
	two, err := Load(examplesDir() + "/two-reflectors.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		top  *Topology
		want []string
	}{
		{"seed", Default(), []string{"ubuntu-2"}},
		{"two reflectors", two, []string{"ubuntu-2", "ubuntu-3"}},
		{"none", &Topology{Setup: []string{"label node ubuntu-2 rack=rack-1", "label node x route-reflector=false"}}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, tc.top.Reflectors()); diff != "" {
				t.Error(diff)
			}
		})
	}
}
