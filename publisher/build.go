package publisher

import (
	"fmt"
	"strconv"
	"time"

	"github.com/covacdc/covacdc/schema"
	"github.com/covacdc/covacdc/state"
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

// changeTypeHeaders are the values of the change-type header, shared by the
// records of every event: kgo only reads header values.
var changeTypeHeaders = [...][]byte{
	schema.Snapshot: []byte(schema.Snapshot.String()),
	schema.Created:  []byte(schema.Created.String()),
	schema.Updated:  []byte(schema.Updated.String()),
}

// builder builds the records of a customer's change: its event (encoded, with
// its headers, held to the events topic's size limit) and the state record of
// its Version. Their bytes, the Record structs and their headers come from
// memory reused once the transaction holding them commits (arena, recyclers)
// rather than an allocation each.
//
// Guarded by Publisher.txnMu, like the transaction whose end frees its memory.
type builder struct {
	enc        Encoder
	schemaRef  []byte // the encoder's SchemaRef, the header value every event shares
	topic      string // the events topic
	stateTopic string
	limits     *limits

	arena   arena                      // bytes of the records
	recs    recycler[kgo.Record]       // the records
	headers recycler[kgo.RecordHeader] // their headers

	// ev is the event being encoded, here rather than on the stack, which it
	// would escape (the encoder is an interface) at an allocation per batch;
	// the encoder keeps no pointer to it.
	ev   schema.CustomerChanged
	prev int64 // ev.PreviousVersion, when set, points here
}

func newBuilder(enc Encoder, cfg Config, lim *limits) builder {
	return builder{
		enc:        enc,
		schemaRef:  []byte(enc.SchemaRef()),
		topic:      cfg.Topic,
		stateTopic: cfg.State.Topic,
		limits:     lim,
	}
}

// committed says that every record built so far is in a committed
// transaction: its memory may be handed out again.
func (b *builder) committed() {
	b.arena.committed()
	b.recs.committed()
	b.headers.committed()
}

// aborted says that a transaction aborted: kgo may still hold its records, so
// their memory is never handed out again.
func (b *builder) aborted() {
	b.arena.aborted()
	b.recs.aborted()
	b.headers.aborted()
}

// batch is the records of one batch of a company's customers. kgo keeps a
// pointer to each record until it is produced: one slice holds the batch's
// records and one their headers, rather than an allocation each per record,
// both reused once their transaction commits.
type batch struct {
	b             *builder
	company       int64
	companyHeader []byte
	source        schema.Source
	captured      time.Time // the events' capturedAt
	recorded      time.Time // the records' timestamp
	limit         int       // the largest record the events topic takes
	recs          []kgo.Record
	recsSince     int
	headers       []kgo.RecordHeader
	headersSince  int
}

// batch starts the records of n customers of a company, read from Cova at
// captured (moments ago). Call done once they are produced.
func (b *builder) batch(company int64, companyLabel string, source schema.Source, n int, captured time.Time) batch {
	bt := batch{
		b:             b,
		company:       company,
		companyHeader: []byte(companyLabel),
		source:        source,
		captured:      captured,
		// The records' timestamp too is read once per batch, not by kgo per
		// record; it is the real clock's, as brokers judge timestamps by it.
		recorded: time.Now(),
		limit:    int(b.limits.events.Load()),
	}
	bt.recs, bt.recsSince = b.recs.get(2 * n)
	bt.headers, bt.headersSince = b.headers.get(4 * n)
	return bt
}

// done gives the batch's slices back to their recyclers.
func (bt *batch) done() {
	bt.b.recs.used(bt.recs, bt.recsSince)
	bt.b.headers.used(bt.headers, bt.headersSince)
}

// customerRecords are a customer's event and the state record of its
// Version, built and not yet produced.
type customerRecords struct{ event, state kgo.Record }

// tooLargeError says that a customer's event, size bytes as a record, is larger
// than limit, the largest record the events topic takes.
type tooLargeError struct{ size, limit int }

func (e *tooLargeError) Error() string {
	return fmt.Sprintf("event of %d bytes, more than the %d the events topic takes", e.size, e.limit)
}

// build builds the records of c's change, called typ; seq is the Seq of the
// resync that publishes or published c (its state record is then format 2),
// 0 outside a resync. It fails with the
// encoder's error when the encoder refuses c, and with a *tooLargeError when
// the event is larger than the events topic takes: both are for the
// dead-letter topic (Scan.rejected).
func (bt *batch) build(c *schema.Customer, ch state.Change, typ schema.ChangeType, seq int64) (customerRecords, error) {
	b := bt.b
	b.ev = schema.NewCustomerChanged(bt.company, c)
	b.ev.ChangeType = typ
	b.ev.CapturedAt = bt.captured
	b.ev.Source = bt.source
	if ch.HasPrevious {
		b.prev = ch.Previous
		b.ev.PreviousVersion = &b.prev
	}
	value, err := b.enc.Append(b.arena.free(), &b.ev)
	if err != nil {
		return customerRecords{}, err
	}
	value = b.arena.keep(value)
	key := b.arena.keep(append(b.arena.free(), c.Id...))
	typHeader := changeTypeHeaders[typ]
	version := b.arena.keep(strconv.AppendInt(b.arena.free(), c.Version, 10))
	h := len(bt.headers)
	bt.headers = append(bt.headers,
		kgo.RecordHeader{Key: HeaderCompanyID, Value: bt.companyHeader},
		kgo.RecordHeader{Key: HeaderChangeType, Value: typHeader},
		kgo.RecordHeader{Key: HeaderVersion, Value: version},
		kgo.RecordHeader{Key: HeaderSchema, Value: b.schemaRef},
	)
	if n := recordBytes(key, len(value), bt.headers[h:]); n > bt.limit {
		bt.headers = bt.headers[:h]
		return customerRecords{}, &tooLargeError{size: n, limit: bt.limit}
	}
	stateKey := b.arena.keep(state.AppendVersionKey(b.arena.free(), bt.company, c.IdBytes))
	var stateValue []byte
	if seq != 0 {
		stateValue = b.arena.keep(state.AppendResyncVersionValue(b.arena.free(), c.Version, seq))
	} else {
		stateValue = b.arena.keep(state.AppendVersionValue(b.arena.free(), c.Version))
	}
	return customerRecords{
		event: kgo.Record{Topic: b.topic, Key: key, Value: value, Headers: bt.headers[h:len(bt.headers):len(bt.headers)], Timestamp: bt.recorded},
		state: kgo.Record{Topic: b.stateTopic, Key: stateKey, Value: stateValue, Timestamp: bt.recorded},
	}, nil
}

// add appends r to the batch's records and returns the pointer kgo keeps until
// r is produced. batch reserved room for two records per customer and build
// makes no more, so the slice never moves and the pointer stays good.
func (bt *batch) add(r *kgo.Record) *kgo.Record {
	bt.recs = append(bt.recs, *r)
	return &bt.recs[len(bt.recs)-1]
}
