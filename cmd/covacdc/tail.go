package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/url"

	"github.com/covacdc/covacdc/schema"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"
)

type tailFlags struct {
	Kafka    kafkaFlags
	Topic    string
	From     string
	Follow   bool
	Registry string
	Mixed    bool
}

func tailCommand(f *tailFlags) *command {
	c := newCommand("tail", "Print the events of the topic, decoded, one JSON line each, read with read_committed (only committed transactions).")
	f.Kafka.register(c)
	c.String(&f.Topic, "topic", defaultTopic, "Kafka topic of CustomerChanged events.")
	c.String(&f.From, "from", "beginning", "Where to start: beginning, end, or an RFC 3339 time (the first event at or after it).")
	c.Bool(&f.Follow, "follow", false, "Keep reading new events until interrupted.")
	c.String(&f.Registry, "schema-registry-url", "", "Confluent Schema Registry URL, needed to read events written with one.")
	c.Bool(&f.Mixed, "allow-mixed-encodings", false, "Read events of either encoding (a topic that holds both); without it tail stops at the first event that is not in the encoding --schema-registry-url implies.")
	return c
}

// tailMain is covacdc tail: the events as a downstream consumer sees them.
func tailMain(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var f tailFlags
	if err := parseFlags(tailCommand(&f), args, stdout); err != nil {
		return err
	}
	k, topic, from, follow, registry := f.Kafka, f.Topic, f.From, f.Follow, f.Registry
	opts, err := k.opts()
	if err != nil {
		return err
	}
	if err := checkTopic("topic", topic); err != nil {
		return err
	}
	pos, err := parseFrom(from)
	if err != nil {
		return err
	}
	var cl *sr.Client
	if registry != "" {
		if err := checkURL("schema-registry-url", registry); err != nil {
			return err
		}
		u, _ := url.Parse(registry)
		ropts := []sr.ClientOpt{}
		if u.User != nil {
			pass, _ := u.User.Password()
			ropts = append(ropts, sr.BasicAuth(u.User.Username(), pass))
			u.User = nil
		}
		if cl, err = sr.NewClient(append(ropts, sr.URLs(u.String()))...); err != nil {
			return usagef("--schema-registry-url: %v", err)
		}
	}
	dec, err := schema.NewDecoder(cl)
	if err != nil {
		return err
	}
	want := schema.FormatSingleObject
	if registry != "" {
		want = schema.FormatRegistry
	}
	w := bufio.NewWriter(stdout)
	bad := 0
	err = readCommitted(ctx, opts, topic, pos, follow, func(r *kgo.Record) error {
		if got := schema.FormatOf(r.Value); got != want && got != schema.FormatUnknown && !f.Mixed {
			return otherEncoding(topic, r, got)
		}
		js, err := dec.JSON(ctx, r.Value)
		if err != nil {
			bad++
			fmt.Fprintf(stderr, "covacdc: partition %d offset %d: cannot decode: %v\n", r.Partition, r.Offset, err)
			return nil
		}
		if _, err := w.Write(append(js, '\n')); err != nil {
			return writeError(err)
		}
		if follow {
			return writeError(w.Flush())
		}
		return nil
	})
	// What was decoded is printed even when reading stopped on an error.
	if ferr := writeError(w.Flush()); err == nil {
		err = ferr
	}
	if err != nil {
		return err
	}
	if bad > 0 {
		return fmt.Errorf("%d events could not be decoded", bad)
	}
	return nil
}

// otherEncoding stops tail at the first event in the encoding the flags do not
// expect: every later one is likely the same, and one line naming the flag to
// change says more than an error per event.
func otherEncoding(topic string, r *kgo.Record, got schema.Format) error {
	at := fmt.Sprintf("topic %s partition %d offset %d", topic, r.Partition, r.Offset)
	if id, ok := schema.RegistryID(r.Value); ok {
		return usagef("%s: the event is in %s (schema id %d): add --schema-registry-url to read it "+
			"(and --allow-mixed-encodings if the topic also holds events written without one)", at, got, id)
	}
	return usagef("%s: the event is in %s: remove --schema-registry-url to read it, "+
		"or add --allow-mixed-encodings if the topic holds both encodings", at, got)
}

// writeError says that printing an event failed (a closed pipe, a full disk):
// tail stops, since every later event would be lost the same way.
func writeError(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("writing the events to stdout: %w", err)
}
