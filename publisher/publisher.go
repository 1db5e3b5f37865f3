package publisher

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/covacdc/covacdc/schema"
	"github.com/covacdc/covacdc/state"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Option sets an optional collaborator.
type Option func(*options)

type options struct {
	logger     *slog.Logger
	registerer prometheus.Registerer
	encoder    Encoder
	now        func() time.Time
	companies  []int64
	registered func()
}

// WithLogger sets the logger. Default: discard.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithRegisterer registers the publisher's metrics. Default: no metrics.
func WithRegisterer(r prometheus.Registerer) Option { return func(o *options) { o.registerer = r } }

// WithMetricsRegistered calls fn once New has registered the metrics (every
// family at once), before it asks Kafka anything. A metrics server started
// before New holds scrapes until then, so that none sees half the families.
func WithMetricsRegistered(fn func()) Option { return func(o *options) { o.registered = fn } }

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

// WithCompanies names the companies the publisher will scan: with a
// Registerer, their series (counters at zero, each dead-letter reason among
// them, and the per-company gauges) are on /metrics from New on, before the
// state is restored, rather than from each company's first scan. Default: none.
func WithCompanies(ids ...int64) Option { return func(o *options) { o.companies = ids } }

// WithClock sets the clock used for capturedAt and metrics. Default time.Now.
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// Publisher is the single writer of one transactional id. Its methods are safe for
// concurrent use; transactions are serialised inside: scans of several companies
// may share one transaction.
//
// Its parts, and the lock of each:
//   - start-up (start.go, topics.go, encoding.go, limits.go) runs in New,
//     before the publisher is shared, and sets the fields above committed;
//     nothing writes them after.
//   - committed (committed.go) is the state as committed, behind a lock of its
//     own, so that Cursor, Companies and metric scrapes never wait for a
//     transaction.
//   - txnMu guards the producer: the Kafka client, the transaction (txn.go),
//     the record builder (build.go) and the open scans (scan.go). Every Scan
//     method, the ager and Close hold it from start to end.
//   - produced is the first failed record, reported by kgo's goroutines; its
//     lock is held only to set or take it.
type Publisher struct {
	cfg    Config
	log    *slog.Logger
	now    func() time.Time
	m      *metrics
	limits *limits // the largest record of each topic (atomics: kgo reads them)
	parts  int32   // partitions of the state topic

	committed committedView

	begun     time.Time // when New was called: the lag of a company before its first committed scan
	companies []int64   // the companies WithCompanies named
	// checked is where the events topic ended (its last stable offsets) when
	// the state was last read: the next reread checks the state against the
	// events committed since (repairState). Guarded by txnMu.
	checked map[int32]int64

	// txnMu guards every field from cl to closed.
	txnMu sync.Mutex
	cl    *kgo.Client // replaced by renewClient
	txn   txn
	build builder
	scans map[int64]*Scan // open scans by company
	// staleLogs rate-limits the stale-read warnings of each company.
	staleLogs map[int64]*staleLog
	fenced    error // set once another instance took over: every later call returns it
	closed    bool

	produced recordErr
	// promise is produced.set, made once: a method value passed to each
	// Produce would cost an allocation per record.
	promise func(*kgo.Record, error)

	stop     chan struct{} // closed by Close: the ager returns
	done     chan struct{} // closed by the ager as it returns
	stopOnce sync.Once
}

// Cursor returns the cursor the company's next scan starts from (StartFrom when the
// company has no state). While a resync of the company is active (Resync is
// set) its Since is ResyncSince: the next scan is the resync's full scan.
func (p *Publisher) Cursor(companyID int64) state.Cursor {
	c := p.committed.cursor(companyID)
	if c.Resync != nil {
		c.Since = p.ResyncSince()
	}
	return c
}

// Companies returns the state of every company known to the state topic or seen since.
func (p *Publisher) Companies() []state.CompanyState { return p.committed.companies() }

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
	if p.txn.open && p.fenced == nil {
		endCtx, cancel := context.WithTimeout(ctx, min(p.cfg.EndTimeout, closeTimeout))
		_ = p.cl.AbortBufferedRecords(endCtx)
		err = p.cl.EndTransaction(endCtx, kgo.TryAbort)
		cancel()
		p.txnAborted()
		if err != nil {
			err = fmt.Errorf("aborting the open transaction: %w", err)
		}
	}
	p.cl.Close()
	return err
}
