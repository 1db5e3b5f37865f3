package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
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
	c.Bool(&f.JSON, "json", false, "Print JSON instead of a table: an array of companies with the keys README.md documents.")
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
		return err // it names the state topic
	}
	if asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		out := make([]companyJSON, 0, len(companies))
		for _, cs := range companies {
			out = append(out, toJSON(cs))
		}
		return enc.Encode(out)
	}
	if len(companies) == 0 {
		fmt.Fprintf(stdout, "no company in %s yet\n", topic)
		return nil
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "COMPANY\tINITIAL LOAD\tSCANS\tTRACKED\tSINCE (NEXT SCAN)\tLAST SCAN STARTED\tLAST SCAN COMMITTED")
	for _, cs := range companies {
		load := strings.ReplaceAll(initialLoad(cs), "_", " ")
		fmt.Fprintf(tw, "%d\t%s\t%d\t%d\t%s\t%s\t%s\n", cs.CompanyID, load, cs.Cursor.Scans, cs.Tracked,
			stamp(cs.Cursor.Since), stamp(cs.Cursor.ScanStarted), stamp(cs.Cursor.ScanFinished))
	}
	return tw.Flush()
}

// initialLoad says where a company's initial load stands: complete,
// in_progress (events committed, first scan not finished) or not_started.
func initialLoad(cs state.CompanyState) string {
	switch {
	case cs.HasCursor && cs.Cursor.InitialLoadComplete:
		return "complete"
	case !cs.HasCursor && cs.Tracked == 0:
		return "not_started"
	}
	return "in_progress"
}

// companyJSON is one company in covacdc state --json. Its keys are documented
// in README.md: scripts depend on them, so they change only with the README.
type companyJSON struct {
	CompanyID        int64      `json:"companyId"`
	InitialLoad      string     `json:"initialLoad"`
	HasCursor        bool       `json:"hasCursor"`
	TrackedCustomers int        `json:"trackedCustomers"`
	Cursor           cursorJSON `json:"cursor"`
}

// cursorJSON is a company's cursor in covacdc state --json; a time not set yet
// is null (a null since: the next scan reads from the beginning).
type cursorJSON struct {
	Since               *time.Time `json:"since"`
	ScanStarted         *time.Time `json:"scanStarted"`
	ScanFinished        *time.Time `json:"scanFinished"`
	InitialLoadComplete bool       `json:"initialLoadComplete"`
	Scans               int64      `json:"scans"`
}

func toJSON(cs state.CompanyState) companyJSON {
	at := func(t time.Time) *time.Time {
		if t.IsZero() {
			return nil
		}
		t = t.UTC()
		return &t
	}
	return companyJSON{
		CompanyID:        cs.CompanyID,
		InitialLoad:      initialLoad(cs),
		HasCursor:        cs.HasCursor,
		TrackedCustomers: cs.Tracked,
		Cursor: cursorJSON{
			Since:               at(cs.Cursor.Since),
			ScanStarted:         at(cs.Cursor.ScanStarted),
			ScanFinished:        at(cs.Cursor.ScanFinished),
			InitialLoadComplete: cs.Cursor.InitialLoadComplete,
			Scans:               cs.Cursor.Scans,
		},
	}
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}
