package publisher

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/covacdc/covacdc/schema"
	"github.com/covacdc/covacdc/state"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// scanEvents returns the committed events of the scans named, by customer:
// "version:type:previous".
func (e *env) scanEvents(scans ...string) map[string][]string {
	e.t.Helper()
	got := map[string][]string{}
	for _, r := range readCommitted(e.t, e.c, e.cfg.Topic) {
		ev := decodeTest(e.t, r)
		if !slices.Contains(scans, ev.ScanID) {
			continue
		}
		prev := "-"
		if ev.Previous != nil {
			prev = fmt.Sprint(*ev.Previous)
		}
		got[ev.ID] = append(got[ev.ID], fmt.Sprintf("%d:%s:%s", ev.Version, ev.Type, prev))
	}
	return got
}

func gid(n int) string { s, _ := guid(n); return s }

// published commits a first scan ("scan-0") of customers 0 to n-1 at
// version 10 and returns the cursor it wrote: where the tests' next scans
// start from.
func (e *env) published(ctx context.Context, p *Publisher, n int) time.Time {
	e.t.Helper()
	base := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	if err := e.runScan(ctx, p, 0, scanPlan{batches: [][]schema.Customer{customers(0, n, 10)}, since: base}); err != nil {
		e.t.Fatal(err)
	}
	return base
}

func (e *env) accept(p *Publisher, r state.Resync, next int64) state.Resync {
	e.t.Helper()
	got, err := p.AcceptResync(context.Background(), e.company, r, 0, next)
	if err != nil {
		e.t.Fatalf("AcceptResync: %v", err)
	}
	return got
}

func customers(from, to int, version int64) []schema.Customer {
	var cs []schema.Customer
	for i := from; i < to; i++ {
		cs = append(cs, customer(i, version))
	}
	return cs
}

