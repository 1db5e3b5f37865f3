package publisher

import (
	"strconv"
	"time"

	"github.com/covacdc/covacdc/internal/companymetrics"
	"github.com/covacdc/covacdc/schema"
	"github.com/covacdc/covacdc/state"
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

// company creates the company's counter series at zero, each dead-letter
// reason among them, so that they are on /metrics before anything is counted
// and rate() and increase() see their first rise.
func (m *metrics) company(id int64) {
	label := strconv.FormatInt(id, 10)
	m.unchanged.Zero(label)
	m.stale.Zero(label)
	m.events.Zero(label, schema.Snapshot.String(), schema.Created.String(), schema.Updated.String())
	m.deadLetters.Zero(label, DeadLetterReasons()...)
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

// register registers every family at once, as one collector: a scrape while
// New runs sees all of them or none, never some.
func (m *metrics) register(r prometheus.Registerer, g *companymetrics.GaugeSet) (prometheus.Collector, error) {
	all := companymetrics.Collectors{m.events, m.unchanged, m.stale, m.deadLetters, m.txns, m.txnDuration, g}
	return all, r.Register(all)
}

// newGauges returns the per-company state, read at scrape time from the
// committed index, so lag keeps growing while a company is stuck.
func newGauges(p *Publisher) *companymetrics.GaugeSet {
	return companymetrics.NewGaugeSet([]companymetrics.GaugeOpts{
		{Name: "covacdc_tracked_customers", Help: "Customers with a published Version."},
		{Name: "covacdc_cursor_timestamp_seconds",
			Help: "The company cursor's Since (where its next scan starts, the lookback before the last scan's start), as a Unix time; 0 for the beginning."},
		{Name: "covacdc_lag_seconds",
			Help: "How stale the company's events may be: now minus the start, on Cova's clock, of its last committed scan, which published every change made before it " +
				"(about the poll interval plus a scan's duration when healthy; the cursor's lookback is not counted). Before its first committed scan: since covacdc started."},
		{Name: "covacdc_last_success_timestamp_seconds", Help: "When the company's last scan committed, as a Unix time; 0 before its first."},
		{Name: "covacdc_resync_in_progress",
			Help: "1 while a resync of the company is requested or under way (committed to the state topic), else 0."},
		{Name: "covacdc_resync_customers_total",
			Help: "Customers committed as SNAPSHOT events by resyncs of the company since covacdc started.", Counter: true},
	}, p.readGauges)
}

// readGauges yields each company's gauges, in the order of newGauges.
func (p *Publisher) readGauges(yield func(company string, values ...float64)) {
	now := p.now()
	last := p.committed.lastSuccesses()
	resynced := p.committed.resyncCounts()
	companies := p.Companies()
	known := make(map[int64]bool, len(companies))
	for _, cs := range companies {
		known[cs.CompanyID] = true
	}
	for _, id := range p.companies {
		if !known[id] {
			known[id] = true
			companies = append(companies, state.CompanyState{CompanyID: id, Cursor: p.Cursor(id)})
		}
	}
	for _, cs := range companies {
		// Everything changed before the last committed scan started is on the
		// events topic; a cursor of an older build has no ScanStarted.
		caughtUp := p.begun
		switch {
		case cs.HasCursor && !cs.Cursor.ScanStarted.IsZero():
			caughtUp = cs.Cursor.ScanStarted
		case cs.HasCursor:
			caughtUp = cs.Cursor.Since
		}
		t, ok := last[cs.CompanyID]
		if !ok && cs.HasCursor {
			t = cs.Cursor.ScanFinished
		}
		active := 0.0
		if cs.Cursor.Resync != nil {
			active = 1
		}
		yield(strconv.FormatInt(cs.CompanyID, 10),
			float64(cs.Tracked),
			unix(cs.Cursor.Since),
			max(0, now.Sub(caughtUp).Seconds()),
			unix(t),
			active,
			float64(resynced[cs.CompanyID]))
	}
}

// unix is t as a Unix time; the zero time (never, or the beginning) is 0.
func unix(t time.Time) float64 {
	if t.IsZero() {
		return 0
	}
	return float64(t.UnixNano()) / 1e9
}
