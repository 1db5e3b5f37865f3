package state

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/covacdc/covacdc/internal/config"
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

// Validate returns a *config.FieldError naming the first field whose value is bad.
func (c TopicConfig) Validate() error {
	switch {
	case c.Topic == "":
		return config.Errorf("Topic", "must not be empty")
	case c.Partitions < 1:
		return config.Errorf("Partitions", "must be at least 1, got %d", c.Partitions)
	case c.ReplicationFactor < -1 || c.ReplicationFactor == 0:
		return config.Errorf("ReplicationFactor", "must be -1 (the broker's default) or at least 1, got %d", c.ReplicationFactor)
	case c.MinInsyncReplicas < 0:
		return config.Errorf("MinInsyncReplicas", "must be 0 (the broker's default) or more, got %d", c.MinInsyncReplicas)
	}
	return nil
}

// ErrNotCompacted means the state topic exists but is not compacted; see
// NotCompactedError.
var ErrNotCompacted = errors.New("state topic is not compacted")

// NotCompactedError refuses a state topic whose cleanup.policy is not exactly
// "compact". "delete" forgets every record after retention.ms, and
// "compact,delete" does too: both would lose published Versions (customers
// published again) and cursors (a full reload). It matches ErrNotCompacted.
type NotCompactedError struct {
	Topic  string
	Policy string
}

func (e *NotCompactedError) Error() string {
	return fmt.Sprintf("state topic %q has cleanup.policy=%q, covacdc keeps its state only in a topic with cleanup.policy=compact "+
		"(any delete policy would forget published versions and cursors): set cleanup.policy=compact on it or use another state topic",
		e.Topic, e.Policy)
}

// Is makes errors.Is(err, ErrNotCompacted) true.
func (e *NotCompactedError) Is(target error) bool { return target == ErrNotCompacted }

// EnsureTopic describes the state topic and returns its partition count,
// refusing one that is not compacted (*NotCompactedError). Only a missing topic
// is created, with cleanup.policy=compact: a principal without CREATE runs
// against a topic an administrator made. It needs DESCRIBE and
// DESCRIBE_CONFIGS on the topic, and CREATE only when it is missing.
func EnsureTopic(ctx context.Context, adm *kadm.Client, cfg TopicConfig) (int32, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return 0, fmt.Errorf("state topic: %w", err)
	}
	parts, err := DescribeTopic(ctx, adm, cfg.Topic)
	if errors.Is(err, kerr.UnknownTopicOrPartition) {
		var created bool
		if created, err = create(ctx, adm, cfg); created {
			return cfg.Partitions, nil
		}
		if err == nil || IsCreateRefused(err) {
			// It exists (another instance or an administrator made it an
			// instant ago), or Kafka refused to create it, which it says
			// before it looks: a topic that shows up now is there.
			if n, aerr := AwaitTopic(ctx, adm, cfg.Topic, awaitFor(err)); aerr == nil || err == nil {
				parts, err = n, aerr
			}
		}
	}
	switch {
	case err != nil:
		return 0, fmt.Errorf("state topic %q: %w", cfg.Topic, err)
	}
	var policy string
	err = whileUnknown(ctx, awaitExisting, func() (err error) {
		policy, err = cleanupPolicy(ctx, adm, cfg.Topic)
		return err
	})
	switch {
	case errors.Is(err, kerr.TopicAuthorizationFailed):
		return 0, fmt.Errorf("state topic %q: not allowed to read its configuration (its cleanup.policy): "+
			"grant DESCRIBE_CONFIGS on it (README: Security): %w", cfg.Topic, err)
	case err != nil:
		return 0, fmt.Errorf("state topic %q: reading its configuration: %w", cfg.Topic, err)
	}
	if strings.ReplaceAll(policy, " ", "") != "compact" {
		return 0, &NotCompactedError{Topic: cfg.Topic, Policy: policy}
	}
	return parts, nil
}

