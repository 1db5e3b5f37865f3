package state

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/covacdc/covacdc/internal/testenv"

	"github.com/covacdc/covacdc/publisher/kafkatest"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

func id(n byte) [16]byte { return [16]byte{0xc0, 0x7a, 15: n} }

func TestApplyRecords(t *testing.T) {
	x := NewIndex()
	cur := Cursor{
		Since:               time.Date(2024, 5, 1, 1, 2, 3, 4000, time.UTC),
		ScanStarted:         time.Date(2024, 5, 1, 1, 4, 0, 0, time.UTC),
		ScanFinished:        time.Date(2024, 5, 1, 1, 5, 0, 0, time.UTC),
		InitialLoadComplete: true,
		Scans:               3,
	}
	recs := [][2][]byte{
		{AppendVersionKey(nil, 7, id(1)), AppendVersionValue(nil, 1<<40)},
		{AppendVersionKey(nil, 7, id(2)), AppendVersionValue(nil, 5)},
		{AppendVersionKey(nil, 7, id(2)), AppendVersionValue(nil, 4)}, // older: never backwards
		{AppendVersionKey(nil, -3, id(1)), AppendVersionValue(nil, 9)},
		{CursorKey(7), CursorValue(cur)},
		{CursorKey(7), CursorValue(Cursor{Scans: 2})}, // fewer scans: an older cursor
		{AppendDeadLetterKey(nil, 7, DeadLetterHash([]byte(`{"bad":1}`))), DeadLetterValue()},
		{MarkerKey(0), MarkerValue([]byte("nonce"))},
	}
	for _, r := range recs {
		if err := x.Apply(r[0], r[1]); err != nil {
			t.Fatalf("Apply(%q): %v", r[0], err)
		}
	}
	if v, ok := x.Version(7, id(1)); !ok || v != 1<<40 {
		t.Errorf("version of 7/1 = %d, %v", v, ok)
	}
	if v, _ := x.Version(7, id(2)); v != 5 {
		t.Errorf("version of 7/2 = %d, want 5 (an older record must not move it back)", v)
	}
	if v, _ := x.Version(-3, id(1)); v != 9 {
		t.Errorf("version of -3/1 = %d", v)
	}
	if got, ok := x.Cursor(7); !ok || got != cur {
		t.Errorf("cursor = %+v, %v; want %+v", got, ok, cur)
	}
	if !x.HasDeadLetter(7, DeadLetterHash([]byte(`{"bad":1}`))) || x.HasDeadLetter(8, DeadLetterHash([]byte(`{"bad":1}`))) {
		t.Error("dead letter not remembered per company")
	}
	if got := x.Companies(); len(got) != 2 || got[0].CompanyID != -3 || got[1].Tracked != 2 || !got[1].HasCursor {
		t.Errorf("Companies() = %+v", got)
	}
	// Tombstones forget.
	if err := x.Apply(AppendVersionKey(nil, 7, id(1)), nil); err != nil {
		t.Fatal(err)
	}
	if _, ok := x.Version(7, id(1)); ok || x.Tracked(7) != 1 {
		t.Error("a tombstone did not forget the version")
	}
}

func TestApplyRefusesWhatItCannotRead(t *testing.T) {
	for name, r := range map[string][2][]byte{
		"newer version format": {AppendVersionKey(nil, 1, id(1)), {3, 4}},
		"resync without seq":   {AppendVersionKey(nil, 1, id(1)), {2, 4}},
		"resync seq 0":         {AppendVersionKey(nil, 1, id(1)), {2, 4, 0}},
		"signal not a number":  {[]byte("s/x"), SignalValue(1)},
		"signal bad value":     {SignalKey(0), {1}},
		"newer cursor format":  {CursorKey(1), []byte(`{"format":2}`)},
		"cursor not JSON":      {CursorKey(1), []byte(`nope`)},
		"short guid":           {[]byte("v/1/abcd"), AppendVersionValue(nil, 1)},
		"no company":           {[]byte("v//c07a0000000000000000000000000001"), AppendVersionValue(nil, 1)},
		"unknown prefix":       {[]byte("x/1"), []byte{1}},
		"truncated varint":     {AppendVersionKey(nil, 1, id(1)), {1, 0x80}},
	} {
		t.Run(name, func(t *testing.T) {
			err := NewIndex().Apply(r[0], r[1])
			if !errors.Is(err, ErrBadRecord) {
				t.Fatalf("Apply(%q, %x) = %v, want ErrBadRecord", r[0], r[1], err)
			}
		})
	}
}

