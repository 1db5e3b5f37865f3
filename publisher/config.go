package publisher

import (
	"slices"
	"strings"
	"time"

	"github.com/covacdc/covacdc/internal/config"
	"github.com/covacdc/covacdc/state"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Config says where and how to publish. Start from DefaultConfig, which holds
// every default, and set KafkaOpts: New takes the values as given.
type Config struct {
	KafkaOpts       []kgo.Opt // seed brokers, TLS, SASL: how to reach the cluster. Required.
	Topic           string    // events topic. Default "covacdc.customers".
	DLQTopic        string    // dead-letter topic. Default "covacdc.dlq".
	TransactionalID string    // Default "covacdc".
	// MaxEventsPerTransaction bounds a transaction (events and dead letters). Default 2000.
	MaxEventsPerTransaction int
	TopicPartitions         int32 // events and dead-letter topics when created. Default 6.
	TopicReplicationFactor  int16 // Default -1 (broker default).
	State                   state.TopicConfig
	// StartFrom is the cursor of a company with no state. Zero: the beginning (a full initial load).
	StartFrom time.Time
	// MaxTransactionAge is how long a transaction may stay open while no scan
	// completes (the source is slow, a scan was abandoned) before it is committed
	// anyway: an open transaction holds back every read_committed consumer.
	// Default 5s.
	MaxTransactionAge time.Duration
	// EndTimeout bounds flushing and ending one transaction, and Close. Default 30s.
	EndTimeout time.Duration
	// AllowNewStateTopic lets New create a missing state topic even though the
	// events topic already holds events. Without it New refuses (ErrStateMissing):
	// a new, empty state would publish every customer again. Set it for a
	// deliberate resync, or for a new instance that shares the events topic.
	AllowNewStateTopic bool
	// AllowMixedEncodings lets New write to an events topic whose last
	// committed events are in another encoding than the encoder's (single-object
	// encoding, or the Confluent wire format of a Schema Registry). Without it
	// New refuses (ErrMixedEncodings): consumers set up for one encoding fail
	// on the other. Set it once every consumer of the topic reads both.
	AllowMixedEncodings bool
	// Compression of produced record batches: "none", "gzip", "snappy", "lz4" or
	// "zstd". Default "snappy": cheap to compute, and events shrink by about half.
	Compression string
	// ProducerBatchMaxBytes bounds a record batch before compression (kgo's
	// ProducerBatchMaxBytes), and so the largest record: an event larger than it
	// or than the events topic's max.message.bytes goes to the dead-letter topic
	// (ReasonTooLarge) instead, and a dead letter larger than it or than the
	// dead-letter topic's max.message.bytes is cut to fit. Default 1,000,012
	// bytes (kgo's and Kafka's default).
	ProducerBatchMaxBytes int32
	// MaxDeadLettersPerScan bounds the dead letters one scan may meet, already
	// published ones included: past it the scan fails (ErrTooManyDeadLetters)
	// and the company's cursor stays. Default 10,000.
	MaxDeadLettersPerScan int
}

// compressions are the accepted Compression values and their codecs, in the
// order messages list them.
var compressions = []struct {
	name  string
	codec kgo.CompressionCodec
}{
	{"none", kgo.NoCompression()},
	{"gzip", kgo.GzipCompression()},
	{"snappy", kgo.SnappyCompression()},
	{"lz4", kgo.Lz4Compression()},
	{"zstd", kgo.ZstdCompression()},
}

func compressionCodec(name string) (kgo.CompressionCodec, bool) {
	for _, c := range compressions {
		if c.name == name {
			return c.codec, true
		}
	}
	return kgo.CompressionCodec{}, false
}

// CompressionNames lists the accepted Compression values.
func CompressionNames() []string {
	names := make([]string, len(compressions))
	for i, c := range compressions {
		names[i] = c.name
	}
	return names
}

// DefaultConfig returns the defaults, without KafkaOpts.
func DefaultConfig() Config {
	return Config{
		Topic:                   "covacdc.customers",
		DLQTopic:                "covacdc.dlq",
		TransactionalID:         "covacdc",
		MaxEventsPerTransaction: 2000,
		TopicPartitions:         6,
		TopicReplicationFactor:  -1,
		State:                   state.DefaultTopicConfig(),
		MaxTransactionAge:       5 * time.Second,
		EndTimeout:              30 * time.Second,
		Compression:             "snappy",
		ProducerBatchMaxBytes:   defaultProducerBatchMaxBytes,
		MaxDeadLettersPerScan:   10000,
	}
}

// Validate returns a *config.FieldError naming the first field whose value is
// bad, in Config's own terms ("State.Partitions: must be at least 1, got 0").
// It checks c as given: start from DefaultConfig.
func (c Config) Validate() error {
	_, knownCodec := compressionCodec(c.Compression)
	switch {
	case len(c.KafkaOpts) == 0:
		return config.Errorf("KafkaOpts", "required (the seed brokers at least)")
	case c.Topic == "":
		return config.Errorf("Topic", "must not be empty")
	case c.DLQTopic == "":
		return config.Errorf("DLQTopic", "must not be empty")
	case strings.TrimSpace(c.TransactionalID) == "":
		return config.Errorf("TransactionalID", "must not be empty")
	case c.MaxEventsPerTransaction < 1 || c.MaxEventsPerTransaction > 1000000:
		return config.Errorf("MaxEventsPerTransaction", "must be between 1 and 1000000, got %d", c.MaxEventsPerTransaction)
	case c.TopicPartitions < 1:
		return config.Errorf("TopicPartitions", "must be at least 1, got %d", c.TopicPartitions)
	case c.TopicReplicationFactor < -1 || c.TopicReplicationFactor == 0:
		return config.Errorf("TopicReplicationFactor", "must be -1 (the broker's default) or at least 1, got %d", c.TopicReplicationFactor)
	case c.Topic == c.DLQTopic || c.Topic == c.State.Topic || c.DLQTopic == c.State.Topic:
		field := "DLQTopic"
		if c.DLQTopic != c.Topic {
			field = "State.Topic"
		}
		return config.Errorf(field, "events %q, dead letters %q and state %q must be three different topics", c.Topic, c.DLQTopic, c.State.Topic)
	case c.MaxTransactionAge <= 0:
		return config.Errorf("MaxTransactionAge", "must be positive, got %s", c.MaxTransactionAge)
	case c.EndTimeout <= 0:
		return config.Errorf("EndTimeout", "must be positive, got %s", c.EndTimeout)
	case !knownCodec:
		return config.Errorf("Compression", "must be one of %s, got %q", strings.Join(CompressionNames(), ", "), c.Compression)
	case c.ProducerBatchMaxBytes < 1024 || c.ProducerBatchMaxBytes > 1<<30:
		return config.Errorf("ProducerBatchMaxBytes", "must be between 1024 and %d, got %d", 1<<30, c.ProducerBatchMaxBytes)
	case c.MaxDeadLettersPerScan < 1 || c.MaxDeadLettersPerScan > 100000000:
		return config.Errorf("MaxDeadLettersPerScan", "must be between 1 and 100000000, got %d", c.MaxDeadLettersPerScan)
	}
	return config.Nested("State", c.State.Validate())
}

// kgoOpts is every option of the producer client.
func (c Config) kgoOpts() []kgo.Opt {
	codec, _ := compressionCodec(c.Compression) // Validate refused an unknown name
	return append(slices.Clone(c.KafkaOpts),
		kgo.TransactionalID(c.TransactionalID),
		// A broker aborts a transaction open longer than this; MaxTransactionAge
		// keeps ours far shorter.
		kgo.TransactionTimeout(max(time.Minute, 4*c.MaxTransactionAge)),
		kgo.RecordPartitioner(partitioner{state: c.State.Topic}),
		kgo.MaxBufferedRecords(max(10000, 4*c.MaxEventsPerTransaction+64)),
		kgo.ProducerBatchCompression(codec),
	)
}

// partitioner keys every topic as franz-go does by default (murmur2 of the key,
// as the Java client), except the startup markers of the state topic, which name
// their partition themselves: one per partition.
type partitioner struct{ state string }

func (p partitioner) ForTopic(topic string) kgo.TopicPartitioner {
	if topic != p.state {
		return kgo.UniformBytesPartitioner(64<<10, true, true, nil).ForTopic(topic)
	}
	return markerPartitioner{kgo.StickyKeyPartitioner(nil).ForTopic(topic)}
}

type markerPartitioner struct{ keyed kgo.TopicPartitioner }

func (m markerPartitioner) RequiresConsistency(*kgo.Record) bool { return true }

func (m markerPartitioner) Partition(r *kgo.Record, n int) int {
	if state.IsMarker(r.Key) {
		return int(r.Partition)
	}
	return m.keyed.Partition(r, n)
}
