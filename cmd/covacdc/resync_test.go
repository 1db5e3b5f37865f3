package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/covacdc/covacdc/internal/testenv"
	"github.com/covacdc/covacdc/poller/covatest"
	"github.com/covacdc/covacdc/state"
)

// resyncArgs are the arguments of covacdc resync of the company against the
// test environment: run's flags, as a deployment's environment gives them.
func (e *testEnv) resyncArgs(company string, extra ...string) []string {
	return append(append([]string{"resync"}, e.runArgs(company)[1:]...), extra...)
}

// companyState reads a company's committed state from the state topic; the
// zero state (and a line in the test's log) when it cannot be read yet.
func (e *testEnv) companyState(t *testing.T, company int64) state.CompanyState {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cs, err := companyState(ctx, e.state, e.kafka.Opts(), company)
	if err != nil {
		t.Logf("reading the state: %v", err)
		return state.CompanyState{CompanyID: company}
	}
	return cs
}

// resynced is what a company's events say of a resync: per customer, the
// SNAPSHOT events that carry a previous version (those only a resync
// publishes), and every other event.
type resynced struct {
	snapshots map[string][]event // customer id -> its resync SNAPSHOT events
	others    int
}

func resyncedEvents(events []event, company int64) resynced {
	r := resynced{snapshots: map[string][]event{}}
	for _, ev := range events {
		if ev.CompanyID != company {
			continue
		}
		if ev.ChangeType == "SNAPSHOT" && ev.PreviousVersion != nil {
			r.snapshots[ev.CustomerID] = append(r.snapshots[ev.CustomerID], ev)
		} else {
			r.others++
		}
	}
	return r
}

// checkResyncedOnce asserts that every customer of truth has exactly one
// resync SNAPSHOT, of Cova's current version.
func checkResyncedOnce(t *testing.T, r resynced, truth map[string]int64) {
	t.Helper()
	bad := 0
	for id, v := range truth {
		evs := r.snapshots[id]
		if len(evs) != 1 || evs[0].Version != v {
			if bad++; bad <= 5 {
				t.Errorf("customer %s: %d resync SNAPSHOT events %+v, want one of version %d", id, len(evs), evs, v)
			}
		}
	}
	if len(r.snapshots) != len(truth) {
		t.Errorf("%d customers have resync SNAPSHOT events, want %d", len(r.snapshots), len(truth))
	}
	t.Logf("%d customers, %d resync SNAPSHOT events checked, %d wrong", len(truth), len(r.snapshots), bad)
}

// TestResyncAsksTheRunningCovacdc: Cova restores a backup, so five
// customers' Versions go back and their next changes are dropped as stale.
// covacdc resync, with a covacdc running, asks it through the signal topic
// and says it was accepted; the running covacdc publishes every customer of
// the company once more as a SNAPSHOT of Cova's current record, the other
// company not at all, and from then on follows the lower Versions.
func TestResyncAsksTheRunningCovacdc(t *testing.T) {
	e := newTestEnv(t, covatest.Config{})
	ids := e.sim.Generate(1, 300)
	e.sim.Generate(2, 40)
	for range 4 { // Versions of 5 or more, to go back by 3
		for _, id := range ids[:5] {
			e.sim.ModifyID(1, id)
		}
	}
	p := start(t, passwordEnv(), e.runArgs("1,2", "--poll-interval", "300ms")...)
	testenv.Eventually(t, 60*time.Second, "both initial loads committed", func() bool {
		return e.companyState(t, 1).Cursor.InitialLoadComplete && e.companyState(t, 2).Cursor.InitialLoadComplete
	})

	restored := e.sim.RestoreBackup(1, 3, ids[:5]...)
	if len(restored) != 5 {
		t.Fatalf("restored %d customers, want 5", len(restored))
	}
	for _, id := range restored {
		e.sim.ModifyID(1, id) // two Versions below the published one
	}
	testenv.Eventually(t, 30*time.Second, "the restored customers' changes dropped as stale", func() bool {
		return strings.Contains(p.stderr.String(), "stale read")
	})

	r := start(t, nil, e.resyncArgs("1", "--cova-password", covatest.DefaultPassword)...)
	if code := r.wait(t, 90*time.Second); code != 0 {
		t.Fatalf("covacdc resync exited %d\nstdout:\n%s\nstderr:\n%s\nrun's stderr:\n%s", code, r.stdout, r.stderr, p.stderr)
	}
	out := r.stdout.String()
	for _, want := range []string{"resync resync-", "of company 1 (every customer) requested", "covacdc is running"} {
		if !strings.Contains(out, want) {
			t.Errorf("covacdc resync printed:\n%s\nwant %q in it", out, want)
		}
	}
	// A resync of 300 customers may be over by the time the command looks.
	if !strings.Contains(out, "accepted at") && !strings.Contains(out, "completed at") {
		t.Errorf("covacdc resync printed:\n%s\nwant it accepted or completed", out)
	}
	testenv.Eventually(t, 60*time.Second, "the resync completed", func() bool {
		cs := e.companyState(t, 1)
		return cs.Cursor.Resync == nil && cs.Cursor.LastResync != nil
	})
	checkResyncedOnce(t, resyncedEvents(e.readEvents(t, e.topic), 1), e.sim.Truth(1))
	if n := len(resyncedEvents(e.readEvents(t, e.topic), 2).snapshots); n != 0 {
		t.Errorf("company 2, not resynced, has %d resync SNAPSHOT events", n)
	}

	// The lower Versions are followed: the next change is published.
	e.sim.ModifyID(1, restored[0])
	want := e.sim.Truth(1)[restored[0]]
	testenv.Eventually(t, 30*time.Second, "the next change of a restored customer published", func() bool {
		for _, ev := range e.readEvents(t, e.topic) {
			if ev.CustomerID == restored[0] && ev.ChangeType == "UPDATED" && ev.Version == want {
				return true
			}
		}
		return false
	})
	p.signal(t, syscall.SIGTERM)
	if code := p.wait(t, 30*time.Second); code != 0 {
		t.Errorf("covacdc run exited %d on SIGTERM\n%s", code, p.stderr)
	}
	if !strings.Contains(p.stderr.String(), "resync completed") {
		t.Errorf("run's log has no \"resync completed\" line:\n%s", p.stderr)
	}
}

