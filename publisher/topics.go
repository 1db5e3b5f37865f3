package publisher

import (
	"context"
	"errors"
	"fmt"

	"github.com/covacdc/covacdc/state"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// existing is the set of topics found at start-up.
type existing map[string]bool

// describeTopics asks the cluster which of the events, dead-letter and state
// topics exist. A topic the principal may not describe is an error that names
// the ACL; a missing topic is not an error.
//
// Starting describes before it creates anything, so that a principal without
// CREATE runs against topics an administrator made.
func (p *Publisher) describeTopics(ctx context.Context, adm *kadm.Client) (existing, error) {
	found := existing{}
	for _, topic := range []string{p.cfg.Topic, p.cfg.DLQTopic, p.cfg.State.Topic} {
		_, err := state.DescribeTopic(ctx, adm, topic)
		switch {
		case err == nil:
			found[topic] = true
		case !errors.Is(err, kerr.UnknownTopicOrPartition):
			return nil, fmt.Errorf("%s %q: %w", p.topicRole(topic), topic, err)
		}
	}
	return found, nil
}

// createMissing creates the events and dead-letter topics that describeTopics
// did not find. One created a moment ago by another instance counts as there.
func (p *Publisher) createMissing(ctx context.Context, adm *kadm.Client, found existing) error {
	for _, topic := range []string{p.cfg.Topic, p.cfg.DLQTopic} {
		if found[topic] {
			continue
		}
		resp, err := adm.CreateTopic(ctx, p.cfg.TopicPartitions, p.cfg.TopicReplicationFactor, nil, topic)
		if err == nil {
			err = resp.Err
		}
		if state.IsCreateRefused(err) {
			// Kafka refuses before it looks whether the topic exists: one an
			// administrator made an instant ago may show up now.
			if _, aerr := state.AwaitTopic(ctx, adm, topic, state.AwaitRefused); aerr == nil {
				err = nil
			}
		}
		switch {
		case err == nil, errors.Is(err, kerr.TopicAlreadyExists):
		case state.IsCreateRefused(err):
			return fmt.Errorf("%s %q: does not exist and covacdc may not create it: "+
				"the principal it connects as lacks CREATE on the topic (or on the cluster); have an administrator create it, "+
				"or grant CREATE (README: Security): %w", p.topicRole(topic), topic, err)
		default:
			return fmt.Errorf("%s %q: creating it: %w", p.topicRole(topic), topic, err)
		}
	}
	return nil
}

// authErr explains an authorization failure of the startup transaction (the
// markers written to the state topic) in terms of the ACL to grant, or
// returns nil for any other error.
func (p *Publisher) authErr(err error) error {
	switch {
	case errors.Is(err, kerr.TransactionalIDAuthorizationFailed):
		return fmt.Errorf("not allowed to use transactional id %q: grant WRITE on it (README: Security): %w",
			p.cfg.TransactionalID, err)
	case errors.Is(err, kerr.TopicAuthorizationFailed):
		return fmt.Errorf("state topic %q: not allowed to write to it: grant WRITE on it (README: Security): %w",
			p.cfg.State.Topic, err)
	}
	return nil
}

// topicRole names a topic as the user configured it: "events topic" (--topic),
// "dead-letter topic" (--dlq-topic) or "state topic" (--state-topic), so an
// error says which flag the name came from.
func (p *Publisher) topicRole(topic string) string {
	switch topic {
	case p.cfg.Topic:
		return "events topic"
	case p.cfg.DLQTopic:
		return "dead-letter topic"
	}
	return "state topic"
}
