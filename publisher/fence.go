package publisher

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/covacdc/covacdc/state"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// fence ends, by aborting them, whatever records of this transactional id a
// broker still holds open on any partition of the events, dead-letter and
// state topics: it writes one record to every partition in a transaction and
// aborts it. syncState runs it before it rereads the state.
//
// Why: a broker that shuts down while it writes the markers of a transaction
// it has already acknowledged as committed can skip the partitions whose
// leader it no longer finds ("likely deleted already and hence can be
// skipped", Apache Kafka 4.4) and record the transaction as complete. Its
// records then stay open, and the next marker of this producer id on each
// partition decides them: the abort of a later transaction (a failed one, or
// the one a new producer id fences) makes them aborted where it reaches, and
// a later commit makes them committed where it reaches. Left alone, a
// transaction's events could commit while its state records abort: the
// reread state would lack versions whose events are on the topic, and the
// next scan would publish them again. Aborting on every partition decides
// them all alike before the state is read.
//
// The fence counts only when every partition took its record and the abort
// succeeded; otherwise it returns an error and the next transaction fences
// again (an abort that reached some partitions only aborted, never
// committed, what it found there). Called with txnMu and no transaction open.
func (p *Publisher) fence(ctx context.Context) error {
	want, err := p.fenceTargets(ctx)
	if err != nil {
		return err
	}
	if err := p.cl.BeginTransaction(); err != nil {
		return err
	}
	nonce := make([]byte, 16)
	if _, err := rand.Read(nonce); err != nil {
		return err
	}
	var got fenced
	for _, t := range want {
		for part := range t.partitions {
			p.cl.Produce(ctx, t.record(part, nonce), got.promise)
		}
	}
	endCtx, cancel := p.endCtx(ctx)
	defer cancel()
	err = p.cl.Flush(endCtx)
	if rerr := got.check(want); err == nil {
		err = rerr
	}
	// Abort whatever happened: the fence's records and everything open
	// before them on the partitions they reached end aborted.
	if aerr := p.abort(); err == nil {
		err = aerr
	}
	if err != nil {
		return fmt.Errorf("ending what earlier transactions left open: %w", err)
	}
	return nil
}

// fenceTarget is a topic the fence writes to, and how to address each of its
// partitions.
type fenceTarget struct {
	topic      string
	partitions int32
	stateTopic bool
	keys       [][]byte // per partition, a key the events partitioner sends there
}

// record returns the fence record of partition part. State partitions take a
// startup marker (their partitioner honours Partition); the events and
// dead-letter topics are partitioned by key, so their record carries a key
// that hashes to part. Neither is ever read: the fence aborts.
func (t fenceTarget) record(part int32, nonce []byte) *kgo.Record {
	if t.stateTopic {
		return &kgo.Record{Topic: t.topic, Partition: part, Key: state.MarkerKey(part), Value: state.MarkerValue(nonce)}
	}
	return &kgo.Record{Topic: t.topic, Key: t.keys[part]}
}

// fenceTargets lists the partitions of the events, dead-letter and state
// topics as the cluster has them now. A topic start-up has just created may
// not be known to every broker yet: that is retried for up to EndTimeout. It
// asks with a client of its own: the producer's caches what it learnt of a
// topic (that it did not exist, before start-up created it) for a while.
func (p *Publisher) fenceTargets(ctx context.Context) ([]fenceTarget, error) {
	topics := slices.Compact([]string{p.cfg.Topic, p.cfg.DLQTopic, p.cfg.State.Topic})
	cl, err := kgo.NewClient(p.cfg.KafkaOpts...)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	waitCtx, cancel := context.WithTimeout(ctx, p.cfg.EndTimeout)
	defer cancel()
	var listed kadm.TopicDetails
	for {
		listed, err = kadm.NewClient(cl).ListTopics(waitCtx, topics...)
		if err == nil {
			err = listed.Error()
		}
		for _, topic := range topics {
			if _, ok := listed[topic]; err == nil && !ok {
				err = kerr.UnknownTopicOrPartition // a broker still starting knows none
			}
		}
		if err == nil || !kerr.IsRetriable(err) && !errors.Is(err, kerr.UnknownTopicOrPartition) {
			break
		}
		select {
		case <-waitCtx.Done():
			return nil, fmt.Errorf("listing the partitions of %v: %w", topics, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
	var out []fenceTarget
	for _, topic := range topics {
		d, ok := listed[topic]
		if !ok || d.Err != nil || len(d.Partitions) == 0 {
			err := errors.New("not found")
			if ok && d.Err != nil {
				err = d.Err
			}
			return nil, fmt.Errorf("%s %q: %w", p.topicRole(topic), topic, err)
		}
		t := fenceTarget{topic: topic, partitions: int32(len(d.Partitions)), stateTopic: topic == p.cfg.State.Topic}
		if !t.stateTopic {
			t.keys = fenceKeys(topic, t.partitions)
		}
		out = append(out, t)
	}
	return out, nil
}

// fenceKeys returns, for each of n partitions, a key that the Kafka-compatible
// hash of keyed records (the events and dead-letter topics' partitioner) sends
// to it.
func fenceKeys(topic string, n int32) [][]byte {
	hash := kgo.StickyKeyPartitioner(nil).ForTopic(topic)
	keys := make([][]byte, n)
	for found, i := int32(0), 0; found < n; i++ {
		k := []byte("covacdc-fence-" + strconv.Itoa(i))
		if part := hash.Partition(&kgo.Record{Key: k}, int(n)); keys[part] == nil {
			keys[part] = k
			found++
		}
	}
	return keys
}

// fenced is what the fence's records reached: kgo's goroutines report each.
type fenced struct {
	mu      sync.Mutex
	err     error
	reached map[string]map[int32]bool
}

func (f *fenced) promise(r *kgo.Record, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err != nil {
		if f.err == nil {
			f.err = err
		}
		return
	}
	if f.reached == nil {
		f.reached = make(map[string]map[int32]bool)
	}
	if f.reached[r.Topic] == nil {
		f.reached[r.Topic] = make(map[int32]bool)
	}
	f.reached[r.Topic][r.Partition] = true
}

// check returns the first record's error, or which partition no record reached.
func (f *fenced) check(want []fenceTarget) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return f.err
	}
	for _, t := range want {
		for part := range t.partitions {
			if !f.reached[t.topic][part] {
				return fmt.Errorf("topic %q partition %d: no fence record written", t.topic, part)
			}
		}
	}
	return nil
}
