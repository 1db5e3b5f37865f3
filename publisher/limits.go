package publisher

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// defaultProducerBatchMaxBytes is kgo's default ProducerBatchMaxBytes, which
// mirrors Kafka's: the largest record batch, before compression.
const defaultProducerBatchMaxBytes = 1_000_012

// batchOverhead is what kgo counts for a record batch around its records (its
// recordBatchOverhead), 4 bytes more than the 61 a broker measures against
// max.message.bytes.
const batchOverhead = 65

// limits are the largest record batch, in bytes before compression, covacdc
// produces to the events and dead-letter topics: the smaller of the producer's
// ProducerBatchMaxBytes and the topic's max.message.bytes. A record larger
// than its topic's limit would fail its whole transaction (MESSAGE_TOO_LARGE),
// so it is checked before it is produced. They are set at start-up, before
// anything is produced to those topics, and read by kgo's goroutines.
type limits struct {
	producer              int32
	eventsTopic, dlqTopic string
	events, dlq           atomic.Int32
}

func newLimits(cfg Config) *limits {
	l := &limits{producer: cfg.ProducerBatchMaxBytes, eventsTopic: cfg.Topic, dlqTopic: cfg.DLQTopic}
	l.events.Store(l.producer)
	l.dlq.Store(l.producer)
	return l
}

// opt makes kgo build no batch larger than its topic's limit: a batch of small
// records is refused by the broker as a large record is.
func (l *limits) opt() kgo.Opt {
	return kgo.ProducerBatchMaxBytesFn(func(topic string) int32 {
		switch topic {
		case l.eventsTopic:
			return l.events.Load()
		case l.dlqTopic:
			return l.dlq.Load()
		}
		return l.producer
	})
}

// readLimits reads max.message.bytes of the events and dead-letter topics and
// sets the limits. A topic that does not report it keeps the producer's limit
// (Kafka's default max.message.bytes, 1,048,588, is above the producer's
// default), with a warning.
func (p *Publisher) readLimits(ctx context.Context, adm *kadm.Client) error {
	topics := []string{p.cfg.Topic, p.cfg.DLQTopic}
	var rcs kadm.ResourceConfigs
	var err error
	// A topic created an instant ago may not be known to every broker yet.
	for wait := 50 * time.Millisecond; ; wait *= 2 {
		rcs, err = adm.DescribeTopicConfigs(ctx, topics...)
		if errors.Is(err, kerr.TopicAuthorizationFailed) {
			// DESCRIBE_CONFIGS is recommended, not required (README: Security).
			p.log.Warn("no DESCRIBE_CONFIGS on the events or dead-letter topic: every record is held to the producer's size limit",
				"topics", topics, "limit_bytes", p.limits.producer)
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading the configuration of topics %q: %w", topics, err)
		}
		if !unknownTopic(rcs) || wait > 2*time.Second {
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
	for _, t := range []struct {
		topic string
		limit *atomic.Int32
	}{{p.cfg.Topic, &p.limits.events}, {p.cfg.DLQTopic, &p.limits.dlq}} {
		topicMax, why := maxMessageBytes(rcs, t.topic)
		if why != "" {
			p.log.Warn("the record size limit of a topic is unknown: using the producer's", "topic", t.topic, "reason", why, "limit_bytes", p.limits.producer)
			continue
		}
		t.limit.Store(min(p.limits.producer, topicMax))
	}
	p.log.Info("record size limits", "topic", p.cfg.Topic, "topic_limit_bytes", p.limits.events.Load(),
		"dlq_topic", p.cfg.DLQTopic, "dlq_limit_bytes", p.limits.dlq.Load())
	return nil
}

func unknownTopic(rcs kadm.ResourceConfigs) bool {
	for _, rc := range rcs {
		if errors.Is(rc.Err, kerr.UnknownTopicOrPartition) {
			return true
		}
	}
	return false
}

// maxMessageBytes returns the topic's max.message.bytes, or why it is unknown.
func maxMessageBytes(rcs kadm.ResourceConfigs, topic string) (int32, string) {
	rc, err := rcs.On(topic, nil)
	if err == nil {
		err = rc.Err
	}
	if err != nil {
		return 0, err.Error()
	}
	for _, c := range rc.Configs {
		if c.Key != "max.message.bytes" {
			continue
		}
		if c.Value == nil {
			return 0, "max.message.bytes has no value"
		}
		n, err := strconv.ParseInt(*c.Value, 10, 32)
		if err != nil || n < 1 {
			return 0, fmt.Sprintf("max.message.bytes is %q", *c.Value)
		}
		return int32(n), ""
	}
	return 0, "max.message.bytes not reported"
}

// recordBytes is an upper bound of the bytes a batch holding only this record
// takes before compression, as kgo counts it against ProducerBatchMaxBytes
// (and above what a broker counts against max.message.bytes). key may be nil.
func recordBytes(key []byte, valueLen int, headers []kgo.RecordHeader) int {
	n := 1 + 10 + 5 // attributes; timestamp and offset deltas at their longest
	n += varintLen(len(key)) + len(key) + varintLen(valueLen) + valueLen + varintLen(len(headers))
	for _, h := range headers {
		n += varintLen(len(h.Key)) + len(h.Key) + varintLen(len(h.Value)) + len(h.Value)
	}
	return batchOverhead + varintLen(n) + n
}

// varintLen is the length of n (not negative) as a zigzag varint.
func varintLen(n int) int {
	l := 1
	for v := uint64(n) << 1; v >= 0x80; v >>= 7 {
		l++
	}
	return l
}
