package speakerdut

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
)

// diff describes how got differs from want ("" if equal).
func diff(want, got Config) string {
	if want.Addr == got.Addr && want.AS == got.AS && want.Port == got.Port && want.Profile == got.Profile &&
		slices.Equal(want.Clients, got.Clients) {
		return ""
	}
	return "want " + fmtConfig(want) + "\n got " + fmtConfig(got)
}

func fmtConfig(c Config) string {
	return fmt.Sprintf("{Addr:%v AS:%d Port:%d Profile:%q Clients:%v}", c.Addr, c.AS, c.Port, c.Profile, c.Clients)
}

func addrs(ss ...string) []netip.Addr {
	var out []netip.Addr
	for _, s := range ss {
		out = append(out, netip.MustParseAddr(s))
	}
	return out
}

func TestParseConfig(t *testing.T) {
	for _, tc := range []struct {
		name string
		text string
		want Config
		// err, if set, is a substring of the error; want is then unused.
		err string
	}{
		{name: "minimal", text: "addr 10.0.0.1\nas 64512\n",
			want: Config{Addr: netip.MustParseAddr("10.0.0.1"), AS: 64512}},
		{name: "full", text: "# kbgp-speaker route reflector (written by rrbench)\naddr 10.0.0.1\nas 4200000000\nport 1790\nprofile /run/dir\nclient 10.0.1.1\nclient 10.0.1.2\nclient 2001:db8::1\n",
			want: Config{Addr: netip.MustParseAddr("10.0.0.1"), AS: 4200000000, Port: 1790, Profile: "/run/dir",
				Clients: addrs("10.0.1.1", "10.0.1.2", "2001:db8::1")}},
		{name: "comments, blank lines, tabs, CRLF, no final newline",
			text: "\n  # comment\r\n\taddr\t10.0.0.1  \r\n\nas 1\r\nclient 10.0.1.1",
			want: Config{Addr: netip.MustParseAddr("10.0.0.1"), AS: 1, Clients: addrs("10.0.1.1")}},
		{name: "profile dir with spaces", text: "addr 10.0.0.1\nas 1\nprofile   /tmp/my results/run 1  \n",
			want: Config{Addr: netip.MustParseAddr("10.0.0.1"), AS: 1, Profile: "/tmp/my results/run 1"}},
		{name: "keywords in any order", text: "client 10.0.1.1\nas 7\naddr 10.0.0.1\n",
			want: Config{Addr: netip.MustParseAddr("10.0.0.1"), AS: 7, Clients: addrs("10.0.1.1")}},

		{name: "empty", text: "", err: "kbgp.conf: no addr line"},
		{name: "missing as", text: "addr 10.0.0.1\n", err: "kbgp.conf: no as line"},
		{name: "missing addr", text: "as 1\nclient 10.0.1.1\n", err: "kbgp.conf: no addr line"},
		{name: "unknown keyword", text: "addr 10.0.0.1\nas 1\nneighbor 10.0.1.1\n", err: `kbgp.conf:3: unknown keyword "neighbor"`},
		{name: "keyword case matters", text: "ADDR 10.0.0.1\n", err: `kbgp.conf:1: unknown keyword "ADDR"`},
		{name: "addr twice", text: "addr 10.0.0.1\nas 1\naddr 10.0.0.2\n", err: "kbgp.conf:3: addr: given again (first on line 1)"},
		{name: "as twice", text: "as 1\naddr 10.0.0.1\nas 1\n", err: "kbgp.conf:3: as: given again (first on line 1)"},
		{name: "port twice", text: "addr 10.0.0.1\nas 1\nport 1\nport 2\n", err: "kbgp.conf:4: port: given again (first on line 3)"},
		{name: "profile twice", text: "addr 10.0.0.1\nas 1\nprofile /a\nprofile /a\n", err: "kbgp.conf:4: profile: given again (first on line 3)"},
		{name: "client twice", text: "addr 10.0.0.1\nas 1\nclient 10.0.1.1\n# x\nclient 10.0.1.1\n", err: "kbgp.conf:5: client 10.0.1.1: listed twice (first on line 3)"},
		{name: "addr not an address", text: "addr x\nas 1\n", err: `kbgp.conf:1: addr "x": ParseAddr`},
		{name: "addr IPv6", text: "addr 2001:db8::1\nas 1\n", err: `kbgp.conf:1: addr "2001:db8::1": not an IPv4 address`},
		{name: "addr no value", text: "addr\nas 1\n", err: "kbgp.conf:1: addr: want one value, have 0"},
		{name: "addr two values", text: "addr 10.0.0.1 10.0.0.2\nas 1\n", err: "kbgp.conf:1: addr: want one value, have 2"},
		{name: "trailing comment is not a comment", text: "addr 10.0.0.1 # rr\nas 1\n", err: "kbgp.conf:1: addr: want one value, have 3"},
		{name: "as not a number", text: "addr 10.0.0.1\nas AS64512\n", err: `kbgp.conf:2: as "AS64512": invalid syntax`},
		{name: "as negative", text: "addr 10.0.0.1\nas -1\n", err: `kbgp.conf:2: as "-1": invalid syntax`},
		{name: "as too large", text: "addr 10.0.0.1\nas 4294967296\n", err: `kbgp.conf:2: as "4294967296": value out of range`},
		{name: "as zero", text: "addr 10.0.0.1\nas 0\n", err: `kbgp.conf:2: as "0": AS 0 is reserved`},
		{name: "port zero", text: "addr 10.0.0.1\nas 1\nport 0\n", err: `kbgp.conf:3: port "0": port 0`},
		{name: "port too large", text: "addr 10.0.0.1\nas 1\nport 65536\n", err: `kbgp.conf:3: port "65536": value out of range`},
		{name: "profile empty", text: "addr 10.0.0.1\nas 1\nprofile  \n", err: "kbgp.conf:3: profile: want a directory"},
		{name: "profile with CR", text: "addr 10.0.0.1\nas 1\nprofile /a\rb\n", err: `kbgp.conf:3: profile "/a\rb": contains a line break`},
		{name: "client not an address", text: "addr 10.0.0.1\nas 1\nclient 10.0.1.300\n", err: `kbgp.conf:3: client "10.0.1.300": ParseAddr`},
		{name: "client with zone", text: "addr 10.0.0.1\nas 1\nclient fe80::1%eth0\n", err: `kbgp.conf:3: client "fe80::1%eth0": has an IPv6 zone`},
		{name: "client unspecified", text: "addr 10.0.0.1\nas 1\nclient 0.0.0.0\n", err: `kbgp.conf:3: client "0.0.0.0": is the unspecified address`},
		{name: "client prefix", text: "addr 10.0.0.1\nas 1\nclient 10.0.1.0/24\n", err: `kbgp.conf:3: client "10.0.1.0/24"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseConfig("kbgp.conf", []byte(tc.text))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("ParseConfig = %+v, %v; want error containing %q", got, err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d := diff(tc.want, got); d != "" {
				t.Errorf("ParseConfig \n%s", d)
			}
		})
	}
}

// TestConfigRoundTrip: AppendText writes what ParseConfig reads back
// equal, and its exact text is the documented format.
func TestConfigRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		text string
	}{
		{"minimal", Config{Addr: netip.MustParseAddr("10.0.0.1"), AS: 64512},
			configHeader + "addr 10.0.0.1\nas 64512\n"},
		{"full", Config{Addr: netip.MustParseAddr("10.0.0.1"), AS: 64512, Port: 41792, Profile: "/tmp/run dir/k8s-100-kbgp-profile",
			Clients: addrs("10.0.1.1", "10.0.1.2", "::ffff:10.0.1.3", "2001:db8::1")},
			configHeader + "addr 10.0.0.1\nas 64512\nport 41792\nprofile /tmp/run dir/k8s-100-kbgp-profile\nclient 10.0.1.1\nclient 10.0.1.2\nclient ::ffff:10.0.1.3\nclient 2001:db8::1\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := tc.cfg.AppendText([]byte("keep:"))
			if err != nil {
				t.Fatal(err)
			}
			if got := string(b); got != "keep:"+tc.text {
				t.Errorf("AppendText = %q, want %q", got, "keep:"+tc.text)
			}
			got, err := ParseConfig("rt.conf", b[len("keep:"):])
			if err != nil {
				t.Fatal(err)
			}
			if d := diff(tc.cfg, got); d != "" {
				t.Errorf("round trip \n%s", d)
			}
		})
	}
}

// TestWriteConfigFile: WriteConfig and ReadConfig go through a file.
func TestWriteConfigFile(t *testing.T) {
	path := t.TempDir() + "/kbgp.conf"
	want := Config{Addr: netip.MustParseAddr("10.0.0.1"), AS: 64512, Clients: addrs("10.0.1.1")}
	if err := WriteConfig(path, &want); err != nil {
		t.Fatal(err)
	}
	got, err := ReadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	if d := diff(want, got); d != "" {
		t.Errorf("\n%s", d)
	}
	if _, err := ReadConfig(path + ".missing"); err == nil || !strings.Contains(err.Error(), "kbgp.conf.missing") {
		t.Errorf("ReadConfig of a missing file: %v, want an error naming it", err)
	}
}

// TestAppendTextRejects: the writer refuses what the reader would refuse,
// rather than write a file the DUT cannot start with.
func TestAppendTextRejects(t *testing.T) {
	ok := Config{Addr: netip.MustParseAddr("10.0.0.1"), AS: 1}
	for _, tc := range []struct {
		name string
		mod  func(*Config)
		err  string
	}{
		{"no addr", func(c *Config) { c.Addr = netip.Addr{} }, "addr"},
		{"IPv6 addr", func(c *Config) { c.Addr = netip.MustParseAddr("2001:db8::1") }, "not an IPv4 address"},
		{"AS 0", func(c *Config) { c.AS = 0 }, "as: AS 0 is reserved"},
		{"profile with newline", func(c *Config) { c.Profile = "/a\nclient 10.9.9.9" }, "line break"},
		{"profile with trailing space", func(c *Config) { c.Profile = "/a " }, "white space"},
		{"invalid client", func(c *Config) { c.Clients = []netip.Addr{{}} }, "not an IP address"},
		{"zoned client", func(c *Config) { c.Clients = addrs("fe80::1%eth0") }, "zone"},
		{"duplicate client", func(c *Config) { c.Clients = addrs("10.0.1.1", "10.0.1.1") }, "client 10.0.1.1: listed twice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := ok
			tc.mod(&c)
			b, err := c.AppendText([]byte("x"))
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("AppendText = %q, %v; want error containing %q", b, err, tc.err)
			}
			if string(b) != "x" {
				t.Errorf("AppendText appended %q on error", b)
			}
		})
	}
}

// FuzzParseConfig: ParseConfig never panics, and a configuration it
// accepts is written by AppendText and read back equal.
func FuzzParseConfig(f *testing.F) {
	for _, s := range []string{
		"addr 10.0.0.1\nas 64512\n",
		configHeader + "addr 10.0.0.1\nas 64512\nport 179\nprofile /tmp/x y\nclient 10.0.1.1\nclient 10.0.1.2\n",
		"addr 10.0.0.1\r\nas 1\r\nclient ::ffff:1.2.3.4\r\nclient 2001:db8::1",
		"addr 10.0.0.1\nas 1\nprofile \t#x\v\n",
		"addr 10.0.0.1\nas 1\nclient 10.0.1.1\nclient 10.0.1.1\n",
		"as 4294967295\naddr 255.255.255.255\nport 65535\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseConfig("fuzz.conf", data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz.conf:") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		b, err := c.AppendText(nil)
		if err != nil {
			t.Fatalf("parsed %q into %+v, which AppendText rejects: %v", data, c, err)
		}
		c2, err := ParseConfig("rewritten.conf", b)
		if err != nil {
			t.Fatalf("rewritten config %q does not parse: %v", b, err)
		}
		if d := diff(c, c2); d != "" {
			t.Fatalf("parse(write(parse(%q))) differs \n%s", data, d)
		}
	})
}
