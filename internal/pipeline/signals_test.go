package pipeline

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/covacdc/covacdc/internal/testenv"
	"github.com/covacdc/covacdc/poller/covatest"
	"github.com/covacdc/covacdc/publisher/kafkatest"
	"github.com/twmb/franz-go/pkg/kgo"
)

// sendSignals writes records to the signal topic, creating it, as covacdc
// resync does.
func (p *parts) sendSignals(t *testing.T, topic string, recs ...*kgo.Record) {
	t.Helper()
	cl, err := kgo.NewClient(p.kafka.Opts()...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := ensureSignalTopic(ctx, SignalConfig{Topic: topic, KafkaOpts: p.kafka.Opts()}); err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		r.Topic = topic
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// TestSignalsAreAcceptedOnceAndBadOnesPassedOver puts five records in the
// signal topic before the pipeline starts: one for another deployment, one
// not JSON, one for a company this pipeline does not poll, one with a
// customer id that is no GUID, and a good one. The pipeline, run once,
// resyncs company 1 as its one scan, passes over the bad ones with an error
// in the log naming each, and commits the topic's position past all of
// them, so a second run accepts nothing again.
func TestSignalsAreAcceptedOnceAndBadOnesPassedOver(t *testing.T) {
	ids := []int64{1}
	p := newParts(t, ids, 30, covatest.DefaultPassword)
	topic := kafkatest.Name(t, "signals")
	good := NewResyncSignal(1, nil, "test", time.Now())
	p.sendSignals(t, topic,
		&kgo.Record{Key: []byte("another-deployment"), Value: NewResyncSignal(1, nil, "test", time.Now()).Value()},
		&kgo.Record{Key: []byte("txn"), Value: []byte("resync company 1 please")},
		&kgo.Record{Key: []byte("txn"), Value: NewResyncSignal(9, nil, "test", time.Now()).Value()},
		&kgo.Record{Key: []byte("txn"), Value: []byte(`{"type":"resync","id":"r","companyId":1,"customerIds":["not-a-guid"]}`)},
		&kgo.Record{Key: []byte("txn"), Value: good.Value()},
	)
	pl := p.pipeline(ids, time.Hour, true)
	pl.cfg.Signals = &SignalConfig{Topic: topic, KafkaOpts: p.kafka.Opts(), Required: true}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := pl.Run(ctx); err != nil {
		t.Fatalf("Run: %v\nlogs:\n%s", err, p.logs)
	}
	cur := p.pub.Cursor(1)
	if cur.Resync != nil || cur.LastResync == nil || cur.LastResync.ID != good.ID {
		t.Errorf("cursor %+v: want resync %s completed by the one scan", cur, good.ID)
	}
	if next, ok := p.pub.SignalOffset(0); !ok || next != 5 {
		t.Errorf("signal position %d (%v), want 5: past every record", next, ok)
	}
	logs := p.logs.String()
	for _, want := range []string{"not JSON", "company 9 is not one of this covacdc's --company-id", `--customer-id: not a customer GUID: \"not-a-guid\"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("the log lacks %q:\n%s", want, logs)
		}
	}
	if strings.Contains(logs, "reading the signal topic") {
		t.Errorf("the signal topic was read with errors (or after its client closed):\n%s", logs)
	}
	if n := strings.Count(logs, "resync request passed over"); n != 3 {
		t.Errorf("%d requests passed over, want 3:\n%s", n, logs)
	}

	// A second run has nothing to accept: the first resync stays the last.
	p.logs.Reset()
	if err := pl.Run(ctx); err != nil {
		t.Fatalf("second Run: %v\nlogs:\n%s", err, p.logs)
	}
	if strings.Contains(p.logs.String(), "resync accepted") || strings.Contains(p.logs.String(), "passed over") {
		t.Errorf("the second run handled requests again:\n%s", p.logs)
	}
	if cur := p.pub.Cursor(1); cur.LastResync == nil || cur.LastResync.Seq != 1 {
		t.Errorf("cursor after the second run %+v: want resync 1 the last", cur)
	}
}

// TestSignalWakesItsCompany: with a poll interval of an hour, a request
// sent while the pipeline runs is scanned at once, not an hour later.
func TestSignalWakesItsCompany(t *testing.T) {
	ids := []int64{1, 2}
	p := newParts(t, ids, 20, covatest.DefaultPassword)
	topic := kafkatest.Name(t, "signals")
	pl := p.pipeline(ids, time.Hour, false)
	pl.cfg.Signals = &SignalConfig{Topic: topic, KafkaOpts: p.kafka.Opts(), Required: true}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- pl.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	testenv.Eventually(t, 30*time.Second, "both companies' first scans", func() bool {
		return p.pub.Cursor(1).Scans == 1 && p.pub.Cursor(2).Scans == 1
	})
	sig := NewResyncSignal(2, nil, "test", time.Now())
	p.sendSignals(t, topic, &kgo.Record{Key: []byte("txn"), Value: sig.Value()})
	testenv.Eventually(t, 30*time.Second, "company 2's resync completed", func() bool {
		last := p.pub.Cursor(2).LastResync
		return last != nil && last.ID == sig.ID
	})
	if n := p.pub.Cursor(1).Scans; n != 1 {
		t.Errorf("company 1 scanned %d times, want once: only company 2 was woken", n)
	}
}

// TestUnreadableSignalTopicIsAWarning: a signal topic the process cannot
// use (here its client reaches no broker) makes the pipeline warn, naming
// the topic and the group to grant, and capture changes as before.
func TestUnreadableSignalTopicIsAWarning(t *testing.T) {
	ids := []int64{1}
	p := newParts(t, ids, 20, covatest.DefaultPassword)
	pl := p.pipeline(ids, time.Hour, true)
	pl.cfg.Signals = &SignalConfig{Topic: "signals", KafkaOpts: []kgo.Opt{kgo.SeedBrokers("127.0.0.1:1"), kgo.RetryTimeout(time.Second)}}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := pl.Run(ctx); err != nil {
		t.Fatalf("Run: %v\nlogs:\n%s", err, p.logs)
	}
	if cur := p.pub.Cursor(1); cur.Scans != 1 {
		t.Errorf("cursor %+v: want the company scanned", cur)
	}
	if logs := p.logs.String(); !strings.Contains(logs, "resync requests are not read") || !strings.Contains(logs, `group \"txn.signals\"`) ||
		!strings.Contains(logs, `signal topic \"signals\"`) {
		t.Errorf("the log does not warn that resyncs are off, naming the group:\n%s", logs)
	}
}

// TestSignalsForOtherCompaniesAreKeptWhenAcceptingAny: covacdc resync doing
// company 1's resync itself finds a request for company 9 (which the
// deployment polls, not this run) before its own: both are accepted, company
// 9's left active for the deployment, company 1's carried out.
func TestSignalsForOtherCompaniesAreKeptWhenAcceptingAny(t *testing.T) {
	ids := []int64{1}
	p := newParts(t, ids, 20, covatest.DefaultPassword)
	topic := kafkatest.Name(t, "signals")
	other, own := NewResyncSignal(9, nil, "test", time.Now()), NewResyncSignal(1, nil, "test", time.Now())
	p.sendSignals(t, topic,
		&kgo.Record{Key: []byte("txn"), Value: other.Value()},
		&kgo.Record{Key: []byte("txn"), Value: own.Value()},
	)
	pl := p.pipeline(ids, time.Hour, true)
	pl.cfg.Signals = &SignalConfig{Topic: topic, KafkaOpts: p.kafka.Opts(), Required: true, AnyCompany: true}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := pl.Run(ctx); err != nil {
		t.Fatalf("Run: %v\nlogs:\n%s", err, p.logs)
	}
	if cur := p.pub.Cursor(9); cur.Resync == nil || cur.Resync.ID != other.ID {
		t.Errorf("company 9's cursor %+v: want its resync accepted and left active", cur)
	}
	if cur := p.pub.Cursor(1); cur.LastResync == nil || cur.LastResync.ID != own.ID {
		t.Errorf("company 1's cursor %+v: want its resync completed", cur)
	}
	if strings.Contains(p.logs.String(), "passed over") {
		t.Errorf("a request was passed over:\n%s", p.logs)
	}
}
