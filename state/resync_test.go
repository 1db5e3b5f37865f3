package state

import (
	"encoding/hex"
	"reflect"
	"testing"
	"time"
)

// stateV1Cursor is the cursor record of publisher/testdata/state-v1.txt, as
// covacdc wrote it before resyncs existed.
const stateV1Cursor = `{"format":1,"since":"2024-05-01T00:00:00Z","scanStarted":"2024-05-01T00:02:00Z","scanFinished":"2024-05-01T00:02:30Z","initialLoadComplete":true,"scans":4}`

func TestCursorWithoutResyncIsWrittenAsBefore(t *testing.T) {
	cur := Cursor{
		Since:               time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC),
		ScanStarted:         time.Date(2024, 5, 1, 0, 2, 0, 0, time.UTC),
		ScanFinished:        time.Date(2024, 5, 1, 0, 2, 30, 0, time.UTC),
		InitialLoadComplete: true,
		Scans:               4,
	}
	if got := string(CursorValue(cur)); got != stateV1Cursor {
		t.Errorf("cursor value\n%s\nwant, as before resyncs,\n%s", got, stateV1Cursor)
	}
	got, err := parseCursorValue(CursorKey(1), []byte(stateV1Cursor))
	if err != nil || got != cur {
		t.Errorf("earlier cursor reads as %+v, %v; want %+v", got, err, cur)
	}
}

func TestCursorKeepsItsResync(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	cur := Cursor{
		Since: at, Scans: 9, InitialLoadComplete: true,
		Resync:     &Resync{ID: "req-7", Seq: 3, Customers: [][16]byte{id(1), id(2)}, RequestedAt: at, AcceptedAt: at.Add(time.Second)},
		LastResync: &CompletedResync{ID: "req-5", Seq: 2, CompletedAt: at.Add(-time.Hour)},
	}
	v := CursorValue(cur)
	x := NewIndex()
	if err := x.Apply(CursorKey(4), v); err != nil {
		t.Fatal(err)
	}
	got, _ := x.Cursor(4)
	if !reflect.DeepEqual(got, cur) {
		t.Errorf("cursor %s reads as %+v (resync %+v, last %+v)", v, got, got.Resync, got.LastResync)
	}
	if got.LastResyncSeq() != 3 {
		t.Errorf("LastResyncSeq = %d, want 3", got.LastResyncSeq())
	}
	if !got.Resync.InScope(id(2)) || got.Resync.InScope(id(3)) || !(&Resync{}).InScope(id(3)) {
		t.Error("InScope does not follow Customers (empty: every customer)")
	}
}

// TestResyncMarksRestoreInAnyOrder applies a state topic of two partitions,
// the cursor's and the version records', in both orders: the active
// resync's marks are kept, every other resync's are dropped, and a format-2
// record replaces a higher Version.
func TestResyncMarksRestoreInAnyOrder(t *testing.T) {
	accepted := Cursor{Scans: 5, InitialLoadComplete: true, Resync: &Resync{ID: "r", Seq: 2}, LastResync: &CompletedResync{ID: "q", Seq: 1}}
	cursors := [][2][]byte{
		{CursorKey(7), CursorValue(Cursor{Scans: 4, InitialLoadComplete: true, Resync: &Resync{ID: "q", Seq: 1}})},
		{CursorKey(7), CursorValue(Cursor{Scans: 5, InitialLoadComplete: true, LastResync: &CompletedResync{ID: "q", Seq: 1}})},
		{CursorKey(7), CursorValue(accepted)},
	}
	versions := [][2][]byte{
		{AppendVersionKey(nil, 7, id(1)), AppendVersionValue(nil, 10)},
		{AppendVersionKey(nil, 7, id(1)), AppendResyncVersionValue(nil, 3, 2)}, // went backwards: replaces 10
		{AppendVersionKey(nil, 7, id(2)), AppendResyncVersionValue(nil, 8, 1)}, // of the completed resync
		{AppendVersionKey(nil, 7, id(3)), AppendResyncVersionValue(nil, 4, 2)},
		{AppendVersionKey(nil, 7, id(3)), AppendVersionValue(nil, 5)}, // written after: no mark
		{AppendVersionKey(nil, 7, id(4)), AppendResyncVersionValue(nil, 1, 2)},
		{AppendVersionKey(nil, 7, id(4)), nil}, // an operator's tombstone
	}
	for name, order := range map[string][][2][]byte{
		"cursor first":   append(append([][2][]byte{}, cursors...), versions...),
		"versions first": append(append([][2][]byte{}, versions...), cursors...),
	} {
		t.Run(name, func(t *testing.T) {
			x := NewIndex()
			for _, r := range order {
				if err := x.Apply(r[0], r[1]); err != nil {
					t.Fatal(err)
				}
			}
			x.settle()
			if v, _ := x.Version(7, id(1)); v != 3 || !x.Resynced(7, id(1)) {
				t.Errorf("customer 1: version %d, resynced %v; want 3, true", v, x.Resynced(7, id(1)))
			}
			if v, _ := x.Version(7, id(2)); v != 8 || x.Resynced(7, id(2)) {
				t.Errorf("customer 2: version %d, resynced %v; want 8, false (its resync completed)", v, x.Resynced(7, id(2)))
			}
			if x.Resynced(7, id(3)) || x.Resynced(7, id(4)) {
				t.Error("a mark outlived a later record of its customer")
			}
			if n := x.ResyncedCount(7); n != 1 {
				t.Errorf("ResyncedCount = %d, want 1", n)
			}
			if cs := x.Companies(); len(cs) != 1 || cs[0].Resynced != 1 || cs[0].Cursor.Resync == nil {
				t.Errorf("Companies = %+v", cs)
			}
			if len(x.company(7).marks) != 1 {
				t.Errorf("marks of %d resyncs kept, want only the active one's", len(x.company(7).marks))
			}
			// Completing the resync leaves nothing per customer.
			x.SetCursor(7, Cursor{Scans: 6, InitialLoadComplete: true, LastResync: &CompletedResync{ID: "r", Seq: 2}})
			if x.company(7).marks != nil || x.Resynced(7, id(1)) || x.ResyncedCount(7) != 0 {
				t.Error("marks kept after the resync completed")
			}
		})
	}
}

