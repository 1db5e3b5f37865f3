package publisher

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/covacdc/covacdc/state"
	"github.com/twmb/franz-go/pkg/kgo"
)

// ResyncSince returns where a resync scan starts reading a company: the start
// of an initial load (Config.StartFrom). Cursor returns it as Since while a
// resync of the company is active.
func (p *Publisher) ResyncSince() time.Time { return p.cfg.StartFrom }

// SignalOffset returns the committed consumed position of a partition of the
// signal topic: the offset of the next signal to read; false when none of it
// was consumed.
func (p *Publisher) SignalOffset(partition int32) (int64, bool) {
	return p.committed.signalOffset(partition)
}

// AcceptResync accepts a resync request for the company, read from the signal
// topic's partition signalPartition just before nextOffset: in one
// transaction it writes the company's cursor with the resync active and the
// signal topic's consumed position, and returns the accepted resync once they
// have committed. The resync's Seq is one more than the company's last, and
// AcceptedAt is now; ID, Customers and RequestedAt are the request's. A request
// while a resync is active replaces it: the next scan starts the new one over.
// Any transaction open with scans' records commits with it.
//
// A signal at or before the committed position was accepted (or skipped)
// already: AcceptResync then changes nothing and returns an error matching
// ErrSignalConsumed, so that a signal read twice is accepted once.
func (p *Publisher) AcceptResync(ctx context.Context, companyID int64, r state.Resync, signalPartition int32, nextOffset int64) (state.Resync, error) {
	p.txnMu.Lock()
	defer p.txnMu.Unlock()
	if err := p.signalUsable(ctx, signalPartition, nextOffset); err != nil {
		return state.Resync{}, err
	}
	cur := p.committed.cursor(companyID)
	r.Customers = slices.Clone(r.Customers)
	r.Seq = cur.LastResyncSeq() + 1
	r.AcceptedAt = p.now().UTC()
	accepted := r
	cur.Resync = &accepted
	err := p.commitSignal(ctx, companyID, signalPartition, nextOffset, &kgo.Record{
		Topic: p.cfg.State.Topic,
		Key:   state.CursorKey(companyID),
		Value: state.CursorValue(cur),
	}, func(pd *state.Pending) { pd.SetCursor(companyID, cur) })
	if err != nil {
		return state.Resync{}, fmt.Errorf("accepting resync %q of company %d: %w", r.ID, companyID, err)
	}
	p.m.company(companyID)
	p.log.Info("resync accepted", "company_id", companyID, "resync", r.ID, "seq", r.Seq, "customers", len(r.Customers))
	r.Customers = slices.Clone(r.Customers) // the cursor's own stay unshared
	return r, nil
}

// SkipSignal moves the committed position of a signal-topic partition to
// nextOffset without accepting anything: for a signal that cannot be accepted
// (unreadable, an unknown company), so that it is passed over exactly once.
// A position at or before the committed one returns an error matching
// ErrSignalConsumed.
func (p *Publisher) SkipSignal(ctx context.Context, partition int32, nextOffset int64) error {
	p.txnMu.Lock()
	defer p.txnMu.Unlock()
	if err := p.signalUsable(ctx, partition, nextOffset); err != nil {
		return err
	}
	if err := p.commitSignal(ctx, 0, partition, nextOffset, nil, nil); err != nil {
		return fmt.Errorf("skipping signals of partition %d before offset %d: %w", partition, nextOffset, err)
	}
	return nil
}

// signalUsable says why a signal cannot be consumed now, if it cannot: the
// publisher is unusable, or the position is not past the committed one.
// Called with txnMu.
func (p *Publisher) signalUsable(ctx context.Context, partition int32, nextOffset int64) error {
	switch {
	case p.fenced != nil:
		return p.fenced
	case p.closed:
		return ErrClosed
	case partition < 0 || nextOffset < 1:
		return fmt.Errorf("publisher: signal position %d/%d: want a partition and an offset after a signal", partition, nextOffset)
	}
	if err := p.ready(ctx); err != nil {
		return err
	}
	if at, ok := p.committed.signalOffset(partition); ok && nextOffset <= at {
		return fmt.Errorf("%w: partition %d is consumed up to offset %d, not before %d", ErrSignalConsumed, partition, at, nextOffset)
	}
	return nil
}

// commitSignal commits the signal position, with rec and its pending change
// (apply) when not nil, in the open transaction or a new one. Called with
// txnMu.
func (p *Publisher) commitSignal(ctx context.Context, companyID int64, partition int32, nextOffset int64, rec *kgo.Record, apply func(*state.Pending)) error {
	// The transaction's owner: begin and endTxn track transactions by scan,
	// and fail it when the transaction aborts.
	owner := &Scan{p: p, company: companyID, id: fmt.Sprintf("signal %d/%d", partition, nextOffset), done: true}
	if err := owner.begin(ctx); err != nil {
		return err
	}
	if rec != nil {
		p.cl.Produce(ctx, rec, p.promise)
		apply(p.txn.pending)
	}
	p.cl.Produce(ctx, &kgo.Record{
		Topic: p.cfg.State.Topic,
		Key:   state.SignalKey(partition),
		Value: state.SignalValue(nextOffset),
	}, p.promise)
	p.txn.pending.SetSignalOffset(partition, nextOffset)
	if err := p.endTxn(ctx, true); err != nil {
		return err
	}
	return owner.err
}

// resyncScan is what a resync scan publishes: the customers of the resync of
// Seq seq in its scope (nil: every customer).
type resyncScan struct {
	id    string
	seq   int64
	scope map[[16]byte]struct{}
}

func newResyncScan(r *state.Resync) *resyncScan {
	if r == nil {
		return nil
	}
	rs := &resyncScan{id: r.ID, seq: r.Seq}
	if len(r.Customers) > 0 {
		rs.scope = make(map[[16]byte]struct{}, len(r.Customers))
		for _, id := range r.Customers {
			rs.scope[id] = struct{}{}
		}
	}
	return rs
}

// seqOf returns the resync's Seq for a customer in its scope, 0 otherwise
// (and outside a resync scan): the customer is then diffed and recorded as
// in any scan.
func (rs *resyncScan) seqOf(id [16]byte) int64 {
	if rs == nil {
		return 0
	}
	if rs.scope != nil {
		if _, ok := rs.scope[id]; !ok {
			return 0
		}
	}
	return rs.seq
}

// complete sets cur's resync fields as the scan's Complete writes them: the
// committed cursor's (prev), but a resync scan whose resync is still the
// active one completes it.
func (rs *resyncScan) complete(cur *state.Cursor, prev state.Cursor) {
	cur.Resync, cur.LastResync = prev.Resync, prev.LastResync
	if rs == nil || prev.Resync == nil || prev.Resync.Seq != rs.seq {
		return
	}
	cur.Resync = nil
	cur.LastResync = &state.CompletedResync{ID: prev.Resync.ID, Seq: rs.seq, CompletedAt: cur.ScanFinished}
}
