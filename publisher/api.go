// Package publisher writes CustomerChanged events, dead letters and the state
// records that reflect them to Kafka in one transaction per batch, so a consumer
// reading with read_committed sees every change exactly once. It fences any older
// instance with the same transactional id before it restores state.
package publisher

// THIS FILE IS THE PINNED API CONTRACT (what cmd/covacdc uses).
// Implement it (split into files as you like); add what you need, rename nothing.

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/covacdc/covacdc/poller"
	"github.com/covacdc/covacdc/schema"
	"github.com/covacdc/covacdc/state"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
)

// ErrFenced means another instance started with the same transactional id and took
// over; this one must stop.
var ErrFenced = errors.New("publisher: fenced: another instance with the same transactional id took over")

// Config says where and how to publish. Zero fields take their defaults.
type Config struct {
	KafkaOpts       []kgo.Opt // seed brokers, TLS, SASL: how to reach the cluster. Required.
	Topic           string    // events topic. Default "covacdc.customers".
	DLQTopic        string    // dead-letter topic. Default "covacdc.dlq".
	TransactionalID string    // Default "covacdc".
	// MaxEventsPerTransaction bounds a transaction. Default 2000.
	MaxEventsPerTransaction int
	TopicPartitions         int32 // events and dead-letter topics when created. Default 6.
	TopicReplicationFactor  int16 // Default -1 (broker default).
	State                   state.TopicConfig
	// StartFrom is the cursor of a company with no state. Zero: the beginning (a full initial load).
	StartFrom time.Time
}

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
	Append(dst []byte, ev *schema.Event) ([]byte, error)
	SchemaRef() string
}

// WithEncoder sets the event encoder. Default: schema.NewEncoder() (single-object encoding).
func WithEncoder(e Encoder) Option { return func(o *options) { o.encoder = e } }

// WithClock sets the clock used for capturedAt and metrics. Default time.Now.
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// Publisher is the single writer of one transactional id. Its methods are safe for
// concurrent use; transactions are serialised inside.
type Publisher struct { /* implementation */
}

// New connects, fences any older instance holding cfg.TransactionalID, creates the
// topics when missing (refusing a state topic that is not compacted), and restores
// the state. It returns once the first scan may start.
func New(ctx context.Context, cfg Config, opts ...Option) (*Publisher, error) { panic("unimplemented") }

// Cursor returns the cursor the company's next scan starts from (StartFrom when the
// company has no state).
func (p *Publisher) Cursor(companyID int64) state.Cursor { panic("unimplemented") }

// Companies returns the state of every company known to the state topic or seen since.
func (p *Publisher) Companies() []state.CompanyState { panic("unimplemented") }

// Scan is one scan of one company being published.
type Scan struct { /* implementation */
}

// BeginScan starts publishing a scan of the company. Only one scan per company may
// be open at a time.
func (p *Publisher) BeginScan(companyID int64, scanID string, source schema.Source) *Scan {
	panic("unimplemented")
}

// Publish diffs the batch against the published versions and adds the changes, and
// the batch's invalid records as dead letters, to the open transaction, committing
// it whenever it reaches MaxEventsPerTransaction. It returns once the batch is
// buffered (not necessarily committed).
func (s *Scan) Publish(ctx context.Context, b poller.Batch) error { panic("unimplemented") }

// Complete writes the company's new cursor and commits the open transaction with
// it. It fails (and the cursor does not move) if any of this scan's events were in
// a transaction that was aborted.
func (s *Scan) Complete(ctx context.Context, next state.Cursor) error { panic("unimplemented") }

// Abandon ends the scan without moving the cursor; what was already committed stays.
func (s *Scan) Abandon() { panic("unimplemented") }

// Close aborts any open transaction, flushes and closes the client. Safe to call twice.
func (p *Publisher) Close(ctx context.Context) error { panic("unimplemented") }
