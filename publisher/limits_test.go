package publisher

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/covacdc/covacdc/poller"
	"github.com/covacdc/covacdc/schema"
	"github.com/covacdc/covacdc/state"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// createTopic creates a topic of the test with a max.message.bytes of its own.
func (e *env) createTopic(topic string, maxMessageBytes int) {
	e.t.Helper()
	cl, err := kgo.NewClient(e.c.Opts()...)
	if err != nil {
		e.t.Fatal(err)
	}
	defer cl.Close()
	resp, err := kadm.NewClient(cl).CreateTopic(context.Background(), 3, -1,
		map[string]*string{"max.message.bytes": kadm.StringPtr(strconv.Itoa(maxMessageBytes))}, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		e.t.Fatalf("creating %s: %v", topic, err)
	}
}

// noise is n letters that compress poorly: a broker measures a batch after
// compression, so a record of repeated letters would fit any limit.
func noise(n int) string {
	const letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	r := rand.New(rand.NewPCG(1, uint64(n)))
	b := make([]byte, n)
	for i := range b {
		b[i] = letters[r.IntN(len(letters))]
	}
	return string(b)
}

func withNotes(c schema.Customer, n int) schema.Customer {
	notes := noise(n)
	c.Notes = &notes
	return c
}

// TestOversizeEventIsDeadLettered publishes a customer whose event is larger
// than the events topic's max.message.bytes among normal ones: the others are
// published, the dead-letter topic holds a reference to it, the cursor moves,
// a re-read of the same Version adds nothing, and its next Version of a normal
// size is published.
func TestOversizeEventIsDeadLettered(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.enc = nil // the Avro encoder: the event carries the notes
	const limit = 20000
	e.createTopic(e.cfg.Topic, limit)
	reg := prometheus.NewRegistry()
	p := e.open(reg)
	ctx := context.Background()
	big, _ := guid(5)
	var cs []schema.Customer
	for i := range 10 {
		c := customer(i, 3)
		if i == 5 {
			c = withNotes(c, 3*limit)
		}
		cs = append(cs, c)
	}
	since := time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)
	for n, plan := range []scanPlan{
		{batches: [][]schema.Customer{cs}, since: since},
		{batches: [][]schema.Customer{{cs[5], customer(11, 1)}}, since: since.Add(time.Hour)}, // the same Version again
		{batches: [][]schema.Customer{{customer(5, 4)}}, since: since.Add(2 * time.Hour)},     // a normal next Version
	} {
		if err := e.runScan(ctx, p, n, plan); err != nil {
			t.Fatalf("scan %d: %v", n, err)
		}
		if got := p.Cursor(e.company).Since; !got.Equal(plan.since) {
			t.Fatalf("after scan %d the cursor is at %s, want %s", n, got, plan.since)
		}
	}
	dec, err := schema.NewDecoder(nil)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, r := range readCommitted(t, e.c, e.cfg.Topic) {
		js, err := dec.JSON(ctx, r.Value)
		if err != nil {
			t.Fatal(err)
		}
		var ev struct{ Version int64 }
		var typ struct {
			ChangeType string `json:"changeType"`
		}
		_ = json.Unmarshal(js, &ev)
		_ = json.Unmarshal(js, &typ)
		got[string(r.Key)] += fmt.Sprintf("%s@%d ", typ.ChangeType, ev.Version)
	}
	if len(got) != 11 || got[big] != "CREATED@4 " {
		t.Errorf("events %v: want the 10 others and version 4 of %s as its first event (CREATED)", got, big)
	}
	dl := readCommitted(t, e.c, e.cfg.DLQTopic)
	if len(dl) != 1 {
		t.Fatalf("dead-letter topic holds %d records, want 1", len(dl))
	}
	r := dl[0]
	var ref struct {
		Id                  string
		Version             int64
		LastModifiedDateUtc string
		EventBytes          int `json:"eventBytes"`
		LimitBytes          int `json:"limitBytes"`
	}
	if err := json.Unmarshal(r.Value, &ref); err != nil {
		t.Fatalf("dead letter %q: %v", r.Value, err)
	}
	if string(r.Key) != big || header(r, HeaderReason) != "too_large" || ref.Id != big || ref.Version != 3 ||
		ref.LastModifiedDateUtc != "2024-01-02T03:04:05Z" || ref.EventBytes < 3*limit || ref.LimitBytes != limit {
		t.Errorf("dead letter key %q reason %q value %s: want a too_large reference to %s version 3", r.Key, header(r, HeaderReason), r.Value, big)
	}
	if h := header(r, HeaderError); !strings.Contains(h, "max.message.bytes") {
		t.Errorf("error header %q does not say which limit", h)
	}
	if got := testutil.ToFloat64(p.m.deadLetters.WithLabelValues("4242", "too_large")); got != 1 {
		t.Errorf("covacdc_dead_letters_total{reason=too_large} = %v, want 1", got)
	}
}

