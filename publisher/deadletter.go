package publisher

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/covacdc/covacdc/poller"
	"github.com/covacdc/covacdc/schema"
	"github.com/covacdc/covacdc/state"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Dead-letter reasons covacdc gives itself (the covacdc-reason header and the
// reason label of covacdc_dead_letters_total); a record Cova sent that could
// not be decoded carries the poller's reason (missing_id, bad_type, ...).
const (
	// ReasonEncode: the encoder refused the customer. The value is the
	// customer as Cova would send it.
	ReasonEncode = "encode"
	// ReasonTooLarge: the customer's event is larger than the events topic
	// takes. The value is a reference only (tooLargeRef).
	ReasonTooLarge = "too_large"
	// ReasonVersion: the customer's Version is not a plausible revision
	// number (plausibleVersion). The value is the customer as Cova would send
	// it.
	ReasonVersion = "version"
)

// DeadLetterReasons are every reason a dead letter can carry: the poller's
// decode reasons and the publisher's own.
func DeadLetterReasons() []string {
	return append(poller.DecodeReasons(), ReasonEncode, ReasonTooLarge, ReasonVersion)
}

// maxErrorHeader bounds the error text of a dead letter.
const maxErrorHeader = 1024

// deadLetter adds a record to the dead-letter topic, once per company and
// identity (the raw bytes of a bad record): a state record remembers it, in
// the same transaction, so the scans that re-read the same bad record (the
// lookback window) do not repeat it. A value too large for the dead-letter
// topic is cut to fit (see fitDeadLetter). Past MaxDeadLettersPerScan dead
// letters met, already published ones included, the scan fails.
func (s *Scan) deadLetter(ctx context.Context, key, value, identity []byte, reason string, cause error) error {
	p := s.p
	if s.deadLetters++; s.deadLetters > p.cfg.MaxDeadLettersPerScan {
		s.err = fmt.Errorf("%w: scan %q of company %d met more than %d (--max-dead-letters-per-scan): "+
			"the scan fails and the company's cursor stays; fix the records in Cova or raise the limit",
			ErrTooManyDeadLetters, s.id, s.company, p.cfg.MaxDeadLettersPerScan)
		return s.err
	}
	h := state.DeadLetterHash(identity)
	if p.txn.pending.HasDeadLetter(s.company, h) {
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
	headers := []kgo.RecordHeader{
		{Key: HeaderCompanyID, Value: strconv.AppendInt(nil, s.company, 10)},
		{Key: HeaderError, Value: []byte(msg)},
		{Key: HeaderReason, Value: []byte(reason)},
		{Key: HeaderScanID, Value: []byte(s.id)},
	}
	value = fitDeadLetter(key, value, headers, 1, int(p.limits.dlq.Load()))
	p.cl.Produce(ctx, &kgo.Record{Topic: p.cfg.DLQTopic, Key: key, Value: value, Headers: headers}, p.promise)
	p.cl.Produce(ctx, &kgo.Record{
		Topic: p.cfg.State.Topic,
		Key:   state.AppendDeadLetterKey(nil, s.company, h),
		Value: state.DeadLetterValue(),
	}, p.promise)
	p.txn.pending.AddDeadLetter(s.company, h)
	p.txn.dlq[dlqKey{s.company, reason}]++
	return s.added()
}

// rejected dead-letters a customer whose records build refused (err): an event
// too large for the events topic as a reference (tooLarge), any other refusal
// of the encoder as the customer as Cova would send it.
func (s *Scan) rejected(ctx context.Context, c *schema.Customer, err error) error {
	var big *tooLargeError
	if errors.As(err, &big) {
		return s.tooLarge(ctx, c, big.size, big.limit)
	}
	raw := covaJSON(c)
	return s.deadLetter(ctx, []byte(c.Id), raw, raw, ReasonEncode, err)
}

// invalid dead-letters a record the poller could not decode.
func (s *Scan) invalid(ctx context.Context, r *poller.RecordError) error {
	var err error = r
	if r.Err == nil {
		err = errors.New(r.Reason)
	}
	return s.deadLetter(ctx, nil, r.Raw, r.Raw, r.Reason, err)
}

// fitDeadLetter returns value, or, when the record would be larger than limit,
// its first bytes that fit; the error header (headers[errHeader]) then starts
// by saying how large the whole record was and its SHA-256, so that it stays
// identifiable (the first 32 hex digits are those of its state key).
func fitDeadLetter(key, value []byte, headers []kgo.RecordHeader, errHeader, limit int) []byte {
	if recordBytes(key, len(value), headers) <= limit {
		return value
	}
	sum := sha256.Sum256(value)
	cause := headers[errHeader].Value
	note := func(kept int) []byte {
		return fmt.Appendf(nil, "record of %d bytes cut to its first %d to fit the dead-letter topic, sha256 of the whole record %x: %s",
			len(value), kept, sum, cause)
	}
	// The note with the whole length in place of the kept one is at least as
	// long as the final note: room is computed with it.
	headers[errHeader].Value = note(len(value))
	// A shorter value has a length varint no longer, and the record's own
	// length varint grows by at most 4 bytes.
	room := min(max(limit-recordBytes(key, 0, headers)-8, 0), len(value))
	headers[errHeader].Value = note(room)
	return value[:room]
}

// tooLargeRef is the dead-letter value of an event too large for the events
// topic: a reference to the customer (the field names are Cova's where they are
// Cova's fields), small enough for any dead-letter topic.
type tooLargeRef struct {
	Id                  string
	Version             int64
	LastModifiedDateUtc string
	EventBytes          int `json:"eventBytes"` // the event's size as a record, before compression
	LimitBytes          int `json:"limitBytes"` // the largest record the events topic takes
}

// tooLarge dead-letters a reference to a customer whose event, size bytes as a
// record, is larger than limit. It is identified by customer and Version, so a
// re-read of the same Version is not dead-lettered twice; its Version is not
// recorded as published, so the next one is published as usual.
func (s *Scan) tooLarge(ctx context.Context, c *schema.Customer, size, limit int) error {
	ref, err := json.Marshal(tooLargeRef{Id: c.Id, Version: c.Version, LastModifiedDateUtc: c.LastModifiedDateUtc.Raw, EventBytes: size, LimitBytes: limit})
	if err != nil { // an Id of invalid UTF-8 is refused by the decoder first
		return fmt.Errorf("publisher: customer %s: %w", c.Id, err)
	}
	identity := fmt.Appendf(nil, "%s/%s/%d", ReasonTooLarge, c.Id, c.Version)
	cause := fmt.Errorf("the event of customer %s version %d is %d bytes, more than the %d the events topic takes "+
		"(the producer's batch limit or the topic's max.message.bytes): not published, this reference only", c.Id, c.Version, size, limit)
	return s.deadLetter(ctx, []byte(c.Id), ref, identity, ReasonTooLarge, cause)
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
