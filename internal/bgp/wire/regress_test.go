package wire

import (
	"bytes"
	"testing"
)

// mkUpdate assembles an UPDATE message from hex pieces, computing the
// lengths.
func mkUpdate(t *testing.T, withdrawn, attrs, nlri string) []byte {
	t.Helper()
	w, a, n := unhex(t, withdrawn), unhex(t, attrs), unhex(t, nlri)
	b := AppendHeader(nil, MsgUpdate, 4+len(w)+len(a)+len(n))
	b = append(b, byte(len(w)>>8), byte(len(w)))
	b = append(b, w...)
	b = append(b, byte(len(a)>>8), byte(len(a)))
	b = append(b, a...)
	return append(b, n...)
}

const okAttrs = "40010100 400200 400304c0000201 " // ORIGIN IGP, empty AS_PATH, NEXT_HOP 192.0.2.1

// TestMalformedRegressions covers the malformed-input incidents of
// shared/notes/testdata.md §3.3 that apply to the unicast families.
func TestMalformedRegressions(t *testing.T) {
	tests := []struct {
		name          string
		msg           func(t *testing.T) []byte
		o             Options
		action        Action // 0: no error
		code, sub     uint8  // checked when action is session reset
		attr          AttrType
		wantNLRI      int // NLRI + MP NLRI that must still be decoded
		wantWithdrawn int
		check         func(t *testing.T, u *Update, e *Error)
	}{
		{
			name:   "CVE-2023-41358 NLRI with zero attribute length",
			msg:    func(t *testing.T) []byte { return mkUpdate(t, "", "", "180a0a0a") },
			action: ActionTreatAsWithdraw, attr: AttrOrigin, wantNLRI: 1,
		},
		{
			name: "CVE-2023-38802 corrupted tunnel encapsulation is passed on, not a reset",
			msg:  func(t *testing.T) []byte { return mkUpdate(t, "", okAttrs+"c0 17 05 0007000401", "180a0a0a") },
			check: func(t *testing.T, u *Update, _ *Error) {
				if len(u.Attrs.Unknown) != 1 || u.Attrs.Unknown[0].Type != 23 {
					t.Fatalf("attribute 23 not kept: %+v", u.Attrs.Unknown)
				}
				enc, err := AppendUpdate(nil, u, nil)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Contains(enc, []byte{0xe0, 23, 5}) {
					t.Fatalf("attribute 23 not re-encoded with the Partial bit: %x", enc)
				}
			},
			wantNLRI: 1,
		},
		{
			name:     "FRR #3583 attribute type 255 optional transitive partial",
			msg:      func(t *testing.T) []byte { return mkUpdate(t, "", okAttrs+"e0 ff 04 deadbeef", "180a0a0a") },
			wantNLRI: 1,
		},
		{
			name: "FRR #23411 unused flag bits are not re-advertised",
			msg:  func(t *testing.T) []byte { return mkUpdate(t, "", okAttrs+"c5 fe 01 00", "180a0a0a") },
			check: func(t *testing.T, u *Update, _ *Error) {
				enc, err := AppendUpdate(nil, u, nil)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Contains(enc, []byte{0xe0, 0xfe, 1, 0}) {
					t.Fatalf("want flags 0xe0 on re-encode: %x", enc)
				}
			},
			wantNLRI: 1,
		},
		{
			name:   "CVE-2023-47234 only unknown transitive attributes",
			msg:    func(t *testing.T) []byte { return mkUpdate(t, "", "c0 fe 02 0102", "180a0a0a") },
			action: ActionTreatAsWithdraw, attr: AttrOrigin, wantNLRI: 1,
		},
		{
			name:   "CVE-2023-46753 MP_REACH shorter than its header",
			msg:    func(t *testing.T) []byte { return mkUpdate(t, "", okAttrs+"800e03000201", "") },
			action: ActionSessionReset, code: 3, sub: 1, attr: AttrMPReach,
		},
		{
			name: "CVE-2017-15865 NOTIFICATION data bounded to the bytes received",
			msg:  func(t *testing.T) []byte { return mkUpdate(t, "", okAttrs+"c0 08 ff 0000", "") },
			// Overrun with no NLRI: session reset (FRR #22563).
			action: ActionSessionReset, code: 3, sub: 1,
			check: func(t *testing.T, _ *Update, e *Error) {
				for _, x := range append([]*Error{e}, e.Others...) {
					if len(x.Data) > 5 {
						t.Fatalf("NOTIFICATION data %x longer than the attribute bytes received", x.Data)
					}
				}
			},
		},
		{
			name:   "FRR #22563 attribute length overrun without NLRI resets",
			msg:    func(t *testing.T) []byte { return mkUpdate(t, "", "40010100 40 02 09 0201", "") },
			action: ActionSessionReset, code: 3, sub: 1,
		},
		{
			name:   "CVE-2026-42285 attribute length overrun withdraws the UPDATE's own routes",
			msg:    func(t *testing.T) []byte { return mkUpdate(t, "180b0b0b", okAttrs+"c0 08 09 ffff", "180a0a0a 10c0a8") },
			action: ActionTreatAsWithdraw, attr: AttrCommunities, wantNLRI: 2, wantWithdrawn: 1,
		},
		{
			name: "BGPLite #484 MP_UNREACH after a malformed attribute is still decoded",
			msg: func(t *testing.T) []byte {
				return mkUpdate(t, "", "40010103 400200 800f08000201 2020010db8 800e1c000201 10 20010db8000000000000000000000001 00 30 20010db80001", "")
			},
			action: ActionTreatAsWithdraw, attr: AttrOrigin, wantNLRI: 1,
			check: func(t *testing.T, u *Update, _ *Error) {
				if u.MPUnreach == nil || len(u.MPUnreach.NLRI) != 1 {
					t.Fatalf("MP_UNREACH NLRI lost: %+v", u.MPUnreach)
				}
			},
		},
		{
			name:   "CVE-2026-30405 malformed NEXT_HOP stops at the parse error",
			msg:    func(t *testing.T) []byte { return mkUpdate(t, "", "40010100 400200 400303c00002", "180a0a0a") },
			action: ActionTreatAsWithdraw, attr: AttrNextHop, wantNLRI: 1,
			check: func(t *testing.T, u *Update, _ *Error) {
				if u.Attrs.Has(AttrNextHop) || u.Attrs.NextHop.IsValid() {
					t.Fatal("malformed NEXT_HOP kept")
				}
			},
		},
		{
			name:   "CVE-2026-41642 unrecognized well-known attribute",
			msg:    func(t *testing.T) []byte { return mkUpdate(t, "", okAttrs+"40 63 02 abcd", "180a0a0a") },
			action: ActionSessionReset, code: 3, sub: 2, attr: 99,
			check: func(t *testing.T, _ *Update, e *Error) {
				if !bytes.Equal(e.Data, []byte{0x40, 0x63, 2, 0xab, 0xcd}) {
					t.Fatalf("data %x, want the whole attribute (RFC 4271 §6.3)", e.Data)
				}
			},
		},
		{
			name:   "GHSA-frrj-87jh-2772 AS_PATH of one byte",
			msg:    func(t *testing.T) []byte { return mkUpdate(t, "", "40010100 40020102 400304c0000201", "180a0a0a") },
			action: ActionTreatAsWithdraw, attr: AttrASPath, wantNLRI: 1,
		},
		{
			name:   "CVE-2026-37462 withdrawn length larger than the message",
			msg:    func(t *testing.T) []byte { b := mkUpdate(t, "", okAttrs, ""); b[19], b[20] = 0xff, 0xf0; return b },
			action: ActionSessionReset, code: 3, sub: 1,
		},
		{
			name:   "total attribute length larger than the message",
			msg:    func(t *testing.T) []byte { b := mkUpdate(t, "", okAttrs, ""); b[22] = 0xee; return b },
			action: ActionSessionReset, code: 3, sub: 1,
		},
		{
			name:   "GoBGP #3392 ORIGIN without the Transitive flag",
			msg:    func(t *testing.T) []byte { return mkUpdate(t, "", "00010100 400200 400304c0000201", "180a0a0a") },
			action: ActionTreatAsWithdraw, attr: AttrOrigin, wantNLRI: 1,
		},
		{
			name:   "prefix length 33 in NLRI",
			msg:    func(t *testing.T) []byte { return mkUpdate(t, "", okAttrs, "210a0a0a0a0a") },
			action: ActionSessionReset, code: 3, sub: 10,
		},
		{
			name: "IPv6 prefix length 129 in MP_REACH",
			msg: func(t *testing.T) []byte {
				return mkUpdate(t, "", "40010100 400200 800e16000201 10 20010db8000000000000000000000001 00 81 00", "")
			},
			action: ActionSessionReset, code: 3, sub: 9, attr: AttrMPReach,
		},
		{
			name:     "duplicate ORIGIN: the second is discarded silently",
			msg:      func(t *testing.T) []byte { return mkUpdate(t, "", okAttrs+"40010102", "180a0a0a") },
			wantNLRI: 1,
			check: func(t *testing.T, u *Update, _ *Error) {
				if u.Attrs.Origin != OriginIGP {
					t.Fatalf("ORIGIN %v, want the first (IGP)", u.Attrs.Origin)
				}
			},
		},
		{
			name:   "LOCAL_PREF from eBGP is discarded",
			msg:    func(t *testing.T) []byte { return mkUpdate(t, "", okAttrs+"40050400000064", "180a0a0a") },
			o:      Options{EBGP: true},
			action: ActionAttrDiscard, attr: AttrLocalPref, wantNLRI: 1,
			check: func(t *testing.T, u *Update, _ *Error) {
				if u.Attrs.Has(AttrLocalPref) {
					t.Fatal("LOCAL_PREF kept")
				}
			},
		},
		{
			name: "AS4_PATH longer than AS_PATH is ignored (RFC 6793 §4.2.3)",
			msg: func(t *testing.T) []byte {
				return mkUpdate(t, "", "40010100 40020402015ba0 400304c0000201 c0110a0202fa56ea00fa56ea01", "180a0a0a")
			},
			wantNLRI: 1,
			check: func(t *testing.T, u *Update, _ *Error) {
				if got := ASPathString(u.Attrs.ASPath); got != "23456" {
					t.Fatalf("AS_PATH %q, want the 2-octet path 23456", got)
				}
			},
		},
		{
			name: "CVE-2026-41643 AS4_PATH merged at the right index",
			msg: func(t *testing.T) []byte {
				return mkUpdate(t, "", "40010100 40020e 0203fde9fdea5ba0 0102fdeb5ba0 400304c0000201 c0110a 0102 0000fdebfa56ea01", "180a0a0a")
			},
			wantNLRI: 1,
			check: func(t *testing.T, u *Update, _ *Error) {
				if got := ASPathString(u.Attrs.ASPath); got != "65001 65002 23456 {65003 4200000001}" {
					t.Fatalf("merged path %q", got)
				}
			},
		},
		{
			name: "confederation segment from an external peer",
			msg: func(t *testing.T) []byte {
				return mkUpdate(t, "", "40010100 40020c 0301 0000fc00 0201 0000fde9 400304c0000201", "180a0a0a")
			},
			o:      Options{AS4: true, EBGP: true},
			action: ActionTreatAsWithdraw, attr: AttrASPath, wantNLRI: 1,
		},
		{
			name: "confederation segment from an internal peer is fine",
			msg: func(t *testing.T) []byte {
				return mkUpdate(t, "", "40010100 40020c 0301 0000fc00 0201 0000fde9 400304c0000201", "180a0a0a")
			},
			o:        Options{AS4: true},
			wantNLRI: 1,
		},
		{
			name: "AS4_PATH with a confederation segment is discarded",
			msg: func(t *testing.T) []byte {
				return mkUpdate(t, "", "40010100 40020402015ba0 400304c0000201 c01106 0301fa56ea00", "180a0a0a")
			},
			action: ActionAttrDiscard, attr: AttrAS4Path, wantNLRI: 1,
		},
		{
			// RFC 7606 §3(c): flag conflicts are treat-as-withdraw "unless
			// the specification for the attribute mandates different
			// handling", and §7.7 mandates attribute discard for AGGREGATOR.
			name:   "AGGREGATOR with well-known flags is discarded, not withdrawn",
			msg:    func(t *testing.T) []byte { return mkUpdate(t, "", okAttrs+"400706fde9c0000201", "180a0a0a") },
			action: ActionAttrDiscard, attr: AttrAggregator, wantNLRI: 1,
			check: func(t *testing.T, u *Update, _ *Error) {
				if u.Attrs.Has(AttrAggregator) {
					t.Fatal("AGGREGATOR kept")
				}
			},
		},
		{
			name:   "ATOMIC_AGGREGATE marked optional is discarded (RFC 7606 §7.6)",
			msg:    func(t *testing.T) []byte { return mkUpdate(t, "", okAttrs+"c00600", "180a0a0a") },
			action: ActionAttrDiscard, attr: AttrAtomicAggregate, wantNLRI: 1,
		},
		{
			name:   "AS4_AGGREGATOR non-transitive is discarded (RFC 6793 §6)",
			msg:    func(t *testing.T) []byte { return mkUpdate(t, "", okAttrs+"801208fa56ea00c0000201", "180a0a0a") },
			action: ActionAttrDiscard, attr: AttrAS4Aggregator, wantNLRI: 1,
		},
		{
			// RFC 4760 §3: "An UPDATE message that carries no NLRI, other
			// than the one encoded in the MP_REACH_NLRI attribute, SHOULD
			// NOT carry the NEXT_HOP attribute. If such a message contains
			// the NEXT_HOP attribute, the BGP speaker that receives the
			// message SHOULD ignore this attribute."
			name: "bad NEXT_HOP beside MP_REACH only does not withdraw the MP routes",
			msg: func(t *testing.T) []byte {
				return mkUpdate(t, "", "800e1e 0002 01 10 20010db8000000000000000000000001 00 40 20010db800000000"+
					"40010100 400200 40030400000000", "")
			},
			action: ActionAttrDiscard, attr: AttrNextHop, wantNLRI: 1,
			check: func(t *testing.T, u *Update, _ *Error) {
				if u.Attrs.Has(AttrNextHop) {
					t.Fatal("invalid NEXT_HOP kept")
				}
			},
		},
		{
			name: "NEXT_HOP of length 16 beside MP_REACH only is discarded",
			msg: func(t *testing.T) []byte {
				return mkUpdate(t, "", "800e1e 0002 01 10 20010db8000000000000000000000001 00 40 20010db800000000"+
					"40010100 400200 400310 20010db8000000000000000000000001", "")
			},
			action: ActionAttrDiscard, attr: AttrNextHop, wantNLRI: 1,
		},
		{
			name:   "bad NEXT_HOP with IPv4 NLRI is still treat-as-withdraw",
			msg:    func(t *testing.T) []byte { return mkUpdate(t, "", "40010100 400200 40030400000000", "180a0a0a") },
			action: ActionTreatAsWithdraw, attr: AttrNextHop, wantNLRI: 1,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			msg := tc.msg(t)
			var u Update
			err := u.Decode(body(t, msg, MsgUpdate), &tc.o)
			var e *Error
			if err != nil {
				e = asError(t, err)
			}
			switch {
			case tc.action == 0 && err != nil:
				t.Fatalf("unexpected error %v", err)
			case tc.action != 0 && err == nil:
				t.Fatalf("no error, want %v", tc.action)
			case e != nil && e.Action != tc.action:
				t.Fatalf("action %v (%v), want %v", e.Action, e, tc.action)
			case e != nil && tc.action == ActionSessionReset && (e.Code != tc.code || e.Subcode != tc.sub):
				t.Fatalf("NOTIFICATION %d/%d (%v), want %d/%d", e.Code, e.Subcode, e, tc.code, tc.sub)
			case e != nil && tc.attr != 0 && e.Attr != tc.attr:
				t.Fatalf("attribute %v (%v), want %v", e.Attr, e, tc.attr)
			}
			if e != nil && e.Action == ActionSessionReset {
				if n := e.Notification(); n.Code != e.Code || n.Subcode != e.Subcode {
					t.Fatalf("Notification() %+v", n)
				}
			}
			if e == nil || e.Action < ActionSessionReset {
				n := len(u.NLRI)
				if u.MPReach != nil {
					n += len(u.MPReach.NLRI)
				}
				if n != tc.wantNLRI || len(u.Withdrawn) != tc.wantWithdrawn {
					t.Fatalf("decoded %d NLRI and %d withdrawn, want %d and %d", n, len(u.Withdrawn), tc.wantNLRI, tc.wantWithdrawn)
				}
			}
			if tc.check != nil {
				tc.check(t, &u, e)
			}
		})
	}
}
