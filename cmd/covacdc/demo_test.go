package main

import (
	"context"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/covacdc/covacdc/internal/testenv"
	"github.com/covacdc/covacdc/poller"
	"github.com/covacdc/covacdc/schema"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestSecondDemoOnTheSameDirectoryExits: two demos must not share an embedded
// Kafka's files. The second says which directory is taken and exits; once the
// first stops, the directory is free again.
func TestSecondDemoOnTheSameDirectoryExits(t *testing.T) {
	dir := t.TempDir()
	args := []string{"demo", "--data-dir", dir, "--companies", "1", "--customers", "20", "--trickle", "0", "--metrics-addr", ""}
	ready := func(p *proc) {
		t.Helper()
		testenv.Eventually(t, 30*time.Second, "the demo's first events", func() bool {
			return strings.Contains(p.stdout.String(), "Committed events")
		})
	}
	first := start(t, nil, args...)
	ready(first)
	if out := first.stdout.String(); !strings.Contains(out, ": 1 company (id 1) x 20 customers,") {
		t.Errorf("demo banner does not say 1 company:\n%s", out)
	}

	second := start(t, nil, args...)
	if code := second.wait(t, 15*time.Second); code == 0 {
		t.Errorf("the second demo exited 0")
	}
	want := "covacdc: another covacdc demo is using the data directory " + dir + "; stop it or pass another --data-dir\n"
	if got := second.stderr.String(); got != want {
		t.Errorf("second demo's stderr:\n got %q\nwant %q", got, want)
	}

	first.signal(t, syscall.SIGTERM)
	if code := first.wait(t, 15*time.Second); code != 0 {
		t.Fatalf("first demo exit %d after SIGTERM\nstderr:\n%s", code, first.stderr)
	}
	third := start(t, nil, args...)
	ready(third)
	third.signal(t, syscall.SIGTERM)
	if code := third.wait(t, 15*time.Second); code != 0 {
		t.Fatalf("a demo after the first stopped exited %d\nstderr:\n%s", code, third.stderr)
	}
}

// TestEventLine renders an event as the demo prints it: time, change type,
// company, customer, version, name and the marks of a disabled or merged
// customer, or of a resync.
func TestEventLine(t *testing.T) {
	c, err := poller.DecodeCustomer([]byte(`{"Id":"45b95f03-9774-4302-9212-018ff0fd33b5","Version":3,` +
		`"LastModifiedDateUtc":"2024-05-01T12:00:00","PrimaryName":"Jane","FamilyName":"Doe","Disabled":true,` +
		`"MergedIntoCustomerId":"0f8fad5b-d9cb-469f-a165-70867728950e"}`))
	if err != nil {
		t.Fatal(err)
	}
	enc, err := schema.NewEncoder()
	if err != nil {
		t.Fatal(err)
	}
	ev := schema.NewCustomerChanged(7, &c)
	ev.ChangeType = schema.Created
	value, err := enc.Append(nil, &ev)
	if err != nil {
		t.Fatal(err)
	}
	dec, err := schema.NewDecoder(nil)
	if err != nil {
		t.Fatal(err)
	}
	r := &kgo.Record{Value: value, Timestamp: time.Date(2024, 5, 1, 12, 0, 1, 0, time.Local)}
	want := "12:00:01 CREATED  company=7 customer=45b95f03-9774-4302-9212-018ff0fd33b5 v3 Jane Doe [disabled] " +
		"[merged into 0f8fad5b-d9cb-469f-a165-70867728950e]"
	if got := eventLine(context.Background(), dec, r); got != want {
		t.Errorf("eventLine\n got %q\nwant %q", got, want)
	}
	// A resync's SNAPSHOT says it is one, and which version it follows.
	ev.ChangeType, ev.PreviousVersion = schema.Snapshot, new(int64(5))
	resync, err := enc.Append(nil, &ev)
	if err != nil {
		t.Fatal(err)
	}
	want = "12:00:01 SNAPSHOT company=7 customer=45b95f03-9774-4302-9212-018ff0fd33b5 v3 Jane Doe [disabled] " +
		"[merged into 0f8fad5b-d9cb-469f-a165-70867728950e] [resync; v5 published before]"
	if got := eventLine(context.Background(), dec, &kgo.Record{Value: resync, Timestamp: r.Timestamp}); got != want {
		t.Errorf("eventLine of a resync\n got %q\nwant %q", got, want)
	}
	r.Value = value[:len(value)-3]
	if got := eventLine(context.Background(), dec, r); !strings.Contains(got, "undecodable event at partition 0 offset 0") {
		t.Errorf("eventLine of a cut event: %q", got)
	}
}
