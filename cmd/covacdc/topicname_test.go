package main

import (
	"strings"
	"testing"
)

// TestInvalidTopicNamesExit2 checks every topic flag against Kafka's rules for
// topic names before anything connects.
func TestInvalidTopicNamesExit2(t *testing.T) {
	long := strings.Repeat("t", 250)
	brokers := []string{"--kafka-brokers", "127.0.0.1:1"}
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"illegal characters", append([]string{"run"}, validArgs("--topic", "bad topic!")...),
			`covacdc: --topic: "bad topic!" is not a valid Kafka topic name: use only letters, digits, '.', '_' and '-'`},
		{"too long", append([]string{"run"}, validArgs("--dlq-topic", long)...),
			`covacdc: --dlq-topic: a Kafka topic name has at most 249 characters, got 250`},
		{"internal topic", append([]string{"run"}, validArgs("--state-topic", "__consumer_offsets")...),
			`covacdc: --state-topic: "__consumer_offsets" starts with "__", which Kafka keeps for its internal topics`},
		{"double underscore prefix", append([]string{"run"}, validArgs("--topic", "__mine")...),
			`covacdc: --topic: "__mine" starts with "__", which Kafka keeps for its internal topics`},
		{"dot", append([]string{"run"}, validArgs("--topic", ".")...),
			`covacdc: --topic: "." is not a valid Kafka topic name`},
		{"dot dot", append([]string{"run"}, validArgs("--dlq-topic", "..")...),
			`covacdc: --dlq-topic: ".." is not a valid Kafka topic name`},
		{"same topic twice", append([]string{"run"}, validArgs("--dlq-topic", "covacdc.customers")...),
			`covacdc: --dlq-topic: the events, state, dead-letter and signal topics must differ, got "covacdc.customers" for --topic and --dlq-topic`},
		{"colliding names", append([]string{"run"}, validArgs("--topic", "orders.cdc", "--state-topic", "orders_cdc")...),
			`covacdc: --state-topic: "orders_cdc" collides with --topic "orders.cdc": Kafka treats '.' and '_' alike in metric names and refuses a second such topic`},
		{"tail", append([]string{"tail", "--topic", "bad topic!"}, brokers...),
			`covacdc: --topic: "bad topic!" is not a valid Kafka topic name: use only letters, digits, '.', '_' and '-'`},
		{"state", append([]string{"state", "--state-topic", "__cluster_metadata"}, brokers...),
			`covacdc: --state-topic: "__cluster_metadata" starts with "__", which Kafka keeps for its internal topics`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, line := runLine(t, nil, tc.args...)
			if code != 2 || line != tc.want {
				t.Errorf("exit %d, stderr %q\nwant exit 2, %q", code, line, tc.want)
			}
		})
	}
}
