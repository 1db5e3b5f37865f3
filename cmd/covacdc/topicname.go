package main

import "strings"

// maxTopicName is the longest topic name Kafka accepts.
const maxTopicName = 249

// topicFlag is a topic given by a flag.
type topicFlag struct{ flag, name string }

// checkTopic applies Kafka's rules for topic names, so that a bad name is a
// configuration mistake naming its flag rather than a broker error at start-up.
// A "__" prefix is refused too: Kafka keeps it for its internal topics
// (__consumer_offsets, __transaction_state), which covacdc must never write.
func checkTopic(flag, name string) error {
	switch {
	case strings.TrimSpace(name) == "":
		return usagef("--%s: must not be empty", flag)
	case name == "." || name == "..":
		return usagef("--%s: %q is not a valid Kafka topic name", flag, name)
	case len(name) > maxTopicName:
		return usagef("--%s: a Kafka topic name has at most %d characters, got %d", flag, maxTopicName, len(name))
	case strings.IndexFunc(name, func(r rune) bool { return !legalTopicRune(r) }) >= 0:
		return usagef("--%s: %q is not a valid Kafka topic name: use only letters, digits, '.', '_' and '-'", flag, name)
	case strings.HasPrefix(name, "__"):
		return usagef("--%s: %q starts with \"__\", which Kafka keeps for its internal topics", flag, name)
	}
	return nil
}

func legalTopicRune(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-'
}

// checkTopics checks each topic and that no two roles share a topic, or names
// that Kafka would refuse side by side: it treats '.' and '_' alike in metric
// names, so a topic colliding with an existing one cannot be created.
func checkTopics(topics []topicFlag) error {
	for i, t := range topics {
		if err := checkTopic(t.flag, t.name); err != nil {
			return err
		}
		for _, earlier := range topics[:i] {
			switch {
			case t.name == earlier.name:
				return usagef("--%s: the events, state, dead-letter and signal topics must differ, got %q for --%s and --%s", t.flag, t.name, earlier.flag, t.flag)
			case strings.ReplaceAll(t.name, ".", "_") == strings.ReplaceAll(earlier.name, ".", "_"):
				return usagef("--%s: %q collides with --%s %q: Kafka treats '.' and '_' alike in metric names and refuses a second such topic", t.flag, t.name, earlier.flag, earlier.name)
			}
		}
	}
	return nil
}
