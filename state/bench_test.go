package state

import (
	"context"
	"encoding/binary"
	"os"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/covacdc/covacdc/publisher/kafkatest"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// benchCustomers is the size of the index and restore benchmarks;
// COVACDC_BENCH_CUSTOMERS overrides it (CI runs them tiny to keep them working).
func benchCustomers(b *testing.B) int {
	if s := os.Getenv("COVACDC_BENCH_CUSTOMERS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			b.Fatalf("COVACDC_BENCH_CUSTOMERS=%q: want a positive integer", s)
		}
		return n
	}
	return 1_000_000
}

func benchID(i int) [16]byte {
	var id [16]byte
	binary.BigEndian.PutUint64(id[:8], uint64(i)*0x9e3779b97f4a7c15) // spread like random GUIDs
	binary.BigEndian.PutUint64(id[8:], uint64(i))
	return id
}

func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// BenchmarkIndexBytesPerCustomer reports the heap the index holds per tracked
// customer (target: at most 64).
func BenchmarkIndexBytesPerCustomer(b *testing.B) {
	n := benchCustomers(b)
	var perCustomer float64
	for b.Loop() {
		before := heapInUse()
		x := NewIndex()
		for i := range n {
			x.SetVersion(1, benchID(i), int64(i))
		}
		after := heapInUse()
		perCustomer = float64(after-before) / float64(n)
		runtime.KeepAlive(x)
	}
	b.ReportMetric(perCustomer, "bytes/customer")
}

// BenchmarkIndexBytesPerDeadLetter reports the heap the index holds per
// remembered dead letter (a 16-byte hash in a set), the cost README states.
func BenchmarkIndexBytesPerDeadLetter(b *testing.B) {
	n := benchCustomers(b)
	var perDeadLetter float64
	for b.Loop() {
		before := heapInUse()
		x := NewIndex()
		for i := range n {
			x.AddDeadLetter(1, benchID(i))
		}
		after := heapInUse()
		perDeadLetter = float64(after-before) / float64(n)
		runtime.KeepAlive(x)
	}
	b.ReportMetric(perDeadLetter, "bytes/dead-letter")
}

// BenchmarkRestore reads a state topic of benchCustomers version records (one
// partition, as the default state topic) and rebuilds the index (target for
// 1,000,000 on kfake: under 3 s). Filling the topic is not timed.
func BenchmarkRestore(b *testing.B) {
	n := benchCustomers(b)
	c := kafkatest.New(b)
	ctx := context.Background()
	topic := kafkatest.Name(b, "state")
	if _, err := EnsureTopic(ctx, newAdminB(b, c), TopicConfig{Topic: topic, Partitions: 1}); err != nil {
		b.Fatal(err)
	}
	cl, err := kgo.NewClient(append(c.Opts(), kgo.DefaultProduceTopic(topic), kgo.ProducerLinger(5*time.Millisecond), kgo.MaxBufferedRecords(200_000))...)
	if err != nil {
		b.Fatal(err)
	}
	var perr error
	for i := range n {
		cl.Produce(ctx, &kgo.Record{Key: AppendVersionKey(nil, 1, benchID(i)), Value: AppendVersionValue(nil, int64(i)+1)},
			func(_ *kgo.Record, err error) {
				if err != nil && perr == nil {
					perr = err
				}
			})
	}
	if err := cl.Flush(ctx); err != nil || perr != nil {
		b.Fatalf("filling the state topic: %v %v", err, perr)
	}
	cl.Close()

	b.ResetTimer()
	for b.Loop() {
		idx, stats, err := Restore(ctx, topic, c.Opts()...)
		if err != nil {
			b.Fatal(err)
		}
		if idx.Len() != n || stats.Records != int64(n) {
			b.Fatalf("restored %d customers from %d records, want %d", idx.Len(), stats.Records, n)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

func newAdminB(b *testing.B, c *kafkatest.Cluster) *kadm.Client {
	cl, err := kgo.NewClient(c.Opts()...)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(cl.Close)
	return kadm.NewClient(cl)
}
