package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/covacdc/covacdc/publisher"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// SignalConfig says where a pipeline reads resync requests.
type SignalConfig struct {
	// Topic is the signal topic (--signal-topic); created with one
	// partition when missing.
	Topic string
	// KafkaOpts reach the cluster (seed brokers, TLS, SASL).
	KafkaOpts []kgo.Opt
	// CatchUp bounds how long Run waits at its start for the requests
	// already in the topic, so that the first scans see them. Default 30 s.
	CatchUp time.Duration
	// Required makes a signal topic that cannot be read, or requests not
	// caught up with in time, fail Run; otherwise Run warns and goes on
	// capturing changes without resyncs.
	Required bool
	// AnyCompany accepts requests for companies this pipeline does not
	// scan, for the deployment that does to carry out when it next runs
	// (covacdc resync doing one company's resync itself); otherwise they
	// are passed over.
	AnyCompany bool
}

// signalWatcher reads the signal topic as a member of the deployment's
// signal group and hands each request for this deployment (its key is the
// transactional id) to the publisher, which accepts it exactly once.
type signalWatcher struct {
	p     *Pipeline
	cfg   SignalConfig
	cl    *kgo.Client
	key   string
	seen  map[int32]int64 // per partition, the offset after the last record read
	retry time.Duration   // the first wait before retrying a failed acceptance
}

// openSignals joins the signal group, creating the topic when missing.
func (p *Pipeline) openSignals(ctx context.Context) (*signalWatcher, error) {
	cfg := *p.cfg.Signals
	if cfg.CatchUp <= 0 {
		cfg.CatchUp = 30 * time.Second
	}
	if err := ensureSignalTopic(ctx, cfg); err != nil {
		return nil, err
	}
	cl, err := kgo.NewClient(append(slices.Clone(cfg.KafkaOpts),
		kgo.ConsumerGroup(SignalGroup(p.cfg.TransactionalID)),
		kgo.ConsumeTopics(cfg.Topic),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		// No offsets are committed to the group: the accepted position is in
		// the state topic, with the acceptance. Every start reads the topic
		// from its start and passes over what the state says is consumed.
		kgo.DisableAutoCommit(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		// A killed covacdc leaves the group soon, so that `covacdc resync`
		// does the work itself rather than wait for it.
		kgo.SessionTimeout(10*time.Second),
	)...)
	if err != nil {
		return nil, fmt.Errorf("signal topic %q: %w", cfg.Topic, err)
	}
	return &signalWatcher{p: p, cfg: cfg, cl: cl, key: p.cfg.TransactionalID, seen: map[int32]int64{}, retry: time.Second}, nil
}

// ensureSignalTopic creates the signal topic when it is missing.
func ensureSignalTopic(ctx context.Context, cfg SignalConfig) error {
	cl, err := kgo.NewClient(cfg.KafkaOpts...)
	if err != nil {
		return fmt.Errorf("signal topic %q: %w", cfg.Topic, err)
	}
	defer cl.Close()
	return EnsureSignalTopic(ctx, kadm.NewClient(cl), cfg.Topic)
}

// EnsureSignalTopic creates the signal topic, with one partition and the
// broker's defaults, unless it exists.
func EnsureSignalTopic(ctx context.Context, adm *kadm.Client, topic string) error {
	details, err := adm.ListTopics(ctx, topic)
	if err != nil {
		return fmt.Errorf("signal topic %q: reading its metadata: %w", topic, err)
	}
	if d, ok := details[topic]; ok && d.Err == nil {
		return nil
	} else if ok && !errors.Is(d.Err, kerr.UnknownTopicOrPartition) {
		return fmt.Errorf("signal topic %q: %w", topic, GrantHint(d.Err, "READ"))
	}
	resp, err := adm.CreateTopic(ctx, 1, -1, nil, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		return fmt.Errorf("signal topic %q: creating it: %w", topic, err)
	}
	return nil
}

func (w *signalWatcher) close() { w.cl.Close() }

// GrantHint prefixes an authorization failure on the signal topic or its
// group with the ACL to grant (op on the topic; READ on the group); other
// errors it returns as they are.
func GrantHint(err error, op string) error {
	switch {
	case errors.Is(err, kerr.TopicAuthorizationFailed):
		return fmt.Errorf("not allowed: grant %s on it (README: Security): %w", op, err)
	case errors.Is(err, kerr.GroupAuthorizationFailed):
		return fmt.Errorf("not allowed to use its group: grant READ on the group (README: Security): %w", err)
	}
	return err
}

// catchUp accepts the requests in the topic when it is called, waiting at
// most cfg.CatchUp for the group to hand this member the topic.
func (w *signalWatcher) catchUp(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, w.cfg.CatchUp)
	defer cancel()
	ends, err := kadm.NewClient(w.cl).ListEndOffsets(ctx, w.cfg.Topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return fmt.Errorf("signal topic %q: reading its end: %w", w.cfg.Topic, err)
	}
	behind := func() bool {
		for _, o := range ends[w.cfg.Topic] {
			next, _ := w.p.pub.SignalOffset(o.Partition)
			if max(next, w.seen[o.Partition]) < o.Offset {
				return true
			}
		}
		return false
	}
	for behind() {
		if err := w.poll(ctx, nil); err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("signal topic %q: the requests in it were not read within %s (another member of group %q may hold it)",
					w.cfg.Topic, w.cfg.CatchUp, SignalGroup(w.key))
			}
			return err
		}
	}
	return nil
}

