package publisher

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/covacdc/covacdc/poller"
	"github.com/covacdc/covacdc/schema"
	"github.com/covacdc/covacdc/state"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Record headers; the names are a public contract with consumers.
const (
	HeaderCompanyID  = "covacdc-company-id"
	HeaderChangeType = "covacdc-change-type"
	HeaderVersion    = "covacdc-version"
	HeaderSchema     = "covacdc-schema"
	HeaderError      = "covacdc-error"
	HeaderReason     = "covacdc-reason"
	HeaderScanID     = "covacdc-scan-id"
)

// ReasonEncode is the dead-letter reason of a customer the encoder refused.
const ReasonEncode = "encode"

// maxErrorHeader bounds the error text of a dead letter.
const maxErrorHeader = 1024

// Scan is one scan of one company being published. Its methods may be called
// from any goroutine, one at a time.
type Scan struct {
	p       *Publisher
	company int64
	id      string
	source  schema.Source
	err     error // set when the scan can no longer complete
	done    bool
}

// BeginScan starts publishing a scan of the company. Only one scan per company may
// be open at a time: a second one fails on its first call, unless the open one
// already failed (then the new one replaces it).
func (p *Publisher) BeginScan(companyID int64, scanID string, source schema.Source) *Scan {
	p.txnMu.Lock()
	defer p.txnMu.Unlock()
	s := &Scan{p: p, company: companyID, id: scanID, source: source}
	if old := p.scans[companyID]; old != nil && old.err == nil {
		s.err = fmt.Errorf("publisher: company %d already has an open scan %q", companyID, old.id)
		return s
	}
	p.scans[companyID] = s
	p.mu.Lock()
	p.seen[companyID] = struct{}{}
	p.mu.Unlock()
	p.m.company(companyID)
	return s
}

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
// the batch's invalid records as dead letters, to the open transaction, committing
// it whenever it reaches MaxEventsPerTransaction. It returns once the batch is
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
	companyLabel := strconv.FormatInt(s.company, 10)
	var unchanged, stale int
	defer func() {
		if unchanged > 0 {
			p.m.unchanged.WithLabelValues(companyLabel).Add(float64(unchanged))
		}
		if stale > 0 {
			p.m.stale.WithLabelValues(companyLabel).Add(float64(stale))
		}
	}()
	companyHeader := []byte(companyLabel)
	// One slice for the batch's records and one for their headers, rather than
	// an allocation each per record, reused once their transaction commits; kgo
	// keeps a pointer to each record until it is produced.
	recs, recsSince := p.recs.get(2 * len(b.Customers))
	headers, headersSince := p.headers.get(4 * len(b.Customers))
	defer func() {
		p.recs.used(recs, recsSince)
		p.headers.used(headers, headersSince)
	}()
	var ev schema.CustomerChanged // the encoder keeps no pointer to it
	var prev int64
	// When this batch was read from Cova (moments ago): the events' capturedAt.
	// The records' timestamp too is read once per batch, not by kgo per record;
	// it is the real clock's, as brokers judge timestamps by it.
	captured, recorded := p.now().UTC(), time.Now()
	for i := range b.Customers {
		c := &b.Customers[i]
		ch := p.pending.Diff(s.company, c.IdBytes, c.Version)
		switch ch.Outcome {
		case state.Unchanged:
			unchanged++
			continue
		case state.Stale:
			stale++
			continue
		}
		typ := changeType(ch)
		ev = schema.NewCustomerChanged(s.company, c)
		ev.ChangeType = typ
		ev.CapturedAt = captured
		ev.Source = s.source
		if ch.HasPrevious {
			prev = ch.Previous
			ev.PreviousVersion = &prev
		}
		value, err := p.enc.Append(p.arena.free(), &ev)
		if err != nil {
			raw := covaJSON(c)
			if err := s.deadLetter(ctx, []byte(c.Id), raw, ReasonEncode, err); err != nil {
				return err
			}
			continue
		}
		value = p.arena.keep(value)
		if err := s.begin(ctx); err != nil {
			return err
		}
		key := p.arena.keep(append(p.arena.free(), c.Id...))
		typHeader := changeTypeHeaders[typ]
		version := p.arena.keep(strconv.AppendInt(p.arena.free(), c.Version, 10))
		h := len(headers)
		headers = append(headers,
			kgo.RecordHeader{Key: HeaderCompanyID, Value: companyHeader},
			kgo.RecordHeader{Key: HeaderChangeType, Value: typHeader},
			kgo.RecordHeader{Key: HeaderVersion, Value: version},
			kgo.RecordHeader{Key: HeaderSchema, Value: p.schemaRefHeader},
		)
		recs = append(recs, kgo.Record{Topic: p.cfg.Topic, Key: key, Value: value, Headers: headers[h:len(headers):len(headers)], Timestamp: recorded})
		p.cl.Produce(ctx, &recs[len(recs)-1], p.promise)
		stateKey := p.arena.keep(state.AppendVersionKey(p.arena.free(), s.company, c.IdBytes))
		stateValue := p.arena.keep(state.AppendVersionValue(p.arena.free(), c.Version))
		recs = append(recs, kgo.Record{Topic: p.cfg.State.Topic, Key: stateKey, Value: stateValue, Timestamp: recorded})
		p.cl.Produce(ctx, &recs[len(recs)-1], p.promise)
		p.pending.SetVersion(s.company, c.IdBytes, c.Version)
		p.txnCounts[eventKey{s.company, typ}]++
		if err := s.added(); err != nil {
			return err
		}
	}
	for i := range b.Invalid {
		r := &b.Invalid[i]
		var err error = r
		if r.Err == nil {
			err = errors.New(r.Reason)
		}
		if err := s.deadLetter(ctx, nil, r.Raw, r.Reason, err); err != nil {
			return err
		}
	}
	return nil
}

