package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/covacdc/covacdc/schema"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// kafka is the cluster of one scenario run: an in-process kfake (one broker on
// loopback, as in the demo) or the brokers in KAFKA_BROKERS.
type kafka struct {
	brokers []string
	fake    *kfake.Cluster
}

func startKafka() (*kafka, error) {
	if s := os.Getenv("KAFKA_BROKERS"); s != "" {
		var bs []string
		for _, b := range strings.Split(s, ",") {
			if b = strings.TrimSpace(b); b != "" {
				bs = append(bs, b)
			}
		}
		return &kafka{brokers: bs}, nil
	}
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.DefaultNumPartitions(3))
	if err != nil {
		return nil, fmt.Errorf("kfake: %w", err)
	}
	return &kafka{brokers: c.ListenAddrs(), fake: c}, nil
}

func (k *kafka) close() {
	if k.fake != nil {
		k.fake.Close()
	}
}

func (k *kafka) opts() []kgo.Opt { return []kgo.Opt{kgo.SeedBrokers(k.brokers...)} }

// names are the topics and transactional id of one covacdc deployment; unique
// per run so that runs against one real broker never see each other's data.
type names struct {
	Events, State, DLQ, TxnID string
}

func newNames(scenario string) names {
	p := fmt.Sprintf("bench-%s-%d", scenario, time.Now().UnixNano())
	return names{Events: p + ".customers", State: p + ".state", DLQ: p + ".dlq", TxnID: p}
}

// committedEvent is what a read_committed consumer learns of one event.
type committedEvent struct {
	Key          string
	Company      string
	ChangeType   string
	Version      int64
	LastModified time.Time // envelope lastModifiedDateUtc (decoded only when asked)
	RecordTime   time.Time // the record's timestamp: when covacdc produced it, before the commit
	ReadAt       time.Time // when the consumer received it (after the commit)
}

// consume reads the events topic with read_committed from the start and hands
// every event to fn until ctx is done or fn returns false. decode says whether
// to decode the Avro body (for lastModifiedDateUtc). It blocks.
func consume(ctx context.Context, k *kafka, topic string, decode bool, fn func(committedEvent) bool) error {
	cl, err := kgo.NewClient(append(k.opts(),
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		// A committed event waits at most this long in the broker before the
		// consumer sees it: the read time bounds the commit time within 100 ms.
		kgo.FetchMaxWait(100*time.Millisecond),
		kgo.FetchMaxBytes(64<<20),
	)...)
	if err != nil {
		return err
	}
	defer cl.Close()
	var dec *schema.Decoder
	if decode {
		if dec, err = schema.NewDecoder(nil); err != nil {
			return err
		}
	}
	for {
		fetches := cl.PollFetches(ctx)
		now := time.Now()
		if ctx.Err() != nil {
			return nil
		}
		var ferr error
		fetches.EachError(func(t string, p int32, err error) {
			// The topic is made by covacdc: until then the broker says it is unknown.
			if ferr == nil && !errors.Is(err, context.Canceled) && !strings.Contains(err.Error(), "UNKNOWN_TOPIC") {
				ferr = fmt.Errorf("topic %s partition %d: %w", t, p, err)
			}
		})
		if ferr != nil {
			return ferr
		}
		stop := false
		var derr error
		fetches.EachRecord(func(r *kgo.Record) {
			if stop || derr != nil {
				return
			}
			ev := committedEvent{Key: string(r.Key), RecordTime: r.Timestamp, ReadAt: now}
			for _, h := range r.Headers {
				switch h.Key {
				case "covacdc-company-id":
					ev.Company = string(h.Value)
				case "covacdc-change-type":
					ev.ChangeType = string(h.Value)
				case "covacdc-version":
					ev.Version, _ = strconv.ParseInt(string(h.Value), 10, 64)
				}
			}
			if dec != nil {
				js, err := dec.JSON(ctx, r.Value)
				if err != nil {
					derr = err
					return
				}
				var env struct {
					LastModifiedDateUtc time.Time `json:"lastModifiedDateUtc"`
				}
				if err := json.Unmarshal(js, &env); err != nil {
					derr = err
					return
				}
				ev.LastModified = env.LastModifiedDateUtc
			}
			if !fn(ev) {
				stop = true
			}
		})
		if derr != nil {
			return derr
		}
		if stop {
			return nil
		}
	}
}

// verification is what a read_committed consumer found on the events topic.
type verification struct {
	Events     int
	Customers  int
	Duplicates int // the same (customer, version) more than once
	Wrong      int // a customer whose latest version differs from the simulator's
}

// verify reads the committed events until every expected customer is there
// (want: customers per company; truth, when known, their versions) and then a
// short quiet spell, to catch duplicates. It fails after timeout.
func verify(ctx context.Context, k *kafka, topic string, want map[string]int, truth map[string]int64, timeout time.Duration) (verification, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	type kv struct {
		key     string
		version int64
	}
	latest := map[string]int64{}
	perCompany := map[string]int{}
	seen := make(map[kv]struct{})
	var v verification
	total := 0
	for _, n := range want {
		total += n
	}
	complete := func() bool {
		for c, n := range want {
			if perCompany[c] < n {
				return false
			}
		}
		return true
	}
	// Once complete, read one more second to catch duplicates, then stop.
	cctx, stop := context.WithCancel(ctx)
	defer stop()
	var once sync.Once
	err := consume(cctx, k, topic, false, func(ev committedEvent) bool {
		v.Events++
		k := kv{ev.Company + "/" + ev.Key, ev.Version}
		if _, dup := seen[k]; dup {
			v.Duplicates++
		}
		seen[k] = struct{}{}
		if old, ok := latest[k.key]; !ok {
			perCompany[ev.Company]++
			latest[k.key] = ev.Version
		} else if ev.Version > old {
			latest[k.key] = ev.Version
		}
		if complete() {
			once.Do(func() { time.AfterFunc(time.Second, stop) })
		}
		return true
	})
	v.Customers = len(latest)
	for key, want := range truth {
		if latest[key] != want {
			v.Wrong++
		}
	}
	if !complete() {
		return v, fmt.Errorf("read_committed consumer found %d of %d customers within %s (error: %s)", len(latest), total, timeout, orNone(err))
	}
	if v.Duplicates > 0 || v.Wrong > 0 {
		return v, fmt.Errorf("read_committed consumer found %d duplicate and %d wrong versions", v.Duplicates, v.Wrong)
	}
	return v, nil
}