// watch handles requests until ctx is done (it returns nil) or the
// publisher is fenced or closed (it returns why). Each accepted resync is
// sent on wake, so that its company is scanned at once.
// A signal topic that turns out unreadable (a missing grant) ends the watch
// with a warning: changes are captured as before.
func (w *signalWatcher) watch(ctx context.Context, wake chan<- int64) error {
	for ctx.Err() == nil {
		err := w.poll(ctx, wake)
		var unreadable *unreadableError
		switch {
		case err == nil, ctx.Err() != nil:
		case errors.As(err, &unreadable):
			w.p.warnNoSignals(err)
			return nil
		default:
			return err
		}
	}
	return nil
}

// unreadableError is a fetch error of the signal topic that retrying does
// not mend.
type unreadableError struct{ err error }

func (e *unreadableError) Error() string { return e.err.Error() }
func (e *unreadableError) Unwrap() error { return e.err }

// poll reads the next records and handles them in order.
func (w *signalWatcher) poll(ctx context.Context, wake chan<- int64) error {
	fs := w.cl.PollFetches(ctx)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if errs := fs.Errors(); len(errs) > 0 {
		for _, e := range errs {
			// A lasting cause (a missing grant, a deleted topic) is
			// reported at once, not warned about every second.
			if !kerr.IsRetriable(e.Err) {
				return &unreadableError{fmt.Errorf("signal topic %q: %w", w.cfg.Topic, GrantHint(e.Err, "READ"))}
			}
			w.p.log.Warn("reading the signal topic", "topic", e.Topic, "partition", e.Partition, "err", e.Err)
		}
		select { // the cause lasts: do not spin on it
		case <-time.After(time.Second):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	var err error
	fs.EachRecord(func(r *kgo.Record) {
		if err != nil {
			return
		}
		if err = w.handle(ctx, r, wake); err == nil {
			w.seen[r.Partition] = r.Offset + 1
		}
	})
	return err
}

// handle accepts the request r, or passes it over when it is not for this
// deployment, was accepted already, or cannot be accepted (it says why in
// the log). It retries the publisher until it answers, ctx is done, or the
// publisher cannot go on.
func (w *signalWatcher) handle(ctx context.Context, r *kgo.Record, wake chan<- int64) error {
	if string(r.Key) != w.key {
		return nil
	}
	if next, ok := w.p.pub.SignalOffset(r.Partition); ok && r.Offset < next {
		return nil
	}
	sig, rs, err := parseResyncSignal(r.Value)
	if err == nil && !w.cfg.AnyCompany && !slices.Contains(w.p.cfg.CompanyIDs, sig.CompanyID) {
		err = fmt.Errorf("company %d is not one of this covacdc's --company-id", sig.CompanyID)
	}
	log := w.p.log.With("signal_partition", r.Partition, "signal_offset", r.Offset)
	if err != nil {
		log.Error("resync request passed over", "resync", sig.ID, "err", err)
		return w.retrying(ctx, log, func() error { return w.p.pub.SkipSignal(ctx, r.Partition, r.Offset+1) })
	}
	err = w.retrying(ctx, log.With("company_id", sig.CompanyID, "resync", sig.ID), func() error {
		_, err := w.p.pub.AcceptResync(ctx, sig.CompanyID, rs, r.Partition, r.Offset+1)
		return err
	})
	if err != nil {
		return err
	}
	if wake != nil {
		select {
		case wake <- sig.CompanyID:
		case <-ctx.Done():
		}
	}
	return nil
}

// retrying calls commit until it succeeds, a request turns out consumed
// already (nil), the publisher cannot go on (its error), or ctx is done.
func (w *signalWatcher) retrying(ctx context.Context, log *slog.Logger, commit func() error) error {
	wait := w.retry
	for {
		err := commit()
		switch {
		case err == nil, errors.Is(err, publisher.ErrSignalConsumed):
			return nil
		case errors.Is(err, publisher.ErrFenced), errors.Is(err, publisher.ErrClosed), ctx.Err() != nil:
			return err
		}
		log.Warn("committing a resync request failed; retrying", "in", wait.String(), "err", err)
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return ctx.Err()
		}
		wait = min(2*wait, 30*time.Second)
	}
}
