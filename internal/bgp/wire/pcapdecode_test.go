package wire

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
)

// captureStats counts what decoding one capture produced.
type captureStats struct {
	msgs      map[MsgType]int
	framing   int            // header errors (garbage between messages)
	actions   map[Action]int // UPDATE decode errors by action
	resets    []*Error       // UPDATE session-reset errors
	decodedOK int
	v4        []string // IPv4 NLRI-field and withdrawn prefixes of usable UPDATEs
}

// splitMessages cuts a reassembled stream into BGP messages, skipping to
// the next marker after garbage or a bad header (captures may start in the
// middle of a session or, for the fuzz reproducers, hold junk).
func splitMessages(b []byte, framingErr func(error)) [][]byte {
	var out [][]byte
	for len(b) >= HeaderLen {
		if !bytes.HasPrefix(b, marker[:]) {
			i := bytes.Index(b, marker[:])
			if i < 0 {
				break
			}
			b = b[i:]
			continue
		}
		// Runs of more than 16 0xff bytes: align on the last 16.
		for len(b) > HeaderLen && b[16] == 0xff && b[17] == 0xff && b[18] == 0xff && bytes.HasPrefix(b[1:], marker[:]) {
			b = b[1:]
		}
		n, _, err := ParseHeader(b, MaxExtMessageLen)
		if err != nil {
			framingErr(err)
			b = b[1:]
			continue
		}
		if n > len(b) {
			break // truncated capture
		}
		out = append(out, b[:n])
		b = b[n:]
	}
	return out
}

// sessionOptions derives the decode options for the direction from the
// OPEN messages seen in each direction (sender's and receiver's).
func sessionOptions(sent, recv *Open) *Options {
	o := &Options{ExtendedMessage: true}
	switch {
	case sent != nil && recv != nil:
		o.AS4 = sent.Caps.HasFourOctetAS && recv.Caps.HasFourOctetAS
	case sent != nil:
		o.AS4 = sent.Caps.HasFourOctetAS
	case recv != nil:
		o.AS4 = recv.Caps.HasFourOctetAS
	default:
		o.AS4 = true
	}
	if sent != nil {
		for _, t := range sent.Caps.AddPath {
			if t.Mode&AddPathSend == 0 {
				continue
			}
			if recv == nil || recv.Caps.AddPathFor(t.Family)&AddPathReceive != 0 {
				o.AddPath = append(o.AddPath, t.Family)
			}
		}
	}
	return o
}

func decodeCapture(t *testing.T, path string) *captureStats {
	t.Helper()
	segs, err := readCapture(path)
	if err != nil {
		t.Fatal(err)
	}
	order, data := streams(segs)
	st := &captureStats{msgs: map[MsgType]int{}, actions: map[Action]int{}}
	msgs := map[flowKey][][]byte{}
	opens := map[flowKey]*Open{}
	for _, k := range order {
		msgs[k] = splitMessages(data[k], func(err error) {
			asError(t, err)
			st.framing++
		})
		for _, m := range msgs[k] {
			if MsgType(m[18]) == MsgOpen && opens[k] == nil {
				var o Open
				if o.Decode(m[HeaderLen:]) == nil {
					opens[k] = &o
				}
			}
		}
	}
	for _, k := range order {
		rev := flowKey{k.dst, k.src}
		o := sessionOptions(opens[k], opens[rev])
		guess := opens[k] == nil && opens[rev] == nil
		for _, m := range msgs[k] {
			typ := MsgType(m[18])
			st.msgs[typ]++
			err := decodeAny(t, m, o)
			if e, ok := err.(*Error); ok && guess && typ == MsgUpdate {
				// No OPEN in the capture: guess the session's AS number
				// size and ADD-PATH from the first UPDATE that fails.
				alt := *o
				switch {
				case e.Attr == AttrASPath || e.Attr == AttrAggregator:
					alt.AS4 = !o.AS4
				case e.Subcode == UpdateInvalidNetwork || e.Subcode == UpdateOptionalAttr:
					alt.AddPath = []Family{IPv4Unicast, IPv6Unicast}
				}
				if err2 := decodeAny(t, m, &alt); err2 == nil || err2.(*Error).Action < e.Action ||
					e.Subcode == UpdateInvalidNetwork && err2.(*Error).Subcode != UpdateInvalidNetwork {
					o, err = &alt, err2
				}
			}
			if err != nil {
				e := asError(t, err)
				st.actions[e.Action]++
				if testing.Verbose() && len(st.resets) < 3 && e.Action != ActionSessionReset {
					t.Logf("%v: %v", k, e)
				}
				if e.Action == ActionSessionReset {
					st.resets = append(st.resets, e)
				}
			} else if typ == MsgUpdate {
				st.decodedOK++
			}
			if typ == MsgUpdate && (err == nil || err.(*Error).Action < ActionSessionReset) {
				var u Update
				u.Decode(m[HeaderLen:], o)
				for _, n := range append(u.NLRI, u.Withdrawn...) {
					x := n.Prefix.String()
					if o.addPath(IPv4Unicast) {
						x += fmt.Sprintf(" id %d", n.PathID)
					}
					st.v4 = append(st.v4, x)
				}
			}
		}
	}
	return st
}