// changeTypeHeaders are the values of the change-type header, shared by the
// records of every event: kgo only reads header values.
var changeTypeHeaders = [...][]byte{
	schema.Snapshot: []byte(schema.Snapshot.String()),
	schema.Created:  []byte(schema.Created.String()),
	schema.Updated:  []byte(schema.Updated.String()),
}

// deadLetter adds a record to the dead-letter topic, once per company and raw
// bytes: a state record remembers it, in the same transaction, so the scans
// that re-read the same bad record (the lookback window) do not repeat it.
func (s *Scan) deadLetter(ctx context.Context, key, raw []byte, reason string, cause error) error {
	p := s.p
	h := state.DeadLetterHash(raw)
	if p.pending.HasDeadLetter(s.company, h) {
		return nil
	}
	if reason == "" {
		reason = "invalid"
	}
	msg := cause.Error()
	if len(msg) > maxErrorHeader {
		msg = msg[:maxErrorHeader]
	}
	if err := s.begin(ctx); err != nil {
		return err
	}
	p.cl.Produce(ctx, &kgo.Record{
		Topic: p.cfg.DLQTopic,
		Key:   key,
		Value: raw,
		Headers: []kgo.RecordHeader{
			{Key: HeaderCompanyID, Value: strconv.AppendInt(nil, s.company, 10)},
			{Key: HeaderError, Value: []byte(msg)},
			{Key: HeaderReason, Value: []byte(reason)},
			{Key: HeaderScanID, Value: []byte(s.id)},
		},
	}, p.promise)
	p.cl.Produce(ctx, &kgo.Record{
		Topic: p.cfg.State.Topic,
		Key:   state.AppendDeadLetterKey(nil, s.company, h),
		Value: state.DeadLetterValue(),
	}, p.promise)
	p.pending.AddDeadLetter(s.company, h)
	p.txnDLQ[dlqKey{s.company, reason}]++
	return s.added()
}