// AwaitTopic is DescribeTopic retried for up to about limit while the topic
// is unknown: a topic created an instant ago, by another instance or an
// administrator, may not be in every broker's metadata yet.
func AwaitTopic(ctx context.Context, adm *kadm.Client, topic string, limit time.Duration) (int32, error) {
	var parts int32
	err := whileUnknown(ctx, limit, func() (err error) {
		parts, err = DescribeTopic(ctx, adm, topic)
		return err
	})
	return parts, err
}

// AwaitRefused is how long to wait for a topic to show in the metadata after
// Kafka refused to create it, which says nothing about whether it exists: a
// missing topic is an error only this much later.
const AwaitRefused = 1500 * time.Millisecond

// awaitExisting is how long to wait for a topic to show in the metadata after
// a creation said it exists.
const awaitExisting = 6 * time.Second

func awaitFor(createErr error) time.Duration {
	if createErr != nil {
		return AwaitRefused
	}
	return awaitExisting
}

// IsCreateRefused reports whether err says the principal may not create a
// topic (CREATE on the topic or on the cluster).
func IsCreateRefused(err error) bool {
	return errors.Is(err, kerr.TopicAuthorizationFailed) || errors.Is(err, kerr.ClusterAuthorizationFailed)
}

// whileUnknown calls fn until it returns anything but
// kerr.UnknownTopicOrPartition, or about limit has passed: a topic created an
// instant ago (by another instance, or an operator) may not have reached every
// broker's metadata yet.
func whileUnknown(ctx context.Context, limit time.Duration, fn func() error) error {
	deadline := time.Now().Add(limit)
	for wait := 50 * time.Millisecond; ; wait *= 2 {
		err := fn()
		if err == nil || !errors.Is(err, kerr.UnknownTopicOrPartition) || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(min(wait, time.Until(deadline)+time.Millisecond)):
		}
	}
}

// DescribeTopic returns the partition count of topic, asked of the cluster
// rather than of the client's metadata cache (which would keep calling a topic
// created a moment ago missing for seconds). A missing topic is
// kerr.UnknownTopicOrPartition, unwrapped; a topic the principal may not
// describe is an error naming the DESCRIBE ACL. Its errors do not name the
// topic: the caller says which one it is (events, dead-letter, state topic).
func DescribeTopic(ctx context.Context, adm *kadm.Client, topic string) (int32, error) {
	tds, err := adm.ListTopics(kadm.WithAuthorizedOps(ctx), topic)
	td, ok := tds[topic]
	switch {
	case errors.Is(err, kerr.TopicAuthorizationFailed), errors.Is(td.Err, kerr.TopicAuthorizationFailed):
		return 0, fmt.Errorf("not allowed to describe it: the principal covacdc connects as has no ACL on it "+
			"(DESCRIBE, which READ and WRITE imply): grant what README: Security lists: %w", kerr.TopicAuthorizationFailed)
	case err != nil:
		return 0, fmt.Errorf("reading its metadata from Kafka: %w", err)
	case !ok, errors.Is(td.Err, kerr.UnknownTopicOrPartition):
		return 0, kerr.UnknownTopicOrPartition
	case td.Err != nil:
		return 0, fmt.Errorf("reading its metadata from Kafka: %w", td.Err)
	}
	return int32(len(td.Partitions)), nil
}

// create creates the compacted state topic; false without an error means it
// already existed. Its errors do not name the topic: EnsureTopic does.
func create(ctx context.Context, adm *kadm.Client, cfg TopicConfig) (bool, error) {
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
		return true, nil
	case errors.Is(err, kerr.TopicAlreadyExists):
		return false, nil
	case IsCreateRefused(err):
		return false, fmt.Errorf("does not exist and covacdc may not create it: "+
			"the principal it connects as lacks CREATE on the topic (or on the cluster); have an administrator create it "+
			"with cleanup.policy=compact, or grant CREATE (README: Security): %w", err)
	}
	return false, fmt.Errorf("creating it: %w", err)
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
