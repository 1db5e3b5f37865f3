package publisher

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/covacdc/covacdc/internal/testenv"

	"github.com/covacdc/covacdc/poller"
	"github.com/covacdc/covacdc/publisher/kafkatest"
	"github.com/covacdc/covacdc/schema"
	"github.com/covacdc/covacdc/state"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

var badRecord = poller.RecordError{
	Raw:    json.RawMessage(`{"Id":null,"Version":3,"PrimaryName":"No Id"}`),
	Reason: "missing_id",
	Err:    errors.New("customer has no Id"),
}

// scanPlan is what the source serves in one scan, batch by batch.
type scanPlan struct {
	batches [][]schema.Customer
	invalid []poller.RecordError // served with the first batch
	since   time.Time            // the cursor the scan's completion writes
}

func batchesOf(cs []schema.Customer, n int) [][]schema.Customer {
	var out [][]schema.Customer
	for len(cs) > n {
		out = append(out, cs[:n])
		cs = cs[n:]
	}
	return append(out, cs)
}

// plans: an initial load of 30 customers, then a scan where 10 changed, 5 are
// unchanged, 5 come back with an older Version and 5 are new. Both serve the
// same bad record.
func plans() []scanPlan {
	var a, b []schema.Customer
	for i := range 30 {
		a = append(a, customer(i, 10))
	}
	for i := range 10 {
		b = append(b, customer(i, 20))
	}
	for i := 10; i < 15; i++ {
		b = append(b, customer(i, 10))
	}
	for i := 15; i < 20; i++ {
		b = append(b, customer(i, 5))
	}
	for i := 30; i < 35; i++ {
		b = append(b, customer(i, 1))
	}
	base := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	return []scanPlan{
		{batches: batchesOf(a, 10), invalid: []poller.RecordError{badRecord}, since: base},
		{batches: batchesOf(b, 10), invalid: []poller.RecordError{badRecord}, since: base.Add(time.Hour)},
	}
}

// want is every (customer, version, change type) the plans serve as a change.
func wantEvents() map[string][]string {
	w := map[string][]string{}
	add := func(n int, v int64, typ string) {
		id, _ := guid(n)
		w[id] = append(w[id], fmt.Sprintf("%d:%s", v, typ))
	}
	for i := range 30 {
		add(i, 10, "SNAPSHOT")
	}
	for i := range 10 {
		add(i, 20, "UPDATED")
	}
	for i := 30; i < 35; i++ {
		add(i, 1, "CREATED")
	}
	return w
}

func (e *env) batch(cs []schema.Customer, invalid []poller.RecordError, scanID string) poller.Batch {
	inv := slices.Clone(invalid)
	for i := range inv {
		inv[i].CompanyID = e.company
	}
	return poller.Batch{CompanyID: e.company, ScanID: scanID, Customers: cs, Invalid: inv}
}

// runScan serves plan to p and completes the scan.
func (e *env) runScan(ctx context.Context, p *Publisher, n int, plan scanPlan) error {
	scanID := fmt.Sprintf("scan-%d", n)
	s := p.BeginScan(e.company, scanID, schema.Source{System: "cova", ScanID: scanID})
	for i, cs := range plan.batches {
		var inv []poller.RecordError
		if i == 0 {
			inv = plan.invalid
		}
		if err := s.Publish(ctx, e.batch(cs, inv, scanID)); err != nil {
			s.Abandon()
			return err
		}
	}
	return s.Complete(ctx, plan.since, time.Time{})
}

// checkTopic asserts that the events topic holds every served change exactly
// once, in increasing Version order per customer, and the one dead letter.
func (e *env) checkTopic() {
	t := e.t
	got := map[string][]string{}
	for _, r := range readCommitted(t, e.c, e.cfg.Topic) {
		ev := decodeTest(t, r)
		got[ev.ID] = append(got[ev.ID], fmt.Sprintf("%d:%s", ev.Version, ev.Type))
	}
	want := wantEvents()
	for id, w := range want {
		if !slices.Equal(got[id], w) {
			t.Errorf("customer %s: events %v, want %v (each served version once, in order)", id, got[id], w)
		}
	}
	for id, g := range got {
		if want[id] == nil {
			t.Errorf("unexpected events of customer %s: %v", id, g)
		}
	}
	dl := readCommitted(t, e.c, e.cfg.DLQTopic)
	if len(dl) != 1 || string(dl[0].Value) != string(badRecord.Raw) {
		t.Errorf("dead letters: got %d records, want the bad record once", len(dl))
	}
}

