package publisher

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/covacdc/covacdc/schema"
	"github.com/covacdc/covacdc/state"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// abortMarkers counts, per partition of each topic, the abort markers a
// read_uncommitted consumer finds: the ends a transaction's abort wrote.
func abortMarkers(t *testing.T, e *env, topics ...string) map[string]int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admCl, err := kgo.NewClient(e.c.Opts()...)
	if err != nil {
		t.Fatal(err)
	}
	ends, err := kadm.NewClient(admCl).ListEndOffsets(ctx, topics...)
	admCl.Close()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	left := map[string]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		out[fmt.Sprintf("%s/%d", o.Topic, o.Partition)] = 0
		if o.Offset > 0 {
			left[fmt.Sprintf("%s/%d", o.Topic, o.Partition)] = o.Offset
		}
	})
	cl, err := kgo.NewClient(append(e.c.Opts(),
		kgo.ConsumeTopics(topics...),
		kgo.FetchIsolationLevel(kgo.ReadUncommitted()),
		kgo.KeepControlRecords(),
		kgo.FetchMaxWait(200*time.Millisecond))...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for len(left) > 0 {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("reading %v: partitions %v unread", topics, left)
		}
		fs.EachRecord(func(r *kgo.Record) {
			tp := fmt.Sprintf("%s/%d", r.Topic, r.Partition)
			if r.Attrs.IsControl() {
				var key kmsg.ControlRecordKey
				if err := key.ReadFrom(r.Key); err == nil && key.Type == kmsg.ControlRecordKeyTypeAbort {
					out[tp]++
				}
			}
			if r.Offset >= left[tp]-1 {
				delete(left, tp)
			}
		})
	}
	return out
}

// A broker that stops while it writes the markers of a transaction it has
// acknowledged as committed can leave that transaction's records open on the
// partitions it skipped (Apache Kafka 4.4 logs "Couldn't find leader endpoint
// for partitions ... these partitions are likely deleted already and hence can
// be skipped" and completes the transaction). The next marker of this producer
// on each partition then decides them: the abort of a later transaction where
// that transaction wrote, a later commit elsewhere. Events then committed
// while the state records of their versions aborted, the reread state lacked
// them, and the scan after the outage published about one transaction's
// customers a second time.
//
// Whatever it left open, the publisher ends it alike everywhere before it reads
// the state: New, and every reread after an aborted transaction, first abort a
// transaction that wrote to every partition of the events, dead-letter and
// state topics. kfake ends every partition of a transaction, so the broker's
// skip cannot be staged here; what is checked is that the abort reaches every
// partition each time, which is what decides open records alike.
func TestEveryPartitionIsAbortedBeforeTheStateIsRead(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.cfg.MaxEventsPerTransaction = 1000
	p := e.open(nil)
	topics := []string{e.cfg.Topic, e.cfg.DLQTopic, e.cfg.State.Topic}
	for tp, n := range abortMarkers(t, e, topics...) {
		if n != 1 {
			t.Errorf("after New, %s holds %d abort markers, want 1: open records of an older producer are ended alike on every partition", tp, n)
		}
	}

	ctx := context.Background()
	var v1 []schema.Customer
	for i := range 10 {
		v1 = append(v1, customer(i, 1))
	}
	if err := e.runScan(ctx, p, 0, scanPlan{batches: [][]schema.Customer{v1}}); err != nil {
		t.Fatal(err)
	}
	// A transaction aborts (its commit's answer was lost): the next one
	// rereads the state, after aborting on every partition again.
	s := p.BeginScan(e.company, "scan-1", schema.Source{})
	if err := s.Publish(ctx, e.batch([]schema.Customer{customer(0, 2)}, nil, "scan-1")); err != nil {
		t.Fatal(err)
	}
	p.loseCommitAnswer(t, e.company, state.Cursor{InitialLoadComplete: true, Scans: 2})
	s.Abandon()
	if err := e.runScan(ctx, p, 2, scanPlan{batches: [][]schema.Customer{v1}}); err != nil {
		t.Fatal(err)
	}
	want := len(v1) + 1 // the Versions 1 and customer 0's Version 2
	before := abortMarkers(t, e, topics...)
	for tp, n := range before {
		if n != 2 {
			t.Errorf("after a reread, %s holds %d abort markers, want 2", tp, n)
		}
	}

	// A transaction the broker aborts ends, with its markers, whatever else
	// of this producer is open where it wrote: the state is reread, and every
	// partition aborted again first, before the next transaction.
	if fake := e.c.FakeCluster(); fake != nil {
		fake.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: e.cfg.Topic, Err: kerr.OutOfOrderSequenceNumber})
		v3 := []schema.Customer{customer(1, 3)}
		if err := e.runScan(ctx, p, 3, scanPlan{batches: [][]schema.Customer{v3}}); !errors.Is(err, ErrScanAborted) {
			t.Fatalf("scan through an aborted transaction: %v, want ErrScanAborted", err)
		}
		if err := e.runScan(ctx, p, 4, scanPlan{batches: [][]schema.Customer{v3}}); err != nil {
			t.Fatal(err)
		}
		for tp, n := range abortMarkers(t, e, topics...) {
			if n <= before[tp] {
				t.Errorf("after an aborted transaction, %s holds %d abort markers, want more than %d", tp, n, before[tp])
			}
		}
		want++ // customer 1's Version 3
	}
	got := map[string]int{}
	for _, r := range readCommitted(t, e.c, e.cfg.Topic) {
		ev := decodeTest(t, r)
		got[fmt.Sprintf("%s/%d", ev.ID, ev.Version)]++
	}
	for k, n := range got {
		if n != 1 {
			t.Errorf("%s published %d times", k, n)
		}
	}
	if len(got) != want {
		t.Errorf("%d versions on the topic, want %d", len(got), want)
	}
}
