package publisher

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"

	"github.com/covacdc/covacdc/schema"
)

// TestEndToEndWithSchemaEncoder publishes with the real Avro encoder (the
// default), crashes after a commit mid-scan, restarts, and decodes what a
// read_committed consumer sees.
func TestEndToEndWithSchemaEncoder(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.enc = nil // New's default: schema.NewEncoder()
	ctx := context.Background()
	ps := plans()

	p1, err := New(ctx, e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	s := p1.BeginScan(e.company, "scan-0", schema.Source{System: "cova", ScanID: "scan-0"})
	if err := s.Publish(ctx, e.batch(ps[0].batches[0], ps[0].invalid, "scan-0")); err != nil {
		t.Fatal(err)
	}
	p1.txnMu.Lock()
	err = p1.endTxn(ctx, true)
	p1.txnMu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	p1.crash()

	p2, err := New(ctx, e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer p2.Close(ctx)
	for n, plan := range ps {
		if err := e.runScan(ctx, p2, n, plan); err != nil {
			t.Fatalf("scan %d: %v", n, err)
		}
	}

	enc, err := schema.NewEncoder()
	if err != nil {
		t.Fatal(err)
	}
	dec, err := schema.NewDecoder(nil)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]string{}
	for _, r := range readCommitted(t, e.c, e.cfg.Topic) {
		if h := header(r, HeaderSchema); h != enc.SchemaRef() {
			t.Fatalf("schema header %q, want %q", h, enc.SchemaRef())
		}
		js, err := dec.JSON(ctx, r.Value)
		if err != nil {
			t.Fatalf("decoding event %s: %v", r.Key, err)
		}
		var ev struct {
			CustomerID string `json:"customerId"`
			CompanyID  int64  `json:"companyId"`
			Version    int64  `json:"version"`
			ChangeType string `json:"changeType"`
			EventID    string `json:"eventId"`
		}
		if err := json.Unmarshal(js, &ev); err != nil {
			t.Fatalf("event JSON %s: %v", js, err)
		}
		if ev.CustomerID != string(r.Key) || ev.CompanyID != e.company || ev.ChangeType != header(r, HeaderChangeType) {
			t.Fatalf("event %s does not match its key %q and headers", js, r.Key)
		}
		if want := schema.EventID(e.company, ev.CustomerID, ev.Version).String(); ev.EventID != want {
			t.Fatalf("eventId %q, want %q", ev.EventID, want)
		}
		got[ev.CustomerID] = append(got[ev.CustomerID], fmt.Sprintf("%d:%s", ev.Version, ev.ChangeType))
	}
	want := wantEvents()
	if len(got) != len(want) {
		t.Errorf("%d customers on the topic, want %d", len(got), len(want))
	}
	for id, w := range want {
		if !slices.Equal(got[id], w) {
			t.Errorf("customer %s: events %v, want %v", id, got[id], w)
		}
	}
}
