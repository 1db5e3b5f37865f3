package main

import (
	"errors"
	"fmt"

	"github.com/covacdc/covacdc/internal/config"
)

// pollerFlags and publisherFlags map the fields of poller.Config and
// publisher.Config that covacdc run sets to the flags that set them: the one
// place where the packages' names meet the command's. A package's
// *config.FieldError is reported under the flag (flagError).
var (
	pollerFlags = map[string]string{
		"BaseURL":           "cova-base-url",
		"TokenURL":          "cova-token-url",
		"ClientID":          "cova-client-id",
		"ClientSecret":      "cova-client-secret",
		"Username":          "cova-username",
		"Password":          "cova-password",
		"PageSize":          "page-size",
		"Lookback":          "lookback",
		"RequestTimeout":    "request-timeout",
		"RequestsPerMinute": "requests-per-minute",
		"MaxInFlight":       "max-in-flight",
		"MaxBackoff":        "max-backoff",
		"PageOverlap":       "page-overlap",
		"FetchAhead":        "fetch-ahead",
		"InitialBackoff":    "initial-backoff",
		"MaxRetries":        "max-retries",
	}
	publisherFlags = map[string]string{
		"KafkaOpts":               "kafka-brokers",
		"Topic":                   "topic",
		"DLQTopic":                "dlq-topic",
		"TransactionalID":         "transactional-id",
		"MaxEventsPerTransaction": "max-events-per-transaction",
		"TopicPartitions":         "partitions",
		"TopicReplicationFactor":  "replication-factor",
		"State.Topic":             "state-topic",
		"State.Partitions":        "state-partitions",
		"State.ReplicationFactor": "state-replication-factor",
		"State.MinInsyncReplicas": "state-min-insync-replicas",
		"StartFrom":               "start-from",
		"AllowNewStateTopic":      "allow-new-state-topic",
		"AllowMixedEncodings":     "allow-mixed-encodings",
		"Compression":             "compression",
		"MaxDeadLettersPerScan":   "max-dead-letters-per-scan",
	}
	// fixedFields are the fields no flag sets: covacdc run keeps their
	// defaults, so an error about one is covacdc's own.
	fixedFields = map[string]bool{
		"publisher.MaxTransactionAge":     true,
		"publisher.EndTimeout":            true,
		"publisher.ProducerBatchMaxBytes": true,
	}
)

// flagError reports a package's configuration error under the flag of its
// field, as a usage error ("--page-size: must be between 2 and 100, got 0").
func flagError(flags map[string]string, err error) error {
	var fe *config.FieldError
	if errors.As(err, &fe) {
		if name, ok := flags[fe.Field]; ok {
			return usagef("--%s: %s", name, fe.Problem)
		}
	}
	return fmt.Errorf("covacdc's built-in configuration: %w", err)
}
