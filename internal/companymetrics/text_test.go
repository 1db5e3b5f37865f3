package companymetrics

import (
	"bytes"
	"io"
	"math"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
)

// constGauges reports a gauge and a counter for each of n companies with
// prometheus.MustNewConstMetric: what a GaugeSet replaces.
type constGauges struct {
	gauge, counter *prometheus.Desc
	n              int
}

func (c constGauges) Describe(ch chan<- *prometheus.Desc) { ch <- c.gauge; ch <- c.counter }

func (c constGauges) Collect(ch chan<- prometheus.Metric) {
	for id := range c.n {
		ch <- prometheus.MustNewConstMetric(c.gauge, prometheus.GaugeValue, gaugeValue(id), strconv.Itoa(id))
		ch <- prometheus.MustNewConstMetric(c.counter, prometheus.CounterValue, float64(id%3), strconv.Itoa(id))
	}
}

func gaugeValue(id int) float64 { return []float64{0, 1.5, -1, 1e21, math.Inf(+1)}[id%5] }

var gaugeOpts = []GaugeOpts{
	{Name: "x_lag_seconds", Help: "Lag,\nin seconds \\ of Cova's clock."},
	{Name: "x_resync_customers_total", Help: "Customers.", Counter: true},
}

func newTestGaugeSet(n int) *GaugeSet {
	return NewGaugeSet(gaugeOpts, func(yield func(string, ...float64)) {
		for id := range n {
			yield(strconv.Itoa(id), gaugeValue(id), float64(id%3))
		}
	})
}

// TestGaugeSetExposedAsConstMetrics: a GaugeSet is exposed, through Gather and
// through WriteText, as the const metrics it replaces.
func TestGaugeSetExposedAsConstMetrics(t *testing.T) {
	theirs := prometheus.NewRegistry()
	theirs.MustRegister(constGauges{
		prometheus.NewDesc(gaugeOpts[0].Name, gaugeOpts[0].Help, []string{"company_id"}, nil),
		prometheus.NewDesc(gaugeOpts[1].Name, gaugeOpts[1].Help, []string{"company_id"}, nil), 12})
	ours := NewRegistry()
	ours.MustRegister(newTestGaugeSet(12))
	want := exposition(t, theirs)
	if got := exposition(t, ours); got != want {
		t.Errorf("Gather exposes\n%s\nMustNewConstMetric\n%s", got, want)
	}
	if got := writeText(t, ours); got != want {
		t.Errorf("WriteText writes\n%s\nMustNewConstMetric\n%s", got, want)
	}
}

// TestWriteTextWritesWhatGatherGives: /metrics written by the families
// themselves is byte for byte what client_golang writes from Gather, with the
// collectors of client_golang registered beside them, alone or bundled, and
// label values that need escaping.
func TestWriteTextWritesWhatGatherGives(t *testing.T) {
	reg := NewRegistry()
	events := NewCounterVec(prometheus.CounterOpts{Name: "x_events_total", Help: "Events."}, []string{"company_id", "change_type"})
	scans := NewHistogramVec(prometheus.HistogramOpts{Name: "x_scan_seconds", Help: "Scans.", Buckets: []float64{0.5, 1, math.Inf(+1)}}, []string{"company_id", "outcome"})
	pages := NewHistogramVec(prometheus.HistogramOpts{Name: "x_page_seconds", Help: "Pages.", Buckets: []float64{0.1, 2.5}}, []string{"company_id"})
	txns := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "x_transactions_total", Help: "Transactions."}, []string{"outcome"})
	up := prometheus.NewGauge(prometheus.GaugeOpts{Name: "x_up", Help: "Up."})
	empty := NewCounterVec(prometheus.CounterOpts{Name: "x_unused_total", Help: "Never used."}, []string{"company_id"})
	bundle := Collectors{events, txns, newTestGaugeSet(7)}
	reg.MustRegister(bundle, scans, pages, up, empty)
	for id := range 12 {
		label := strconv.Itoa(id)
		events.WithLabelValues(label, "created").Add(float64(id))
		events.WithLabelValues(label, `up"d\a`+"\nted")
		scans.WithLabelValues(label, "ok").Observe(float64(id) / 4)
		scans.WithLabelValues(label, "error")
		pages.WithLabelValues(label).Observe(float64(id))
	}
	txns.WithLabelValues("committed").Add(3)
	up.Set(1)
	want := exposition(t, reg)
	if got := writeText(t, reg); !sameLines(got, want) {
		t.Errorf("WriteText writes\n%s\nclient_golang writes\n%s", got, want)
	}
	if !strings.Contains(want, `x_scan_seconds_bucket{company_id="3",outcome="ok",le="+Inf"} 1`) ||
		!strings.Contains(want, `x_page_seconds_bucket{company_id="11",le="+Inf"} 1`) {
		t.Fatalf("the exposition lacks the series the test sets:\n%s", want)
	}

	// Unregistered, a bundle leaves both paths.
	if !reg.Unregister(bundle) {
		t.Fatal("Unregister of the bundle returned false")
	}
	if got := writeText(t, reg); strings.Contains(got, "x_events_total") || strings.Contains(got, "x_transactions_total") || strings.Contains(got, "x_lag_seconds") {
		t.Errorf("after Unregister, WriteText still writes the bundle:\n%s", got)
	}
	if err := reg.Register(txns); err != nil {
		t.Errorf("registering again what was unregistered: %v", err)
	}
}

