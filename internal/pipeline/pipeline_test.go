package pipeline

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/covacdc/covacdc/internal/testenv"
	"github.com/covacdc/covacdc/poller"
	"github.com/covacdc/covacdc/poller/covatest"
	"github.com/covacdc/covacdc/publisher"
	"github.com/covacdc/covacdc/publisher/kafkatest"
	"github.com/covacdc/covacdc/schema"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kgo"
)

// parts are a pipeline's parts against the Cova simulator and a test cluster.
type parts struct {
	sim    *covatest.Server
	kafka  *kafkatest.Cluster
	topic  string
	client *poller.Client
	pub    *publisher.Publisher
	health *Health
	reg    *prometheus.Registry
	logs   *lockedBuffer
	log    *slog.Logger // writes to logs
}

// lockedBuffer is a log's buffer, written by the pipeline's goroutines and
// read by the test.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (l *lockedBuffer) Reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.b.Reset()
}

// newParts starts a simulator whose companies ids hold customers each, and
// the client, restored publisher and health of a pipeline of them; password
// is the Cova password the client is given.
func newParts(t *testing.T, ids []int64, customers int, password string) *parts {
	t.Helper()
	sim := covatest.NewServer(covatest.Config{})
	t.Cleanup(sim.Close)
	for _, id := range ids {
		sim.Generate(id, customers)
	}
	p := &parts{sim: sim, kafka: kafkatest.New(t), topic: kafkatest.Name(t, "events"), reg: prometheus.NewRegistry(), logs: &lockedBuffer{}}
	p.log = slog.New(slog.NewTextHandler(p.logs, nil))
	log := p.log

	pcfg := poller.DefaultConfig()
	pcfg.BaseURL, pcfg.TokenURL = sim.BaseURL(), sim.TokenURL()
	pcfg.ClientID, pcfg.ClientSecret = covatest.DefaultClientID, covatest.DefaultClientSecret
	pcfg.Username, pcfg.Password = covatest.DefaultUsername, password
	pcfg.RequestsPerMinute = 60000
	pcfg.InitialBackoff, pcfg.MaxBackoff = time.Millisecond, 10*time.Millisecond
	client, err := poller.New(pcfg, poller.WithLogger(log), poller.WithCompanies(ids...))
	if err != nil {
		t.Fatal(err)
	}
	p.client = client

	kcfg := publisher.DefaultConfig()
	kcfg.KafkaOpts = p.kafka.Opts()
	kcfg.Topic, kcfg.DLQTopic = p.topic, kafkatest.Name(t, "dlq")
	kcfg.State.Topic = kafkatest.Name(t, "state")
	kcfg.TransactionalID = kafkatest.Name(t, "txn")
	kcfg.TopicPartitions = 3
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pub, err := publisher.New(ctx, kcfg, publisher.WithLogger(log), publisher.WithCompanies(ids...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = pub.Close(cctx) // the test's assertions are made; a failed close changes none
	})
	p.pub = pub
	p.health = NewHealth(time.Second, ids, p.reg)
	p.health.SetRestored(nil, pub.Companies)
	return p
}

// pipeline is a pipeline of the parts.
func (p *parts) pipeline(ids []int64, interval time.Duration, once bool) *Pipeline {
	return New(Config{CompanyIDs: ids, PollInterval: interval, Once: once, EndpointBase: "/crm", TransactionalID: "txn"},
		p.client, p.pub, p.health, p.log)
}

// committedEvents reads the events topic with read_committed until want
// events are read (or 20 s pass) and counts them by customer id.
func (p *parts) committedEvents(t *testing.T, want int) map[string]int {
	t.Helper()
	cl, err := kgo.NewClient(append(p.kafka.Opts(), kgo.ConsumeTopics(p.topic), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	dec, err := schema.NewDecoder(nil)
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for n := 0; n < want && ctx.Err() == nil; {
		fs := cl.PollFetches(ctx)
		fs.EachRecord(func(r *kgo.Record) {
			var ev schema.CustomerChanged
			if err := dec.Decode(ctx, r.Value, &ev); err != nil {
				t.Errorf("event at partition %d offset %d: %v", r.Partition, r.Offset, err)
				return
			}
			counts[ev.CustomerID]++
			n++
		})
	}
	return counts
}

// pipelineGoroutines lists the goroutines running the pipeline's code, but
// for the tests' own.
func pipelineGoroutines() []string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var out []string
	for g := range strings.SplitSeq(string(buf), "\n\n") {
		if strings.Contains(g, "covacdc/internal/pipeline.") && !strings.Contains(g, "covacdc/internal/pipeline.Test") {
			out = append(out, g)
		}
	}
	return out
}

// checkNoGoroutinesLeft fails the test if goroutines of the pipeline still
// run 1 s after Run returned. A goroutine Run waited for may still be on its
// way out (past its WaitGroup's Done) for a moment; one it did not wait for
// and that keeps working is what this catches.
func checkNoGoroutinesLeft(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(time.Second)
	left := pipelineGoroutines()
	for len(left) > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
		left = pipelineGoroutines()
	}
	if len(left) > 0 {
		t.Errorf("1 s after Run returned, %d goroutines of its own run:\n%s", len(left), strings.Join(left, "\n\n"))
	}
}

