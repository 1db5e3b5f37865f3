package publisher

import (
	"cmp"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/covacdc/covacdc/schema"
	"github.com/covacdc/covacdc/state"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Option sets an optional collaborator.
type Option func(*options)

type options struct {
	logger     *slog.Logger
	registerer prometheus.Registerer
	encoder    Encoder
	now        func() time.Time
}

// WithLogger sets the logger. Default: discard.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithRegisterer registers the publisher's metrics. Default: no metrics.
func WithRegisterer(r prometheus.Registerer) Option { return func(o *options) { o.registerer = r } }

// Encoder turns an event into bytes; *schema.Encoder is the real one.
type Encoder interface {
	// Append appends ev's encoding to dst and returns the extended slice, as
	// append does. It keeps neither: the publisher reuses ev and hands dst's
	// spare capacity to other records.
	Append(dst []byte, ev *schema.CustomerChanged) ([]byte, error)
	SchemaRef() string
}

var _ Encoder = (*schema.Encoder)(nil)

// WithEncoder sets the event encoder. Default: schema.NewEncoder() (single-object encoding).
func WithEncoder(e Encoder) Option { return func(o *options) { o.encoder = e } }

// WithClock sets the clock used for capturedAt and metrics. Default time.Now.
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// Publisher is the single writer of one transactional id. Its methods are safe for
// concurrent use; transactions are serialised inside: scans of several companies
// may share one transaction.
type Publisher struct {
	cfg Config
	log *slog.Logger
	enc Encoder
	// schemaRefHeader is the encoder's SchemaRef, the header value every event shares.
	schemaRefHeader []byte
	now             func() time.Time
	cl              *kgo.Client
	m               *metrics
	parts           int32 // partitions of the state topic

	// mu guards the committed state: written only with txnMu also held, read
	// with mu alone (Cursor, Companies, metrics scrapes).
	mu          sync.RWMutex
	idx         *state.Index
	seen        map[int64]struct{} // companies that began a scan
	lastSuccess map[int64]time.Time

	// txnMu serialises everything that touches the open transaction.
	txnMu      sync.Mutex
	arena      arena                      // bytes of the records produced
	recs       recycler[kgo.Record]       // the records produced
	headers    recycler[kgo.RecordHeader] // their headers
	pending    *state.Pending
	inTxn      bool
	txnStart   time.Time
	txnEvents  int                // events and dead letters in the open transaction
	txnScans   map[*Scan]struct{} // scans with records in the open transaction
	txnCounts  map[eventKey]int
	txnDLQ     map[dlqKey]int
	scans      map[int64]*Scan // open scans by company
	needReload bool            // a commit's outcome is unknown: reread the state first
	renew      bool            // the client could not end its transaction: replace it first
	fenced     error
	closed     bool

	errMu      sync.Mutex
	produceErr error // first failed record of the open transaction

	stop     chan struct{}
	done     chan struct{}
	stopOnce sync.Once
}

type eventKey struct {
	company int64
	typ     schema.ChangeType
}

type dlqKey struct {
	company int64
	reason  string
}

// New connects, fences any older instance holding cfg.TransactionalID, creates the
// topics when missing (refusing a state topic that is not compacted), and restores
// the state. It returns once the first scan may start.
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
	cfg = cfg.withDefaults()
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
	cl, err := kgo.NewClient(cfg.kgoOpts()...)
	if err != nil {
		return nil, fmt.Errorf("publisher: %w", err)
	}
	p := &Publisher{
		cfg:             cfg,
		log:             o.logger,
		enc:             o.encoder,
		schemaRefHeader: []byte(o.encoder.SchemaRef()),
		now:             o.now,
		cl:              cl,
		m:               newMetrics(),
		seen:            make(map[int64]struct{}),
		lastSuccess:     make(map[int64]time.Time),
		scans:           make(map[int64]*Scan),
		stop:            make(chan struct{}),
		done:            make(chan struct{}),
	}
	if err := p.start(ctx, o.registerer); err != nil {
		cl.Close()
		return nil, err
	}
	go p.ager()
	return p, nil
}

