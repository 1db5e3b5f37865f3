package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/covacdc/covacdc/schema"
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
	fmt.Fprintln(tw, "COMPANY\tINITIAL LOAD\tSCANS\tTRACKED\tSINCE (NEXT SCAN)\tLAST SCAN STARTED\tLAST SCAN COMMITTED\tRESYNC")
	for _, cs := range companies {
		load := strings.ReplaceAll(initialLoad(cs), "_", " ")
		fmt.Fprintf(tw, "%d\t%s\t%d\t%d\t%s\t%s\t%s\t%s\n", cs.CompanyID, load, cs.Cursor.Scans, cs.Tracked,
			stamp(cs.Cursor.Since), stamp(cs.Cursor.ScanStarted), stamp(cs.Cursor.ScanFinished), resyncColumn(cs))
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
	// Resync is the resync requested or under way; null when none is.
	Resync *resyncJSON `json:"resync"`
	// LastResync is the last resync completed; null before the first.
	LastResync *lastResyncJSON `json:"lastResync"`
}

// resyncJSON is a company's resync under way in covacdc state --json.
type resyncJSON struct {
	ID          string    `json:"id"`
	Seq         int64     `json:"seq"`
	RequestedAt time.Time `json:"requestedAt"`
	AcceptedAt  time.Time `json:"acceptedAt"`
	// Customers are the customers it publishes; null: every one.
	Customers []string `json:"customers"`
	// Published counts the customers it has committed as SNAPSHOT events
	// so far: its progress.
	Published int `json:"published"`
}

// lastResyncJSON is a company's last completed resync in covacdc state --json.
type lastResyncJSON struct {
	ID          string    `json:"id"`
	Seq         int64     `json:"seq"`
	CompletedAt time.Time `json:"completedAt"`
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
	out := companyJSON{
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
	if r := cs.Cursor.Resync; r != nil {
		out.Resync = &resyncJSON{ID: r.ID, Seq: r.Seq, RequestedAt: r.RequestedAt.UTC(), AcceptedAt: r.AcceptedAt.UTC(), Published: cs.Resynced}
		for _, id := range r.Customers {
			out.Resync.Customers = append(out.Resync.Customers, schema.UUID(id).String())
		}
	}
	if r := cs.Cursor.LastResync; r != nil {
		out.LastResync = &lastResyncJSON{ID: r.ID, Seq: r.Seq, CompletedAt: r.CompletedAt.UTC()}
	}
	return out
}

// resyncColumn says where a company's resyncs stand: the one under way and
// the customers it has published, else the last completed, else "-".
func resyncColumn(cs state.CompanyState) string {
	switch r, last := cs.Cursor.Resync, cs.Cursor.LastResync; {
	case r != nil && len(r.Customers) > 0:
		return fmt.Sprintf("%s under way: %d of %d customers published", r.ID, cs.Resynced, len(r.Customers))
	case r != nil:
		return fmt.Sprintf("%s under way: %d customers published", r.ID, cs.Resynced)
	case last != nil:
		return fmt.Sprintf("%s completed %s", last.ID, stamp(last.CompletedAt))
	}
	return "-"
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}