// TestOversizeDeadLetterIsCut dead-letters a record Cova sent that is larger
// than the dead-letter topic's max.message.bytes: it is cut to fit, the error
// header says so and names the whole record's SHA-256, and the scan commits.
func TestOversizeDeadLetterIsCut(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const limit = 20000
	e.createTopic(e.cfg.DLQTopic, limit)
	p := e.open(nil)
	ctx := context.Background()
	raw := []byte(`{"Id":null,"Version":3,"Notes":"` + noise(3*limit) + `"}`)
	bad := poller.RecordError{Raw: raw, Reason: "missing_id", Err: errors.New("customer has no Id")}
	for n := range 2 { // the second scan re-reads it
		if err := e.runScan(ctx, p, n, scanPlan{batches: [][]schema.Customer{{customer(1, 1)}}, invalid: []poller.RecordError{bad}}); err != nil {
			t.Fatalf("scan %d: %v", n, err)
		}
	}
	dl := readCommitted(t, e.c, e.cfg.DLQTopic)
	if len(dl) != 1 {
		t.Fatalf("dead-letter topic holds %d records, want 1", len(dl))
	}
	r := dl[0]
	if len(r.Value) >= limit || len(r.Value) < limit-2000 || !bytes.HasPrefix(raw, r.Value) {
		t.Errorf("dead letter of %d bytes: want a prefix of the %d-byte record that fits %d bytes", len(r.Value), len(raw), limit)
	}
	sum := sha256.Sum256(raw)
	want := fmt.Sprintf("record of %d bytes cut to its first %d to fit the dead-letter topic, sha256 of the whole record %x: customer has no Id",
		len(raw), len(r.Value), sum)
	if h := header(r, HeaderError); h != want {
		t.Errorf("error header %q, want %q", h, want)
	}
	// The hash identifies the record as its state key does.
	if key := string(state.AppendDeadLetterKey(nil, e.company, state.DeadLetterHash(raw))); !strings.HasSuffix(key, fmt.Sprintf("%x", sum[:16])) {
		t.Errorf("state key %s does not end in the record's hash", key)
	}
	if header(r, HeaderReason) != "missing_id" {
		t.Errorf("reason %q, want the record's own, missing_id", header(r, HeaderReason))
	}
}

// TestRecordBytesIsAnUpperBound produces records of several shapes with kgo's
// batch limit set to recordBytes of each: kgo, which refuses a record larger
// than its limit before sending it, accepts every one, so recordBytes never
// counts less than kgo does.
func TestRecordBytesIsAnUpperBound(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.createTopic(e.cfg.Topic, 10<<20)
	ctx := context.Background()
	eventHeaders := []kgo.RecordHeader{
		{Key: HeaderCompanyID, Value: []byte("4242")}, {Key: HeaderChangeType, Value: []byte("SNAPSHOT")},
		{Key: HeaderVersion, Value: []byte("123456")}, {Key: HeaderSchema, Value: []byte("fp:0123456789abcdef")},
	}
	for _, c := range []struct {
		key     []byte
		value   int
		headers []kgo.RecordHeader
	}{
		{nil, 600, nil},
		{[]byte("5e000000-0000-0000-0000-00000abc0001"), 600, eventHeaders},
		{[]byte("k"), 8191, eventHeaders}, // the value length varint: 2 bytes
		{[]byte("k"), 8192, eventHeaders}, // 3 bytes
		{[]byte("5e000000-0000-0000-0000-00000abc0001"), 100_000, eventHeaders},
		{nil, 3 << 20, eventHeaders[:1]},
	} {
		limit := recordBytes(c.key, c.value, c.headers)
		cl, err := kgo.NewClient(append(e.c.Opts(), kgo.ProducerBatchMaxBytes(int32(limit)),
			kgo.ProducerBatchCompression(kgo.NoCompression()), kgo.MaxBufferedBytes(64<<20))...)
		if err != nil {
			t.Fatal(err)
		}
		err = cl.ProduceSync(ctx, &kgo.Record{Topic: e.cfg.Topic, Key: c.key, Value: make([]byte, c.value), Headers: c.headers}).FirstErr()
		cl.Close()
		if err != nil {
			t.Errorf("a record of key %d bytes, value %d bytes and %d headers, with the batch limit at its recordBytes (%d): %v",
				len(c.key), c.value, len(c.headers), limit, err)
		}
	}
	if got := recordBytes([]byte("k"), 3, []kgo.RecordHeader{{Key: "h", Value: []byte("v")}}); got != 93 {
		t.Errorf("recordBytes of a small record = %d, want 93 (65 of batch, 1 of length, 27 of record)", got)
	}
}

// TestMaxMessageBytes reads max.message.bytes from a topic's configs, and says
// why when it cannot.
func TestMaxMessageBytes(t *testing.T) {
	value := func(s string) *string { return &s }
	rcs := kadm.ResourceConfigs{
		{Name: "set", Configs: []kadm.Config{{Key: "cleanup.policy", Value: value("delete")}, {Key: "max.message.bytes", Value: value("20000")}}},
		{Name: "absent", Configs: []kadm.Config{{Key: "cleanup.policy", Value: value("delete")}}},
		{Name: "garbled", Configs: []kadm.Config{{Key: "max.message.bytes", Value: value("lots")}}},
		{Name: "hidden", Configs: []kadm.Config{{Key: "max.message.bytes"}}},
		{Name: "refused", Err: errors.New("TOPIC_AUTHORIZATION_FAILED")},
	}
	for topic, want := range map[string]string{
		"set": "20000", "absent": "max.message.bytes not reported", "garbled": `max.message.bytes is "lots"`,
		"hidden": "max.message.bytes has no value", "refused": "TOPIC_AUTHORIZATION_FAILED", "missing": "UNKNOWN_TOPIC_OR_PARTITION",
	} {
		n, why := maxMessageBytes(rcs, topic)
		got := why
		if why == "" {
			got = strconv.Itoa(int(n))
		}
		if !strings.HasPrefix(got, want) {
			t.Errorf("topic %s: %q, want %q", topic, got, want)
		}
	}
}