func (p *Publisher) start(ctx context.Context, reg prometheus.Registerer) error {
	adm := kadm.NewClient(p.cl)
	if !p.cfg.AllowNewStateTopic {
		if err := p.checkStateNotLost(ctx, adm); err != nil {
			return err
		}
	}
	for _, topic := range []string{p.cfg.Topic, p.cfg.DLQTopic} {
		resp, err := adm.CreateTopic(ctx, p.cfg.TopicPartitions, p.cfg.TopicReplicationFactor, nil, topic)
		if err == nil {
			err = resp.Err
		}
		if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
			return fmt.Errorf("publisher: creating topic %q: %w", topic, err)
		}
	}
	parts, err := state.EnsureTopic(ctx, adm, p.cfg.State)
	if err != nil {
		return err
	}
	p.parts = parts
	if err := p.syncState(ctx); err != nil {
		return err
	}
	if reg != nil {
		if err := p.m.register(reg, newGauges(p)); err != nil {
			return fmt.Errorf("publisher: registering metrics: %w", err)
		}
	}
	return nil
}

// checkStateNotLost refuses to start on a missing state topic when the events
// topic already holds events: the state was deleted (or a wrong --state-topic
// given), and an empty state would publish every customer a second time.
func (p *Publisher) checkStateNotLost(ctx context.Context, adm *kadm.Client) error {
	topics, err := adm.ListTopics(ctx, p.cfg.State.Topic, p.cfg.Topic)
	if err != nil {
		return fmt.Errorf("publisher: listing topics: %w", err)
	}
	if topics.Has(p.cfg.State.Topic) || !topics.Has(p.cfg.Topic) {
		return nil
	}
	starts, err := adm.ListStartOffsets(ctx, p.cfg.Topic)
	if err == nil {
		err = starts.Error()
	}
	if err != nil {
		return fmt.Errorf("publisher: reading the offsets of %q: %w", p.cfg.Topic, err)
	}
	ends, err := adm.ListEndOffsets(ctx, p.cfg.Topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return fmt.Errorf("publisher: reading the offsets of %q: %w", p.cfg.Topic, err)
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
	return fmt.Errorf("%w: state topic %q does not exist but events topic %q is not empty (%d offsets); "+
		"restore the state topic, or start with --allow-new-state-topic to publish every customer again",
		ErrStateMissing, p.cfg.State.Topic, p.cfg.Topic, held)
}

// syncState commits a startup marker to every state partition (fencing any
// older instance) and rebuilds the index from the state topic up to the markers.
// Called with no transaction open.
func (p *Publisher) syncState(ctx context.Context) error {
	nonce := make([]byte, 16)
	if _, err := rand.Read(nonce); err != nil {
		return fmt.Errorf("publisher: %w", err)
	}
	if err := p.cl.BeginTransaction(); err != nil {
		return p.startErr(err)
	}
	for part := range p.parts {
		p.cl.Produce(ctx, &kgo.Record{
			Topic:     p.cfg.State.Topic,
			Partition: part,
			Key:       state.MarkerKey(part),
			Value:     state.MarkerValue(nonce),
		}, p.promise)
	}
	endCtx, cancel := p.endCtx(ctx)
	defer cancel()
	err := p.cl.Flush(ctx)
	if perr := p.takeProduceErr(); err == nil {
		err = perr
	}
	if err == nil {
		err = p.cl.EndTransaction(endCtx, kgo.TryCommit)
	}
	if err != nil {
		if !isFenced(err) {
			p.abort()
		}
		return p.startErr(err)
	}
	idx, stats, err := state.RestoreUntilMarker(ctx, p.cfg.State.Topic, nonce, p.cfg.KafkaOpts...)
	if err != nil {
		return fmt.Errorf("publisher: %w", err)
	}
	p.mu.Lock()
	p.idx = idx
	p.mu.Unlock()
	p.pending = state.NewPending(idx)
	p.needReload = false
	p.log.Info("state restored", "topic", p.cfg.State.Topic, "records", stats.Records,
		"customers", idx.Len(), "companies", len(idx.Companies()), "duration", stats.Duration)
	return nil
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
		p.renew = true
		p.needReload = true
	}
	return err
}

