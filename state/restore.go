package state

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// ErrNoTopic means the state topic does not exist. Errors wrapping it name
// the topic first: state topic "covacdc.state": does not exist.
var ErrNoTopic = errors.New("does not exist")

// RestoreStats says what a restore read.
type RestoreStats struct {
	Records    int64         // data records applied
	Partitions int           // partitions of the state topic
	Duration   time.Duration // from the first request to the rebuilt index
}

// idleEnd is how long a read-only restore waits with no record at all before it
// takes a partition whose last offsets were compacted away as read to its end.
const idleEnd = 3 * time.Second

// Restore reads the state topic from its start to its last stable offset with
// read_committed and returns the rebuilt index. opts reach the cluster (seed
// brokers, TLS, SASL); Restore adds its own consumer options and closes its
// client before returning. It writes nothing.
//
// A partition is read once a record (transaction markers included) at or past
// its last stable offset minus one has been seen. A partition whose tail was
// compacted away shows no such record: Restore then stops after idleEnd without
// any record. The publisher does not rely on that: it writes a marker first and
// calls RestoreUntilMarker.
func Restore(ctx context.Context, topic string, opts ...kgo.Opt) (*Index, RestoreStats, error) {
	return restore(ctx, topic, nil, opts)
}

// RestoreUntilMarker is Restore for a topic the caller has just written a
// committed startup marker (MarkerKey, MarkerValue(nonce)) to on every
// partition: a partition is read when its marker is seen, which is exact on any
// broker whatever compaction did to older records.
func RestoreUntilMarker(ctx context.Context, topic string, nonce []byte, opts ...kgo.Opt) (*Index, RestoreStats, error) {
	if len(nonce) == 0 {
		return nil, RestoreStats{}, fmt.Errorf("state topic %q: restore: empty marker nonce", topic)
	}
	return restore(ctx, topic, nonce, opts)
}

type progress struct {
	end  int64 // last stable offset when the restore started
	done bool
}

// restore's errors name the state topic once, first: every error below it says
// only what failed there.
func restore(ctx context.Context, topic string, nonce []byte, opts []kgo.Opt) (*Index, RestoreStats, error) {
	idx, stats, err := restoreTopic(ctx, topic, nonce, opts)
	if err != nil {
		return nil, stats, fmt.Errorf("state topic %q: %w", topic, err)
	}
	return idx, stats, nil
}

func restoreTopic(ctx context.Context, topic string, nonce []byte, opts []kgo.Opt) (*Index, RestoreStats, error) {
	begin := time.Now()
	var stats RestoreStats
	admCl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, stats, err
	}
	adm := kadm.NewClient(admCl)
	starts, err := adm.ListStartOffsets(ctx, topic)
	if err != nil {
		err = fmt.Errorf("listing its offsets: %w", err)
	} else {
		err = listErr(topic, starts)
	}
	var ends kadm.ListedOffsets
	if err == nil {
		ends, err = adm.ListCommittedOffsets(ctx, topic)
		if err != nil {
			err = fmt.Errorf("listing its offsets: %w", err)
		} else {
			err = listErr(topic, ends)
		}
	}
	admCl.Close()
	if err != nil {
		return nil, stats, err
	}

	parts := make(map[int32]*progress)
	consume := make(map[int32]kgo.Offset)
	remaining := 0
	for p, lo := range ends[topic] {
		start := starts[topic][p].Offset
		pr := &progress{end: lo.Offset}
		parts[p] = pr
		if start >= lo.Offset {
			pr.done = true // empty (or wholly deleted) partition
			continue
		}
		consume[p] = kgo.NewOffset().At(start)
		remaining++
	}
	stats.Partitions = len(parts)
	idx := NewIndex()
	if remaining == 0 {
		stats.Duration = time.Since(begin)
		return idx, stats, nil
	}

	cl, err := kgo.NewClient(append(slices.Clone(opts),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: consume}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		// Transaction markers are the last offsets below the last stable
		// offset; without them an aborted or committed tail looks unread.
		kgo.KeepControlRecords(),
		// Small fetches: a 32 MiB fetch of version records is ~650,000 Record
		// objects alive at once, which tripled covacdc's peak memory at
		// restart; 4 MiB restores as fast (BenchmarkRestore).
		kgo.FetchMaxBytes(8<<20),
		kgo.FetchMaxPartitionBytes(4<<20),
		kgo.FetchMaxWait(500*time.Millisecond),
	)...)
	if err != nil {
		return nil, stats, err
	}
	defer cl.Close()

	lastRecord := time.Now()
	for remaining > 0 {
		pollCtx, cancel := context.WithTimeout(ctx, time.Second)
		fs := cl.PollFetches(pollCtx)
		cancel()
		if err := ctx.Err(); err != nil {
			return nil, stats, fmt.Errorf("restore: %w", err)
		}
		var ferr error
		fs.EachError(func(_ string, p int32, err error) {
			if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
				return
			}
			if ferr == nil {
				ferr = fmt.Errorf("restore partition %d: %w", p, err)
			}
		})
		if ferr != nil {
			return nil, stats, ferr
		}
		seen := false
		// applyErr is the first unreadable record of this fetch: the other
		// partitions of the fetch are not read once it is set, so none of
		// their records can hide it.
		var applyErr error
		fs.EachPartition(func(fp kgo.FetchTopicPartition) {
			pr := parts[fp.Partition]
			if applyErr != nil || pr == nil || pr.done {
				return
			}
			for _, r := range fp.Records {
				seen = true
				if r.Offset >= pr.end && nonce == nil {
					pr.done = true
					break
				}
				if r.Attrs.IsControl() {
					if nonce == nil && r.Offset >= pr.end-1 {
						pr.done = true
						break
					}
					continue
				}
				if IsMarker(r.Key) {
					if nonce != nil && len(r.Value) > 1 && bytes.Equal(r.Value[1:], nonce) {
						pr.done = true
						break
					}
				} else if err := idx.Apply(r.Key, r.Value); err != nil {
					applyErr = fmt.Errorf("restore partition %d offset %d: %w", fp.Partition, r.Offset, err)
					return
				}
				stats.Records++
				if nonce == nil && r.Offset >= pr.end-1 {
					pr.done = true
					break
				}
			}
			if pr.done {
				remaining--
			}
		})
		if applyErr != nil {
			return nil, stats, applyErr
		}
		if seen {
			lastRecord = time.Now()
		} else if nonce == nil && time.Since(lastRecord) > idleEnd {
			break // the unread partitions end in offsets compaction removed
		}
	}
	// Marks of a resync were kept until its company's cursor was read;
	// now every cursor is.
	idx.settle()
	stats.Duration = time.Since(begin)
	return idx, stats, nil
}

func listErr(topic string, lo kadm.ListedOffsets) error {
	if len(lo[topic]) == 0 {
		return ErrNoTopic
	}
	for _, o := range lo[topic] {
		if o.Err != nil {
			if errors.Is(o.Err, kerr.UnknownTopicOrPartition) {
				return fmt.Errorf("%w: %w", ErrNoTopic, o.Err)
			}
			return fmt.Errorf("listing the offsets of partition %d: %w", o.Partition, o.Err)
		}
	}
	return nil
}

// Summary reads the whole state topic with read_committed (opts reach the cluster)
// and returns each company's state, ordered by company id. It writes nothing.
func Summary(ctx context.Context, topic string, opts ...kgo.Opt) ([]CompanyState, error) {
	idx, _, err := Restore(ctx, topic, opts...)
	if err != nil {
		return nil, err
	}
	return idx.Companies(), nil
}
