package speakerdut

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"
)

// Config is the configuration of the Go DUTs (kbgp and null). It is kept
// as a small line-oriented text file (AppendText writes it, ParseConfig
// reads it) so that the measured binary links no reflection-based encoder:
//
//	# kbgp-speaker route reflector (written by rrbench)
//	addr 10.0.0.1
//	as 64512
//	port 1790
//	profile /run/dir
//	client 10.0.1.1
//	client 10.0.1.2
//
// One keyword and its value per line; blank lines and lines starting with
// '#' are ignored. addr and as are required, port and profile optional,
// client may repeat (zero or more).
type Config struct {
	// Addr is the DUT's address: BGP Identifier, cluster ID and the
	// address it listens on.
	Addr netip.Addr
	// AS is the DUT's and every client's AS.
	AS uint32
	// Clients are the route-reflector clients' addresses.
	Clients []netip.Addr
	// Port is the BGP port to listen on (0: 179; tests use others).
	Port uint16
	// Profile is a directory for cpu.pprof, heap.pprof and peak-heap.*;
	// only a binary built with -tags profile can write them.
	Profile string
}

// Listen is the address the DUT listens on.
func (c *Config) Listen() netip.AddrPort {
	if c.Port == 0 {
		return netip.AddrPortFrom(c.Addr, 179)
	}
	return netip.AddrPortFrom(c.Addr, c.Port)
}

// The header line AppendText writes.
const configHeader = "# kbgp-speaker route reflector (written by rrbench)\n"

// AppendText appends c in the text format ParseConfig reads. It fails for
// a configuration that ParseConfig would reject or could not read back
// equal, naming the field.
func (c *Config) AppendText(b []byte) ([]byte, error) {
	if err := checkAddr(c.Addr); err != nil {
		return b, fmt.Errorf("speaker config: addr %q: %w", c.Addr, err)
	}
	if c.AS == 0 {
		return b, errors.New("speaker config: as: " + errAS0.Error())
	}
	if c.Profile != "" {
		if err := checkProfile(c.Profile); err != nil {
			return b, fmt.Errorf("speaker config: profile %q: %w", c.Profile, err)
		}
	}
	seen := make(map[netip.Addr]bool, len(c.Clients))
	for _, a := range c.Clients {
		if err := checkClient(a); err != nil {
			return b, fmt.Errorf("speaker config: client %q: %w", a, err)
		}
		if seen[a] {
			return b, fmt.Errorf("speaker config: client %s: listed twice", a)
		}
		seen[a] = true
	}
	b = append(b, configHeader...)
	b = append(b, "addr "...)
	b = c.Addr.AppendTo(b)
	b = append(b, "\nas "...)
	b = strconv.AppendUint(b, uint64(c.AS), 10)
	b = append(b, '\n')
	if c.Port != 0 {
		b = append(b, "port "...)
		b = strconv.AppendUint(b, uint64(c.Port), 10)
		b = append(b, '\n')
	}
	if c.Profile != "" {
		b = append(b, "profile "...)
		b = append(b, c.Profile...)
		b = append(b, '\n')
	}
	for _, a := range c.Clients {
		b = append(b, "client "...)
		b = a.AppendTo(b)
		b = append(b, '\n')
	}
	return b, nil
}

// WriteConfig writes c to path.
func WriteConfig(path string, c *Config) error {
	b, err := c.AppendText(nil)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return os.WriteFile(path, b, 0o644)
}

// ReadConfig reads and parses the configuration file at path.
func ReadConfig(path string) (Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Config{}, err
	}
	return ParseConfig(path, b)
}

var (
	// RFC 7607 §2: "A BGP speaker MUST NOT originate or propagate a route
	// with an AS number of zero".
	errAS0 = errors.New("AS 0 is reserved and may not be used (RFC 7607)")
	// RFC 4271 §4.2: the BGP Identifier is "a 4-octet unsigned integer";
	// the DUT's address is its BGP Identifier and cluster ID (RFC 4456 §7:
	// "CLUSTER_ID: a 4-byte BGP attribute").
	errAddrNot4 = errors.New("not an IPv4 address: it is the BGP Identifier and cluster ID, 4 octets (RFC 4271 §4.2)")
)

