package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func runDecode(t *testing.T, stdin string, args ...string) (string, error) {
	t.Helper()
	root := newRootCmd()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetIn(strings.NewReader(stdin))
	root.SetArgs(append([]string{"decode"}, args...))
	err := root.Execute()
	return out.String(), err
}

func TestDecodeCmd(t *testing.T) {
	const upd = "ffffffffffffffffffffffffffffffff:0034:02:0004180a0101:0015:40010100:400200:400304c0000201:c00804ffffff01:180a0a0a"
	tests := []struct {
		name     string
		args     []string
		stdin    string
		want     []string
		exitCode int
	}{
		{name: "update text", args: []string{"--hex", upd}, want: []string{"UPDATE (52 bytes)", "COMMUNITIES: no-export", "10.10.10.0/24", "withdrawn:"}},
		{name: "stdin without marker", stdin: "0013 04\n", want: []string{"KEEPALIVE (19 bytes)"}},
		{name: "addpath flag", args: []string{"--hex", "ffffffffffffffffffffffffffffffff 0032 02 0000 000e 40010100 400200 400304c0000201 00000009 18 0a0a0a 00000000 00", "--addpath", "ipv4-unicast"},
			want: []string{"10.10.10.0/24 path-id 9", "0.0.0.0/0"}},
		{name: "2-octet session", args: []string{"--as4=false", "--hex", "ffffffffffffffffffffffffffffffff 0022 02 0000 000b 40 01 01 00 40 02 04 02 01 fde9"},
			want: []string{"AS_PATH: 65001"}},
		{name: "treat-as-withdraw exits 1", args: []string{"--hex", "ffffffffffffffffffffffffffffffff 001c 02 0000 0004 40 01 01 07 00"},
			want: []string{"error (treat-as-withdraw): 3/6"}, exitCode: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := runDecode(t, tc.stdin, tc.args...)
			code := 0
			if err != nil {
				var ee *exitError
				if !errors.As(err, &ee) {
					t.Fatalf("error %v, output:\n%s", err, out)
				}
				code = ee.code
			}
			if code != tc.exitCode {
				t.Fatalf("exit code %d, want %d (%v)\n%s", code, tc.exitCode, err, out)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
		})
	}
}

func TestDecodeCmdJSON(t *testing.T) {
	out, err := runDecode(t, "", "-o", "json", "--hex", "ffffffffffffffffffffffffffffffff 001b 03 06 02 05 6d61696e74")
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		Type         string `json:"type"`
		Notification struct {
			Code, Subcode int
			Shutdown      string `json:"shutdown_message"`
		} `json:"notification"`
	}
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if v.Type != "NOTIFICATION" || v.Notification.Code != 6 || v.Notification.Subcode != 2 || v.Notification.Shutdown != "maint" {
		t.Fatalf("got %+v", v)
	}
}

func TestDecodeCmdBadInput(t *testing.T) {
	for _, args := range [][]string{
		{"--hex", "zz"},
		{"--hex", "ffffffffffffffffffffffffffffffff 0013 28"},
		{"--hex", "ffff"},
		{"--hex", "ffffffffffffffffffffffffffffffff 0013 04", "--addpath", "ipx"},
		{"--hex", "ffffffffffffffffffffffffffffffff 0013 04", "-o", "yaml"},
	} {
		if out, err := runDecode(t, "", args...); err == nil {
			t.Errorf("%v: no error; output:\n%s", args, out)
		}
	}
}
