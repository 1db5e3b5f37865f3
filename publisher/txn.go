package publisher

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/covacdc/covacdc/schema"
	"github.com/covacdc/covacdc/state"
	"github.com/twmb/franz-go/pkg/kgo"
)

// txn is the Kafka transaction: the one open, what it holds, and what the next
// one must do first. Guarded by Publisher.txnMu.
type txn struct {
	open    bool
	started time.Time
	events  int                // events and dead letters in it
	scans   map[*Scan]struct{} // scans with records in it
	counts  map[eventKey]int   // its events, counted into metrics at commit
	dlq     map[dlqKey]int     // its dead letters, likewise
	// pending is its state changes on top of the committed index: what the
	// diff reads, and what the index takes at commit.
	pending *state.Pending

	// Before the next transaction begins:
	renew      bool // the client could not end its transaction: replace it
	needReload bool // a transaction aborted or a commit's outcome is unknown: fence, reread the state
}

type eventKey struct {
	company int64
	typ     schema.ChangeType
}

type dlqKey struct {
	company int64
	reason  string
}

// ready does, when no transaction is open, what the next one needs first: a
// new client if the last could not end its transaction, and the state reread
// (after a fence) if the last transaction aborted or its commit's outcome is
// unknown. Publish and Complete call it before
// they read the state, so that they diff against, and count scans from, what
// committed. Called with txnMu.
func (p *Publisher) ready(ctx context.Context) error {
	if p.txn.open {
		return nil
	}
	if p.txn.renew {
		if err := p.renewClient(); err != nil {
			return err
		}
	}
	if p.txn.needReload {
		if err := p.syncState(ctx); err != nil {
			return err
		}
	}
	return nil
}

// begin opens a transaction if none is open and records that s has records in it.
func (s *Scan) begin(ctx context.Context) error {
	p := s.p
	if !p.txn.open {
		if err := p.ready(ctx); err != nil {
			return err
		}
		if err := p.cl.BeginTransaction(); err != nil {
			if isFenced(err) {
				p.fenced = fencedError(p.cfg.TransactionalID, err)
				return p.fenced
			}
			return fmt.Errorf("beginning a transaction: %w", err)
		}
		p.txn.open = true
		p.txn.started = p.now()
		p.txn.events = 0
		p.txn.scans = make(map[*Scan]struct{})
		p.txn.counts = make(map[eventKey]int)
		p.txn.dlq = make(map[dlqKey]int)
	}
	p.txn.scans[s] = struct{}{}
	return nil
}

// added counts one event or dead letter and commits a full transaction.
func (s *Scan) added() error {
	p := s.p
	p.txn.events++
	if p.txn.events < p.cfg.MaxEventsPerTransaction {
		return nil
	}
	if err := p.endTxn(context.Background(), true); err != nil {
		return err
	}
	return s.err
}

// endTxn flushes and ends the open transaction (commit, or abort when commit is
// false or a record failed), following franz-go's EndTransaction contract.
// Called with txnMu. On commit the pending state joins the index; otherwise it is
// discarded and every scan with records in the transaction fails.
func (p *Publisher) endTxn(ctx context.Context, commit bool) error {
	if !p.txn.open {
		return nil
	}
	endCtx, cancel := p.endCtx(ctx)
	defer cancel()
	started := p.txn.started
	events := p.txn.events
	err := p.cl.Flush(endCtx)
	if perr := p.produced.take(); perr != nil {
		err = perr
	}
	var endErr error
	if commit && err == nil {
		endErr = p.cl.EndTransaction(endCtx, kgo.TryCommit)
		if endErr == nil {
			p.txn.open = false
			p.txnCommitted(started, events)
			return nil
		}
	}
	cause := err
	if cause == nil {
		cause = endErr
	}
	if isFenced(cause) {
		p.txn.open = false
		p.fenced = fencedError(p.cfg.TransactionalID, cause)
		p.m.txns.WithLabelValues("fenced").Inc()
		p.txnAborted()
		p.log.Error("fenced: another instance took over", "transactional_id", p.cfg.TransactionalID, "error", cause)
		return p.fenced
	}
	// The state is reread (after a fence) before the next transaction: a
	// commit that failed may have committed on the broker, and an abort ends
	// with its markers whatever else of this producer a broker left open on
	// the partitions it reaches, records of a transaction acknowledged as
	// committed among them (see fence).
	p.txn.needReload = true
	abortErr := p.abort()
	p.txn.open = false
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
	return abortedError{cause}
}

// abortedError is what ending a transaction returns when it aborted: it matches
// ErrScanAborted, since every scan with records in it failed, and unwraps to
// the broker's or the client's cause.
type abortedError struct{ cause error }