// begin opens a transaction if none is open and records that s has records in it.
func (s *Scan) begin(ctx context.Context) error {
	p := s.p
	if !p.inTxn {
		if p.renew {
			if err := p.renewClient(); err != nil {
				return err
			}
		}
		if p.needReload {
			// The last commit's outcome is unknown: reread what committed.
			if err := p.syncState(ctx); err != nil {
				return err
			}
		}
		if err := p.cl.BeginTransaction(); err != nil {
			if isFenced(err) {
				p.fenced = fencedError(p.cfg.TransactionalID, err)
				return p.fenced
			}
			return fmt.Errorf("publisher: beginning a transaction: %w", err)
		}
		p.inTxn = true
		p.txnStart = p.now()
		p.txnEvents = 0
		p.txnScans = make(map[*Scan]struct{})
		p.txnCounts = make(map[eventKey]int)
		p.txnDLQ = make(map[dlqKey]int)
	}
	p.txnScans[s] = struct{}{}
	return nil
}

// added counts one event or dead letter and commits a full transaction.
func (s *Scan) added() error {
	p := s.p
	p.txnEvents++
	if p.txnEvents < p.cfg.MaxEventsPerTransaction {
		return nil
	}
	if err := p.endTxn(context.Background(), true); err != nil {
		return err
	}
	return s.err
}