// sameLines says whether a and b hold the same families, each family's lines
// in the same order: WriteText writes client_golang's families first, Gather
// sorts all by name.
func sameLines(a, b string) bool {
	fa, fb := families(a), families(b)
	if len(fa) != len(fb) {
		return false
	}
	for name, lines := range fa {
		if fb[name] != lines {
			return false
		}
	}
	return true
}

func families(text string) map[string]string {
	out := map[string]string{}
	var name string
	for _, line := range strings.Split(text, "\n") {
		if rest, ok := strings.CutPrefix(line, "# HELP "); ok {
			name, _, _ = strings.Cut(rest, " ")
		}
		out[name] += line + "\n"
	}
	return out
}

func writeText(t *testing.T, r *Registry) string {
	t.Helper()
	var b bytes.Buffer
	if err := r.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(b.String())
}

// TestWriteTextOfManyCompaniesAllocatesLittle: a scrape of /metrics must not
// hold an image of every series while it writes: with 5,000 companies of some
// 57 series each that image was tens of MB, alive at once, and set the
// heap's peak. Written by the families, a scrape allocates a few pointers a
// series for their order, whether a company is idle or not.
func TestWriteTextOfManyCompaniesAllocatesLittle(t *testing.T) {
	const companies = 2000
	reg := NewRegistry()
	dead := NewCounterVec(prometheus.CounterOpts{Name: "x_dead_letters_total", Help: "X."}, []string{"company_id", "reason"})
	scans := NewHistogramVec(prometheus.HistogramOpts{Name: "x_scan_seconds", Help: "X.",
		Buckets: []float64{0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600}}, []string{"company_id", "outcome"})
	reg.MustRegister(dead, scans, newTestGaugeSet(companies))
	const reasons = 11
	for id := range companies {
		label := strconv.Itoa(id)
		for r := range reasons {
			dead.WithLabelValues(label, "reason"+strconv.Itoa(r)).Add(float64(r))
		}
		scans.WithLabelValues(label, "ok").Observe(float64(id))
		scans.WithLabelValues(label, "error")
	}
	var text bytes.Buffer
	for range 2 {
		text.Reset()
		if err := reg.WriteText(&text); err != nil {
			t.Fatal(err)
		}
	}
	var before, after runtime.MemStats
	text.Reset()
	runtime.ReadMemStats(&before)
	if err := reg.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	per := (after.TotalAlloc - before.TotalAlloc) / companies
	// 11 counters, 2 histograms and 2 gauges: 32 bytes each for their
	// order (576 measured), and the gauges' values. Through Gather: 2.8 KB
	// for an idle company, more for one with counts.
	if limit := uint64(800); per > limit {
		t.Errorf("a scrape allocates %d bytes for each company (%d counters, 2 histograms, 2 gauges), want at most %d", per, reasons, limit)
	}
	t.Logf("%d bytes a company a scrape, %d bytes of text", per, text.Len()/companies)
}

