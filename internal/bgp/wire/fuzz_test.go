package wire

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// fuzzOptions derives decode options from the first fuzz byte so the
// fuzzer explores 2- and 4-octet AS and ADD-PATH sessions.
func fuzzOptions(sel byte) *Options {
	o := &Options{AS4: sel&1 != 0, EBGP: sel&8 != 0, ExtendedMessage: true}
	if sel&2 != 0 {
		o.AddPath = append(o.AddPath, IPv4Unicast)
	}
	if sel&4 != 0 {
		o.AddPath = append(o.AddPath, IPv6Unicast)
	}
	return o
}

// seedMessages adds the shared test vectors' messages of type typ (bodies)
// to f, if the shared directory is present.
func seedMessages(f *testing.F, typ MsgType) {
	d := filepath.Join("..", "..", "..", "..", "shared", "testdata", "vectors")
	if _, err := os.Stat(d); err != nil {
		return
	}
	add := func(raw []byte) {
		if len(raw) > HeaderLen && MsgType(raw[18]) == typ {
			f.Add(byte(1), raw[HeaderLen:])
			f.Add(byte(0), raw[HeaderLen:])
		}
	}
	files, _ := filepath.Glob(filepath.Join(d, "exabgp-qa", "encoding", "*.ci"))
	for _, file := range files {
		for _, c := range readExaCIQuiet(file) {
			add(c)
		}
	}
	bad, _ := filepath.Glob(filepath.Join(d, "gobgp-bad-len", "[0-9a-f]*"))
	for _, file := range bad {
		raw, err := os.ReadFile(file)
		if err == nil && len(raw) >= HeaderLen {
			add(raw)
		}
	}
}

// readExaCIQuiet returns the raw messages of an ExaBGP .ci file, or nil if
// it cannot be read (seeding is best effort; TestExaBGPEncodingVectors reports
// unreadable files).
func readExaCIQuiet(path string) [][]byte {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var out [][]byte
	for _, line := range bytes.Split(data, []byte("\n")) {
		parts := bytes.SplitN(line, []byte(":"), 3)
		if len(parts) == 3 && string(parts[1]) == "raw" {
			h := bytes.ReplaceAll(parts[2], []byte(":"), nil)
			b := make([]byte, len(h)/2)
			if _, err := hexDecode(b, h); err == nil {
				out = append(out, b)
			}
		}
	}
	return out
}

func FuzzUpdateDecode(f *testing.F) {
	r := rand.New(rand.NewPCG(5, 6))
	for range 20 {
		o := genOptions(r)
		sel := byte(0)
		if o.AS4 {
			sel |= 1
		}
		if o.addPath(IPv4Unicast) {
			sel |= 2
		}
		if o.addPath(IPv6Unicast) {
			sel |= 4
		}
		if msg, err := AppendUpdate(nil, genUpdate(r, o), o); err == nil {
			f.Add(sel, msg[HeaderLen:])
		}
	}
	seedMessages(f, MsgUpdate)
	var u, u2 Update
	var buf []byte
	f.Fuzz(func(t *testing.T, sel byte, b []byte) {
		o := fuzzOptions(sel)
		err := u.Decode(b, o)
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("error %v is %T, not *Error", err, err)
			}
			return
		}
		buf, err = AppendUpdate(buf[:0], &u, o)
		if err != nil {
			return // canonical encoding may not fit
		}
		if err := u2.Decode(buf[HeaderLen:], o); err != nil {
			t.Fatalf("re-decode: %v\ninput %x\nencoded %x", err, b, buf)
		}
		if d := diffUpdates(&u, &u2); d != "" {
			t.Fatalf("round trip (-first +second):\n%s\ninput %x", d, b)
		}
	})
}

func FuzzOpenDecode(f *testing.F) {
	r := rand.New(rand.NewPCG(7, 8))
	for range 10 {
		m := Open{Version: 4, MyAS: 65000, HoldTime: 90, BGPID: genHost4(r), Caps: genCaps(r), ExtendedParams: r.IntN(2) == 0}
		if msg, err := AppendOpen(nil, &m); err == nil {
			f.Add(byte(0), msg[HeaderLen:])
		}
	}
	seedMessages(f, MsgOpen)
	f.Fuzz(func(t *testing.T, _ byte, b []byte) {
		var m Open
		if err := m.Decode(b); err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("error %v is %T, not *Error", err, err)
			}
			return
		}
		enc, err := AppendOpen(nil, &m)
		if err != nil {
			t.Fatalf("AppendOpen of a decoded OPEN: %v", err)
		}
		var m2 Open
		if err := m2.Decode(enc[HeaderLen:]); err != nil {
			t.Fatalf("re-decode: %v\ninput %x\nencoded %x", err, b, enc)
		}
		if d := cmpDiff(m, m2); d != "" {
			t.Fatalf("round trip:\n%s\ninput %x", d, b)
		}
	})
}

func FuzzNotificationDecode(f *testing.F) {
	f.Add(byte(0), []byte{6, 2, 5, 'm', 'a', 'i', 'n', 't'})
	f.Add(byte(0), []byte{6, 9, 4, 0})
	f.Add(byte(0), []byte{6, 9})
	f.Add(byte(0), []byte{2, 2, 0xfd, 0xe9})
	seedMessages(f, MsgNotification)
	f.Fuzz(func(t *testing.T, _ byte, b []byte) {
		var n Notification
		if err := n.Decode(b); err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("error %v is %T, not *Error", err, err)
			}
			return
		}
		_ = n.String()
		n.ShutdownMessage()
		enc, err := AppendNotification(nil, &n)
		if err != nil {
			return
		}
		var n2 Notification
		if err := n2.Decode(enc[HeaderLen:]); err != nil {
			t.Fatal(err)
		}
		if n.Code != n2.Code || n.Subcode != n2.Subcode || !bytes.Equal(n.Data, n2.Data) {
			t.Fatalf("round trip %+v != %+v", n, n2)
		}
	})
}