// TestResyncWithNoCovacdcRunningDoesItHere: with no covacdc running, covacdc
// resync of two customers does the work itself and exits 0 once it has
// committed: those two customers get a SNAPSHOT each, no other customer does.
func TestResyncWithNoCovacdcRunningDoesItHere(t *testing.T) {
	e := newTestEnv(t, covatest.Config{})
	ids := e.sim.Generate(1, 120)
	if p := start(t, passwordEnv(), e.runArgs("1", "--once")...); p.wait(t, 60*time.Second) != 0 {
		t.Fatalf("the initial load failed:\n%s", p.stderr)
	}
	r := start(t, passwordEnv(), e.resyncArgs("1", "--customer-id", ids[7]+","+strings.ToUpper(ids[9]))...)
	if code := r.wait(t, 90*time.Second); code != 0 {
		t.Fatalf("covacdc resync exited %d\nstdout:\n%s\nstderr:\n%s", code, r.stdout, r.stderr)
	}
	out := r.stdout.String()
	for _, want := range []string{"of company 1 (2 customers) requested", "no covacdc is running", "resyncing here", "completed at"} {
		if !strings.Contains(out, want) {
			t.Errorf("covacdc resync printed:\n%s\nwant %q in it", out, want)
		}
	}
	truth := e.sim.Truth(1)
	checkResyncedOnce(t, resyncedEvents(e.readEvents(t, e.topic), 1), map[string]int64{ids[7]: truth[ids[7]], ids[9]: truth[ids[9]]})
}

