package publisher

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/covacdc/covacdc/schema"
)

// A customer's first event is a SNAPSHOT during the initial load and CREATED
// after it, without a previousVersion; every later event is UPDATED with one,
// even one read during the initial load (a customer changed while the load
// pages through the company).
func TestChangeTypeFollowsPreviousVersion(t *testing.T) {
	e := newEnv(t)
	p := e.open(nil)
	ctx := context.Background()
	base := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	for n, plan := range []scanPlan{
		{batches: [][]schema.Customer{{customer(1, 1)}, {customer(1, 2), customer(2, 1)}}, since: base},
		{batches: [][]schema.Customer{{customer(2, 2), customer(3, 1)}}, since: base.Add(time.Hour)},
	} {
		if err := e.runScan(ctx, p, n, plan); err != nil {
			t.Fatalf("scan %d: %v", n, err)
		}
	}
	got := map[string][]string{}
	for _, r := range readCommitted(t, e.c, e.cfg.Topic) {
		ev := decodeTest(t, r)
		prev := "null"
		if ev.Previous != nil {
			prev = fmt.Sprint(*ev.Previous)
		}
		got[ev.ID] = append(got[ev.ID], fmt.Sprintf("%d:%s:previous %s", ev.Version, ev.Type, prev))
	}
	id := func(n int) string { s, _ := guid(n); return s }
	want := map[string][]string{
		id(1): {"1:SNAPSHOT:previous null", "2:UPDATED:previous 1"},
		id(2): {"1:SNAPSHOT:previous null", "2:UPDATED:previous 1"},
		id(3): {"1:CREATED:previous null"},
	}
	if !maps.EqualFunc(got, want, slices.Equal) {
		t.Errorf("events\n got %v\nwant %v", got, want)
	}
}