// renewClient replaces a client that could not end its transaction with a new
// one. The new client's first transaction initialises the producer id again,
// which makes the broker abort whatever the old one left open; the state is
// then reread (needReload), since the old transaction's outcome is unknown.
// Called with txnMu.
func (p *Publisher) renewClient() error {
	cl, err := kgo.NewClient(p.cfg.kgoOpts()...)
	if err != nil {
		return fmt.Errorf("publisher: replacing the Kafka client: %w", err)
	}
	p.cl.Close()
	p.cl = cl
	p.renew = false
	p.needReload = true
	p.log.Warn("replaced the Kafka client after a transaction that could not be ended")
	return nil
}

func (p *Publisher) startErr(err error) error {
	if isFenced(err) {
		p.fenced = fencedError(p.cfg.TransactionalID, err)
		return p.fenced
	}
	return fmt.Errorf("publisher: fencing older instances of transactional id %q: %w", p.cfg.TransactionalID, err)
}

// endCtx bounds ending a transaction. Cancelling the caller's context must not
// cut an EndTransaction short (its outcome would be unknown), so only the
// timeout applies.
func (p *Publisher) endCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), p.cfg.EndTimeout)
}

func (p *Publisher) promise(_ *kgo.Record, err error) {
	if err == nil {
		return
	}
	p.errMu.Lock()
	if p.produceErr == nil {
		p.produceErr = err
	}
	p.errMu.Unlock()
}

func (p *Publisher) takeProduceErr() error {
	p.errMu.Lock()
	defer p.errMu.Unlock()
	err := p.produceErr
	p.produceErr = nil
	return err
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
		if p.inTxn && !p.closed && p.fenced == nil && p.now().Sub(p.txnStart) >= p.cfg.MaxTransactionAge {
			if err := p.endTxn(context.Background(), true); err != nil {
				p.log.Warn("committing an aged transaction", "error", err)
			}
		}
		p.txnMu.Unlock()
	}
}

// Cursor returns the cursor the company's next scan starts from (StartFrom when the
// company has no state).
func (p *Publisher) Cursor(companyID int64) state.Cursor {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if c, ok := p.idx.Cursor(companyID); ok {
		return c
	}
	return state.Cursor{Since: p.cfg.StartFrom}
}

// Companies returns the state of every company known to the state topic or seen since.
func (p *Publisher) Companies() []state.CompanyState {
	p.mu.RLock()
	defer p.mu.RUnlock()
	out := p.idx.Companies()
	known := make(map[int64]bool, len(out))
	for _, c := range out {
		known[c.CompanyID] = true
	}
	for id := range p.seen {
		if !known[id] {
			out = append(out, state.CompanyState{CompanyID: id, Cursor: state.Cursor{Since: p.cfg.StartFrom}})
		}
	}
	slices.SortFunc(out, func(a, b state.CompanyState) int { return cmp.Compare(a.CompanyID, b.CompanyID) })
	return out
}

func (p *Publisher) lastSuccesses() map[int64]time.Time {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return maps.Clone(p.lastSuccess)
}

const closeTimeout = 5 * time.Second

// Close aborts any open transaction, flushes and closes the client. Safe to call
// twice; later calls return nil. The abort takes at most 5s (less when ctx
// ends sooner): an unreachable cluster does not hold up a shutdown, and the
// next instance's fencing aborts what is left.
func (p *Publisher) Close(ctx context.Context) error {
	p.stopOnce.Do(func() { close(p.stop) })
	<-p.done
	p.txnMu.Lock()
	defer p.txnMu.Unlock()
	if p.closed {
		return nil
	}
	p.closed = true
	var err error
	if p.inTxn && p.fenced == nil {
		endCtx, cancel := context.WithTimeout(ctx, min(p.cfg.EndTimeout, closeTimeout))
		_ = p.cl.AbortBufferedRecords(endCtx)
		err = p.cl.EndTransaction(endCtx, kgo.TryAbort)
		cancel()
		p.txnAborted()
		if err != nil {
			err = fmt.Errorf("publisher: aborting the open transaction: %w", err)
		}
	}
	p.cl.Close()
	return err
}
