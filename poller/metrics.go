package poller

import (
	"strconv"

	"github.com/covacdc/covacdc/internal/companymetrics"
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the client's Prometheus metrics; with a nil Registerer they are
// created but never registered, so the code paths stay the same.
type metrics struct {
	fetched   *companymetrics.CounterVec // covacdc_customers_fetched_total{company_id}
	requests  *companymetrics.CounterVec // covacdc_cova_requests_total{company_id,code}
	duration  prometheus.Histogram       // covacdc_cova_request_duration_seconds
	throttled *companymetrics.CounterVec // covacdc_cova_throttled_total{company_id}
	auth      *prometheus.CounterVec     // covacdc_cova_auth_total{outcome}
}

// newMetrics creates the metrics with the series of each of companies, and
// of each auth outcome, at zero.
func newMetrics(r prometheus.Registerer, companies []int64) (*metrics, error) {
	m := &metrics{
		fetched: companymetrics.NewCounterVec(prometheus.CounterOpts{
			Name: "covacdc_customers_fetched_total",
			Help: "Customers handed on by scans of Cova CustomerFull, after removing repeats within a scan.",
		}, []string{"company_id"}),
		requests: companymetrics.NewCounterVec(prometheus.CounterOpts{
			Name: "covacdc_cova_requests_total",
			Help: "CustomerFull requests by HTTP status (\"error\" for a transport error or timeout).",
		}, []string{"company_id", "code"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "covacdc_cova_request_duration_seconds",
			Help:    "Time from sending a CustomerFull request to its response headers.",
			Buckets: prometheus.ExponentialBuckets(0.01, 2, 14),
		}),
		throttled: companymetrics.NewCounterVec(prometheus.CounterOpts{
			Name: "covacdc_cova_throttled_total",
			Help: "HTTP 429 answers received from Cova; each pauses every company of the process.",
		}, []string{"company_id"}),
		auth: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "covacdc_cova_auth_total",
			Help: "Token requests by outcome: ok, rejected (bad credentials) or error.",
		}, []string{"outcome"}),
	}
	for _, id := range companies {
		label := companyLabel(id)
		m.fetched.Zero(label)
		m.throttled.Zero(label)
		m.requests.Zero(label, "200")
	}
	for _, outcome := range []string{"ok", "rejected", "error"} {
		m.auth.WithLabelValues(outcome)
	}
	if r == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.fetched, m.requests, m.duration, m.throttled, m.auth} {
		if err := r.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func companyLabel(id int64) string { return strconv.FormatInt(id, 10) }