func TestResyncVersionValue(t *testing.T) {
	v := AppendResyncVersionValue(nil, -2, 300)
	if got := hex.EncodeToString(v); got != "0203ac02" {
		t.Errorf("value %s, want 0203ac02 ([2][varint -2][uvarint 300])", got)
	}
	version, seq, err := parseVersionValue([]byte("k"), v)
	if err != nil || version != -2 || seq != 300 {
		t.Errorf("parse = %d, %d, %v", version, seq, err)
	}
}

func TestDiffResync(t *testing.T) {
	x := NewIndex()
	x.SetVersion(1, id(1), 10)
	x.SetVersion(1, id(2), 10)
	x.SetCursor(1, Cursor{InitialLoadComplete: true, Scans: 3, Resync: &Resync{ID: "r", Seq: 4}})
	p := NewPending(x)
	for _, c := range []struct {
		name    string
		id      [16]byte
		version int64
		want    Change
	}{
		{"unchanged", id(1), 10, Change{Outcome: Changed, Resync: true, Previous: 10, HasPrevious: true}},
		{"went backwards", id(2), 7, Change{Outcome: Changed, Resync: true, Previous: 10, HasPrevious: true}},
		{"never published", id(3), 1, Change{Outcome: Changed, Resync: true}},
	} {
		if got := p.DiffResync(1, c.id, c.version, 4); got != c.want {
			t.Errorf("%s: DiffResync = %+v, want %+v", c.name, got, c.want)
		}
	}
	p.SetResynced(1, id(2), 7, 4)
	if got := p.DiffResync(1, id(2), 7, 4); got.Outcome != Unchanged || got.Resync {
		t.Errorf("resynced in this transaction: %+v, want unchanged", got)
	}
	if got := p.DiffResync(1, id(2), 8, 4); got.Outcome != Changed || got.Resync || got.Previous != 7 {
		t.Errorf("resynced, then changed: %+v, want an update from 7", got)
	}
	p.Discard()
	if got := p.DiffResync(1, id(2), 7, 4); !got.Resync {
		t.Errorf("after Discard: %+v, want published by the resync again", got)
	}
	p.SetResynced(1, id(2), 7, 4)
	p.SetResynced(1, id(2), 8, 4) // changed again in the same transaction: one snapshot
	if n := p.Resyncs()[1]; n != 1 {
		t.Errorf("Resyncs = %d, want 1", n)
	}
	p.Commit()
	if v, _ := x.Version(1, id(2)); v != 8 || !x.Resynced(1, id(2)) || x.Resynced(1, id(1)) {
		t.Errorf("after Commit: version %d, resynced %v", v, x.Resynced(1, id(2)))
	}
	if got := p.DiffResync(1, id(2), 8, 4); got.Outcome != Unchanged {
		t.Errorf("committed resync: %+v, want unchanged", got)
	}
	if got := p.DiffResync(1, id(2), 8, 5); !got.Resync {
		t.Errorf("another resync: %+v, want published again", got)
	}
}

func TestSignalOffset(t *testing.T) {
	x := NewIndex()
	if _, ok := x.SignalOffset(0); ok {
		t.Error("a position before any signal")
	}
	for _, r := range [][2][]byte{
		{SignalKey(0), SignalValue(5)},
		{SignalKey(2), SignalValue(9)},
		{SignalKey(0), SignalValue(3)}, // behind: signals are never read twice
	} {
		if err := x.Apply(r[0], r[1]); err != nil {
			t.Fatal(err)
		}
	}
	if n, ok := x.SignalOffset(0); !ok || n != 5 {
		t.Errorf("partition 0 at %d, %v; want 5", n, ok)
	}
	p := NewPending(x)
	p.SetSignalOffset(2, 10)
	if n, _ := x.SignalOffset(2); n != 9 {
		t.Errorf("a pending position reached the index before Commit: %d", n)
	}
	p.Commit()
	if n, _ := x.SignalOffset(2); n != 10 {
		t.Errorf("partition 2 at %d after Commit, want 10", n)
	}
}
