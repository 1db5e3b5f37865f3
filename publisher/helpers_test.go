package publisher

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/covacdc/covacdc/publisher/kafkatest"
	"github.com/covacdc/covacdc/schema"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// testEncoder stands in for schema.Encoder: JSON carrying what the tests check.
// It refuses customers whose Id is in fail.
type testEncoder struct{ fail map[string]bool }

type testEvent struct {
	Company  int64  `json:"company"`
	ID       string `json:"id"`
	Version  int64  `json:"version"`
	Type     string `json:"type"`
	Previous *int64 `json:"previous"`
	ScanID   string `json:"scan"`
}

func (e testEncoder) Append(dst []byte, ev *schema.CustomerChanged) ([]byte, error) {
	if e.fail[ev.Customer.Id] {
		return nil, fmt.Errorf("encoding customer %s: field out of range", ev.Customer.Id)
	}
	b, err := json.Marshal(testEvent{
		Company: ev.CompanyID, ID: ev.Customer.Id, Version: ev.Customer.Version,
		Type: ev.ChangeType.String(), Previous: ev.PreviousVersion, ScanID: ev.Source.ScanID,
	})
	return append(dst, b...), err
}

func (testEncoder) SchemaRef() string { return "test:1" }

// guid returns the customer GUID of n, as text and as bytes.
func guid(n int) (string, [16]byte) {
	var b [16]byte
	binary.BigEndian.PutUint64(b[8:], uint64(n)+0xabc0000)
	b[0] = 0x5e
	s := fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
	return s, b
}

func customer(n int, version int64) schema.Customer {
	id, idb := guid(n)
	name := fmt.Sprintf("Customer %d", n)
	return schema.Customer{Id: id, IdBytes: idb, Version: version, PrimaryName: &name,
		LastModifiedDateUtc: schema.Timestamp{Raw: "2024-01-02T03:04:05Z", Time: time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)}}
}

// env is one test's topics and transactional id on the test cluster.
type env struct {
	t       *testing.T
	c       *kafkatest.Cluster
	cfg     Config
	enc     Encoder
	company int64
}

func newEnv(t *testing.T) *env {
	c := kafkatest.New(t)
	cfg := DefaultConfig()
	cfg.KafkaOpts = c.Opts()
	cfg.Topic, cfg.DLQTopic = kafkatest.Name(t, "events"), kafkatest.Name(t, "dlq")
	cfg.TransactionalID = kafkatest.Name(t, "txn")
	cfg.MaxEventsPerTransaction = 7
	cfg.TopicPartitions = 3
	cfg.State.Topic, cfg.State.Partitions = kafkatest.Name(t, "state"), 2
	cfg.MaxTransactionAge = time.Minute // the tests decide when transactions end
	return &env{t: t, c: c, company: 4242, enc: testEncoder{}, cfg: cfg}
}

// open starts a publisher; it is closed when the test ends (a no-op after a
// crash or Close).
func (e *env) open(reg prometheus.Registerer) *Publisher {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	p, err := New(ctx, e.cfg, WithEncoder(e.enc), WithRegisterer(reg))
	if err != nil {
		e.t.Fatalf("New: %v", err)
	}
	e.t.Cleanup(func() { _ = p.Close(context.Background()) })
	return p
}

// crash abandons p as a killed process would: no abort, no flush, no EndTransaction.
func (p *Publisher) crash() {
	p.stopOnce.Do(func() { close(p.stop) })
	<-p.done
	p.txnMu.Lock()
	defer p.txnMu.Unlock()
	p.closed = true
	p.cl.Close()
}

// readCommitted returns every data record of topic a read_committed consumer sees.
func readCommitted(t *testing.T, c *kafkatest.Cluster, topic string) []*kgo.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	admCl, err := kgo.NewClient(c.Opts()...)
	if err != nil {
		t.Fatal(err)
	}
	// A broker writes the markers of a committed transaction after EndTxn
	// returns: wait until no transaction is open (every test ends or fences
	// its transactions before reading), then read to the end.
	adm := kadm.NewClient(admCl)
	var ends kadm.ListedOffsets
	for {
		lso, err := adm.ListCommittedOffsets(ctx, topic)
		if err != nil {
			t.Fatalf("listing offsets of %s: %v", topic, err)
		}
		hwm, err := adm.ListEndOffsets(ctx, topic)
		if err != nil {
			t.Fatalf("listing offsets of %s: %v", topic, err)
		}
		stable := true
		lso.Each(func(o kadm.ListedOffset) {
			if h, _ := hwm.Lookup(topic, o.Partition); o.Err != nil || h.Offset != o.Offset {
				stable = false
			}
		})
		if stable {
			ends = lso
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("%s: a transaction stays open", topic)
		}
		time.Sleep(20 * time.Millisecond)
	}
	admCl.Close()
	left := map[int32]int64{}
	for p, o := range ends[topic] {
		if o.Err != nil {
			t.Fatalf("listing offsets of %s: %v", topic, o.Err)
		}
		if o.Offset > 0 {
			left[p] = o.Offset
		}
	}
	cl, err := kgo.NewClient(append(c.Opts(),
		kgo.ConsumeTopics(topic),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.KeepControlRecords(),
		kgo.FetchMaxWait(200*time.Millisecond))...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var out []*kgo.Record
	for len(left) > 0 {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("reading %s: timed out with partitions %v unread", topic, left)
		}
		fs.EachRecord(func(r *kgo.Record) {
			end, ok := left[r.Partition]
			if !ok || r.Offset >= end {
				return
			}
			if !r.Attrs.IsControl() {
				out = append(out, r)
			}
			if r.Offset >= end-1 {
				delete(left, r.Partition)
			}
		})
	}
	return out
}

func header(r *kgo.Record, key string) string {
	for _, h := range r.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}

func decodeTest(t *testing.T, r *kgo.Record) testEvent {
	t.Helper()
	var ev testEvent
	if err := json.Unmarshal(r.Value, &ev); err != nil {
		t.Fatalf("event %s at %d/%d: %v", r.Key, r.Partition, r.Offset, err)
	}
	if ev.ID != string(r.Key) {
		t.Fatalf("event key %q carries customer %q", r.Key, ev.ID)
	}
	if h := header(r, HeaderVersion); h != strconv.FormatInt(ev.Version, 10) {
		t.Fatalf("event %s: header %s=%q, want %d", r.Key, HeaderVersion, h, ev.Version)
	}
	if h := header(r, HeaderChangeType); h != ev.Type {
		t.Fatalf("event %s: header %s=%q, want %s", r.Key, HeaderChangeType, h, ev.Type)
	}
	if h := header(r, HeaderCompanyID); h != strconv.FormatInt(ev.Company, 10) {
		t.Fatalf("event %s: header %s=%q, want %d", r.Key, HeaderCompanyID, h, ev.Company)
	}
	if h := header(r, HeaderSchema); h != "test:1" {
		t.Fatalf("event %s: header %s=%q", r.Key, HeaderSchema, h)
	}
	return ev
}