func (e abortedError) Error() string {
	if e.cause == nil {
		return "transaction aborted"
	}
	return "transaction aborted: " + e.cause.Error()
}

func (e abortedError) Unwrap() error        { return e.cause }
func (e abortedError) Is(target error) bool { return target == ErrScanAborted }

// txnCommitted applies a committed transaction. Called with txnMu.
func (p *Publisher) txnCommitted(started time.Time, events int) {
	p.committed.commit(p.txn.pending)
	p.build.committed()
	for k, n := range p.txn.counts {
		p.m.events.WithLabelValues(strconv.FormatInt(k.company, 10), k.typ.String()).Add(float64(n))
	}
	for k, n := range p.txn.dlq {
		p.m.deadLetters.WithLabelValues(strconv.FormatInt(k.company, 10), k.reason).Add(float64(n))
	}
	p.m.txns.WithLabelValues("committed").Inc()
	d := p.now().Sub(started)
	p.m.txnDuration.Observe(d.Seconds())
	p.log.Debug("transaction committed", "events", events, "duration", d)
	p.txn.scans, p.txn.counts, p.txn.dlq = nil, nil, nil
}

// txnAborted forgets an aborted transaction and fails the scans it held.
// Called with txnMu.
func (p *Publisher) txnAborted() {
	p.txn.pending.Discard()
	p.build.aborted()
	for s := range p.txn.scans {
		if s.err == nil {
			s.err = fmt.Errorf("scan %q of company %d: %w", s.id, s.company, ErrScanAborted)
		}
	}
	p.txn.scans, p.txn.counts, p.txn.dlq = nil, nil, nil
	_ = p.produced.take() // a record of the aborted transaction: it failed with it
}

// abort ends the client's open transaction by aborting it, under a timeout of
// its own: the flush or commit before it may have used up theirs. When even the
// abort fails (the broker has been gone longer than EndTimeout), kgo still holds
// the transaction and would refuse every new one, so the client is marked for
// renewal. Called with txnMu (or before the publisher is shared).
func (p *Publisher) abort() error {
	ctx, cancel := p.endCtx(context.Background())
	defer cancel()
	_ = p.cl.AbortBufferedRecords(ctx)
	err := p.cl.EndTransaction(ctx, kgo.TryAbort)
	if err != nil && !isFenced(err) {
		p.txn.renew = true
		p.txn.needReload = true
	}
	return err
}

// renewClient replaces a client that could not end its transaction with a new
// one. The new client's first transaction initialises the producer id again,
// which makes the broker abort whatever the old one left open; the state is
// then reread (needReload), since the old transaction's outcome is unknown.
// Called with txnMu.
func (p *Publisher) renewClient() error {
	cl, err := kgo.NewClient(append(p.cfg.kgoOpts(), p.limits.opt())...)
	if err != nil {
		return fmt.Errorf("replacing the Kafka client: %w", err)
	}
	p.cl.Close()
	// Close failed the old client's buffered records with ErrClientClosed:
	// those belonged to the transaction it could not end, not to the next.
	_ = p.produced.take()
	p.cl = cl
	p.txn.renew = false
	p.txn.needReload = true
	p.log.Warn("replaced the Kafka client after a transaction that could not be ended")
	return nil
}

// endCtx bounds ending a transaction. Cancelling the caller's context must not
// cut an EndTransaction short (its outcome would be unknown), so only the
// timeout applies.
func (p *Publisher) endCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), p.cfg.EndTimeout)
}

// ager commits a transaction left open longer than MaxTransactionAge.
func (p *Publisher) ager() {
	defer close(p.done)
	every := max(p.cfg.MaxTransactionAge/4, 10*time.Millisecond)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
		}
		p.txnMu.Lock()
		if p.txn.open && !p.closed && p.fenced == nil && p.now().Sub(p.txn.started) >= p.cfg.MaxTransactionAge {
			if err := p.endTxn(context.Background(), true); err != nil {
				p.log.Warn("committing an aged transaction", "error", err)
			}
		}
		p.txnMu.Unlock()
	}
}

// recordErr is the first error of a record produced since it was last taken.
// kgo's goroutines set it, each record's promise; mu is held only to set or
// take it.
type recordErr struct {
	mu  sync.Mutex
	err error
}

// set is the promise of every record produced: it keeps the first error.
func (e *recordErr) set(_ *kgo.Record, err error) {
	if err == nil {
		return
	}
	e.mu.Lock()
	if e.err == nil {
		e.err = err
	}
	e.mu.Unlock()
}

// take returns the first error and forgets it.
func (e *recordErr) take() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	err := e.err
	e.err = nil
	return err
}