// TestCrashAnywhereRestartPublishesExactlyOnce kills a publisher at every point
// of a scan (initial load and incremental), restarts one with the same
// transactional id from its restored cursor and serves the same batches again.
func TestCrashAnywhereRestartPublishesExactlyOnce(t *testing.T) {
	points := []string{
		"before producing",
		"mid-produce",
		"after produce before commit",
		"after commit before cursor",
		"after cursor",
		"context cancelled mid-transaction",
	}
	for _, crashScan := range []int{0, 1} {
		for _, point := range points {
			t.Run(fmt.Sprintf("scan %d %s", crashScan, point), func(t *testing.T) {
				t.Parallel()
				e := newEnv(t)
				ps := plans()
				ctx := context.Background()
				p1 := e.open(nil)
				for n := range crashScan {
					if err := e.runScan(ctx, p1, n, ps[n]); err != nil {
						t.Fatalf("scan %d: %v", n, err)
					}
				}
				plan := ps[crashScan]
				scanID := fmt.Sprintf("scan-%d", crashScan)
				s := p1.BeginScan(e.company, scanID, schema.Source{ScanID: scanID})
				publish := func(ctx context.Context, i int) error {
					var inv []poller.RecordError
					if i == 0 {
						inv = plan.invalid
					}
					return s.Publish(ctx, e.batch(plan.batches[i], inv, scanID))
				}
				completed := false
				switch point {
				case "before producing":
				case "mid-produce":
					if err := publish(ctx, 0); err != nil {
						t.Fatal(err)
					}
				case "after produce before commit":
					for i := range plan.batches {
						if err := publish(ctx, i); err != nil {
							t.Fatal(err)
						}
					}
					if err := p1.cl.Flush(ctx); err != nil {
						t.Fatal(err)
					}
				case "after commit before cursor":
					for i := range plan.batches {
						if err := publish(ctx, i); err != nil {
							t.Fatal(err)
						}
					}
					p1.txnMu.Lock()
					err := p1.endTxn(ctx, true)
					p1.txnMu.Unlock()
					if err != nil {
						t.Fatal(err)
					}
				case "after cursor":
					for i := range plan.batches {
						if err := publish(ctx, i); err != nil {
							t.Fatal(err)
						}
					}
					if err := s.Complete(ctx, plan.since, time.Time{}); err != nil {
						t.Fatal(err)
					}
					completed = true
				case "context cancelled mid-transaction":
					cctx, cancel := context.WithCancel(ctx)
					if err := publish(cctx, 0); err != nil {
						t.Fatal(err)
					}
					cancel()
					if err := publish(cctx, 1); !errors.Is(err, context.Canceled) {
						t.Fatalf("Publish with a cancelled context: %v, want context.Canceled", err)
					}
				}
				p1.crash()

				p2 := e.open(nil)
				cur := p2.Cursor(e.company)
				wantScans := int64(crashScan)
				if completed {
					wantScans++
				}
				if cur.Scans != wantScans {
					t.Fatalf("restored cursor has %d scans, want %d", cur.Scans, wantScans)
				}
				if wantScans > 0 && !cur.Since.Equal(ps[wantScans-1].since) {
					t.Fatalf("restored cursor since %v, want %v", cur.Since, ps[wantScans-1].since)
				}
				if cur.InitialLoadComplete != (wantScans > 0) {
					t.Fatalf("restored cursor InitialLoadComplete=%v after %d scans", cur.InitialLoadComplete, wantScans)
				}
				for n := int(wantScans); n < len(ps); n++ {
					if err := e.runScan(ctx, p2, n, ps[n]); err != nil {
						t.Fatalf("scan %d after restart: %v", n, err)
					}
				}
				if err := p2.Close(ctx); err != nil {
					t.Fatal(err)
				}
				e.checkTopic()
			})
		}
	}
}

