package publisher

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/covacdc/covacdc/schema"
	"github.com/covacdc/covacdc/state"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// logRecords is a slog handler that keeps what is logged.
type logRecords struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (h *logRecords) Enabled(context.Context, slog.Level) bool { return true }
func (h *logRecords) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *logRecords) WithGroup(string) slog.Handler            { return h }

func (h *logRecords) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.recs = append(h.recs, r.Clone())
	return nil
}

// lines returns the attributes of each record at level whose message starts
// with prefix, with the message under "msg".
func (h *logRecords) lines(level slog.Level, prefix string) []map[string]string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []map[string]string
	for _, r := range h.recs {
		if r.Level != level || !strings.HasPrefix(r.Message, prefix) {
			continue
		}
		m := map[string]string{"msg": r.Message}
		r.Attrs(func(a slog.Attr) bool {
			m[a.Key] = a.Value.String()
			return true
		})
		out = append(out, m)
	}
	return out
}

// TestStaleReadsAreLogged serves customers with Versions older than the
// published ones: each stale read is warned about with the customer, both
// Versions and the LastModifiedDateUtc read, at most once per company every 10
// seconds with a count of those not logged, and a stale read below an
// implausible published Version (as an older covacdc published int64's
// maximum) says how to get out.
func TestStaleReadsAreLogged(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	// The state an older covacdc left: int64's maximum published for customer 9.
	stuck, stuckID := guid(9)
	cl, err := kgo.NewClient(e.c.Opts()...)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := state.EnsureTopic(ctx, kadm.NewClient(cl), e.cfg.State); err != nil {
		t.Fatal(err)
	}
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: e.cfg.State.Topic,
		Key: state.AppendVersionKey(nil, e.company, stuckID), Value: state.AppendVersionValue(nil, 1<<63-1)}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	cl.Close()

	var now atomic.Int64
	now.Store(time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	logs := &logRecords{}
	p, err := New(ctx, e.cfg, WithEncoder(e.enc), WithLogger(slog.New(logs)), WithClock(func() time.Time { return time.Unix(0, now.Load()) }))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(ctx)
	id1, _ := guid(1)
	id2, _ := guid(2)
	for n, plan := range []scanPlan{
		{batches: [][]schema.Customer{{customer(1, 10), customer(2, 10)}}},
		{batches: [][]schema.Customer{{customer(1, 5), customer(2, 4)}}}, // one line, one read not logged
		{batches: [][]schema.Customer{{customer(2, 3)}}},                 // 11 s later: logged, with the count
		{batches: [][]schema.Customer{{customer(9, 3)}}},                 // below int64's maximum
	} {
		if n >= 2 {
			now.Add(int64(11 * time.Second))
		}
		if err := e.runScan(ctx, p, n, plan); err != nil {
			t.Fatalf("scan %d: %v", n, err)
		}
	}
	got := logs.lines(slog.LevelWarn, "stale read")
	want := []map[string]string{
		{"customer_id": id1, "version": "5", "published_version": "10", "last_modified": "2024-01-02T03:04:05Z", "suppressed": "0"},
		{"customer_id": id2, "version": "3", "published_version": "10", "last_modified": "2024-01-02T03:04:05Z", "suppressed": "1"},
		{"customer_id": stuck, "version": "3", "published_version": "9223372036854775807", "suppressed": "0"},
	}
	if len(got) != len(want) {
		t.Fatalf("%d stale-read warnings, want %d: %v", len(got), len(want), got)
	}
	for i, w := range want {
		for k, v := range w {
			if got[i][k] != v {
				t.Errorf("warning %d: %s=%q, want %q (%v)", i, k, got[i][k], v, got[i])
			}
		}
		if got[i]["company_id"] != "4242" {
			t.Errorf("warning %d: company_id %q", i, got[i]["company_id"])
		}
	}
	if msg := got[2]["msg"]; !strings.Contains(msg, "implausible") || !strings.Contains(msg, "README: Replay and resync") {
		t.Errorf("the warning below int64's maximum does not say the published Version is implausible and what to do: %q", msg)
	}
}

// TestImplausibleVersionsAreDeadLettered sends customers whose Version is 0,
// negative, above 2^53 and int64's maximum among normal ones: they go to the
// dead-letter topic (reason version) rather than out as events, and a later
// real Version of the int64-maximum one is published.
func TestImplausibleVersionsAreDeadLettered(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	reg := prometheus.NewRegistry()
	p := e.open(reg)
	ctx := context.Background()
	bad := map[int]int64{1: 0, 2: -3, 3: 1<<53 + 1, 4: 1<<63 - 1}
	var cs []schema.Customer
	for i := range 6 {
		v, ok := bad[i]
		if !ok {
			v = 2
		}
		cs = append(cs, customer(i, v))
	}
	for n, plan := range []scanPlan{
		{batches: [][]schema.Customer{cs}},
		{batches: [][]schema.Customer{{customer(4, 7)}}},
	} {
		if err := e.runScan(ctx, p, n, plan); err != nil {
			t.Fatalf("scan %d: %v", n, err)
		}
	}
	var events []string
	for _, r := range readCommitted(t, e.c, e.cfg.Topic) {
		ev := decodeTest(t, r)
		events = append(events, fmt.Sprintf("%s@%d", ev.ID, ev.Version))
	}
	id0, _ := guid(0)
	id4, _ := guid(4)
	id5, _ := guid(5)
	if want := []string{id0 + "@2", id5 + "@2", id4 + "@7"}; !sameSet(events, want) {
		t.Errorf("events %v, want %v", events, want)
	}
	dl := readCommitted(t, e.c, e.cfg.DLQTopic)
	keys := map[string]bool{}
	for _, r := range dl {
		if header(r, HeaderReason) != "version" {
			t.Errorf("dead letter %s: reason %q, want version", r.Key, header(r, HeaderReason))
		}
		keys[string(r.Key)] = true
	}
	for i := range bad {
		if id, _ := guid(i); !keys[id] {
			t.Errorf("no dead letter for customer %s with Version %d", id, bad[i])
		}
	}
	if len(dl) != len(bad) {
		t.Errorf("%d dead letters, want %d", len(dl), len(bad))
	}
	if got := testutil.ToFloat64(p.m.deadLetters.WithLabelValues("4242", "version")); got != float64(len(bad)) {
		t.Errorf("covacdc_dead_letters_total{reason=version} = %v, want %d", got, len(bad))
	}
}

func sameSet(a, b []string) bool {
	m := map[string]int{}
	for _, s := range a {
		m[s]++
	}
	for _, s := range b {
		m[s]--
	}
	for _, n := range m {
		if n != 0 {
			return false
		}
	}
	return len(a) == len(b)
}