// TestResyncKilledHalfwayPublishesEachCustomerOnce kills covacdc (SIGKILL)
// while a resync of 1,500 customers has committed part of its SNAPSHOT
// events, then starts it again: the resync resumes, and every customer has
// exactly one resync SNAPSHOT in the end.
func TestResyncKilledHalfwayPublishesEachCustomerOnce(t *testing.T) {
	e := newTestEnv(t, covatest.Config{})
	e.sim.Generate(1, 1500)
	if p := start(t, passwordEnv(), e.runArgs("1", "--once")...); p.wait(t, 60*time.Second) != 0 {
		t.Fatalf("the initial load failed:\n%s", p.stderr)
	}
	// Slow pages and small transactions: the resync commits in many steps.
	e.sim.SetHazards(covatest.Hazards{Latency: 30 * time.Millisecond})
	slow := []string{"--page-size", "25", "--fetch-ahead", "1", "--max-events-per-transaction", "50", "--poll-interval", "300ms"}
	e.metrics = freeAddr(t)
	p := start(t, passwordEnv(), e.runArgs("1", slow...)...)
	testenv.Eventually(t, 30*time.Second, "the running covacdc joined its signal group", func() bool {
		return strings.Contains(p.stderr.String(), "scan committed")
	})
	r := start(t, passwordEnv(), e.resyncArgs("1")...)
	if code := r.wait(t, 90*time.Second); code != 0 {
		t.Fatalf("covacdc resync exited %d\nstdout:\n%s\nstderr:\n%s", code, r.stdout, r.stderr)
	}
	var halfway int
	testenv.Eventually(t, 60*time.Second, "300 customers resynced", func() bool {
		halfway = e.companyState(t, 1).Resynced
		return halfway >= 300
	})
	// The progress, as an operator without Kafka access sees it.
	_, raw, body := statusOf(t, e.metrics)
	companies, _ := raw["companies"].([]any)
	c1, _ := companies[0].(map[string]any)
	if r, ok := c1["resync"].(map[string]any); !ok || r["published"].(float64) < 300 || r["customers"] != nil {
		t.Errorf("GET /status during the resync: %s\nwant company 1's resync with 300 or more published, of every customer", body)
	}
	if m := scrape(t, e.metrics); !strings.Contains(m, `covacdc_resync_in_progress{company_id="1"} 1`) {
		t.Errorf("/metrics during the resync lacks covacdc_resync_in_progress{company_id=\"1\"} 1")
	}
	p.signal(t, syscall.SIGKILL)
	p.wait(t, 10*time.Second)
	cs := e.companyState(t, 1)
	if cs.Cursor.Resync == nil || cs.Resynced >= 1500 {
		t.Fatalf("killed at %d customers resynced (cursor %+v): want a resync under way", cs.Resynced, cs.Cursor)
	}
	t.Logf("killed with %d of 1500 customers resynced", cs.Resynced)
	// covacdc state shows it, from the state topic alone.
	var table bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := run(ctx, []string{"state", "--kafka-brokers", strings.Join(e.kafka.Brokers, ","), "--state-topic", e.state}, &table, io.Discard); err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("under way: %d customers published", cs.Resynced); !strings.Contains(table.String(), want) {
		t.Errorf("covacdc state printed:\n%s\nwant %q in it", table.String(), want)
	}

	e.sim.SetHazards(covatest.Hazards{})
	p = start(t, passwordEnv(), e.runArgs("1", "--poll-interval", "300ms")...)
	testenv.Eventually(t, 60*time.Second, "the resync completed after the restart", func() bool {
		cs := e.companyState(t, 1)
		return cs.Cursor.Resync == nil && cs.Cursor.LastResync != nil
	})
	p.signal(t, syscall.SIGTERM)
	p.wait(t, 30*time.Second)
	got := resyncedEvents(e.readEvents(t, e.topic), 1)
	checkResyncedOnce(t, got, e.sim.Truth(1))
	if got.others != 1500 {
		t.Errorf("%d events besides the resync's, want the initial load's 1500", got.others)
	}
}

// TestResyncFlagMistakes: what resync is asked is checked before anything is
// sent, each mistake naming its flag (and the variable it came from), exit 2.
func TestResyncFlagMistakes(t *testing.T) {
	for _, tc := range []struct {
		env  []string
		args []string
		want string
	}{
		{nil, nil, "covacdc: --company-id: required: the company to resync"},
		{nil, []string{"--company-id", "1,2"}, "covacdc: --company-id: resync takes one company, got 2"},
		{[]string{"COVACDC_COMPANY_ID=1,2,3"}, nil, "covacdc: --company-id (from COVACDC_COMPANY_ID): resync takes one company, got 3"},
		{nil, []string{"--company-id", "x"}, `covacdc: --company-id: must be a positive whole number, got "x"`},
		{nil, []string{"--company-id", "1", "--customer-id", "nope,45b95f03-9774-4302-9212-018ff0fd33b5"}, `covacdc: --customer-id: not a customer GUID: "nope"`},
		{nil, []string{"--company-id", "1", "--signal-topic", "covacdc.state"}, "covacdc: --signal-topic: the events, state, dead-letter and signal topics must differ"},
	} {
		p := start(t, tc.env, append([]string{"resync", "--kafka-brokers", "127.0.0.1:1"}, tc.args...)...)
		if code := p.wait(t, 30*time.Second); code != 2 || !strings.Contains(p.stderr.String(), tc.want) {
			t.Errorf("resync %q (env %q): exit %d, stderr %q; want 2 and %q", tc.args, tc.env, code, p.stderr, tc.want)
		}
	}
}