// TestAbortFailsScanAndRetryIsExactlyOnce aborts a transaction holding a scan's
// events: the scan cannot complete, the cursor stays, and scanning again from it
// publishes every change once.
func TestAbortFailsScanAndRetryIsExactlyOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.cfg.MaxEventsPerTransaction = 1000
	ctx := context.Background()
	p := e.open(nil)
	ps := plans()
	s := p.BeginScan(e.company, "scan-0", schema.Source{})
	if err := s.Publish(ctx, e.batch(ps[0].batches[0], ps[0].invalid, "scan-0")); err != nil {
		t.Fatal(err)
	}
	p.txnMu.Lock()
	err := p.endTxn(ctx, false)
	p.txnMu.Unlock()
	if err == nil {
		t.Fatal("abort returned no error")
	}
	if err := s.Complete(ctx, ps[0].since, time.Time{}); !errors.Is(err, ErrScanAborted) {
		t.Fatalf("Complete after an abort: %v, want ErrScanAborted", err)
	}
	if cur := p.Cursor(e.company); cur.Scans != 0 {
		t.Fatalf("cursor moved after an aborted scan: %+v", cur)
	}
	for n, plan := range ps {
		if err := e.runScan(ctx, p, n, plan); err != nil {
			t.Fatalf("scan %d: %v", n, err)
		}
	}
	e.checkTopic()
}

// TestFencedByNewerInstance starts a second publisher with the same
// transactional id while the first has a transaction open: what the first
// returns then matches both ErrFenced and the broker's error.
func TestFencedByNewerInstance(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.cfg.MaxEventsPerTransaction = 1000
	ctx := context.Background()
	reg := prometheus.NewRegistry()
	old := e.open(reg)
	ps := plans()
	s := old.BeginScan(e.company, "scan-0", schema.Source{})
	if err := s.Publish(ctx, e.batch(ps[0].batches[0], ps[0].invalid, "scan-0")); err != nil {
		t.Fatal(err)
	}

	p := e.open(nil)

	err := s.Complete(ctx, ps[0].since, time.Time{})
	if !errors.Is(err, ErrFenced) || fencedCause(err) == nil {
		t.Fatalf("Complete of the older instance: %v; want ErrFenced and the broker's error (ProducerFenced, InvalidProducerEpoch or TransactionalIDNotFound) among its causes", err)
	}
	if !strings.Contains(err.Error(), "another instance") || !strings.Contains(err.Error(), e.cfg.TransactionalID) {
		t.Fatalf("fenced error %q does not say another instance took over the transactional id", err)
	}
	s2 := old.BeginScan(e.company+1, "scan-x", schema.Source{})
	if err := s2.Publish(ctx, poller.Batch{CompanyID: e.company + 1, Customers: []schema.Customer{customer(99, 1)}}); !errors.Is(err, ErrFenced) || fencedCause(err) == nil {
		t.Fatalf("Publish after fencing: %v; want ErrFenced and the broker's error among its causes", err)
	}
	if got := testutil.ToFloat64(old.m.txns.WithLabelValues("fenced")); got != 1 {
		t.Fatalf("covacdc_transactions_total{outcome=fenced} = %v, want 1", got)
	}
	if err := old.Close(ctx); err != nil {
		t.Fatalf("Close of a fenced publisher: %v", err)
	}

	for n, plan := range ps {
		if err := e.runScan(ctx, p, n, plan); err != nil {
			t.Fatalf("scan %d: %v", n, err)
		}
	}
	e.checkTopic()
}

// TestFencedBetweenTransactions fences a publisher with no transaction open: its
// next transaction fails and writes nothing.
func TestFencedBetweenTransactions(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	old := e.open(nil)
	e.open(nil)
	err := e.runScan(ctx, old, 0, plans()[0])
	if !errors.Is(err, ErrFenced) {
		t.Fatalf("scan on a fenced publisher: %v, want ErrFenced", err)
	}
	if n := len(readCommitted(t, e.c, e.cfg.Topic)); n != 0 {
		t.Fatalf("a fenced publisher committed %d events", n)
	}
}

