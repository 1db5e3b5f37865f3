package publisher

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/covacdc/covacdc/schema"
	"github.com/covacdc/covacdc/state"
	"github.com/twmb/franz-go/pkg/kgo"
)

// loseCommitAnswer adds the company's cursor to the open transaction and
// commits it, but leaves p as endTxn does when EndTransaction fails with an
// unknown outcome (a timeout after the broker committed): the transaction's
// scans fail, and the state is to be reread before the next transaction.
func (p *Publisher) loseCommitAnswer(t *testing.T, company int64, cur state.Cursor) {
	t.Helper()
	ctx := context.Background()
	p.txnMu.Lock()
	defer p.txnMu.Unlock()
	p.cl.Produce(ctx, &kgo.Record{Topic: p.cfg.State.Topic, Key: state.CursorKey(company), Value: state.CursorValue(cur)}, p.promise)
	if err := p.cl.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := p.cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatal(err)
	}
	p.txn.open = false
	p.txn.needReload = true
	p.txnAborted()
}

// TestCommitOfUnknownOutcomeIsReadBeforeTheNextDiff serves the customers of a
// transaction whose commit landed though its answer was lost again: the scan
// that follows diffs them against the reread state and publishes none twice;
// a scan that only completes counts its scan from the reread cursor.
func TestCommitOfUnknownOutcomeIsReadBeforeTheNextDiff(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.cfg.MaxEventsPerTransaction = 1000
	ctx := context.Background()
	p := e.open(nil)
	var v10, v20 []schema.Customer
	for i := range 10 {
		v10 = append(v10, customer(i, 10))
		v20 = append(v20, customer(i, 20))
	}
	since := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	if err := e.runScan(ctx, p, 0, scanPlan{batches: [][]schema.Customer{v10}, since: since}); err != nil {
		t.Fatal(err)
	}

	// Scan 1 publishes Version 20 and its cursor; the commit's answer is lost.
	s := p.BeginScan(e.company, "scan-1", schema.Source{})
	if err := s.Publish(ctx, e.batch(v20, nil, "scan-1")); err != nil {
		t.Fatal(err)
	}
	p.loseCommitAnswer(t, e.company, state.Cursor{Since: since, InitialLoadComplete: true, Scans: 2})
	if err := s.Complete(ctx, since, time.Time{}); !errors.Is(err, ErrScanAborted) {
		t.Fatalf("Complete of a scan whose transaction's outcome is unknown: %v, want ErrScanAborted", err)
	}

	// Scan 2 serves Version 20 again.
	if err := e.runScan(ctx, p, 2, scanPlan{batches: [][]schema.Customer{v20}, since: since}); err != nil {
		t.Fatal(err)
	}
	if n := len(readCommitted(t, e.c, e.cfg.Topic)); n != len(v10)+len(v20) {
		t.Errorf("%d events on the topic, want %d: each customer's Versions once", n, len(v10)+len(v20))
	}

	// Scan 3's commit, with its cursor, lands unanswered again; scan 4 finds
	// nothing changed and only completes.
	s = p.BeginScan(e.company, "scan-3", schema.Source{})
	if err := s.Publish(ctx, e.batch([]schema.Customer{customer(0, 30)}, nil, "scan-3")); err != nil {
		t.Fatal(err)
	}
	p.loseCommitAnswer(t, e.company, state.Cursor{Since: since, InitialLoadComplete: true, Scans: 4})
	s.Abandon()
	if err := e.runScan(ctx, p, 4, scanPlan{since: since}); err != nil {
		t.Fatal(err)
	}
	if cur := p.Cursor(e.company); cur.Scans != 5 {
		t.Errorf("cursor after a fifth scan: %+v, want 5 scans", cur)
	}
}
