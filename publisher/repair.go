package publisher

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/covacdc/covacdc/schema"
	"github.com/covacdc/covacdc/state"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Why the state is checked against the events topic after a reread: a
// broker that stops while it writes the markers of a transaction it has
// acknowledged as committed can leave that transaction committed on some
// partitions and open on others (see fence), and the abort of the next
// transaction, by this process or by the coordinator, then aborts the rest.
// Apache Kafka 4.4 on one broker was seen to commit a transaction's events
// while its state records aborted: the reread state lacked versions whose
// events consumers had, and the next scan published them again. No marker
// written afterwards can mend that, so the reread state is mended instead,
// from what the events topic holds: each customer's last committed event
// since the previous reread carries its version in its headers.

// eventsEnd returns the offsets up to which the events topic's partitions
// are decided (their last stable offsets: what read_committed reads).
func (p *Publisher) eventsEnd(ctx context.Context) (map[int32]int64, error) {
	adm := kadm.NewClient(p.cl)
	ends, err := adm.ListCommittedOffsets(ctx, p.cfg.Topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("events topic %q: reading its end offsets: %w", p.cfg.Topic, err)
	}
	out := make(map[int32]int64)
	ends.Each(func(o kadm.ListedOffset) { out[o.Partition] = o.Offset })
	return out, nil
}

// idleEnd is how long reading the events stops waiting for more once they
// stop coming (see lastVersions).
const idleEnd = 5 * time.Second

// repairKey is a customer of a company.
type repairKey struct {
	company int64
	id      [16]byte
}

// lastVersions reads the committed events of the events topic from the
// offsets from (partitions not in from: their start) up to the offsets to,
// and returns each customer's last event's version, for the companies this
// publisher scans (every company when it was not told which).
func (p *Publisher) lastVersions(ctx context.Context, from, to map[int32]int64) (map[repairKey]int64, error) {
	consume := make(map[int32]kgo.Offset)
	for part, end := range to {
		if start := from[part]; start < end {
			consume[part] = kgo.NewOffset().At(start)
		}
	}
	last := make(map[repairKey]int64)
	if len(consume) == 0 {
		return last, nil
	}
	cl, err := kgo.NewClient(append(slices.Clone(p.cfg.KafkaOpts),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{p.cfg.Topic: consume}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		// Markers are returned as records: a partition whose last offsets are
		// a marker (the fence's abort ends every partition with one) is read
		// to its end by the marker's offset.
		kgo.KeepControlRecords())...)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	for len(consume) > 0 {
		// Everything before the offsets to is decided, so a fetch returns it
		// at once; a poll that waits idleEnd for more has read it all, though
		// no record marked a partition's last offset (its last records were
		// aborted, and the marker that aborted them lies past to).
		pollCtx, cancel := context.WithTimeout(ctx, idleEnd)
		fs := cl.PollFetches(pollCtx)
		cancel()
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if fs.NumRecords() == 0 && pollCtx.Err() != nil {
			break
		}
		if err := fs.Err0(); err != nil && !errors.Is(err, context.DeadlineExceeded) {
			return nil, fmt.Errorf("events topic %q: %w", p.cfg.Topic, err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			if r.Offset >= to[r.Partition] {
				return
			}
			if r.Offset == to[r.Partition]-1 {
				delete(consume, r.Partition)
			}
			if r.Attrs.IsControl() {
				return
			}
			if k, v, ok := p.eventVersion(r); ok {
				last[k] = v
			}
		})
	}
	return last, nil
}

// eventVersion reads the company, the customer and the version of an event
// from its key and headers; ok is false for a record that is not one of
// this publisher's companies' events.
func (p *Publisher) eventVersion(r *kgo.Record) (repairKey, int64, bool) {
	var company, version string
	for _, h := range r.Headers {
		switch h.Key {
		case HeaderCompanyID:
			company = string(h.Value)
		case HeaderVersion:
			version = string(h.Value)
		}
	}
	c, err1 := strconv.ParseInt(company, 10, 64)
	v, err2 := strconv.ParseInt(version, 10, 64)
	id, ok := schema.ParseGUID(string(r.Key))
	if err1 != nil || err2 != nil || !ok || (len(p.companies) > 0 && !slices.Contains(p.companies, c)) {
		return repairKey{}, 0, false
	}
	return repairKey{c, id}, v, true
}

// repairState adds to idx, and commits to the state topic, the version of
// each customer whose last committed event in the events topic between the
// offsets from and to is newer than the version idx holds. It returns how
// many customers it mended. Called with txnMu and no transaction open.
func (p *Publisher) repairState(ctx context.Context, idx *state.Index, from, to map[int32]int64) (int, error) {
	last, err := p.lastVersions(ctx, from, to)
	if err != nil {
		return 0, err
	}
	var recs []*kgo.Record
	for k, v := range last {
		if have, ok := idx.Version(k.company, k.id); ok && have >= v {
			continue
		}
		recs = append(recs, &kgo.Record{
			Topic: p.cfg.State.Topic,
			Key:   state.AppendVersionKey(nil, k.company, k.id),
			Value: state.AppendVersionValue(nil, v),
		})
		idx.SetVersion(k.company, k.id, v)
	}
	if len(recs) == 0 {
		return 0, nil
	}
	if err := p.commitRecords(ctx, recs); err != nil {
		return 0, fmt.Errorf("writing the versions of %d customers whose events committed without them: %w", len(recs), err)
	}
	return len(recs), nil
}

// commitRecords writes recs in a transaction of their own and commits it;
// when that fails it aborts (a failed abort marks the client for renewal)
// and returns why. Called with txnMu and no transaction open.
func (p *Publisher) commitRecords(ctx context.Context, recs []*kgo.Record) error {
	if err := p.cl.BeginTransaction(); err != nil {
		return err
	}
	for _, r := range recs {
		p.cl.Produce(ctx, r, p.promise)
	}
	// The flush stops with the caller (a shutdown during start-up); ending
	// the transaction is not cut short (its outcome would be unknown).
	flushCtx, cancelFlush := context.WithTimeout(ctx, p.cfg.EndTimeout)
	defer cancelFlush()
	endCtx, cancel := p.endCtx(ctx)
	defer cancel()
	err := p.cl.Flush(flushCtx)
	if perr := p.produced.take(); err == nil {
		err = perr
	}
	if err == nil {
		err = p.cl.EndTransaction(endCtx, kgo.TryCommit)
	}
	if err != nil && !isFenced(err) {
		_ = p.abort() // err says why
	}
	return err
}
