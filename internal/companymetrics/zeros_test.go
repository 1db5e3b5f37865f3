package companymetrics

import (
	"runtime"
	"strconv"
	"testing"

	"github.com/covacdc/covacdc/internal/testenv"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestZeroSeriesAreExposedAsSeriesAtZero: series made to exist at zero with
// Zero are exposed, through Gather and WriteText, as client_golang exposes the
// series WithLabelValues makes; one that is then counted in is exposed
// once, with its value.
func TestZeroSeriesAreExposedAsSeriesAtZero(t *testing.T) {
	copts := prometheus.CounterOpts{Name: "x_events_total", Help: "Events."}
	sopts := prometheus.CounterOpts{Name: "x_stale_total", Help: "Stale."}
	hopts := prometheus.HistogramOpts{Name: "x_scan_seconds", Help: "Scans.", Buckets: []float64{0.5, 1}}
	// company_id sorts after change_type and before outcome.
	ours, theirs := NewRegistry(), prometheus.NewRegistry()
	oc, tc := NewCounterVec(copts, []string{"company_id", "change_type"}), prometheus.NewCounterVec(copts, []string{"company_id", "change_type"})
	os, ts := NewCounterVec(sopts, []string{"company_id"}), prometheus.NewCounterVec(sopts, []string{"company_id"})
	oh, th := NewHistogramVec(hopts, []string{"company_id", "outcome"}), prometheus.NewHistogramVec(hopts, []string{"company_id", "outcome"})
	ours.MustRegister(oc, os, oh)
	theirs.MustRegister(tc, ts, th)
	for id := range 12 {
		company := strconv.Itoa(id)
		oc.Zero(company, "SNAPSHOT", "CREATED", "UPDATED")
		os.Zero(company)
		oh.Zero(company, "ok", "error")
		for _, typ := range []string{"SNAPSHOT", "CREATED", "UPDATED"} {
			tc.WithLabelValues(company, typ)
		}
		ts.WithLabelValues(company)
		th.WithLabelValues(company, "ok")
		th.WithLabelValues(company, "error")
	}
	oc.WithLabelValues("3", "CREATED").Add(2)
	tc.WithLabelValues("3", "CREATED").Add(2)
	os.WithLabelValues("4").Inc()
	ts.WithLabelValues("4").Inc()
	oh.WithLabelValues("5", "error").Observe(0.7)
	th.WithLabelValues("5", "error").Observe(0.7)
	// Zero again after a count leaves the count.
	oc.Zero("3", "CREATED")
	os.Zero("4")
	want := exposition(t, theirs)
	if got := exposition(t, ours); got != want {
		t.Errorf("Gather exposes\n%s\nclient_golang\n%s", got, want)
	}
	if got := writeText(t, ours); !sameLines(got, want) {
		t.Errorf("WriteText writes\n%s\nclient_golang\n%s", got, want)
	}
	if v := testutil.ToFloat64(oc.WithLabelValues("3", "CREATED")); v != 2 {
		t.Errorf("counter 3/CREATED = %v, want 2", v)
	}
}

// TestIdleSeriesWeighLittle: what a company's series at zero hold between
// scrapes (11 dead-letter reasons, 3 change types, 2 scan outcomes) is a
// few bytes a series: a deployment configures thousands of companies.
func TestIdleSeriesWeighLittle(t *testing.T) {
	const companies = 2000
	reasons := make([]string, 11)
	for i := range reasons {
		reasons[i] = "reason" + strconv.Itoa(i)
	}
	held := testenv.HeapInUse()
	dead := NewCounterVec(prometheus.CounterOpts{Name: "x_dead_letters_total", Help: "X."}, []string{"company_id", "reason"})
	events := NewCounterVec(prometheus.CounterOpts{Name: "x_events_total", Help: "X."}, []string{"company_id", "change_type"})
	scans := NewHistogramVec(prometheus.HistogramOpts{Name: "x_scan_seconds", Help: "X.",
		Buckets: []float64{0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600}}, []string{"company_id", "outcome"})
	for id := range companies {
		company := strconv.Itoa(id)
		dead.Zero(company, reasons...)
		events.Zero(company, "SNAPSHOT", "CREATED", "UPDATED")
		scans.Zero(company, "ok", "error")
	}
	per := (testenv.HeapInUse() - held) / companies
	runtime.KeepAlive(dead)
	runtime.KeepAlive(events)
	runtime.KeepAlive(scans)
	// As series (made with WithLabelValues): 2,483 bytes measured for these 16.
	if limit := int64(400); per > limit {
		t.Errorf("a company's 16 series at zero hold %d bytes, want at most %d", per, limit)
	}
	t.Logf("a company's 16 series at zero hold %d bytes", per)
}
