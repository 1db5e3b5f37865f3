package publisher

import (
	"context"
	"encoding/json"
	"errors"
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

// fencedCause returns the broker's error among err's causes that says a newer
// producer took the transactional id over, or nil.
func fencedCause(err error) error {
	for _, cause := range []error{kerr.ProducerFenced, kerr.InvalidProducerEpoch, kerr.TransactionalIDNotFound} {
		if errors.Is(err, cause) {
			return cause
		}
	}
	return nil
}

// TestRestoreErrorKeepsItsCause starts on a state topic whose cursor record
// is not JSON: New fails with an error that matches ErrBadRecord and holds
// the JSON decoder's error.
func TestRestoreErrorKeepsItsCause(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cl, err := kgo.NewClient(e.c.Opts()...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if _, err := state.EnsureTopic(ctx, kadm.NewClient(cl), e.cfg.State); err != nil {
		t.Fatal(err)
	}
	r := &kgo.Record{Topic: e.cfg.State.Topic, Key: state.CursorKey(e.company), Value: []byte(`{"format":1,"since":`)}
	if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
		t.Fatal(err)
	}

	p, err := New(ctx, e.cfg, WithEncoder(e.enc))
	if err == nil {
		_ = p.Close(ctx)
		t.Fatal("New restored an unreadable cursor")
	}
	var syntax *json.SyntaxError
	if !errors.Is(err, state.ErrBadRecord) || !errors.As(err, &syntax) {
		t.Fatalf("New: %v; want state.ErrBadRecord and a *json.SyntaxError among its causes", err)
	}
}

// A transaction the broker aborts (here one produce answered with
// OUT_OF_ORDER_SEQUENCE_NUMBER, which a broker can send to a producer whose
// first batches to a new partition arrive out of order) fails the scan with
// ErrScanAborted and the broker's cause; scanning again from the cursor, as
// covacdc does, publishes every customer once.
func TestAbortedTransactionFailsTheScanWithItsCause(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	fake := e.c.FakeCluster()
	if fake == nil {
		t.Skip("needs kfake's fault hooks; a real broker aborts no transaction on request")
	}
	e.cfg.TopicPartitions = 1
	p := e.open(nil)
	ctx := context.Background()
	var cs []schema.Customer
	for i := range 5 {
		cs = append(cs, customer(i, 1))
	}
	plan := scanPlan{batches: [][]schema.Customer{cs}}

	fake.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: e.cfg.Topic, Err: kerr.OutOfOrderSequenceNumber})
	err := e.runScan(ctx, p, 0, plan)
	if !errors.Is(err, ErrScanAborted) || !errors.Is(err, kerr.OutOfOrderSequenceNumber) {
		t.Fatalf("scan through an aborted transaction: %v; want ErrScanAborted and the broker's OUT_OF_ORDER_SEQUENCE_NUMBER", err)
	}
	if err := e.runScan(ctx, p, 1, plan); err != nil {
		t.Fatalf("scanning again: %v", err)
	}
	got := map[string]int{}
	for _, r := range readCommitted(t, e.c, e.cfg.Topic) {
		got[decodeTest(t, r).ID]++
	}
	for _, c := range cs {
		if got[c.Id] != 1 {
			t.Errorf("customer %s: %d events, want 1", c.Id, got[c.Id])
		}
	}
	if len(got) != len(cs) {
		t.Errorf("%d customers on the topic, want %d", len(got), len(cs))
	}
}
