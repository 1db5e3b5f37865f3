package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/covacdc/covacdc/internal/testenv"

	"github.com/covacdc/covacdc/poller/covatest"
	"github.com/covacdc/covacdc/state"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// stateOf runs covacdc state --json, once the state topic's transactions have
// ended, and returns the company's state.
func (e *testEnv) stateOf(t *testing.T, company int64) state.CompanyState {
	t.Helper()
	e.settled(t, e.state)
	p := start(t, nil, "state", "--kafka-brokers", strings.Join(e.kafka.Brokers, ","), "--state-topic", e.state, "--json")
	if code := p.wait(t, 30*time.Second); code != 0 {
		t.Fatalf("covacdc state: exit %d\nstderr:\n%s", code, p.stderr)
	}
	var cs []state.CompanyState
	if err := json.Unmarshal([]byte(p.stdout.String()), &cs); err != nil {
		t.Fatalf("covacdc state --json: %v\n%s", err, p.stdout)
	}
	for _, c := range cs {
		if c.CompanyID == company {
			return c
		}
	}
	return state.CompanyState{CompanyID: company}
}

// settled waits until no transaction is open on the topic: a broker writes the
// markers of a committed transaction after the commit returns, and until then
// a read_committed reader stops before its records.
func (e *testEnv) settled(t *testing.T, topic string) {
	t.Helper()
	cl, err := kgo.NewClient(e.kafka.Opts()...)
	if err != nil {
		t.Fatal(err)
	}
	adm := kadm.NewClient(cl)
	defer adm.Close()
	testenv.Eventually(t, 30*time.Second, "the transactions on "+topic+" to end", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		lso, err := adm.ListCommittedOffsets(ctx, topic)
		if err != nil || lso.Error() != nil {
			return false
		}
		hwm, err := adm.ListEndOffsets(ctx, topic)
		if err != nil || hwm.Error() != nil {
			return false
		}
		stable := true
		lso.Each(func(o kadm.ListedOffset) {
			if h, ok := hwm.Lookup(topic, o.Partition); !ok || h.Offset != o.Offset {
				stable = false
			}
		})
		return stable
	})
}

// TestOversizeCustomerKeepsTheCompanyMoving serves one customer with 3 MB of
// notes (its event is larger than a Kafka record may be) among normal ones:
// covacdc run --once publishes the others, puts a reference to it in the
// dead-letter topic, commits the cursor, and the next scan commits too.
func TestOversizeCustomerKeepsTheCompanyMoving(t *testing.T) {
	e := newTestEnv(t, covatest.Config{Seed: 5})
	e.sim.Generate(1, 50)
	const bigID = "0b16b16b-0000-4000-8000-00000000b16b"
	notes := make([]byte, 3<<20)
	r := rand.New(rand.NewPCG(3, 3))
	for i := range notes {
		notes[i] = "abcdefghijklmnopqrstuvwxyz0123456789"[r.IntN(36)]
	}
	lm := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	e.sim.AddRaw(1, bigID, lm, fmt.Sprintf(`{"Id":%q,"Version":4,"LastModifiedDateUtc":%q,"PrimaryName":"Big","Notes":%q}`,
		bigID, lm.Format("2006-01-02T15:04:05"), notes))
	args := append(e.runArgs("1"), "--once")

	for scan := int64(1); scan <= 2; scan++ {
		p := start(t, passwordEnv(), args...)
		if code := p.wait(t, 60*time.Second); code != 0 {
			t.Fatalf("scan %d: exit %d\nstderr:\n%s", scan, code, p.stderr)
		}
		if cs := e.stateOf(t, 1); !cs.HasCursor || cs.Cursor.Scans != scan {
			t.Fatalf("after scan %d the state is %+v: want its cursor committed by %d scans", scan, cs, scan)
		}
		if scan == 1 {
			e.sim.Modify(1, 5)
		}
	}
	e.settled(t, e.topic)
	e.settled(t, e.dlq)
	events := e.readEvents(t, e.topic)
	checkExactlyOnce(t, events, map[int64]map[string]int64{1: e.sim.Truth(1)})
	for _, ev := range events {
		if ev.CustomerID == bigID {
			t.Errorf("the oversize customer was published: %+v", ev)
		}
	}
	dead := e.readRecords(t, e.dlq)
	if len(dead) != 1 {
		t.Fatalf("%d dead letters, want 1", len(dead))
	}
	d := dead[0]
	var ref struct {
		Id         string
		Version    int64
		EventBytes int `json:"eventBytes"`
		LimitBytes int `json:"limitBytes"`
	}
	if err := json.Unmarshal(d.Value, &ref); err != nil {
		t.Fatalf("dead letter %.200q: %v", d.Value, err)
	}
	headers := map[string]string{}
	for _, h := range d.Headers {
		headers[h.Key] = string(h.Value)
	}
	if string(d.Key) != bigID || headers["covacdc-reason"] != "too_large" || ref.Id != bigID || ref.Version != 4 ||
		ref.EventBytes < 3<<20 || ref.LimitBytes != 1000012 {
		t.Errorf("dead letter key %q headers %v value %s: want a too_large reference to %s version 4", d.Key, headers, d.Value, bigID)
	}
	t.Logf("dead letter: %s; %s", d.Value, headers["covacdc-error"])
}

// TestMaxDeadLettersPerScan serves a scan more bad records than
// --max-dead-letters-per-scan: covacdc run --once exits 1 naming the flag, and
// the company's cursor does not move.
func TestMaxDeadLettersPerScan(t *testing.T) {
	e := newTestEnv(t, covatest.Config{})
	e.sim.Generate(1, 20)
	lm := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	for i := range 5 {
		e.sim.AddRaw(1, fmt.Sprintf("00000000-0000-4000-8000-%012d", i), lm,
			fmt.Sprintf(`{"Version":1,"LastModifiedDateUtc":%q,"PrimaryName":"no id %d"}`, lm.Format("2006-01-02T15:04:05"), i))
	}
	p := start(t, passwordEnv(), append(e.runArgs("1", "--max-dead-letters-per-scan", "3"), "--once")...)
	if code := p.wait(t, 60*time.Second); code != 1 {
		t.Fatalf("exit %d, want 1\nstderr:\n%s", code, p.stderr)
	}
	if got := lastLine(p.stderr.String()); !strings.Contains(got, "more than 3 (--max-dead-letters-per-scan)") {
		t.Errorf("last line %q does not name the flag and its value", got)
	}
	if cs := e.stateOf(t, 1); cs.HasCursor {
		t.Errorf("the cursor moved: %+v", cs)
	}
	p = start(t, passwordEnv(), append(e.runArgs("1", "--max-dead-letters-per-scan", "5"), "--once")...)
	if code := p.wait(t, 60*time.Second); code != 0 {
		t.Fatalf("with the flag at 5: exit %d\nstderr:\n%s", code, p.stderr)
	}
	e.settled(t, e.dlq)
	if n := len(e.readRecords(t, e.dlq)); n != 5 {
		t.Errorf("%d dead letters, want 5", n)
	}
}
