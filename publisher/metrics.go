package publisher

import (
	"strconv"
	"time"

	"github.com/covacdc/covacdc/internal/companymetrics"
	"github.com/covacdc/covacdc/schema"
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the publisher's counters. They always exist (cheap); they are
// registered only when a Registerer is given.
type metrics struct {
	events      *companymetrics.CounterVec // company_id, change_type; counted at commit
	unchanged   *companymetrics.CounterVec // company_id
	stale       *companymetrics.CounterVec // company_id
	deadLetters *companymetrics.CounterVec // company_id, reason; counted at commit
	txns        *prometheus.CounterVec     // outcome
	txnDuration prometheus.Histogram
}

func newMetrics() *metrics {
	m := &metrics{
		events: companymetrics.NewCounterVec(prometheus.CounterOpts{
			Name: "covacdc_events_published_total",
			Help: "CustomerChanged events committed to the events topic.",
		}, []string{"company_id", "change_type"}),
		unchanged: companymetrics.NewCounterVec(prometheus.CounterOpts{
			Name: "covacdc_customers_unchanged_total",
			Help: "Customers read with the Version already published, skipped.",
		}, []string{"company_id"}),
		stale: companymetrics.NewCounterVec(prometheus.CounterOpts{
			Name: "covacdc_customers_stale_total",
			Help: "Customers read with a Version older than the one published, skipped.",
		}, []string{"company_id"}),
		deadLetters: companymetrics.NewCounterVec(prometheus.CounterOpts{
			Name: "covacdc_dead_letters_total",
			Help: "Records committed to the dead-letter topic.",
		}, []string{"company_id", "reason"}),
		txns: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "covacdc_transactions_total",
			Help: "Kafka transactions ended, by outcome (committed, aborted, fenced).",
		}, []string{"outcome"}),
		txnDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "covacdc_transaction_duration_seconds",
			Help:    "Time from the first record of a transaction to its end.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 14),
		}),
	}
	for _, outcome := range []string{"committed", "aborted", "fenced"} {
		m.txns.WithLabelValues(outcome) // at zero, for alerts on their first rise
	}
	return m
}

// company creates the company's counter series at zero, so that they are on
// /metrics from its first scan and rate() and increase() see their first rise.
func (m *metrics) company(id int64) {
	label := strconv.FormatInt(id, 10)
	m.unchanged.WithLabelValues(label)
	m.stale.WithLabelValues(label)
	for _, t := range []schema.ChangeType{schema.Snapshot, schema.Created, schema.Updated} {
		m.events.WithLabelValues(label, t.String())
	}
}

// skips counts the customers of a batch that were not published.
type skips struct{ unchanged, stale int }

// skipped counts a batch's skipped customers of a company.
func (m *metrics) skipped(company string, n *skips) {
	if n.unchanged > 0 {
		m.unchanged.WithLabelValues(company).Add(float64(n.unchanged))
	}
	if n.stale > 0 {
		m.stale.WithLabelValues(company).Add(float64(n.stale))
	}
}

func (m *metrics) register(r prometheus.Registerer, g *gauges) error {
	for _, c := range []prometheus.Collector{m.events, m.unchanged, m.stale, m.deadLetters, m.txns, m.txnDuration, g} {
		if err := r.Register(c); err != nil {
			return err
		}
	}
	return nil
}

// gauges reports the per-company state at scrape time from the committed index,
// so lag keeps growing while a company is stuck.
type gauges struct {
	p                                   *Publisher
	tracked, cursorTS, lag, lastSuccess *prometheus.Desc
}

func newGauges(p *Publisher) *gauges {
	l := []string{"company_id"}
	return &gauges{
		p:           p,
		tracked:     prometheus.NewDesc("covacdc_tracked_customers", "Customers with a published Version.", l, nil),
		cursorTS:    prometheus.NewDesc("covacdc_cursor_timestamp_seconds", "The company cursor's Since, as a Unix time.", l, nil),
		lag:         prometheus.NewDesc("covacdc_lag_seconds", "Now minus the company cursor's Since.", l, nil),
		lastSuccess: prometheus.NewDesc("covacdc_last_success_timestamp_seconds", "When the company's last scan committed, as a Unix time.", l, nil),
	}
}

func (g *gauges) Describe(ch chan<- *prometheus.Desc) {
	ch <- g.tracked
	ch <- g.cursorTS
	ch <- g.lag
	ch <- g.lastSuccess
}

func (g *gauges) Collect(ch chan<- prometheus.Metric) {
	now := g.p.now()
	last := g.p.committed.lastSuccesses()
	for _, cs := range g.p.Companies() {
		id := strconv.FormatInt(cs.CompanyID, 10)
		ch <- prometheus.MustNewConstMetric(g.tracked, prometheus.GaugeValue, float64(cs.Tracked), id)
		if cs.HasCursor {
			ch <- prometheus.MustNewConstMetric(g.cursorTS, prometheus.GaugeValue, unix(cs.Cursor.Since), id)
			ch <- prometheus.MustNewConstMetric(g.lag, prometheus.GaugeValue, now.Sub(cs.Cursor.Since).Seconds(), id)
		}
		if t, ok := last[cs.CompanyID]; ok {
			ch <- prometheus.MustNewConstMetric(g.lastSuccess, prometheus.GaugeValue, unix(t), id)
		}
	}
}

func unix(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }
