package mrt

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/kbgp/kbgp/internal/bgp/wire"
)

// TestRouteDecoderShared decodes every route of the bgpdump__ inputs with
// package wire and checks the prefix count against the `bgpdump -m` oracle
// line count (each A or B line is one route).
func TestRouteDecoderShared(t *testing.T) {
	dir := sharedDir(t)
	cases := []struct {
		file   string
		routes int // A and B lines of the oracle
		wdraw  int // W lines
	}{
		{"bgpdump__bview.20020722.2337.gz", 115521, 0},
		{"bgpdump__bview.64k_stream_overflow.gz", 23, 0},
		{"bgpdump__bview.ipv4_unicast_add_path.gz", 62, 0},
		{"bgpdump__bview.ipv6_unicast_add_path.gz", 62, 0},
		{"bgpdump__updates.20020722.2238.gz", 825, 2419},
		{"bgpdump__updates.20100722.2015.gz", 5067, 547},
		{"bgpdump__updates.20160811.1600.gz", 39256, 1956},
		{"bgpdump__updates.et-header.2015.gz", 577737, 3},
		{"bgpdump__updates.long_withdrawal.gz", 0, 4096},
	}
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			f, err := os.Open(filepath.Join(dir, tc.file))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			routes, wdraw, errs, err := countRoutes(f)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%d routes, %d withdrawals, wire errors: %v", routes, wdraw, errs)
			if routes != tc.routes || wdraw != tc.wdraw {
				t.Errorf("got %d routes and %d withdrawals, the oracle has %d and %d", routes, wdraw, tc.routes, tc.wdraw)
			}
		})
	}
}

func countRoutes(r io.Reader) (routes, wdraw int, errs countMap, err error) {
	errs = countMap{}
	mr := NewReader(r)
	var (
		d   RouteDecoder
		u   wire.Update
		ss  Sessions
		o   wire.Options
		td  TableDump
		rib RIB
		mp  BGP4MP
		pit PeerIndexTable
	)
	note := func(err error) {
		var we *wire.Error
		if errors.As(err, &we) {
			errs[we.Action.String()+": "+we.Error()]++
			return
		}
		errs[err.Error()]++
	}
	for {
		rec, err := mr.Next()
		if err == io.EOF {
			return routes, wdraw, errs, nil
		}
		if err != nil {
			return routes, wdraw, errs, err
		}
		switch rec.Type {
		case TypeTableDump:
			if err := rec.TableDump(&td); err != nil {
				return routes, wdraw, errs, err
			}
			if err := d.TableDump(&u, &td); err != nil {
				note(err)
			}
			routes++
		case TypeTableDumpV2:
			if rec.Subtype == SubtypePeerIndexTable {
				if err := rec.PeerIndexTable(&pit); err != nil {
					return routes, wdraw, errs, err
				}
				continue
			}
			if err := rec.RIB(&rib); err != nil {
				return routes, wdraw, errs, err
			}
			for i := range rib.Entries {
				if err := d.RIBEntry(&u, &rib, i); err != nil {
					note(err)
				}
				if u.MPReach != nil {
					routes += len(u.MPReach.NLRI)
				} else {
					routes += len(u.NLRI)
				}
			}
		case TypeBGP4MP, TypeBGP4MPET:
			if err := rec.BGP4MP(&mp); err != nil {
				return routes, wdraw, errs, err
			}
			ss.Observe(&mp)
			if mp.IsStateChange() {
				continue
			}
			if typ, err := mp.MessageType(); err != nil || typ != wire.MsgUpdate {
				continue
			}
			o = ss.Options(&mp)
			if err := d.DecodeMessage(&u, &mp, &o); err != nil {
				note(err)
			}
			routes += len(u.NLRI)
			wdraw += len(u.Withdrawn)
			if u.MPReach != nil {
				routes += len(u.MPReach.NLRI)
			}
			if u.MPUnreach != nil {
				wdraw += len(u.MPUnreach.NLRI)
			}
		}
	}
}

// TestSessionsAddPath decodes BIRD dumps of ADD-PATH sessions recorded with
// the plain MESSAGE_AS4 subtype: only the OPENs tell that NLRI carry path
// identifiers. Without Sessions the wire decoder reads path IDs as prefix
// lengths and resets.
func TestSessionsAddPath(t *testing.T) {
	dir := sharedDir(t)
	for _, name := range []string{"mrtparse__bird_bgp.mrt", "mrtparse__bird6_bgp.mrt"} {
		t.Run(name, func(t *testing.T) {
			f, err := os.Open(filepath.Join(dir, name))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			routes, _, errs, err := countRoutes(f)
			if err != nil {
				t.Fatal(err)
			}
			if len(errs) != 0 || routes == 0 {
				t.Fatalf("%d routes, wire errors %v", routes, errs)
			}
			t.Logf("%d routes", routes)
		})
	}
}
