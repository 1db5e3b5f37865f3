package companymetrics

import (
	"bytes"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/expfmt"
)

// TestExposedAsClientGolangWould: the same counts and observations give the
// same /metrics text as client_golang's CounterVec and HistogramVec.
func TestExposedAsClientGolangWould(t *testing.T) {
	copts := prometheus.CounterOpts{Name: "x_requests_total", Help: "Requests."}
	hopts := prometheus.HistogramOpts{Name: "x_scan_seconds", Help: "Scans.", Buckets: []float64{0.5, 1, 5}}
	// change_type sorts before company_id: the pairs must come out sorted.
	labels := []string{"company_id", "change_type"}
	ours, theirs := prometheus.NewRegistry(), prometheus.NewRegistry()
	oc, tc := NewCounterVec(copts, labels), prometheus.NewCounterVec(copts, labels)
	oh, th := NewHistogramVec(hopts, labels), prometheus.NewHistogramVec(hopts, labels)
	ours.MustRegister(oc, oh)
	theirs.MustRegister(tc, th)
	for _, op := range []struct {
		company, typ string
		add, obs     float64
	}{
		{"17", "created", 3, 0.2}, {"17", "updated", 0, 0.5}, {"2", "created", 1.5, 7},
		{"17", "created", 2, 1}, {"2", "snapshot", 0, 0.7},
	} {
		oc.WithLabelValues(op.company, op.typ).Add(op.add)
		tc.WithLabelValues(op.company, op.typ).Add(op.add)
		oh.WithLabelValues(op.company, op.typ).Observe(op.obs)
		th.WithLabelValues(op.company, op.typ).Observe(op.obs)
	}
	// A series without a count or observation is exposed at zero all the same.
	oc.WithLabelValues("3", "created")
	tc.WithLabelValues("3", "created")
	oh.WithLabelValues("3", "updated")
	th.WithLabelValues("3", "updated")
	got, want := exposition(t, ours), exposition(t, theirs)
	if got != want {
		t.Errorf("exposed\n%s\nclient_golang exposes\n%s", got, want)
	}
	if v := testutil.ToFloat64(oc.WithLabelValues("17", "created")); v != 5 {
		t.Errorf("counter of 17/created = %v, want 5", v)
	}
}

func exposition(t *testing.T, g prometheus.Gatherer) string {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	for _, mf := range mfs {
		if _, err := expfmt.MetricFamilyToText(&b, mf); err != nil {
			t.Fatal(err)
		}
	}
	return strings.TrimSpace(b.String())
}

// TestCounterPanicsOnDecrease: a counter only goes up, as client_golang's.
func TestCounterPanicsOnDecrease(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("Add(-1) did not panic")
		}
	}()
	NewCounterVec(prometheus.CounterOpts{Name: "x_total", Help: "X."}, []string{"company_id"}).WithLabelValues("1").Add(-1)
}

// TestScrapeOfIdleCompaniesAllocatesLittle: every scrape of /metrics builds
// client_golang's image of every series, and with thousands of companies that
// image, alive while the scrape renders, is what sets the heap's peak. A
// company that has not been scanned yet (its counters at zero, its histogram
// of 14 buckets without observation, both outcomes) must cost little of it.
func TestScrapeOfIdleCompaniesAllocatesLittle(t *testing.T) {
	const companies = 2000
	reg := prometheus.NewRegistry()
	dead := NewCounterVec(prometheus.CounterOpts{Name: "x_dead_letters_total", Help: "X."}, []string{"company_id", "reason"})
	scans := NewHistogramVec(prometheus.HistogramOpts{Name: "x_scan_seconds", Help: "X.",
		Buckets: []float64{0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600}}, []string{"company_id", "outcome"})
	reg.MustRegister(dead, scans)
	const reasons = 11
	for id := range companies {
		label := strconv.Itoa(id)
		for r := range reasons {
			dead.WithLabelValues(label, "reason"+strconv.Itoa(r))
		}
		scans.WithLabelValues(label, "ok")
		scans.WithLabelValues(label, "error")
	}
	gather := func() {
		if _, err := reg.Gather(); err != nil {
			t.Fatal(err)
		}
	}
	gather()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	gather()
	runtime.ReadMemStats(&after)
	per := (after.TotalAlloc - before.TotalAlloc) / companies
	// client_golang's own image of a series (its dto.Metric, the consistency
	// check) is about 200 bytes, 2.6 KB for these 13: what the series allocate
	// besides must stay small. 6.1 KB measured before idle series shared
	// their image.
	if limit := uint64(3500); per > limit {
		t.Errorf("a scrape allocates %d bytes for each idle company (%d counters, 2 histograms), want at most %d", per, reasons, limit)
	}
	t.Logf("%d bytes a company a scrape", per)
}