// A resync publishes every customer once as a SNAPSHOT of its current
// Version, unchanged, lower or new, with the version published before as
// previousVersion; afterwards the lower Version is the one followed.
func TestResyncPublishesEveryCustomerOnce(t *testing.T) {
	e := newEnv(t)
	reg := prometheus.NewRegistry()
	p := e.open(reg)
	ctx := context.Background()
	base := e.published(ctx, p, 5)
	label := fmt.Sprint(e.company)
	if v := testutil.ToFloat64(mustCollector(t, reg, "covacdc_resync_in_progress", label)); v != 0 {
		t.Errorf("covacdc_resync_in_progress = %v before any resync, want 0", v)
	}
	r := e.accept(p, state.Resync{ID: "req-1", RequestedAt: base}, 1)
	if r.Seq != 1 || r.AcceptedAt.IsZero() {
		t.Errorf("accepted %+v, want Seq 1 and AcceptedAt set", r)
	}
	cur := p.Cursor(e.company)
	if cur.Resync == nil || cur.Resync.ID != "req-1" || !cur.Since.Equal(p.ResyncSince()) {
		t.Fatalf("cursor after AcceptResync: %+v, want the resync active and Since at ResyncSince", cur)
	}
	if v := testutil.ToFloat64(mustCollector(t, reg, "covacdc_resync_in_progress", label)); v != 1 {
		t.Errorf("covacdc_resync_in_progress = %v while a resync is active, want 1", v)
	}
	// Customer 3's Version went backwards (Cova restored a backup); 5 is new;
	// 0 is served twice.
	resync := scanPlan{batches: [][]schema.Customer{
		append(customers(0, 3, 10), customer(3, 7)),
		{customer(4, 10), customer(5, 1), customer(0, 10)},
	}, since: base.Add(time.Hour)}
	if err := e.runScan(ctx, p, 1, resync); err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{
		gid(0): {"10:SNAPSHOT:10"}, gid(1): {"10:SNAPSHOT:10"}, gid(2): {"10:SNAPSHOT:10"},
		gid(3): {"7:SNAPSHOT:10"}, gid(4): {"10:SNAPSHOT:10"}, gid(5): {"1:SNAPSHOT:-"},
	}
	if got := e.scanEvents("scan-1"); !maps.EqualFunc(got, want, slices.Equal) {
		t.Errorf("resync events\n got %v\nwant %v", got, want)
	}
	cur = p.Cursor(e.company)
	if cur.Resync != nil || cur.LastResync == nil || cur.LastResync.Seq != 1 || cur.LastResync.ID != "req-1" || !cur.Since.Equal(resync.since) {
		t.Errorf("cursor after the resync scan: %+v (last %+v), want no resync, req-1 completed", cur, cur.LastResync)
	}
	if v := testutil.ToFloat64(mustCollector(t, reg, "covacdc_resync_customers_total", label)); v != 6 {
		t.Errorf("covacdc_resync_customers_total = %v, want 6", v)
	}
	if v := testutil.ToFloat64(mustCollector(t, reg, "covacdc_resync_in_progress", label)); v != 0 {
		t.Errorf("covacdc_resync_in_progress = %v after the resync, want 0", v)
	}
	// Customer 3 is followed from 7: 8 is an update (it was stale before
	// the resync), 7 again is unchanged; the rest diff as ever.
	if err := e.runScan(ctx, p, 2, scanPlan{batches: [][]schema.Customer{{customer(3, 8), customer(3, 7), customer(1, 10), customer(2, 11)}}, since: base.Add(2 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	want = map[string][]string{gid(3): {"8:UPDATED:7"}, gid(2): {"11:UPDATED:10"}}
	if got := e.scanEvents("scan-2"); !maps.EqualFunc(got, want, slices.Equal) {
		t.Errorf("events after the resync\n got %v\nwant %v", got, want)
	}
}

// mustCollector returns the collector of one series of a family registered
// in reg, for testutil.ToFloat64.
func mustCollector(t *testing.T, reg *prometheus.Registry, name, company string) prometheus.Collector {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "company_id" && l.GetValue() == company {
					v := m.GetGauge().GetValue() + m.GetCounter().GetValue()
					return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name}, func() float64 { return v })
				}
			}
		}
	}
	t.Fatalf("no series %s{company_id=%q}", name, company)
	return nil
}

