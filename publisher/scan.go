package publisher

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/covacdc/covacdc/poller"
	"github.com/covacdc/covacdc/schema"
	"github.com/covacdc/covacdc/state"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Scan is one scan of one company being published. Its methods may be called
// from any goroutine, one at a time.
type Scan struct {
	p       *Publisher
	company int64
	id      string
	source  schema.Source

	// Guarded by Publisher.txnMu:
	err  error // set when the scan can no longer complete
	done bool
	// deadLetters counts the dead letters the scan met, already published
	// ones included (MaxDeadLettersPerScan).
	deadLetters int

	// resync is the company's active resync when the scan began, nil when
	// none was: the scan publishes its scope (resync.go). Set by BeginScan.
	resync *resyncScan
}

// BeginScan starts publishing a scan of the company. Only one scan per company may
// be open at a time: a second one fails on its first call, unless the open one
// already failed (then the new one replaces it).
//
// A scan begun while the company's committed cursor has an active resync
// (Cursor(companyID).Resync) is a resync scan: it publishes each customer in
// the resync's scope that the resync has not published yet as a SNAPSHOT,
// whatever its Version, and its Complete completes the resync. It must read
// the company from Cursor(companyID).Since, which is ResyncSince while a
// resync is active. A caller that read the cursor before it began reading
// Cova passes ReadFrom with that cursor: a resync accepted in between then
// waits for the next scan, since this one did not read from its start.
func (p *Publisher) BeginScan(companyID int64, scanID string, source schema.Source, opts ...ScanOption) *Scan {
	p.txnMu.Lock()
	defer p.txnMu.Unlock()
	s := &Scan{p: p, company: companyID, id: scanID, source: source}
	if old := p.scans[companyID]; old != nil && old.err == nil {
		s.err = fmt.Errorf("publisher: company %d already has an open scan %q", companyID, old.id)
		return s
	}
	p.scans[companyID] = s
	active := p.committed.activeResync(companyID)
	for _, o := range opts {
		if o.readFrom != nil && (active == nil || o.readFrom.Resync == nil || o.readFrom.Resync.Seq != active.Seq) {
			active = nil
		}
	}
	s.resync = newResyncScan(active)
	p.committed.began(companyID)
	p.m.company(companyID)
	return s
}

// ScanOption tells BeginScan how the scan reads Cova.
type ScanOption struct {
	readFrom *state.Cursor
}

// ReadFrom says the scan reads Cova from cur, the company's cursor as Cursor
// returned it before the scan began: the scan publishes a resync only if cur
// had it active (and it still is).
func ReadFrom(cur state.Cursor) ScanOption { return ScanOption{readFrom: &cur} }

// usable returns why s cannot take more work, if it cannot. Called with txnMu.
func (s *Scan) usable() error {
	switch {
	case s.p.fenced != nil:
		return s.p.fenced
	case s.p.closed:
		return ErrClosed
	case s.err != nil:
		return s.err
	case s.done:
		return fmt.Errorf("publisher: scan %q of company %d has ended", s.id, s.company)
	}
	return nil
}

