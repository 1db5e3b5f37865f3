package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/covacdc/covacdc/state"
)

type stateFlags struct {
	Kafka kafkaFlags
	Topic string
	JSON  bool
}

func stateCommand(f *stateFlags) *command {
	c := newCommand("state", "Print each company's cursor, initial-load status and tracked-customer count from the state topic (read_committed; writes nothing).")
	f.Kafka.register(c)
	c.String(&f.Topic, "state-topic", defaultStateTopic, "Compacted Kafka topic of cursors and published versions.")
	c.Bool(&f.JSON, "json", false, "Print JSON instead of a table.")
	return c
}

// stateMain is covacdc state: each company's cursor, read from the state topic.
func stateMain(ctx context.Context, args []string, stdout, _ io.Writer) error {
	var f stateFlags
	if err := parseFlags(stateCommand(&f), args, stdout); err != nil {
		return err
	}
	k, topic, asJSON := f.Kafka, f.Topic, f.JSON
	opts, err := k.opts()
	if err != nil {
		return err
	}
	if err := checkTopic("state-topic", topic); err != nil {
		return err
	}
	companies, err := state.Summary(ctx, topic, opts...)
	if err != nil {
		return fmt.Errorf("state topic %s: %w", topic, err)
	}
	if asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(companies)
	}
	if len(companies) == 0 {
		fmt.Fprintf(stdout, "no company in %s yet\n", topic)
		return nil
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "COMPANY\tINITIAL LOAD\tSCANS\tTRACKED\tSINCE (NEXT SCAN)\tLAST SCAN STARTED\tLAST SCAN COMMITTED")
	for _, cs := range companies {
		load := "in progress" // events committed, first scan not finished
		switch {
		case cs.HasCursor && cs.Cursor.InitialLoadComplete:
			load = "complete"
		case !cs.HasCursor && cs.Tracked == 0:
			load = "not started"
		}
		fmt.Fprintf(tw, "%d\t%s\t%d\t%d\t%s\t%s\t%s\n", cs.CompanyID, load, cs.Cursor.Scans, cs.Tracked,
			stamp(cs.Cursor.Since), stamp(cs.Cursor.ScanStarted), stamp(cs.Cursor.ScanFinished))
	}
	return tw.Flush()
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}
