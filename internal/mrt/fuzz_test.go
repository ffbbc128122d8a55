package mrt

import (
	"bytes"
	"io"
	"testing"

	"github.com/kbgp/kbgp/internal/bgp/wire"
)

// FuzzReader feeds arbitrary bytes through the Reader, every record decoder,
// the wire route decoder and the bgpdump formatter. None may panic; the
// Reader must end with io.EOF or an error, and decoded records must survive
// a write/read round trip. Seeds (testdata/fuzz/FuzzReader) are the first
// records of the shared MRT files of every type.
func FuzzReader(f *testing.F) {
	f.Add(rawRecord(1, TypeBGP4MP, SubtypeStateChange, 20, make([]byte, 20)))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := NewReader(bytes.NewReader(data))
		var (
			td   TableDump
			pit  PeerIndexTable
			rib  RIB
			mp   BGP4MP
			d    RouteDecoder
			u    wire.Update
			dump BGPDump
			ss   Sessions
			o    wire.Options
			out  []byte
		)
		for n := 0; ; n++ {
			rec, err := r.Next()
			if err == io.EOF {
				return
			}
			if err != nil {
				if err.Error() == "" {
					t.Fatal("empty error")
				}
				return
			}
			if r.Compression() == "" && n > len(data)/HeaderLen {
				t.Fatalf("%d records from %d bytes", n, len(data))
			}
			out, _ = dump.AppendRecord(out[:0], rec)
			switch rec.Type {
			case TypeTableDump:
				if rec.TableDump(&td) == nil {
					_ = d.TableDump(&u, &td)
				}
			case TypeTableDumpV2:
				if rec.Subtype == SubtypePeerIndexTable {
					if rec.PeerIndexTable(&pit) == nil {
						checkPIT(t, &pit)
					}
					continue
				}
				if rec.RIB(&rib) == nil {
					for i := range rib.Entries {
						_ = d.RIBEntry(&u, &rib, i)
					}
					checkRIB(t, rec, &rib)
				}
			case TypeBGP4MP, TypeBGP4MPET:
				if rec.BGP4MP(&mp) == nil {
					ss.Observe(&mp)
					if !mp.IsStateChange() {
						_ = d.Update(&u, &mp)
						o = ss.Options(&mp)
						_ = d.DecodeMessage(&u, &mp, &o)
					}
				}
			}
		}
	})
}

// checkPIT writes a decoded PEER_INDEX_TABLE and reads it back.
func checkPIT(t *testing.T, pit *PeerIndexTable) {
	b, err := AppendPeerIndexTable(nil, pit)
	if err != nil {
		return
	}
	rec := Record{Type: TypeTableDumpV2, Subtype: SubtypePeerIndexTable, Body: b}
	var got PeerIndexTable
	if err := rec.PeerIndexTable(&got); err != nil {
		t.Fatalf("re-reading a written PEER_INDEX_TABLE: %v", err)
	}
	if len(got.Peers) != len(pit.Peers) || got.ViewName != pit.ViewName {
		t.Fatalf("PEER_INDEX_TABLE round trip: %+v != %+v", got, *pit)
	}
	for i := range got.Peers {
		if got.Peers[i].Addr != pit.Peers[i].Addr || got.Peers[i].AS != pit.Peers[i].AS {
			t.Fatalf("peer %d round trip: %+v != %+v", i, got.Peers[i], pit.Peers[i])
		}
	}
}

// checkRIB writes a decoded RIB record and reads it back; prefixes come
// back masked.
func checkRIB(t *testing.T, rec *Record, rib *RIB) {
	b, err := AppendRIB(nil, rib, rec.Subtype)
	if err != nil {
		return
	}
	rr := Record{Type: TypeTableDumpV2, Subtype: rec.Subtype, Body: b}
	var got RIB
	if err := rr.RIB(&got); err != nil {
		t.Fatalf("re-reading a written RIB: %v", err)
	}
	if got.Prefix != rib.Prefix.Masked() || len(got.Entries) != len(rib.Entries) {
		t.Fatalf("RIB round trip: %v/%d entries != %v/%d", got.Prefix, len(got.Entries), rib.Prefix, len(rib.Entries))
	}
	for i := range got.Entries {
		if !bytes.Equal(got.Entries[i].Attrs, rib.Entries[i].Attrs) || got.Entries[i].PathID != rib.Entries[i].PathID {
			t.Fatalf("RIB entry %d round trip differs", i)
		}
	}
}