// TestStateTopicNotCompactedIsRefused refuses a state topic that would forget.
func TestStateTopicNotCompactedIsRefused(t *testing.T) {
	t.Parallel()
	for name, policy := range map[string]string{"delete": "delete", "compact-and-delete": "compact,delete"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			cl, err := kgo.NewClient(e.c.Opts()...)
			if err != nil {
				t.Fatal(err)
			}
			defer cl.Close()
			ctx := context.Background()
			resp, err := kadm.NewClient(cl).CreateTopic(ctx, 1, -1, map[string]*string{"cleanup.policy": &policy}, e.cfg.State.Topic)
			if err == nil {
				err = resp.Err
			}
			if err != nil {
				t.Fatal(err)
			}
			p, err := New(ctx, e.cfg, WithEncoder(e.enc))
			if err == nil {
				p.Close(ctx)
				t.Fatalf("New accepted a state topic with cleanup.policy=%s", policy)
			}
			if !errors.Is(err, state.ErrNotCompacted) {
				t.Fatalf("New: %v, want ErrNotCompacted", err)
			}
			for _, want := range []string{e.cfg.State.Topic, policy, "cleanup.policy=compact"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not mention %q", err, want)
				}
			}
		})
	}
}

// TestMissingStateTopicIsRefused starts a publisher whose state topic is gone
// while its events topic holds events: it refuses, rather than publish every
// customer a second time, unless AllowNewStateTopic says that is the intent.
func TestMissingStateTopicIsRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	p := e.open(nil)
	cs := []schema.Customer{customer(1, 1), customer(2, 1), customer(3, 1)}
	if err := e.runScan(ctx, p, 1, scanPlan{batches: [][]schema.Customer{cs}}); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}

	e.cfg.State.Topic = kafkatest.Name(t, "state-lost") // as if deleted, or mistyped
	p2, err := New(ctx, e.cfg, WithEncoder(e.enc))
	if err == nil {
		p2.Close(ctx)
		t.Fatal("New started on a missing state topic while the events topic holds events")
	}
	if !errors.Is(err, ErrStateMissing) {
		t.Fatalf("New: %v, want ErrStateMissing", err)
	}
	for _, want := range []string{e.cfg.State.Topic, e.cfg.Topic, "is not empty", "--allow-new-state-topic"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}

	e.cfg.AllowNewStateTopic = true
	p3 := e.open(nil)
	if got := len(p3.Companies()); got != 0 {
		t.Errorf("new state holds %d companies, want none", got)
	}
}

// TestDeadLetters sends undecodable and unencodable records to the dead-letter
// topic with their raw JSON and headers, once, with the events in one transaction.
func TestDeadLetters(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	bad, _ := guid(7)
	e.enc = testEncoder{fail: map[string]bool{bad: true}}
	reg := prometheus.NewRegistry()
	p := e.open(reg)
	ctx := context.Background()
	other := poller.RecordError{Raw: json.RawMessage(`{"Id":"x","Version":"seven"}`), Reason: "bad_type", Err: errors.New("Version: not a number")}
	cs := []schema.Customer{customer(6, 1), customer(7, 1), customer(8, 1)}
	for n := range 2 { // the second scan re-reads the same records
		scanID := fmt.Sprintf("scan-%d", n)
		s := p.BeginScan(e.company, scanID, schema.Source{ScanID: scanID})
		if err := s.Publish(ctx, e.batch(cs, []poller.RecordError{badRecord, other}, scanID)); err != nil {
			t.Fatal(err)
		}
		if err := s.Complete(ctx, time.Time{}, time.Time{}); err != nil {
			t.Fatal(err)
		}
	}
	dl := readCommitted(t, e.c, e.cfg.DLQTopic)
	if len(dl) != 3 {
		t.Fatalf("dead-letter topic holds %d records, want 3 (each bad record once)", len(dl))
	}
	byReason := map[string]*kgo.Record{}
	for _, r := range dl {
		byReason[header(r, HeaderReason)] = r
		if h := header(r, HeaderCompanyID); h != "4242" {
			t.Errorf("dead letter %s: company header %q", r.Value, h)
		}
		if h := header(r, HeaderScanID); h != "scan-0" {
			t.Errorf("dead letter %s: scan header %q, want scan-0", r.Value, h)
		}
	}
	for _, c := range []struct{ reason, raw, err string }{
		{"missing_id", string(badRecord.Raw), "customer has no Id"},
		{"bad_type", string(other.Raw), "Version: not a number"},
		{"encode", "", "field out of range"},
	} {
		r := byReason[c.reason]
		if r == nil {
			t.Errorf("no dead letter with reason %s", c.reason)
			continue
		}
		if c.raw != "" && string(r.Value) != c.raw {
			t.Errorf("dead letter %s: value %s, want the raw record %s", c.reason, r.Value, c.raw)
		}
		if !strings.Contains(header(r, HeaderError), c.err) {
			t.Errorf("dead letter %s: error header %q, want %q", c.reason, header(r, HeaderError), c.err)
		}
	}
	if r := byReason["encode"]; r != nil {
		back, err := poller.DecodeCustomer(r.Value)
		if err != nil || back.Id != bad || back.Version != 1 || string(r.Key) != bad {
			t.Errorf("encode dead letter: key %q value %s does not hold customer %s", r.Key, r.Value, bad)
		}
	}
	if n := len(readCommitted(t, e.c, e.cfg.Topic)); n != 2 {
		t.Errorf("events topic holds %d events, want 2", n)
	}
	if got := testutil.ToFloat64(p.m.deadLetters.WithLabelValues("4242", "missing_id")); got != 1 {
		t.Errorf("covacdc_dead_letters_total{reason=missing_id} = %v, want 1", got)
	}
}