// TestOncePublishesEveryCompanyAndJoinsItsGoroutines runs two companies'
// initial loads with Once: Run returns nil with every customer published
// once, both cursors committed, the scans timed, and no goroutine of its own
// left running.
func TestOncePublishesEveryCompanyAndJoinsItsGoroutines(t *testing.T) {
	ids := []int64{1, 2}
	p := newParts(t, ids, 250, covatest.DefaultPassword)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := p.pipeline(ids, time.Hour, true).Run(ctx); err != nil {
		t.Fatalf("Run: %v\nlogs:\n%s", err, p.logs)
	}
	checkNoGoroutinesLeft(t)
	counts := p.committedEvents(t, 500)
	if len(counts) != 500 {
		t.Errorf("%d customers published, want 500", len(counts))
	}
	for id, n := range counts {
		if n != 1 {
			t.Errorf("customer %s published %d times", id, n)
		}
	}
	for _, id := range ids {
		if cur := p.pub.Cursor(id); !cur.InitialLoadComplete || cur.Scans != 1 {
			t.Errorf("company %d: cursor %+v, want the initial load complete after 1 scan", id, cur)
		}
	}
	if n := testutil.CollectAndCount(p.reg, "covacdc_scan_duration_seconds"); n != 4 {
		t.Errorf("%d scan duration series, want 4 (2 companies x ok, error)", n)
	}
	if got := strings.Count(p.logs.String(), "msg=\"scan committed\""); got != 2 {
		t.Errorf("%d \"scan committed\" lines, want one per company:\n%s", got, p.logs)
	}
}

// TestCancelStopsEveryScanAndTheReadinessWatch runs until a company's first
// scan committed and covacdc_ready is 1, then cancels while the readiness
// watch is inside a Kafka ping that takes 150 ms to notice: Run returns nil
// only once that ping has returned (none of its goroutines is left), and
// covacdc_ready is 0.
func TestCancelStopsEveryScanAndTheReadinessWatch(t *testing.T) {
	ids := []int64{1}
	p := newParts(t, ids, 50, covatest.DefaultPassword)
	var slow, pinging atomic.Bool
	p.health.SetRestored(func(ctx context.Context) error {
		if !slow.Load() {
			return nil
		}
		pinging.Store(true)
		defer pinging.Store(false)
		<-ctx.Done()
		time.Sleep(150 * time.Millisecond)
		return ctx.Err()
	}, p.pub.Companies)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.pipeline(ids, 200*time.Millisecond, false).Run(ctx) }()
	testenv.Eventually(t, 30*time.Second, "the first scan committed and covacdc_ready 1", func() bool {
		return p.pub.Cursor(1).Scans >= 2 && testutil.ToFloat64(p.health.m.ready) == 1
	})
	slow.Store(true)
	testenv.Eventually(t, 10*time.Second, "the readiness watch in a ping", pinging.Load)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run after cancel: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not return within 20 s of the cancel")
	}
	if pinging.Load() {
		t.Error("Run returned while its readiness watch was still in a Kafka ping")
	}
	checkNoGoroutinesLeft(t)
	if got := testutil.ToFloat64(p.health.m.ready); got != 0 {
		t.Errorf("covacdc_ready %g after Run returned, want 0", got)
	}
}

// TestRefusedCredentialsStopEveryCompany: Cova refuses the password, so no
// company can be scanned: Run stops with a FatalError that still matches the
// poller's ErrCredentials, and publishes nothing.
func TestRefusedCredentialsStopEveryCompany(t *testing.T) {
	ids := []int64{1, 2, 3}
	p := newParts(t, ids, 10, "not-the-password")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := p.pipeline(ids, time.Second, false).Run(ctx)
	var fe *FatalError
	if !errors.As(err, &fe) || !errors.Is(err, poller.ErrCredentials) {
		t.Fatalf("Run: %v, want a FatalError matching poller.ErrCredentials", err)
	}
	if ctx.Err() != nil {
		t.Errorf("Run returned only when its context ended")
	}
	for _, id := range ids {
		if cur := p.pub.Cursor(id); cur.Scans != 0 {
			t.Errorf("company %d: cursor %+v, want no scan committed", id, cur)
		}
	}
}
