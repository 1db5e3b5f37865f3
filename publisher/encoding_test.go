package publisher

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/covacdc/covacdc/schema"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// registryEncoder frames testEncoder's events as the Confluent wire format
// does (byte 0, schema id 7), as covacdc with --schema-registry-url writes.
type registryEncoder struct{ testEncoder }

func (e registryEncoder) Append(dst []byte, ev *schema.CustomerChanged) ([]byte, error) {
	return e.testEncoder.Append(append(dst, 0, 0, 0, 0, 7), ev)
}

func (registryEncoder) SchemaRef() string     { return "sr:7" }
func (registryEncoder) Format() schema.Format { return schema.FormatRegistry }

// soeEncoder is the real single-object encoder, as covacdc without a registry writes.
func soeEncoder(t *testing.T) Encoder {
	t.Helper()
	enc, err := schema.NewEncoder()
	if err != nil {
		t.Fatal(err)
	}
	return enc
}

// publishWith starts a publisher with enc, publishes a few customers and closes it.
func (e *env) publishWith(enc Encoder, from int) {
	e.t.Helper()
	ctx := context.Background()
	p, err := New(ctx, e.cfg, WithEncoder(enc))
	if err != nil {
		e.t.Fatalf("New: %v", err)
	}
	defer p.Close(ctx)
	var cs []schema.Customer
	for i := from; i < from+12; i++ {
		cs = append(cs, customer(i, 1))
	}
	// A transaction the broker aborts (a kfake under load may answer a
	// produce with OUT_OF_ORDER_SEQUENCE_NUMBER) fails the scan, which covacdc
	// then scans again from its cursor: so does this test, a few times.
	for attempt := 1; ; attempt++ {
		err := e.runScan(ctx, p, from, scanPlan{batches: [][]schema.Customer{cs}})
		if err == nil {
			return
		}
		if !errors.Is(err, ErrScanAborted) || attempt == 3 {
			e.t.Fatal(err)
		}
		e.t.Logf("scan %d aborted, scanning again: %v", attempt, err)
	}
}

// An events topic that holds one encoding refuses a publisher writing the
// other, naming the topic, what it found and the ways out, unless
// AllowMixedEncodings says the consumers read both.
func TestMixedEncodingsAreRefused(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name          string
		first, second func(t *testing.T) Encoder
		found         string
		wayOut        string
	}{
		{"registry on single-object", soeEncoder, func(*testing.T) Encoder { return registryEncoder{} },
			"single-object encoding", "--topic"},
		{"single-object on registry", func(*testing.T) Encoder { return registryEncoder{} }, soeEncoder,
			"Confluent Schema Registry wire format", "--schema-registry-url"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			e.publishWith(tc.first(t), 0)

			ctx := context.Background()
			p, err := New(ctx, e.cfg, WithEncoder(tc.second(t)))
			if err == nil {
				p.Close(ctx)
				t.Fatal("New started a publisher that mixes two encodings in one topic")
			}
			if !errors.Is(err, ErrMixedEncodings) {
				t.Fatalf("New: %v, want ErrMixedEncodings", err)
			}
			for _, want := range []string{`"` + e.cfg.Topic + `"`, tc.found, tc.wayOut, "--allow-mixed-encodings"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not mention %q", err, want)
				}
			}
			t.Logf("error: %v", err)

			e.cfg.AllowMixedEncodings = true
			e.publishWith(tc.second(t), 100)
		})
	}
}

// abortRegistryRecords writes n registry-framed records to the events topic in
// a transaction it aborts.
func (e *env) abortRegistryRecords(n int) {
	e.t.Helper()
	cl, err := kgo.NewClient(append(e.c.Opts(), kgo.TransactionalID(e.cfg.TransactionalID+"-other"))...)
	if err != nil {
		e.t.Fatal(err)
	}
	defer cl.Close()
	ctx := context.Background()
	if err := cl.BeginTransaction(); err != nil {
		e.t.Fatal(err)
	}
	for range n {
		r := &kgo.Record{Topic: e.cfg.Topic, Key: []byte("k"), Value: []byte{0, 0, 0, 0, 9, '{', '}'}}
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			e.t.Fatal(err)
		}
	}
	if err := cl.EndTransaction(ctx, kgo.TryAbort); err != nil {
		e.t.Fatal(err)
	}
}

// The check reads what a read_committed consumer reads: aborted transactions
// of the other encoding do not count, however many there are after the last
// committed event, and a topic with no committed event holds no encoding.
func TestEncodingCheckReadsCommittedEventsOnly(t *testing.T) {
	t.Parallel()
	t.Run("last committed event behind aborted ones", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		e.cfg.TopicPartitions = 1
		e.publishWith(soeEncoder(t), 0)
		e.abortRegistryRecords(50)
		e.publishWith(soeEncoder(t), 100)
		e.abortRegistryRecords(50)

		ctx := context.Background()
		if _, err := New(ctx, e.cfg, WithEncoder(registryEncoder{})); !errors.Is(err, ErrMixedEncodings) {
			t.Fatalf("registry encoder on a topic whose last committed event is single-object: %v, want ErrMixedEncodings", err)
		}
		e.publishWith(soeEncoder(t), 200)
	})
	t.Run("only aborted events", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		adm, err := kadm.NewOptClient(e.c.Opts()...)
		if err != nil {
			t.Fatal(err)
		}
		defer adm.Close()
		if resp, err := adm.CreateTopic(context.Background(), 1, -1, nil, e.cfg.Topic); err != nil || resp.Err != nil {
			t.Fatalf("creating %s: %v %v", e.cfg.Topic, err, resp.Err)
		}
		e.abortRegistryRecords(30)
		e.cfg.AllowNewStateTopic = true // the events topic is not empty, but holds no event
		e.publishWith(soeEncoder(t), 0)
	})
}