// TestMetricsAndBoundedTransactions checks the publisher's metrics after a
// known sequence, and that transactions hold at most MaxEventsPerTransaction.
func TestMetricsAndBoundedTransactions(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.cfg.MaxEventsPerTransaction = 5
	now := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	reg := prometheus.NewRegistry()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	p, err := New(ctx, e.cfg, WithEncoder(e.enc), WithRegisterer(reg), WithClock(func() time.Time { return now }))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(ctx)
	ps := plans()
	if err := e.runScan(ctx, p, 0, ps[0]); err != nil { // 30 events + 1 dead letter: 6 full transactions and the cursor's
		t.Fatal(err)
	}
	if err := e.runScan(ctx, p, 1, ps[1]); err != nil { // 15 events: 3 full transactions and the cursor's
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		c    prometheus.Collector
		want float64
	}{
		{"events SNAPSHOT", p.m.events.WithLabelValues("4242", "SNAPSHOT"), 30},
		{"events UPDATED", p.m.events.WithLabelValues("4242", "UPDATED"), 10},
		{"events CREATED", p.m.events.WithLabelValues("4242", "CREATED"), 5},
		{"unchanged", p.m.unchanged.WithLabelValues("4242"), 5},
		{"stale", p.m.stale.WithLabelValues("4242"), 5},
		{"transactions committed", p.m.txns.WithLabelValues("committed"), 7 + 4},
	} {
		if got := testutil.ToFloat64(c.c); got != c.want {
			t.Errorf("%s = %v, want %v", c.name, got, c.want)
		}
	}
	want := `
# HELP covacdc_cursor_timestamp_seconds The company cursor's Since (where its next scan starts, the lookback before the last scan's start), as a Unix time; 0 for the beginning.
# TYPE covacdc_cursor_timestamp_seconds gauge
covacdc_cursor_timestamp_seconds{company_id="4242"} 1.7145252e+09
# HELP covacdc_lag_seconds How stale the company's events may be: now minus the start, on Cova's clock, of its last committed scan, which published every change made before it (about the poll interval plus a scan's duration when healthy; the cursor's lookback is not counted). Before its first committed scan: since covacdc started.
# TYPE covacdc_lag_seconds gauge
covacdc_lag_seconds{company_id="4242"} 39600
# HELP covacdc_last_success_timestamp_seconds When the company's last scan committed, as a Unix time; 0 before its first.
# TYPE covacdc_last_success_timestamp_seconds gauge
covacdc_last_success_timestamp_seconds{company_id="4242"} 1.7145648e+09
# HELP covacdc_tracked_customers Customers with a published Version.
# TYPE covacdc_tracked_customers gauge
covacdc_tracked_customers{company_id="4242"} 35
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "covacdc_cursor_timestamp_seconds",
		"covacdc_lag_seconds", "covacdc_last_success_timestamp_seconds", "covacdc_tracked_customers"); err != nil {
		t.Error(err)
	}
}

// TestCloseAbortsOpenTransaction closes with a transaction open: nothing of it
// becomes visible, and Close is safe twice.
func TestCloseAbortsOpenTransaction(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.cfg.MaxEventsPerTransaction = 1000
	ctx := context.Background()
	p := e.open(nil)
	s := p.BeginScan(e.company, "scan-0", schema.Source{})
	if err := s.Publish(ctx, e.batch(plans()[0].batches[0], nil, "scan-0")); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := p.Close(ctx); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := s.Complete(ctx, time.Time{}, time.Time{}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Complete after Close: %v, want ErrClosed", err)
	}
	if n := len(readCommitted(t, e.c, e.cfg.Topic)); n != 0 {
		t.Fatalf("%d events of an aborted transaction are visible", n)
	}
	p2 := e.open(nil)
	if cur := p2.Cursor(e.company); cur.Scans != 0 || !cur.Since.Equal(e.cfg.StartFrom) {
		t.Fatalf("cursor after an aborted scan: %+v", cur)
	}
}

// TestAgedTransactionCommits commits a transaction a slow scan leaves open.
func TestAgedTransactionCommits(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.cfg.MaxEventsPerTransaction = 1000
	e.cfg.MaxTransactionAge = 100 * time.Millisecond
	ctx := context.Background()
	p := e.open(nil)
	s := p.BeginScan(e.company, "scan-0", schema.Source{})
	if err := s.Publish(ctx, e.batch(plans()[0].batches[0], nil, "scan-0")); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 20*time.Second, "the open transaction to be committed", func() bool {
		p.txnMu.Lock()
		defer p.txnMu.Unlock()
		return !p.txn.open
	})
	if n := len(readCommitted(t, e.c, e.cfg.Topic)); n != 10 {
		t.Fatalf("%d events visible, want 10", n)
	}
	if err := s.Complete(ctx, time.Time{}, time.Time{}); err != nil {
		t.Fatal(err)
	}
}

// batchCodecs records the compression of every batch produced to topic.
type batchCodecs struct {
	topic string
	mu    sync.Mutex
	seen  map[uint8]int
}

func (h *batchCodecs) OnProduceBatchWritten(_ kgo.BrokerMetadata, topic string, _ int32, m kgo.ProduceBatchMetrics) {
	if topic != h.topic {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.seen[m.CompressionType]++
}

// TestCompression checks that the events are written in batches of the
// configured compression, that consumers read them back, and that an unknown
// name is refused.
func TestCompression(t *testing.T) {
	t.Parallel()
	// The codec numbers of the record batch attributes (Kafka's protocol).
	for name, codec := range map[string]uint8{"none": 0, "gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4} {
		t.Run("compression="+name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			hook := &batchCodecs{topic: e.cfg.Topic, seen: map[uint8]int{}}
			e.cfg.KafkaOpts = append(e.cfg.KafkaOpts, kgo.WithHooks(hook))
			e.cfg.Compression = name
			p := e.open(prometheus.NewRegistry())
			// New's fence wrote one-record batches, aborted, that kgo
			// sends uncompressed: only the events count.
			hook.mu.Lock()
			clear(hook.seen)
			hook.mu.Unlock()
			ctx := context.Background()
			var cs []schema.Customer
			for n := range 20 {
				cs = append(cs, customer(n, 1))
			}
			s := p.BeginScan(e.company, "scan", schema.Source{ScanID: "scan"})
			if err := s.Publish(ctx, e.batch(cs, nil, "scan")); err != nil {
				t.Fatal(err)
			}
			if err := s.Complete(ctx, time.Time{}, time.Time{}); err != nil {
				t.Fatal(err)
			}
			if got := readCommitted(t, e.c, e.cfg.Topic); len(got) != 20 {
				t.Fatalf("read %d events back, want 20", len(got))
			}
			hook.mu.Lock()
			defer hook.mu.Unlock()
			if len(hook.seen) != 1 || hook.seen[codec] == 0 {
				t.Errorf("batches by compression codec %v, want all of codec %d", hook.seen, codec)
			}
		})
	}
	cfg := DefaultConfig()
	cfg.KafkaOpts = []kgo.Opt{kgo.SeedBrokers("127.0.0.1:1")}
	cfg.Compression = "brotli"
	if err := cfg.Validate(); err == nil || err.Error() != `Compression: must be one of none, gzip, snappy, lz4, zstd, got "brotli"` {
		t.Errorf("Validate with compression brotli: %v", err)
	}
}