// BenchmarkScrape writes /metrics for 5,000 companies as covacdc keeps them
// (11 dead-letter reasons and 3 change types at zero but SNAPSHOT, a
// scan-duration histogram of two outcomes, 6 gauges): through client_golang's
// Gather and text encoder, and with WriteText.
func BenchmarkScrape(b *testing.B) {
	const companies = 5000
	reg := NewRegistry()
	dead := NewCounterVec(prometheus.CounterOpts{Name: "x_dead_letters_total", Help: "X."}, []string{"company_id", "reason"})
	events := NewCounterVec(prometheus.CounterOpts{Name: "x_events_total", Help: "X."}, []string{"company_id", "change_type"})
	scans := NewHistogramVec(prometheus.HistogramOpts{Name: "x_scan_seconds", Help: "X.",
		Buckets: []float64{0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600}}, []string{"company_id", "outcome"})
	gauges := make([]GaugeOpts, 6)
	for i := range gauges {
		gauges[i] = GaugeOpts{Name: "x_gauge" + strconv.Itoa(i), Help: "X."}
	}
	reg.MustRegister(dead, events, scans, NewGaugeSet(gauges, func(yield func(string, ...float64)) {
		for id := range companies {
			yield(strconv.Itoa(id), 1, 2, 3, 4, 5, 6)
		}
	}))
	reasons := make([]string, 11)
	for i := range reasons {
		reasons[i] = "reason" + strconv.Itoa(i)
	}
	for id := range companies {
		company := strconv.Itoa(id)
		dead.Zero(company, reasons...)
		events.Zero(company, "SNAPSHOT", "CREATED", "UPDATED")
		events.WithLabelValues(company, "SNAPSHOT").Add(100)
		scans.Zero(company, "ok", "error")
		scans.WithLabelValues(company, "ok").Observe(1.5)
	}
	b.Run("gather", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			mfs, err := reg.Gather()
			if err != nil {
				b.Fatal(err)
			}
			for _, mf := range mfs {
				if _, err := expfmt.MetricFamilyToText(io.Discard, mf); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
	b.Run("writetext", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := reg.WriteText(io.Discard); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// blockingWriter blocks every write until release is closed.
type blockingWriter struct{ started, release chan struct{} }

func (b *blockingWriter) Write(p []byte) (int, error) {
	select {
	case b.started <- struct{}{}:
	default:
	}
	<-b.release
	return len(p), nil
}

// TestSlowScrapeDoesNotHoldRegistration: a scraper that reads slowly (the
// server gives it up to 30 s) must not hold up a component registering its
// metrics meanwhile.
func TestSlowScrapeDoesNotHoldRegistration(t *testing.T) {
	reg := NewRegistry()
	events := NewCounterVec(prometheus.CounterOpts{Name: "x_events_total", Help: "X."}, []string{"company_id"})
	reg.MustRegister(events)
	for id := range 3000 {
		events.WithLabelValues(strconv.Itoa(id)).Inc()
	}
	w := &blockingWriter{started: make(chan struct{}, 1), release: make(chan struct{})}
	scraped := make(chan error, 1)
	go func() { scraped <- reg.WriteText(w) }()
	<-w.started
	registered := make(chan error, 1)
	go func() {
		registered <- reg.Register(prometheus.NewGauge(prometheus.GaugeOpts{Name: "x_up", Help: "X."}))
	}()
	select {
	case err := <-registered:
		if err != nil {
			t.Error(err)
		}
	case <-time.After(10 * time.Second):
		t.Error("Register still waits for a scrape whose client does not read")
	}
	close(w.release)
	if err := <-scraped; err != nil {
		t.Error(err)
	}
}

// uncomparable is a collector of a type that == cannot compare.
type uncomparable struct {
	desc  *prometheus.Desc
	notes []string
}

func (u uncomparable) Describe(ch chan<- *prometheus.Desc) { ch <- u.desc }
func (u uncomparable) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(u.desc, prometheus.GaugeValue, float64(len(u.notes)))
}

// TestRegistryTakesAnyCollector: a collector of any type registers, is
// written, and unregisters, as on client_golang's registry.
func TestRegistryTakesAnyCollector(t *testing.T) {
	reg := NewRegistry()
	c := uncomparable{prometheus.NewDesc("x_notes", "X.", nil, nil), []string{"a", "b"}}
	if err := reg.Register(c); err != nil {
		t.Fatal(err)
	}
	if got := writeText(t, reg); !strings.Contains(got, "x_notes 2") {
		t.Errorf("WriteText writes %q, want x_notes 2", got)
	}
	if !reg.Unregister(c) {
		t.Error("Unregister returned false")
	}
	if got := writeText(t, reg); got != "" {
		t.Errorf("after Unregister, WriteText writes %q", got)
	}
}