// Complete writes the company's new cursor and commits the open transaction with
// it. It fails (and the cursor does not move) if any of this scan's events were in
// a transaction that was aborted. Either way the scan has ended.
//
// A completed scan completes the initial load: the cursor written has
// InitialLoadComplete set, ScanFinished set to now when zero, and Scans one more
// than the previous cursor's when not larger.
func (s *Scan) Complete(ctx context.Context, next state.Cursor) error {
	p := s.p
	p.txnMu.Lock()
	defer p.txnMu.Unlock()
	if err := s.usable(); err != nil {
		s.end()
		return err
	}
	defer s.end()
	prev, _ := p.idx.Cursor(s.company)
	next.InitialLoadComplete = true
	if next.ScanFinished.IsZero() {
		next.ScanFinished = p.now()
	}
	if next.Scans <= prev.Scans {
		next.Scans = prev.Scans + 1
	}
	if err := s.begin(ctx); err != nil {
		return err
	}
	p.cl.Produce(ctx, &kgo.Record{
		Topic: p.cfg.State.Topic,
		Key:   state.CursorKey(s.company),
		Value: state.CursorValue(next),
	}, p.promise)
	p.pending.SetCursor(s.company, next)
	if err := p.endTxn(ctx, true); err != nil {
		return err
	}
	if s.err != nil {
		return s.err
	}
	p.mu.Lock()
	p.lastSuccess[s.company] = p.now()
	tracked := p.idx.Tracked(s.company)
	p.mu.Unlock()
	p.log.Info("scan committed", "company_id", s.company, "scan", s.id, "since", next.Since, "tracked", tracked)
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

// endTxn flushes and ends the open transaction (commit, or abort when commit is
// false or a record failed), following franz-go's EndTransaction contract.
// Called with txnMu. On commit the pending state joins the index; otherwise it is
// discarded and every scan with records in the transaction fails.
func (p *Publisher) endTxn(ctx context.Context, commit bool) error {
	if !p.inTxn {
		return nil
	}
	endCtx, cancel := p.endCtx(ctx)
	defer cancel()
	started := p.txnStart
	events := p.txnEvents
	err := p.cl.Flush(endCtx)
	if perr := p.takeProduceErr(); perr != nil {
		err = perr
	}
	var endErr error
	if commit && err == nil {
		endErr = p.cl.EndTransaction(endCtx, kgo.TryCommit)
		if endErr == nil {
			p.inTxn = false
			p.txnCommitted(started, events)
			return nil
		}
	}
	cause := err
	if cause == nil {
		cause = endErr
	}
	if isFenced(cause) {
		p.inTxn = false
		p.fenced = fencedError(p.cfg.TransactionalID, cause)
		p.m.txns.WithLabelValues("fenced").Inc()
		p.txnAborted()
		p.log.Error("fenced: another instance took over", "transactional_id", p.cfg.TransactionalID, "error", cause)
		return p.fenced
	}
	// A commit that failed for any reason but "not attempted" or "abortable" may
	// have committed on the broker: the retry with TryAbort cannot tell, so the
	// state is reread before the next transaction.
	if endErr != nil && !errors.Is(endErr, kerr.OperationNotAttempted) && !errors.Is(endErr, kerr.TransactionAbortable) {
		p.needReload = true
	}
	abortErr := p.abort()
	p.inTxn = false
	p.txnAborted()
	p.m.txns.WithLabelValues("aborted").Inc()
	p.m.txnDuration.Observe(p.now().Sub(started).Seconds())
	if abortErr != nil {
		if isFenced(abortErr) {
			p.fenced = fencedError(p.cfg.TransactionalID, abortErr)
			p.m.txns.WithLabelValues("fenced").Inc()
			return p.fenced
		}
		// abort marked the client for renewal before the next transaction.
		p.log.Error("aborting a transaction", "error", abortErr)
	}
	p.log.Warn("transaction aborted", "events", events, "error", cause)
	if cause == nil {
		return fmt.Errorf("publisher: transaction aborted")
	}
	return fmt.Errorf("publisher: transaction aborted: %w", cause)
}

// txnCommitted applies a committed transaction. Called with txnMu.
func (p *Publisher) txnCommitted(started time.Time, events int) {
	p.mu.Lock()
	p.pending.Commit()
	p.mu.Unlock()
	p.arena.committed()
	p.recs.committed()
	p.headers.committed()
	for k, n := range p.txnCounts {
		p.m.events.WithLabelValues(strconv.FormatInt(k.company, 10), k.typ.String()).Add(float64(n))
	}
	for k, n := range p.txnDLQ {
		p.m.deadLetters.WithLabelValues(strconv.FormatInt(k.company, 10), k.reason).Add(float64(n))
	}
	p.m.txns.WithLabelValues("committed").Inc()
	d := p.now().Sub(started)
	p.m.txnDuration.Observe(d.Seconds())
	p.log.Debug("transaction committed", "events", events, "duration", d)
	p.txnScans, p.txnCounts, p.txnDLQ = nil, nil, nil
}

// txnAborted forgets an aborted transaction and fails the scans it held.
// Called with txnMu.
func (p *Publisher) txnAborted() {
	p.pending.Discard()
	p.arena.aborted()
	p.recs.aborted()
	p.headers.aborted()
	for s := range p.txnScans {
		if s.err == nil {
			s.err = fmt.Errorf("scan %q of company %d: %w", s.id, s.company, ErrScanAborted)
		}
	}
	p.txnScans, p.txnCounts, p.txnDLQ = nil, nil, nil
	p.takeProduceErr()
}

// covaCustomer renders a Customer in CustomerFull's shape: timestamps as the
// text Cova sent, without the fields covacdc derives.
type covaCustomer struct {
	*schema.Customer
	IdBytes             *struct{} `json:",omitempty"`
	UnknownFields       *struct{} `json:",omitempty"`
	DateOfBirth         *string
	LastModifiedDateUtc string
}

// covaJSON is the dead-letter value of a customer the encoder refused: there are
// no raw bytes left by then, so it is the decoded customer as Cova would send it.
func covaJSON(c *schema.Customer) []byte {
	v := covaCustomer{Customer: c, LastModifiedDateUtc: c.LastModifiedDateUtc.Raw}
	if c.DateOfBirth != nil {
		v.DateOfBirth = &c.DateOfBirth.Raw
	}
	raw, err := json.Marshal(v)
	if err != nil { // only invalid UTF-8 kept as raw JSON elements gets here
		raw = fmt.Appendf(nil, `{"Id":%q,"Version":%d}`, c.Id, c.Version)
	}
	return raw
}