func checkAddr(a netip.Addr) error {
	if !a.Is4() {
		return errAddrNot4
	}
	return nil
}

func checkClient(a netip.Addr) error {
	switch {
	case !a.IsValid():
		return errors.New("not an IP address")
	case a.Zone() != "":
		return errors.New("has an IPv6 zone; the DUT listens on one address, give a global one")
	case a.IsUnspecified():
		return errors.New("is the unspecified address")
	}
	return nil
}

// checkProfile rejects a directory that the one-line text format cannot
// carry: ParseConfig takes the rest of the line, trimmed, as the directory.
func checkProfile(dir string) error {
	switch {
	case strings.ContainsAny(dir, "\n\r"):
		return errors.New("contains a line break")
	case strings.TrimSpace(dir) != dir:
		return errors.New("begins or ends with white space")
	}
	return nil
}

// ParseConfig parses a configuration in the text format (see Config).
// name is the file's name for errors, which read "name:LINE: keyword
// "value": problem". Unknown keywords, a second addr, as, port or profile,
// a repeated client, and a missing addr or as are errors.
func ParseConfig(name string, data []byte) (Config, error) {
	var c Config
	seen := map[string]int{} // single-valued keyword -> its line
	clients := map[netip.Addr]int{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	// Lines of any length: the whole input fits one token.
	sc.Buffer(nil, len(data)+1)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		f := strings.Fields(line)
		kw := f[0]
		lineErr := func(format string, args ...any) error {
			return fmt.Errorf("%s:%d: %s", name, n, fmt.Sprintf(format, args...))
		}
		switch kw {
		case "addr", "as", "port", "profile", "client":
		default:
			return Config{}, lineErr("unknown keyword %q (want addr, as, port, profile or client)", kw)
		}
		if kw != "client" {
			if prev, ok := seen[kw]; ok {
				return Config{}, lineErr("%s: given again (first on line %d)", kw, prev)
			}
			seen[kw] = n
		}
		if kw == "profile" {
			// The rest of the line: a directory may contain spaces.
			c.Profile = strings.TrimSpace(line[len(kw):])
			if c.Profile == "" {
				return Config{}, lineErr("profile: want a directory")
			}
			if err := checkProfile(c.Profile); err != nil {
				return Config{}, lineErr("profile %q: %v", c.Profile, err)
			}
			continue
		}
		if len(f) != 2 {
			return Config{}, lineErr("%s: want one value, have %d", kw, len(f)-1)
		}
		v := f[1]
		switch kw {
		case "addr":
			a, err := netip.ParseAddr(v)
			if err == nil {
				err = checkAddr(a)
			}
			if err != nil {
				return Config{}, lineErr("addr %q: %v", v, err)
			}
			c.Addr = a
		case "as":
			as, err := strconv.ParseUint(v, 10, 32)
			if err == nil && as == 0 {
				err = errAS0
			}
			if err != nil {
				return Config{}, lineErr("as %q: %v", v, numErr(err))
			}
			c.AS = uint32(as)
		case "port":
			p, err := strconv.ParseUint(v, 10, 16)
			if err == nil && p == 0 {
				err = errors.New("port 0; leave the line out for the default, 179")
			}
			if err != nil {
				return Config{}, lineErr("port %q: %v", v, numErr(err))
			}
			c.Port = uint16(p)
		case "client":
			a, err := netip.ParseAddr(v)
			if err == nil {
				err = checkClient(a)
			}
			if err != nil {
				return Config{}, lineErr("client %q: %v", v, err)
			}
			if prev, ok := clients[a]; ok {
				return Config{}, lineErr("client %s: listed twice (first on line %d)", a, prev)
			}
			clients[a] = n
			c.Clients = append(c.Clients, a)
		}
	}
	if err := sc.Err(); err != nil {
		return Config{}, fmt.Errorf("%s: %w", name, err)
	}
	for _, kw := range []string{"addr", "as"} {
		if _, ok := seen[kw]; !ok {
			return Config{}, fmt.Errorf("%s: no %s line: addr (the DUT's IPv4 address) and as are required", name, kw)
		}
	}
	return c, nil
}

// numErr drops strconv's function name and repeated input from err.
func numErr(err error) error {
	var ne *strconv.NumError
	if errors.As(err, &ne) {
		return ne.Err
	}
	return err
}