func TestDiff(t *testing.T) {
	x := NewIndex()
	x.SetVersion(1, id(1), 10) // company 1: initial load not complete
	x.SetVersion(2, id(1), 10) // company 2: initial load complete
	x.SetCursor(2, Cursor{InitialLoadComplete: true, Scans: 1})
	p := NewPending(x)
	for _, c := range []struct {
		name    string
		company int64
		id      [16]byte
		version int64
		want    Change
	}{
		{"initial load, new", 1, id(2), 1, Change{Outcome: Changed, InitialLoad: true}},
		{"initial load, newer", 1, id(1), 11, Change{Outcome: Changed, InitialLoad: true, Previous: 10, HasPrevious: true}},
		{"after load, first seen", 2, id(2), 1, Change{Outcome: Changed}},
		{"after load, newer", 2, id(1), 12, Change{Outcome: Changed, Previous: 10, HasPrevious: true}},
		{"equal", 2, id(1), 10, Change{Outcome: Unchanged, Previous: 10, HasPrevious: true}},
		{"older", 2, id(1), 9, Change{Outcome: Stale, Previous: 10, HasPrevious: true}},
		{"unknown company", 3, id(1), 1, Change{Outcome: Changed, InitialLoad: true}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := p.Diff(c.company, c.id, c.version); got != c.want {
				t.Errorf("Diff = %+v, want %+v", got, c.want)
			}
		})
	}

	// Pending changes count in the diff, but reach the index only on Commit.
	p.SetVersion(2, id(1), 12)
	p.SetVersion(2, id(3), 1)
	if got := p.Diff(2, id(1), 12); got.Outcome != Unchanged {
		t.Errorf("a Version pending in this transaction diffs as %v, want unchanged", got.Outcome)
	}
	if got := p.Diff(2, id(1), 11); got.Outcome != Stale || got.Previous != 12 {
		t.Errorf("older than pending: %+v", got)
	}
	p.Discard()
	if v, _ := x.Version(2, id(1)); v != 10 {
		t.Errorf("Discard changed the index: %d", v)
	}
	if got := p.Diff(2, id(1), 12); got.Outcome != Changed || !got.HasPrevious || got.Previous != 10 {
		t.Errorf("after Discard: %+v", got)
	}
	p.SetVersion(2, id(1), 12)
	p.SetCursor(1, Cursor{InitialLoadComplete: true, Scans: 1})
	h := DeadLetterHash([]byte("raw"))
	p.AddDeadLetter(2, h)
	if !p.HasDeadLetter(2, h) || x.HasDeadLetter(2, h) {
		t.Error("pending dead letter not seen by the diff, or already in the index")
	}
	p.Commit()
	if v, _ := x.Version(2, id(1)); v != 12 || !x.HasDeadLetter(2, h) || p.Len() != 0 {
		t.Errorf("Commit did not apply: version %d", v)
	}
	if got := p.Diff(1, id(9), 1); got.InitialLoad || got.HasPrevious {
		t.Errorf("after the initial load completed: %+v, want a first event after the load", got)
	}
}