// A publisher killed halfway through a resync scan, some of its transactions
// committed, leaves a restarted one to publish only the customers the resync
// has not published yet: each customer's SNAPSHOT is on the topic once.
func TestResyncKilledHalfwayPublishesEachCustomerOnce(t *testing.T) {
	e := newEnv(t) // 7 events a transaction
	p := e.open(nil)
	ctx := context.Background()
	base := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	if err := e.runScan(ctx, p, 0, scanPlan{batches: batchesOf(customers(0, 20, 10), 10), since: base}); err != nil {
		t.Fatal(err)
	}
	r := e.accept(p, state.Resync{ID: "req-1"}, 3)
	served := append(customers(0, 19, 10), customer(19, 4)) // 19 went backwards
	s := p.BeginScan(e.company, "scan-1", schema.Source{System: "cova", ScanID: "scan-1"})
	for _, cs := range batchesOf(served[:16], 4) {
		if err := s.Publish(ctx, e.batch(cs, nil, "scan-1")); err != nil {
			t.Fatal(err)
		}
	}
	p.crash() // 14 committed in two transactions, 2 open

	p = e.open(nil)
	cur := p.Cursor(e.company)
	if cur.Resync == nil || cur.Resync.Seq != r.Seq {
		t.Fatalf("restored cursor %+v, want resync %d active", cur, r.Seq)
	}
	if cs := p.Companies(); len(cs) != 1 || cs[0].Resynced != 14 {
		t.Errorf("restored progress %+v, want 14 customers resynced", cs)
	}
	if n, ok := p.SignalOffset(0); !ok || n != 3 {
		t.Errorf("SignalOffset(0) = %d, %v after a restore; want 3", n, ok)
	}
	// The scan starts over and is served everything again.
	if err := e.runScan(ctx, p, 1, scanPlan{batches: batchesOf(served, 6), since: base.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	got := e.scanEvents("scan-1")
	for i := range 20 {
		w := []string{"10:SNAPSHOT:10"}
		if i == 19 {
			w = []string{"4:SNAPSHOT:10"}
		}
		if !slices.Equal(got[gid(i)], w) {
			t.Errorf("customer %d: resync events %v, want %v once", i, got[gid(i)], w)
		}
	}
	if len(got) != 20 {
		t.Errorf("resync events of %d customers, want 20", len(got))
	}
	if cur := p.Cursor(e.company); cur.Resync != nil || cur.LastResync == nil || cur.LastResync.Seq != r.Seq {
		t.Errorf("cursor after the resumed resync: %+v, want it completed", cur)
	}
}

// A resync of listed customers publishes only those; the others are diffed
// as in any scan.
func TestResyncOfListedCustomers(t *testing.T) {
	e := newEnv(t)
	p := e.open(nil)
	ctx := context.Background()
	base := e.published(ctx, p, 5)
	_, id1 := guid(1)
	_, id3 := guid(3)
	e.accept(p, state.Resync{ID: "two", Customers: [][16]byte{id1, id3}}, 1)
	plan := scanPlan{batches: [][]schema.Customer{{customer(0, 10), customer(1, 10), customer(2, 11), customer(3, 9), customer(4, 8)}}, since: base.Add(time.Hour)}
	if err := e.runScan(ctx, p, 1, plan); err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{gid(1): {"10:SNAPSHOT:10"}, gid(3): {"9:SNAPSHOT:10"}, gid(2): {"11:UPDATED:10"}}
	if got := e.scanEvents("scan-1"); !maps.EqualFunc(got, want, slices.Equal) {
		t.Errorf("events\n got %v\nwant %v", got, want)
	}
}

// A request during a resync replaces it: the scan under way completes only
// its own, the new one stays active and its scan publishes every customer
// again.
func TestResyncRequestDuringResyncRestartsIt(t *testing.T) {
	e := newEnv(t)
	p := e.open(nil)
	ctx := context.Background()
	base := e.published(ctx, p, 6)
	first := e.accept(p, state.Resync{ID: "first"}, 1)
	s := p.BeginScan(e.company, "scan-1", schema.Source{System: "cova", ScanID: "scan-1"})
	if err := s.Publish(ctx, e.batch(customers(0, 3, 10), nil, "scan-1")); err != nil {
		t.Fatal(err)
	}
	second := e.accept(p, state.Resync{ID: "second"}, 2)
	if second.Seq != first.Seq+1 {
		t.Errorf("second resync Seq %d, want %d", second.Seq, first.Seq+1)
	}
	if err := s.Publish(ctx, e.batch(customers(3, 6, 10), nil, "scan-1")); err != nil {
		t.Fatal(err)
	}
	if err := s.Complete(ctx, base.Add(time.Hour), time.Time{}); err != nil {
		t.Fatal(err)
	}
	cur := p.Cursor(e.company)
	if cur.Resync == nil || cur.Resync.ID != "second" || cur.LastResync != nil || cur.Scans != 2 {
		t.Fatalf("cursor after the first resync's scan: %+v (last %+v), want the second active", cur, cur.LastResync)
	}
	if err := e.runScan(ctx, p, 2, scanPlan{batches: [][]schema.Customer{customers(0, 6, 10)}, since: base.Add(2 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	got := e.scanEvents("scan-2")
	for i := range 6 {
		if w := []string{"10:SNAPSHOT:10"}; !slices.Equal(got[gid(i)], w) {
			t.Errorf("customer %d: second resync's events %v, want %v", i, got[gid(i)], w)
		}
	}
	if cur := p.Cursor(e.company); cur.Resync != nil || cur.LastResync == nil || cur.LastResync.ID != "second" {
		t.Errorf("cursor after the second resync's scan: %+v, want it completed", cur)
	}
}

// A resync accepted after the caller read the cursor, but before its scan
// began, does not make that scan a resync scan: the scan did not read from
// the start, so its Complete leaves the resync for the next scan, which
// publishes every customer.
func TestResyncAcceptedAfterTheCursorWasReadWaitsForTheNextScan(t *testing.T) {
	e := newEnv(t)
	p := e.open(nil)
	ctx := context.Background()
	base := e.published(ctx, p, 6)
	read := p.Cursor(e.company) // the scan reads Cova from here: the recent changes only
	e.accept(p, state.Resync{ID: "late"}, 1)
	s := p.BeginScan(e.company, "scan-1", schema.Source{System: "cova", ScanID: "scan-1"}, ReadFrom(read))
	if err := s.Publish(ctx, e.batch([]schema.Customer{customer(2, 11)}, nil, "scan-1")); err != nil {
		t.Fatal(err)
	}
	if err := s.Complete(ctx, base.Add(time.Hour), time.Time{}); err != nil {
		t.Fatal(err)
	}
	if w := map[string][]string{gid(2): {"11:UPDATED:10"}}; !maps.EqualFunc(e.scanEvents("scan-1"), w, slices.Equal) {
		t.Errorf("the recent scan's events %v, want %v", e.scanEvents("scan-1"), w)
	}
	cur := p.Cursor(e.company)
	if cur.Resync == nil || cur.Resync.ID != "late" || cur.LastResync != nil {
		t.Fatalf("cursor after a scan that did not read from the start: %+v, want the resync still active", cur)
	}
	s = p.BeginScan(e.company, "scan-2", schema.Source{System: "cova", ScanID: "scan-2"}, ReadFrom(cur))
	for _, b := range [][]schema.Customer{customers(0, 2, 10), {customer(2, 11)}, customers(3, 6, 10)} {
		if err := s.Publish(ctx, e.batch(b, nil, "scan-2")); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Complete(ctx, base.Add(2*time.Hour), time.Time{}); err != nil {
		t.Fatal(err)
	}
	if got := e.scanEvents("scan-2"); len(got) != 6 {
		t.Errorf("the resync scan published %d customers, want 6: %v", len(got), got)
	}
	if cur := p.Cursor(e.company); cur.Resync != nil || cur.LastResync == nil || cur.LastResync.ID != "late" {
		t.Errorf("cursor after the resync scan: %+v, want it completed", cur)
	}
}

// A signal is accepted once: its position commits with the acceptance, a
// signal at or before it is refused, and a restore reads it back.
func TestSignalIsAcceptedOnce(t *testing.T) {
	e := newEnv(t)
	p := e.open(nil)
	ctx := context.Background()
	if _, ok := p.SignalOffset(0); ok {
		t.Error("a signal position before any signal")
	}
	e.accept(p, state.Resync{ID: "a"}, 5)
	if _, err := p.AcceptResync(ctx, e.company, state.Resync{ID: "a"}, 0, 5); !errors.Is(err, ErrSignalConsumed) {
		t.Errorf("the same signal again: %v, want ErrSignalConsumed", err)
	}
	if err := p.SkipSignal(ctx, 0, 6); err != nil {
		t.Fatal(err)
	}
	if err := p.SkipSignal(ctx, 0, 6); !errors.Is(err, ErrSignalConsumed) {
		t.Errorf("skipping a skipped signal: %v, want ErrSignalConsumed", err)
	}
	if err := p.SkipSignal(ctx, 1, 2); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	p = e.open(nil)
	for part, want := range map[int32]int64{0: 6, 1: 2} {
		if n, ok := p.SignalOffset(part); !ok || n != want {
			t.Errorf("restored SignalOffset(%d) = %d, %v; want %d", part, n, ok, want)
		}
	}
	if cur := p.Cursor(e.company); cur.Resync == nil || cur.Resync.ID != "a" || cur.Resync.Seq != 1 {
		t.Errorf("restored cursor %+v, want resync a active", cur)
	}
}
