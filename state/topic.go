package state

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// DefaultTopicConfig returns the defaults of TopicConfig.
func DefaultTopicConfig() TopicConfig {
	return TopicConfig{Topic: "covacdc.state", Partitions: 1, ReplicationFactor: -1}
}

// WithDefaults returns c with its zero fields set to their defaults.
func (c TopicConfig) WithDefaults() TopicConfig {
	d := DefaultTopicConfig()
	if c.Topic == "" {
		c.Topic = d.Topic
	}
	if c.Partitions == 0 {
		c.Partitions = d.Partitions
	}
	if c.ReplicationFactor == 0 {
		c.ReplicationFactor = d.ReplicationFactor
	}
	return c
}

// Validate returns an error for the first bad field.
func (c TopicConfig) Validate() error {
	switch {
	case c.Topic == "":
		return errors.New("state topic: must not be empty")
	case c.Partitions < 1:
		return fmt.Errorf("state topic partitions: must be at least 1, got %d", c.Partitions)
	case c.ReplicationFactor < -1 || c.ReplicationFactor == 0:
		return fmt.Errorf("state topic replication factor: must be -1 (broker default) or at least 1, got %d", c.ReplicationFactor)
	case c.MinInsyncReplicas < 0:
		return fmt.Errorf("state topic min.insync.replicas: must be 0 (broker default) or more, got %d", c.MinInsyncReplicas)
	}
	return nil
}

// ErrNotCompacted means the state topic exists but is not compacted; see
// NotCompactedError.
var ErrNotCompacted = errors.New("state: state topic is not compacted")

// NotCompactedError refuses a state topic whose cleanup.policy is not exactly
// "compact". "delete" forgets every record after retention.ms, and
// "compact,delete" does too: both would lose published Versions (customers
// published again) and cursors (a full reload). It matches ErrNotCompacted.
type NotCompactedError struct {
	Topic  string
	Policy string
}

func (e *NotCompactedError) Error() string {
	return fmt.Sprintf("state: topic %q has cleanup.policy=%q, covacdc keeps its state only in a topic with cleanup.policy=compact "+
		"(any delete policy would forget published versions and cursors): set cleanup.policy=compact on it or use another state topic",
		e.Topic, e.Policy)
}

// Is makes errors.Is(err, ErrNotCompacted) true.
func (e *NotCompactedError) Is(target error) bool { return target == ErrNotCompacted }

// EnsureTopic creates the state topic with cleanup.policy=compact when it is
// missing, refuses an existing one that is not compacted (*NotCompactedError),
// and returns its partition count.
func EnsureTopic(ctx context.Context, adm *kadm.Client, cfg TopicConfig) (int32, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return 0, err
	}
	configs := map[string]*string{"cleanup.policy": kadm.StringPtr("compact")}
	if cfg.MinInsyncReplicas > 0 {
		configs["min.insync.replicas"] = kadm.StringPtr(strconv.Itoa(cfg.MinInsyncReplicas))
	}
	resp, err := adm.CreateTopic(ctx, cfg.Partitions, cfg.ReplicationFactor, configs, cfg.Topic)
	if err == nil {
		err = resp.Err
	}
	switch {
	case err == nil:
		return cfg.Partitions, nil
	case errors.Is(err, kerr.TopicAlreadyExists):
	default:
		return 0, fmt.Errorf("state: creating topic %q: %w", cfg.Topic, err)
	}

	// A topic created an instant ago (by another instance, or an operator) may
	// not have reached every broker's metadata yet: retry briefly.
	var policy string
	for wait := 50 * time.Millisecond; ; wait *= 2 {
		policy, err = cleanupPolicy(ctx, adm, cfg.Topic)
		if err == nil || !errors.Is(err, kerr.UnknownTopicOrPartition) || wait > 5*time.Second {
			break
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(wait):
		}
	}
	if err != nil {
		return 0, fmt.Errorf("state: describing topic %q: %w", cfg.Topic, err)
	}
	if strings.ReplaceAll(policy, " ", "") != "compact" {
		return 0, &NotCompactedError{Topic: cfg.Topic, Policy: policy}
	}
	tds, err := adm.ListTopics(ctx, cfg.Topic)
	if err != nil {
		return 0, fmt.Errorf("state: reading metadata of %q: %w", cfg.Topic, err)
	}
	td := tds[cfg.Topic]
	if td.Err != nil {
		return 0, fmt.Errorf("state: reading metadata of %q: %w", cfg.Topic, td.Err)
	}
	return int32(len(td.Partitions)), nil
}

// cleanupPolicy returns the topic's cleanup.policy.
func cleanupPolicy(ctx context.Context, adm *kadm.Client, topic string) (string, error) {
	rcs, err := adm.DescribeTopicConfigs(ctx, topic)
	if err != nil {
		return "", err
	}
	rc, err := rcs.On(topic, nil)
	if err == nil {
		err = rc.Err
	}
	if err != nil {
		return "", err
	}
	policy := "delete" // Kafka's default, should a broker not list it
	for _, c := range rc.Configs {
		if c.Key == "cleanup.policy" && c.Value != nil {
			policy = *c.Value
		}
	}
	return policy, nil
}
