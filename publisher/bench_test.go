package publisher

import (
	"context"
	"testing"
	"time"

	"github.com/covacdc/covacdc/poller"
	"github.com/covacdc/covacdc/publisher/kafkatest"
	"github.com/covacdc/covacdc/schema"
)

// BenchmarkPublish is the publisher's share of a scan: one op publishes a
// batch of 100 changed customers with the real Avro encoder (diff, encode,
// produce, state record), committing every 2,000 events as by default. The
// broker is whatever kafkatest picks (kfake by default), so ns/op includes
// its share; allocs/op is the figure to watch.
func BenchmarkPublish(b *testing.B) {
	c := kafkatest.New(b)
	ctx := context.Background()
	cfg := DefaultConfig()
	cfg.KafkaOpts = c.Opts()
	cfg.Topic, cfg.DLQTopic = kafkatest.Name(b, "events"), kafkatest.Name(b, "dlq")
	cfg.TransactionalID = kafkatest.Name(b, "txn")
	cfg.State.Topic = kafkatest.Name(b, "state")
	cfg.MaxTransactionAge = time.Minute
	p, err := New(ctx, cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close(ctx)
	const perBatch = 100
	cs := make([]schema.Customer, perBatch)
	for i := range cs {
		cs[i] = customer(i, 0)
	}
	s := p.BeginScan(1, "bench", schema.Source{System: "cova", Endpoint: "/crm/v1/Companies(1)/CustomerFull", ScanID: "bench"})
	version := int64(0)
	b.ReportAllocs()
	for b.Loop() {
		version++
		for i := range cs {
			cs[i].Version = version
		}
		if err := s.Publish(ctx, poller.Batch{CompanyID: 1, ScanID: "bench", Customers: cs}); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if err := s.Complete(ctx, time.Now(), time.Time{}); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*perBatch), "ns/customer")
}
