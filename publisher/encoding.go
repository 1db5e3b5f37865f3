package publisher

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/covacdc/covacdc/schema"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// ErrMixedEncodings means the events topic already holds events in another
// encoding than the encoder writes; see MixedEncodingsError.
var ErrMixedEncodings = errors.New("the events topic holds events in another encoding")

// MixedEncodingsError refuses to write events in one encoding to a topic whose
// last committed event is in the other: every consumer set up for one fails
// on the other (a Confluent deserializer on single-object encoding, Avro's
// BinaryMessageDecoder on the Confluent wire format). It matches
// ErrMixedEncodings.
type MixedEncodingsError struct {
	Topic     string
	Found     schema.Format // the encoding of the event found
	Partition int32         // where that event is
	Offset    int64
	Writing   schema.Format // the encoding this publisher writes
}

func (e *MixedEncodingsError) Error() string {
	way := "publish to a new --topic (README: Moving to a Schema Registry)"
	if e.Found == schema.FormatRegistry {
		way = "set --schema-registry-url as when those events were written, or publish to a new --topic"
	}
	return fmt.Sprintf("events topic %q holds events in %s (its last committed event in partition %d, offset %d), "+
		"but covacdc would write %s, and a consumer of one fails on the other: %s, "+
		"or start with --allow-mixed-encodings once every consumer of the topic reads both",
		e.Topic, e.Found, e.Partition, e.Offset, e.Writing, way)
}

// Is makes errors.Is(err, ErrMixedEncodings) true.
func (e *MixedEncodingsError) Is(target error) bool { return target == ErrMixedEncodings }

// checkEncoding refuses (*MixedEncodingsError) to write to an events topic
// whose last committed event, in any partition, is in another encoding than
// the encoder's. An encoder that does not say its format (tests), a topic
// that does not exist or holds no committed event, and AllowMixedEncodings
// pass.
func (p *Publisher) checkEncoding(ctx context.Context, found existing) error {
	f, ok := p.build.enc.(interface{ Format() schema.Format })
	if p.cfg.AllowMixedEncodings || !ok || !found[p.cfg.Topic] {
		return nil
	}
	writing := f.Format()
	last, err := lastEvents(ctx, p.cfg.KafkaOpts, p.cfg.Topic)
	if errors.Is(err, kerr.TopicAuthorizationFailed) {
		return fmt.Errorf("events topic %q: not allowed to read it (covacdc reads its last events at start-up "+
			"to check their encoding): grant READ on it (README: Security): %w", p.cfg.Topic, err)
	}
	if err != nil {
		return fmt.Errorf("events topic %q: reading its last events to check their encoding: %w", p.cfg.Topic, err)
	}
	for _, part := range slices.Sorted(maps.Keys(last)) {
		r := last[part]
		if got := schema.FormatOf(r.Value); got != schema.FormatUnknown && got != writing {
			return &MixedEncodingsError{Topic: p.cfg.Topic, Found: got, Partition: part, Offset: r.Offset, Writing: writing}
		}
	}
	return nil
}

// lastEventsWindow is how many offsets before the last stable offset the
// search for a partition's last committed event starts with; the last of them
// is a transaction marker. While a window holds no committed event (aborted
// transactions), it grows sixteenfold, up to the partition's start.
const lastEventsWindow = 8

// A window's read ends at its last offset, or, when that offset never shows
// (an aborted record of another writer's transaction, or compacted away), once
// no record has arrived for lastEventsQuiet after the first, or none at all
// for lastEventsSilent.
const (
	lastEventsQuiet  = 1500 * time.Millisecond
	lastEventsSilent = 15 * time.Second
)

// lastEvents returns, for each partition of topic holding a committed event,
// the last one, read with read_committed. It reads a few offsets per partition
// in the common case, not the topic. opts reach the cluster; lastEvents uses
// a client of its own and closes it.
func lastEvents(ctx context.Context, opts []kgo.Opt, topic string) (map[int32]*kgo.Record, error) {
	admCl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, err
	}
	adm := kadm.NewClient(admCl)
	starts, err := adm.ListStartOffsets(ctx, topic)
	if err == nil {
		err = starts.Error()
	}
	var ends kadm.ListedOffsets
	if err == nil {
		ends, err = adm.ListCommittedOffsets(ctx, topic)
		if err == nil {
			err = ends.Error()
		}
	}
	admCl.Close()
	if err != nil {
		return nil, err
	}

	type span struct{ start, lo, end int64 }
	todo := map[int32]span{}
	ends.Each(func(o kadm.ListedOffset) {
		if s, ok := starts.Lookup(topic, o.Partition); ok && o.Offset > s.Offset {
			todo[o.Partition] = span{start: s.Offset, lo: max(s.Offset, o.Offset-lastEventsWindow), end: o.Offset}
		}
	})
	last := map[int32]*kgo.Record{}
	for len(todo) > 0 {
		from := map[int32]kgo.Offset{}
		until := map[int32]int64{}
		for part, s := range todo {
			from[part] = kgo.NewOffset().At(s.lo)
			until[part] = s.end
		}
		found, err := readWindows(ctx, opts, topic, from, until)
		if err != nil {
			return nil, err
		}
		for part, s := range todo {
			if r := found[part]; r != nil || s.lo == s.start {
				if r != nil {
					last[part] = r
				}
				delete(todo, part)
				continue
			}
			// Read the whole wider window again: its end stays the marker
			// that says the read is over.
			s.lo = max(s.start, s.end-16*(s.end-s.lo))
			todo[part] = s
		}
	}
	return last, nil
}

// readWindows reads each partition from its offset in from to the one before
// its offset in until, with read_committed, and returns the last data record
// of each (none for a partition whose window holds only aborted records and
// markers).
func readWindows(ctx context.Context, opts []kgo.Opt, topic string, from map[int32]kgo.Offset, until map[int32]int64) (map[int32]*kgo.Record, error) {
	cl, err := kgo.NewClient(append(slices.Clone(opts),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: from}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		// The transaction marker at until-1 says a window was read to its end.
		kgo.KeepControlRecords(),
		kgo.FetchMaxWait(250*time.Millisecond),
	)...)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	last := map[int32]*kgo.Record{}
	begin := time.Now()
	var lastSeen time.Time // of any record in the windows
	for len(until) > 0 {
		if lastSeen.IsZero() && time.Since(begin) > lastEventsSilent ||
			!lastSeen.IsZero() && time.Since(lastSeen) > lastEventsQuiet {
			break
		}
		pctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		fs := cl.PollFetches(pctx)
		cancel()
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		var ferr error
		fs.EachError(func(_ string, part int32, err error) {
			if ferr == nil && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
				ferr = fmt.Errorf("partition %d: %w", part, err)
			}
		})
		if ferr != nil {
			return nil, ferr
		}
		fs.EachRecord(func(r *kgo.Record) {
			end, ok := until[r.Partition]
			if !ok || r.Offset >= end {
				return
			}
			lastSeen = time.Now()
			if !r.Attrs.IsControl() {
				last[r.Partition] = r
			}
			if r.Offset == end-1 {
				delete(until, r.Partition)
			}
		})
	}
	return last, nil
}