func (s *captureStats) String() string {
	var parts []string
	for _, t := range []MsgType{MsgOpen, MsgUpdate, MsgNotification, MsgKeepalive, MsgRouteRefresh} {
		if s.msgs[t] > 0 {
			parts = append(parts, fmt.Sprintf("%v=%d", t, s.msgs[t]))
		}
	}
	parts = append(parts, fmt.Sprintf("updates-ok=%d framing-errors=%d", s.decodedOK, s.framing))
	for _, a := range []Action{ActionAttrDiscard, ActionTreatAsWithdraw, ActionSessionReset} {
		if s.actions[a] > 0 {
			parts = append(parts, fmt.Sprintf("%v=%d", a, s.actions[a]))
		}
	}
	return strings.Join(parts, " ")
}

// Captures whose UPDATEs are malformed on purpose (fuzz reproducers) or
// whose sessions kbgp cannot infer options for: session resets there are
// expected.
var malformedCaptures = map[string]string{
	"bgp-addpath.pcap":                           "two MP_REACH attributes (RFC 7606 §3(g))",
	"bgp-as-path-oobr.pcap":                      "CVE-2017-12991 reproducer",
	"bgp-aigp-oobr.pcap":                         "CVE-2017-12994 reproducer",
	"bgp-bgp_capabilities_print-oobr-1.pcap":     "fuzz reproducer",
	"bgp-bgp_capabilities_print-oobr-2.pcap":     "fuzz reproducer",
	"bgp_mp_reach_nlri-oobr.pcap":                "fuzz reproducer",
	"bgp_mvpn_6_and_7_oobr.pcap":                 "fuzz reproducer",
	"bgp_pmsi_tunnel-oobr.pcap":                  "CVE-2017-13046 reproducer",
	"bgp_vpn_rt-oobr.pcap":                       "CVE-2017-13053 reproducer",
	"bgp-ub.pcap":                                "fuzz reproducer (type 40, attribute types 0/255, truncations)",
	"bgp-infinite-loop.pcap":                     "fuzz reproducer",
	"bgpsec_invalid_signature_block_length.pcap": "fuzz reproducer",
	"bgp-malformed-hard-reset.pcap":              "Hard Reset without its inner code",
}

// TestCaptures decodes every BGP message in the shared packet captures.
// Every message decodes or fails with a *Error (decodeAny also checks the
// re-encode round trip); well-formed captures must need no session reset.
func TestCaptures(t *testing.T) {
	dir := filepath.Join(sharedDir(t), "pcap")
	var files []string
	for _, g := range []string{"tcpdump/*.pcap", "tcpdump/*.pcapng", "packetlife/*", "scapy/*.pcap.gz"} {
		m, _ := filepath.Glob(filepath.Join(dir, g))
		files = append(files, m...)
	}
	sort.Strings(files)
	if len(files) < 50 {
		t.Fatalf("found only %d captures under %s", len(files), dir)
	}
	total, oracleRoutes := 0, 0
	for _, f := range files {
		name := filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			st := decodeCapture(t, f)
			t.Logf("%s", st)
			for _, n := range st.msgs {
				total += n
			}
			switch name {
			case "bgp-addpath.pcap":
				// RFC 7606 §3(g): a second MP_REACH_NLRI → session reset,
				// Malformed Attribute List.
				found := false
				for _, e := range st.resets {
					if e.Subcode == UpdateMalformedAttrList && (e.Attr == AttrMPReach || e.Attr == AttrMPUnreach) {
						found = true
					}
				}
				if !found {
					t.Fatalf("no session reset for the duplicate MP_REACH_NLRI; resets: %v", st.resets)
				}
			case "bgp_fragmented.pcap.gz":
				if st.decodedOK == 0 {
					t.Fatal("the UPDATE split across two TCP segments was not reassembled and decoded")
				}
			}
			if out := strings.TrimSuffix(strings.TrimSuffix(f, ".pcap"), ".pcapng") + ".out"; strings.Contains(f, "tcpdump") && malformedCaptures[name] == "" {
				if want, ok := tcpdumpRoutes(t, out); ok {
					got := slices.Clone(st.v4)
					slices.Sort(got)
					if !slices.Equal(got, want) {
						t.Errorf("IPv4 routes differ from tcpdump's %s:\n got %v\nwant %v", filepath.Base(out), got, want)
					}
					oracleRoutes += len(want)
				}
			}
			if why, bad := malformedCaptures[name]; !bad && len(st.resets) > 0 {
				t.Errorf("well-formed capture needs a session reset: %v", st.resets[0])
			} else if bad {
				t.Logf("malformed on purpose (%s)", why)
			}
		})
	}
	t.Logf("%d captures, %d BGP messages, %d IPv4 routes checked against tcpdump's decode", len(files), total, oracleRoutes)
	if oracleRoutes < 50 {
		t.Errorf("only %d routes compared with tcpdump's .out files", oracleRoutes)
	}
}

var tcpdumpRoute = regexp.MustCompile(`^\s+(\d+\.\d+\.\d+\.\d+/\d+)(?:\s+Path Id: (\d+))?\s*$`)

// tcpdumpRoutes returns the IPv4 prefixes tcpdump -v lists under "Updated
// routes:" and "Withdrawn routes:" in a .out oracle file, sorted, in the
// form the test collects ("p" or "p id N").
func tcpdumpRoutes(t *testing.T, path string) ([]string, bool) {
	f, err := os.Open(path)
	if err != nil {
		return nil, false
	}
	defer f.Close()
	var out []string
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.Contains(line, "Updated routes:") || strings.Contains(line, "Withdrawn routes:") {
			in = true
			continue
		}
		m := tcpdumpRoute.FindStringSubmatch(line)
		if in && m != nil {
			x := m[1]
			if m[2] != "" {
				x += " id " + m[2]
			}
			out = append(out, x)
			continue
		}
		in = false
	}
	slices.Sort(out)
	return out, true
}
