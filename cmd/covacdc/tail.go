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
}

func tailCommand(f *tailFlags) *command {
	c := newCommand("tail", "Print the events of the topic, decoded, one JSON line each, read with read_committed (only committed transactions).")
	f.Kafka.register(c)
	c.String(&f.Topic, "topic", defaultTopic, "Kafka topic of CustomerChanged events.")
	c.String(&f.From, "from", "beginning", "Where to start: beginning, end, or an RFC 3339 time (the first event at or after it).")
	c.Bool(&f.Follow, "follow", false, "Keep reading new events until interrupted.")
	c.String(&f.Registry, "schema-registry-url", "", "Confluent Schema Registry URL, needed to read events written with one.")
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
	w := bufio.NewWriter(stdout)
	defer w.Flush()
	bad := 0
	err = readCommitted(ctx, opts, topic, pos, follow, func(r *kgo.Record) error {
		js, err := dec.JSON(ctx, r.Value)
		if err != nil {
			bad++
			fmt.Fprintf(stderr, "covacdc: partition %d offset %d: cannot decode: %v\n", r.Partition, r.Offset, err)
			return nil
		}
		w.Write(js)
		w.WriteByte('\n')
		if follow {
			return w.Flush()
		}
		return nil
	})
	if err != nil {
		return err
	}
	if bad > 0 {
		return fmt.Errorf("%d events could not be decoded", bad)
	}
	return nil
}