func newAdmin(t *testing.T, c *kafkatest.Cluster) *kadm.Client {
	cl, err := kgo.NewClient(c.Opts()...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return kadm.NewClient(cl)
}

func TestEnsureTopic(t *testing.T) {
	c := kafkatest.New(t)
	adm := newAdmin(t, c)
	ctx := context.Background()

	t.Run("created compacted when missing", func(t *testing.T) {
		topic := kafkatest.Name(t, "state")
		n, err := EnsureTopic(ctx, adm, TopicConfig{Topic: topic, Partitions: 2})
		if err != nil || n != 2 {
			t.Fatalf("EnsureTopic = %d, %v", n, err)
		}
		var policy string
		testenv.Eventually(t, 10*time.Second, "the new topic's cleanup.policy", func() bool {
			policy, err = cleanupPolicy(ctx, adm, topic)
			return err == nil
		})
		if policy != "compact" {
			t.Fatalf("created topic has cleanup.policy %q (%v), want compact", policy, err)
		}
		// Existing and compacted: accepted, partition count read back.
		if n, err := EnsureTopic(ctx, adm, TopicConfig{Topic: topic, Partitions: 5}); err != nil || n != 2 {
			t.Fatalf("EnsureTopic of the existing topic = %d, %v", n, err)
		}
	})
	for name, policy := range map[string]string{"delete": "delete", "compact-and-delete": "compact,delete"} {
		t.Run("refuses "+name, func(t *testing.T) {
			topic := kafkatest.Name(t, "state")
			if _, err := adm.CreateTopic(ctx, 1, -1, map[string]*string{"cleanup.policy": kadm.StringPtr(policy)}, topic); err != nil {
				t.Fatal(err)
			}
			_, err := EnsureTopic(ctx, adm, TopicConfig{Topic: topic})
			var nc *NotCompactedError
			if !errors.Is(err, ErrNotCompacted) || !errors.As(err, &nc) || nc.Policy != policy {
				t.Fatalf("EnsureTopic = %v, want a NotCompactedError with policy %q", err, policy)
			}
			if !strings.Contains(err.Error(), topic) || !strings.Contains(err.Error(), "cleanup.policy=compact") {
				t.Fatalf("error %q does not name the topic and the required policy", err)
			}
		})
	}
}

// writer produces to explicit partitions of a topic, transactionally.
type writer struct {
	t  *testing.T
	cl *kgo.Client
}

func newWriter(t *testing.T, c *kafkatest.Cluster) *writer {
	cl, err := kgo.NewClient(append(c.Opts(),
		kgo.TransactionalID(kafkatest.Name(t, "txn")),
		kgo.RecordPartitioner(kgo.ManualPartitioner()))...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return &writer{t, cl}
}

func (w *writer) txn(commit bool, recs ...*kgo.Record) {
	ctx := context.Background()
	if err := w.cl.BeginTransaction(); err != nil {
		w.t.Fatal(err)
	}
	if err := w.cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		w.t.Fatal(err)
	}
	if err := w.cl.EndTransaction(ctx, kgo.TransactionEndTry(commit)); err != nil {
		w.t.Fatal(err)
	}
}

func rec(topic string, p int32, key, value []byte) *kgo.Record {
	return &kgo.Record{Topic: topic, Partition: p, Key: key, Value: value}
}

// TestRestore reads committed state only, and ends on an empty partition, an
// aborted tail and a transaction still open.
func TestRestore(t *testing.T) {
	c := kafkatest.New(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	topic := kafkatest.Name(t, "state")
	if _, err := EnsureTopic(ctx, newAdmin(t, c), TopicConfig{Topic: topic, Partitions: 3}); err != nil {
		t.Fatal(err)
	}
	if idx, _, err := Restore(ctx, topic, c.Opts()...); err != nil || idx.Len() != 0 {
		t.Fatalf("Restore of an empty topic: %v", err)
	}
	w := newWriter(t, c)
	cur := Cursor{Since: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), InitialLoadComplete: true, Scans: 4}
	w.txn(true,
		rec(topic, 0, AppendVersionKey(nil, 1, id(1)), AppendVersionValue(nil, 3)),
		rec(topic, 1, AppendVersionKey(nil, 1, id(2)), AppendVersionValue(nil, 5)),
		rec(topic, 0, CursorKey(1), CursorValue(cur)))
	w.txn(false, // aborted tail of partition 0
		rec(topic, 0, AppendVersionKey(nil, 1, id(1)), AppendVersionValue(nil, 99)),
		rec(topic, 0, AppendVersionKey(nil, 1, id(3)), AppendVersionValue(nil, 99)))
	// Partition 2 stays empty. A second writer leaves a transaction open on
	// partition 1: the last stable offset stops before it.
	open := newWriter(t, c)
	if err := open.cl.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := open.cl.ProduceSync(ctx, rec(topic, 1, AppendVersionKey(nil, 1, id(2)), AppendVersionValue(nil, 77))).FirstErr(); err != nil {
		t.Fatal(err)
	}

	idx, stats, err := Restore(ctx, topic, c.Opts()...)
	if err != nil {
		t.Fatalf("Restore: %v", err)
	}
	if v, _ := idx.Version(1, id(1)); v != 3 {
		t.Errorf("customer 1: version %d, want 3 (the aborted 99 must not count)", v)
	}
	if v, _ := idx.Version(1, id(2)); v != 5 {
		t.Errorf("customer 2: version %d, want 5 (the open transaction's 77 must not count)", v)
	}
	if _, ok := idx.Version(1, id(3)); ok {
		t.Error("customer 3 of an aborted transaction was restored")
	}
	if got, _ := idx.Cursor(1); got != cur {
		t.Errorf("cursor %+v, want %+v", got, cur)
	}
	if stats.Records != 3 || stats.Partitions != 3 {
		t.Errorf("stats %+v, want 3 records of 3 partitions", stats)
	}

	sum, err := Summary(ctx, topic, c.Opts()...)
	if err != nil {
		t.Fatal(err)
	}
	if len(sum) != 1 || sum[0].CompanyID != 1 || sum[0].Tracked != 2 || !sum[0].HasCursor || sum[0].Cursor != cur {
		t.Errorf("Summary = %+v", sum)
	}
	if err := open.cl.EndTransaction(ctx, kgo.TryAbort); err != nil {
		t.Fatal(err)
	}

	// A marker committed on every partition ends a restore exactly.
	nonce := []byte("0123456789abcdef")
	w.txn(true, rec(topic, 0, MarkerKey(0), MarkerValue(nonce)), rec(topic, 1, MarkerKey(1), MarkerValue(nonce)), rec(topic, 2, MarkerKey(2), MarkerValue(nonce)))
	idx, _, err = RestoreUntilMarker(ctx, topic, nonce, c.Opts()...)
	if err != nil {
		t.Fatalf("RestoreUntilMarker: %v", err)
	}
	if idx.Len() != 2 {
		t.Errorf("restored %d customers, want 2", idx.Len())
	}

	if _, _, err := Restore(ctx, kafkatest.Name(t, "missing"), c.Opts()...); !errors.Is(err, ErrNoTopic) {
		t.Errorf("Restore of a missing topic: %v, want ErrNoTopic", err)
	}
}