// Publish diffs the batch against the published versions and adds the changes, and
// as dead letters the batch's invalid records, its customers with an implausible
// Version and the events too large for the events topic, to the open transaction,
// committing it whenever it reaches MaxEventsPerTransaction. It returns once the batch is
// buffered (not necessarily committed). After an error the scan cannot complete:
// Abandon it and scan again from the company's cursor.
func (s *Scan) Publish(ctx context.Context, b poller.Batch) error {
	p := s.p
	p.txnMu.Lock()
	defer p.txnMu.Unlock()
	if err := s.usable(); err != nil {
		return err
	}
	if b.CompanyID != s.company {
		return fmt.Errorf("publisher: batch of company %d in a scan of company %d", b.CompanyID, s.company)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := p.ready(ctx); err != nil {
		return err
	}
	companyLabel := strconv.FormatInt(s.company, 10)
	var skipped skips
	defer p.m.skipped(companyLabel, &skipped)
	// When this batch was read from Cova (moments ago): the events' capturedAt.
	out := p.build.batch(s.company, companyLabel, s.source, len(b.Customers), p.now().UTC())
	defer out.done()
	for i := range b.Customers {
		c := &b.Customers[i]
		ch, publish, err := s.diff(ctx, c, &skipped)
		if err != nil {
			return err
		}
		if !publish {
			continue
		}
		typ := changeType(ch)
		recs, err := out.build(c, ch, typ, s.resync.seqOf(c.IdBytes))
		if err != nil {
			if err := s.rejected(ctx, c, err); err != nil {
				return err
			}
			continue
		}
		if err := s.produce(ctx, &out, c, &recs); err != nil {
			return err
		}
		if err := s.count(typ); err != nil {
			return err
		}
	}
	for i := range b.Invalid {
		if err := s.invalid(ctx, &b.Invalid[i]); err != nil {
			return err
		}
	}
	return nil
}

// diff compares c's Version with the published one and says whether c is to be
// published. A customer with an implausible Version is dead-lettered; an
// unchanged or stale one is counted in skipped (a stale one is logged too).
func (s *Scan) diff(ctx context.Context, c *schema.Customer, skipped *skips) (state.Change, bool, error) {
	p := s.p
	if !plausibleVersion(c.Version) {
		return state.Change{}, false, s.badVersion(ctx, c)
	}
	var ch state.Change
	if seq := s.resync.seqOf(c.IdBytes); seq != 0 {
		ch = p.txn.pending.DiffResync(s.company, c.IdBytes, c.Version, seq)
	} else {
		ch = p.txn.pending.Diff(s.company, c.IdBytes, c.Version)
	}
	switch ch.Outcome {
	case state.Unchanged:
		skipped.unchanged++
		return ch, false, nil
	case state.Stale:
		skipped.stale++
		p.staleRead(s.company, c, ch.Previous)
		return ch, false, nil
	}
	return ch, true, nil
}

// produce hands a customer's records to kgo in the open transaction, which it
// opens if none is, and notes the customer's Version as pending in it.
func (s *Scan) produce(ctx context.Context, out *batch, c *schema.Customer, recs *customerRecords) error {
	p := s.p
	if err := s.begin(ctx); err != nil {
		return err
	}
	p.cl.Produce(ctx, out.add(&recs.event), p.promise)
	p.cl.Produce(ctx, out.add(&recs.state), p.promise)
	if seq := s.resync.seqOf(c.IdBytes); seq != 0 {
		p.txn.pending.SetResynced(s.company, c.IdBytes, c.Version, seq)
	} else {
		p.txn.pending.SetVersion(s.company, c.IdBytes, c.Version)
	}
	return nil
}

// count counts an event of change type typ produced into its transaction, and
// commits the transaction when it is full.
func (s *Scan) count(typ schema.ChangeType) error {
	s.p.txn.counts[eventKey{s.company, typ}]++
	return s.added()
}

// Complete writes the company's new cursor and commits the open transaction with
// it. It fails (and the cursor does not move) if any of this scan's events were in
// a transaction that was aborted. Either way the scan has ended.
//
// The caller gives what only it knows: next, where the company's next scan
// starts (the cursor's Since), and serverStart, the server's clock when this
// scan began (ScanStarted). Complete sets the rest of the cursor: a completed
// scan completes the initial load (InitialLoadComplete), ScanFinished is now,
// and Scans is one more than the committed cursor's. A resync scan completes
// its resync (LastResync) if it is still the active one; a resync accepted
// since the scan began stays active, for the next scan.
func (s *Scan) Complete(ctx context.Context, next, serverStart time.Time) error {
	p := s.p
	p.txnMu.Lock()
	defer p.txnMu.Unlock()
	if err := s.usable(); err != nil {
		s.end()
		return err
	}
	defer s.end()
	if err := p.ready(ctx); err != nil {
		return err
	}
	prev := p.committed.cursor(s.company)
	cur := state.Cursor{
		Since:               next,
		ScanStarted:         serverStart,
		ScanFinished:        p.now().UTC(),
		InitialLoadComplete: true,
		Scans:               prev.Scans + 1,
	}
	s.resync.complete(&cur, prev)
	if err := s.begin(ctx); err != nil {
		return err
	}
	p.cl.Produce(ctx, &kgo.Record{
		Topic: p.cfg.State.Topic,
		Key:   state.CursorKey(s.company),
		Value: state.CursorValue(cur),
	}, p.promise)
	p.txn.pending.SetCursor(s.company, cur)
	if err := p.endTxn(ctx, true); err != nil {
		return err
	}
	if s.err != nil {
		return s.err
	}
	tracked := p.committed.succeeded(s.company, p.now())
	// Debug: the caller logs the scan's one "scan committed" line.
	p.log.Debug("cursor committed", "company_id", s.company, "scan", s.id, "next", next, "tracked", tracked)
	return nil
}

// Abandon ends the scan without moving the cursor; what was already committed
// stays, and what this scan added to the open transaction is committed with it
// (its Versions are recorded, so the next scan does not repeat it).
func (s *Scan) Abandon() {
	s.p.txnMu.Lock()
	defer s.p.txnMu.Unlock()
	s.end()
}

// end closes s. Called with txnMu.
func (s *Scan) end() {
	s.done = true
	if s.p.scans[s.company] == s {
		delete(s.p.scans, s.company)
	}
}
