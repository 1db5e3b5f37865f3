package publisher

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/covacdc/covacdc/schema"
	"github.com/covacdc/covacdc/state"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// New connects, fences any older instance holding cfg.TransactionalID, describes
// the topics and creates only those missing (refusing a state topic that is not
// compacted; a principal without CREATE runs against topics an administrator
// made), and restores the state. It returns once the first scan may start.
//
// Fencing comes from committing a startup marker to every partition of the state
// topic in a transaction: its InitProducerID bumps the epoch of the transactional
// id, which aborts whatever an older instance had open and makes any further
// write of it fail; the restore then reads until these markers, so it sees every
// state record that will ever commit under an older epoch.
func New(ctx context.Context, cfg Config, opts ...Option) (*Publisher, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("publisher: %w", err)
	}
	o := options{now: time.Now}
	for _, opt := range opts {
		opt(&o)
	}
	if o.logger == nil {
		o.logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.encoder == nil {
		enc, err := schema.NewEncoder()
		if err != nil {
			return nil, fmt.Errorf("publisher: %w", err)
		}
		o.encoder = enc
	}
	lim := newLimits(cfg)
	cl, err := kgo.NewClient(append(cfg.kgoOpts(), lim.opt())...)
	if err != nil {
		return nil, fmt.Errorf("kafka client: %w", err)
	}
	p := &Publisher{
		cfg:       cfg,
		begun:     o.now(),
		companies: o.companies,
		limits:    lim,
		log:       o.logger,
		now:       o.now,
		m:         newMetrics(),
		committed: newCommittedView(cfg.StartFrom),
		cl:        cl,
		build:     newBuilder(o.encoder, cfg, lim),
		scans:     make(map[int64]*Scan),
		stop:      make(chan struct{}),
		done:      make(chan struct{}),
	}
	p.promise = p.produced.set
	for _, id := range p.companies {
		p.m.company(id)
	}
	// Registered before anything is asked of Kafka, so that a scrape during a
	// long restore sees every family (the gauges say what is known so far).
	var registered prometheus.Collector
	if o.registerer != nil {
		var err error
		if registered, err = p.m.register(o.registerer, newGauges(p)); err != nil {
			cl.Close()
			return nil, fmt.Errorf("publisher: registering metrics: %w", err)
		}
	}
	if o.registered != nil {
		o.registered()
	}
	if err := p.start(ctx); err != nil {
		if registered != nil {
			o.registerer.Unregister(registered)
		}
		cl.Close()
		return nil, err
	}
	go p.ager()
	return p, nil
}

func (p *Publisher) start(ctx context.Context) error {
	adm := kadm.NewClient(p.cl)
	found, err := p.describeTopics(ctx, adm)
	if err != nil {
		return err
	}
	if !p.cfg.AllowNewStateTopic {
		if err := p.checkStateNotLost(ctx, adm, found); err != nil {
			return err
		}
	}
	if err := p.checkEncoding(ctx, found); err != nil {
		return err
	}
	if err := p.createMissing(ctx, adm, found); err != nil {
		return err
	}
	parts, err := state.EnsureTopic(ctx, adm, p.cfg.State)
	if err != nil {
		return err
	}
	p.parts = parts
	if err := p.readLimits(ctx, adm); err != nil {
		return err
	}
	return p.syncState(ctx)
}

// checkStateNotLost refuses to start on a missing state topic when the events
// topic already holds events: the state was deleted (or a wrong --state-topic
// given), and an empty state would publish every customer a second time.
func (p *Publisher) checkStateNotLost(ctx context.Context, adm *kadm.Client, found existing) error {
	if found[p.cfg.State.Topic] || !found[p.cfg.Topic] {
		return nil
	}
	starts, err := adm.ListStartOffsets(ctx, p.cfg.Topic)
	if err == nil {
		err = starts.Error()
	}
	if err != nil {
		return fmt.Errorf("events topic %q: reading its offsets: %w", p.cfg.Topic, err)
	}
	ends, err := adm.ListEndOffsets(ctx, p.cfg.Topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return fmt.Errorf("events topic %q: reading its offsets: %w", p.cfg.Topic, err)
	}
	var held int64 // offsets, transaction markers included
	ends.Each(func(end kadm.ListedOffset) {
		if start, ok := starts.Lookup(end.Topic, end.Partition); ok && end.Offset > start.Offset {
			held += end.Offset - start.Offset
		}
	})
	if held == 0 {
		return nil
	}
	return fmt.Errorf("%w: no topic %q, but events topic %q is not empty (%d offsets); "+
		"restore the state topic, or start with --allow-new-state-topic to publish every customer again",
		ErrStateMissing, p.cfg.State.Topic, p.cfg.Topic, held)
}

// syncState ends what earlier transactions left open (fence), commits a
// startup marker to every state partition (fencing any older instance) and
// rebuilds the index from the state topic up to the markers.
// Called with no transaction open: by start, and by ready when the last
// transaction aborted or its commit's outcome is unknown (txn.needReload).
func (p *Publisher) syncState(ctx context.Context) error {
	if err := p.fence(ctx); err != nil {
		return p.startErr(err)
	}
	nonce := make([]byte, 16)
	if _, err := rand.Read(nonce); err != nil {
		return fmt.Errorf("publisher: %w", err)
	}
	markers := make([]*kgo.Record, 0, p.parts)
	for part := range p.parts {
		markers = append(markers, &kgo.Record{
			Topic:     p.cfg.State.Topic,
			Partition: part,
			Key:       state.MarkerKey(part),
			Value:     state.MarkerValue(nonce),
		})
	}
	if err := p.commitRecords(ctx, markers); err != nil {
		return p.startErr(err)
	}
	idx, stats, err := state.RestoreUntilMarker(ctx, p.cfg.State.Topic, nonce, p.cfg.KafkaOpts...)
	if err != nil {
		return err // it names the state topic
	}
	// What the events topic holds from here on is checked against the state
	// at the next reread (repair.go).
	end, err := p.eventsEnd(ctx)
	if err != nil {
		return err
	}
	if p.checked != nil {
		n, err := p.repairState(ctx, idx, p.checked, end)
		if err != nil {
			return err
		}
		if n > 0 {
			p.log.Warn("state mended: committed events whose state records Kafka lost; their versions are recorded again, so they are not published twice",
				"customers", n, "topic", p.cfg.Topic)
		}
	}
	p.checked = end
	p.committed.restored(idx)
	p.txn.pending = state.NewPending(idx)
	p.txn.needReload = false
	p.log.Info("state restored", "topic", p.cfg.State.Topic, "records", stats.Records,
		"customers", idx.Len(), "companies", len(idx.Companies()), "duration", stats.Duration)
	return nil
}

func (p *Publisher) startErr(err error) error {
	if isFenced(err) {
		p.fenced = fencedError(p.cfg.TransactionalID, err)
		return p.fenced
	}
	if aerr := p.authErr(err); aerr != nil {
		return aerr
	}
	return fmt.Errorf("fencing older instances of transactional id %q: %w", p.cfg.TransactionalID, err)
}
