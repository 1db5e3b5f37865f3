package publisher

import (
	"context"
	"testing"
	"time"

	"github.com/covacdc/covacdc/schema"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestRereadMendsStateFromCommittedEvents stages what a broker that lost a
// transaction's markers leaves: an event committed on the events topic whose
// state record is not in the state topic (here the event is written by
// another producer, with covacdc's headers). The next reread, after an
// aborted transaction, finds it: the customer's version is recorded again,
// the scan that reads the customer publishes nothing for it, and a
// publisher started afresh knows the version too.
func TestRereadMendsStateFromCommittedEvents(t *testing.T) {
	e := newEnv(t)
	p := e.open(nil)
	ctx := context.Background()
	base := e.published(ctx, p, 5)

	// Customer 5's version 3 is on the events topic, without its state record.
	cl, err := kgo.NewClient(e.c.Opts()...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	c5 := customer(5, 3)
	ev := schema.NewCustomerChanged(e.company, &c5)
	ev.ChangeType, ev.Source.ScanID = schema.Created, "lost"
	value, err := e.enc.Append(nil, &ev)
	if err != nil {
		t.Fatal(err)
	}
	// covacdc's headers, taken from a real event: company, version 3.
	var headers []kgo.RecordHeader
	for _, h := range readCommitted(t, e.c, e.cfg.Topic)[0].Headers {
		switch h.Key {
		case HeaderVersion:
			h.Value = []byte("3")
		case HeaderChangeType:
			h.Value = []byte("CREATED")
		}
		headers = append(headers, h)
	}
	lost := &kgo.Record{Topic: e.cfg.Topic, Key: []byte(gid(5)), Value: value, Headers: headers}
	if err := cl.ProduceSync(ctx, lost).FirstErr(); err != nil {
		t.Fatal(err)
	}

	// A transaction aborts: the state is reread before the next one.
	s := p.BeginScan(e.company, "scan-1", schema.Source{System: "cova", ScanID: "scan-1"})
	if err := s.Publish(ctx, e.batch(customers(6, 7, 1), nil, "scan-1")); err != nil {
		t.Fatal(err)
	}
	p.txnMu.Lock()
	err = p.endTxn(ctx, false)
	p.txnMu.Unlock()
	if err == nil {
		t.Fatal("ending the transaction with commit false did not abort it")
	}
	s.Abandon()

	if err := e.runScan(ctx, p, 2, scanPlan{batches: [][]schema.Customer{{customer(5, 3), customer(6, 1)}}, since: base.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	got := e.scanEvents("scan-2")
	if evs := got[gid(5)]; len(evs) != 0 {
		t.Errorf("customer 5, whose version 3 was committed before, published again: %v", evs)
	}
	if evs := got[gid(6)]; len(evs) != 1 {
		t.Errorf("customer 6 (its first event aborted): events %v, want one", evs)
	}

	p2 := e.open(nil)
	_, id5 := guid(5)
	if v, ok := p2.committed.idx.Version(e.company, id5); !ok || v != 3 {
		t.Errorf("a publisher started afresh has customer 5 at version %d (%v), want 3 from the mended state", v, ok)
	}
}
