package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// readPos says where reading starts: the beginning, the end, or the first record
// at or after a time.
type readPos struct {
	end bool
	at  time.Time // zero: beginning (unless end)
}

// parseFrom reads --from: beginning, end, or an RFC 3339 time.
func parseFrom(s string) (readPos, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "beginning", "start":
		return readPos{}, nil
	case "end":
		return readPos{end: true}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(s))
	if err != nil {
		return readPos{}, usagef("--from: must be beginning, end or an RFC 3339 time such as 2024-01-31T00:00:00Z, got %q", s)
	}
	return readPos{at: t}, nil
}

// readCommitted reads topic with read_committed isolation from pos and hands each
// record to fn in partition order. Without follow it stops once it has read what
// was committed when it started (or when nothing more arrives for a while, which
// covers an aborted transaction at the end of a partition); with follow it stops
// when ctx is done, returning nil. It blocks; fn runs on the calling goroutine.
func readCommitted(ctx context.Context, opts []kgo.Opt, topic string, pos readPos, follow bool, fn func(*kgo.Record) error) error {
	admin, err := kgo.NewClient(opts...)
	if err != nil {
		return fmt.Errorf("kafka: %w", err)
	}
	adm := kadm.NewClient(admin)
	defer adm.Close()

	var starts kadm.ListedOffsets
	switch {
	case pos.end:
		starts, err = adm.ListCommittedOffsets(ctx, topic)
	case !pos.at.IsZero():
		starts, err = adm.ListOffsetsAfterMilli(ctx, pos.at.UnixMilli(), topic)
	default:
		starts, err = adm.ListStartOffsets(ctx, topic)
	}
	if err == nil {
		err = starts.Error()
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("topic %s: %w", topic, err)
	}
	ends, err := adm.ListCommittedOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("topic %s: %w", topic, err)
	}

	assign := map[int32]kgo.Offset{}
	remaining := map[int32]int64{} // partition -> committed end to reach (without follow)
	starts.Each(func(o kadm.ListedOffset) {
		start := o.Offset
		if e, ok := ends.Lookup(topic, o.Partition); ok && start > e.Offset {
			start = e.Offset // a time past the last record reads nothing yet
		}
		assign[o.Partition] = kgo.NewOffset().At(start)
		if e, ok := ends.Lookup(topic, o.Partition); ok && e.Offset > start {
			remaining[o.Partition] = e.Offset
		}
	})
	if len(assign) == 0 {
		return fmt.Errorf("topic %s: not found", topic)
	}
	if !follow && len(remaining) == 0 {
		return nil
	}

	cl, err := kgo.NewClient(append(append([]kgo.Opt{}, opts...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: assign}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.FetchMaxWait(500*time.Millisecond),
	)...)
	if err != nil {
		return fmt.Errorf("kafka: %w", err)
	}
	defer cl.Close()

	// A partition whose committed tail is an aborted transaction never yields its
	// last offsets: a quiet spell ends the read instead.
	const quiet = 2 * time.Second
	lastRecord := time.Now()
	for {
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		fetches := cl.PollFetches(pctx)
		cancel()
		if ctx.Err() != nil {
			return nil
		}
		var ferr error
		fetches.EachError(func(t string, p int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) && ferr == nil {
				ferr = fmt.Errorf("topic %s partition %d: %w", t, p, err)
			}
		})
		if ferr != nil {
			return ferr
		}
		n := 0
		var rerr error
		fetches.EachRecord(func(r *kgo.Record) {
			n++
			if rerr == nil {
				rerr = fn(r)
			}
			// Every transaction ends with a commit marker, so the last event before
			// the committed end sits at end-2.
			if end, ok := remaining[r.Partition]; ok && r.Offset+2 >= end {
				delete(remaining, r.Partition)
			}
		})
		if rerr != nil {
			return rerr
		}
		if n > 0 {
			lastRecord = time.Now()
		}
		if !follow && (len(remaining) == 0 || time.Since(lastRecord) > quiet) {
			return nil
		}
	}
}
