package pipeline

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/covacdc/covacdc/internal/companymetrics"
	"github.com/covacdc/covacdc/state"
	"github.com/prometheus/client_golang/prometheus"
)

// Health is what the pipeline says of itself: whether it is ready (/readyz),
// what the live process knows of each company (/status), and its metrics. It
// exists before the pipeline does, so that the metrics server answers during
// a long restore. It is safe for concurrent use.
type Health struct {
	interval time.Duration
	now      func() time.Time
	m        *metrics

	mu        sync.Mutex
	restored  bool
	ping      func(context.Context) error // Kafka reachability; nil until restored
	state     func() []state.CompanyState // the committed state; nil until restored
	companies map[int64]*companyHealth
}

// companyHealth is what the live process knows of a company.
type companyHealth struct {
	lastSuccess time.Time // when a scan last committed (restored from state at startup)
	scanning    bool
	// The scan under way: its id (once Cova answered a page), start, whether
	// it is the initial load, and the pages and customers it handed on.
	scanID      string
	scanStart   time.Time
	initialLoad bool
	pages       int
	customers   int
	lastPage    time.Time // when the scan under way last handed on a page
	lastErr     string    // the last failed scan's error, kept after a success
	lastErrAt   time.Time
}

// NewHealth tracks the companies ids, polled every interval, and registers
// the pipeline's metrics on reg (nil: no metrics) with every company's series
// at zero.
func NewHealth(interval time.Duration, ids []int64, reg prometheus.Registerer) *Health {
	h := &Health{interval: interval, now: time.Now, m: newMetrics(reg, ids), companies: map[int64]*companyHealth{}}
	for _, id := range ids {
		h.companies[id] = &companyHealth{}
	}
	return h
}

// SetRestored marks the state as restored: ping says whether Kafka is
// reachable, committed returns the committed state (for Status), and each
// company's last committed scan counts as its last success.
func (h *Health) SetRestored(ping func(context.Context) error, committed func() []state.CompanyState) {
	var restored []state.CompanyState
	if committed != nil {
		restored = committed()
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.restored = true
	h.ping = ping
	h.state = committed
	for _, cs := range restored {
		if c := h.companies[cs.CompanyID]; c != nil && cs.HasCursor && !cs.Cursor.ScanFinished.IsZero() {
			c.lastSuccess = cs.Cursor.ScanFinished
		}
	}
}

// setInterval sets how often each company is polled, which readiness allows
// three of between successful scans: the poll interval, or longer when the
// request budget cannot keep it.
func (h *Health) setInterval(d time.Duration) {
	h.m.effectiveInterval.Set(d.Seconds())
	h.mu.Lock()
	defer h.mu.Unlock()
	h.interval = d
}

// scanStarted notes a company's scan beginning; initialLoad says whether it
// is (or continues) the company's initial load.
func (h *Health) scanStarted(id int64, initialLoad bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	c := h.companies[id]
	c.scanning = true
	c.scanID, c.scanStart, c.initialLoad = "", h.now(), initialLoad
	c.pages, c.customers, c.lastPage = 0, 0, time.Time{}
}

// scanPage notes a page of the scan under way handed on to the publisher.
func (h *Health) scanPage(id int64, scanID string, customers int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	c := h.companies[id]
	c.scanID = scanID
	c.pages++
	c.customers += customers
	c.lastPage = h.now()
}

// scanEnded notes the end of a company's scan after elapsed: committed (err
// nil), failed, or interrupted (which is no failure, and is not timed).
func (h *Health) scanEnded(id int64, err error, interrupted bool, elapsed time.Duration) {
	switch {
	case interrupted:
	case err == nil:
		h.m.scanDuration.WithLabelValues(companyLabel(id), "ok").Observe(elapsed.Seconds())
	default:
		h.m.scanDuration.WithLabelValues(companyLabel(id), "error").Observe(elapsed.Seconds())
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	c := h.companies[id]
	c.scanning = false
	switch {
	case interrupted:
	case err == nil:
		c.lastSuccess = h.now()
	default:
		c.lastErr, c.lastErrAt = err.Error(), h.now()
	}
}

// Check says whether covacdc is ready, and if not, why, and sets
// covacdc_ready to match. A company is fine when its last scan committed
// within 3 poll intervals, or when a scan of it handed on a page within 3
// poll intervals: an initial load of hours keeps the instance ready (and in
// a rollout) for as long as it makes progress, and a scan that hangs or
// fails before its first page makes it unready.
func (h *Health) Check(ctx context.Context) (bool, string) {
	ok, why := h.check(ctx)
	h.m.setReady(ok)
	return ok, why
}

func (h *Health) check(ctx context.Context) (bool, string) {
	h.mu.Lock()
	restored, ping := h.restored, h.ping
	var problems []string
	if restored {
		now := h.now()
		ids := make([]int64, 0, len(h.companies))
		for id := range h.companies {
			ids = append(ids, id)
		}
		sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
		for _, id := range ids {
			c := h.companies[id]
			switch {
			case !c.lastSuccess.IsZero() && now.Sub(c.lastSuccess) <= 3*h.interval:
			case c.scanning && !c.lastPage.IsZero() && now.Sub(c.lastPage) <= 3*h.interval:
			case c.scanning && c.lastPage.IsZero():
				problems = append(problems, fmt.Sprintf("company %d: scan under way for %s without a page yet", id, now.Sub(c.scanStart).Round(time.Second)))
			case c.scanning:
				problems = append(problems, fmt.Sprintf("company %d: scan under way, no page for %s", id, now.Sub(c.lastPage).Round(time.Second)))
			case c.lastSuccess.IsZero():
				problems = append(problems, fmt.Sprintf("company %d: no successful scan yet", id))
			default:
				problems = append(problems, fmt.Sprintf("company %d: last successful scan %s ago", id, now.Sub(c.lastSuccess).Round(time.Second)))
			}
		}
	}
	h.mu.Unlock()
	if !restored {
		return false, "state not restored yet"
	}
	if ping != nil {
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		if err := ping(pctx); err != nil {
			return false, "kafka unreachable: " + err.Error()
		}
	}
	if len(problems) > 0 {
		return false, strings.Join(problems, "; ")
	}
	return true, "ok"
}

// watchReady keeps covacdc_ready current between /readyz probes, checking
// every interval until ctx is done; then it sets it to 0.
func (h *Health) watchReady(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		h.Check(ctx)
		select {
		case <-ctx.Done():
			h.m.setReady(false)
			return
		case <-t.C:
		}
	}
}

// Status is what the live process knows of every configured company.
type Status struct {
	// StateRestored is false while covacdc restores its state: the
	// companies then carry only what the live process knows.
	StateRestored bool
	Companies     []CompanyStatus // ordered by id
}

// CompanyStatus is one company's Status.
type CompanyStatus struct {
	CompanyID int64
	State     *state.CompanyState // the committed state; nil until restored
	Scan      *ScanStatus         // the scan under way; nil between scans
	LastError *ErrorStatus        // the last failed scan; nil if none failed
}

// ScanStatus is the scan under way of a company. For an initial load, Pages
// and Customers are its progress.
type ScanStatus struct {
	ID          string // empty until Cova answered its first page
	StartedAt   time.Time
	InitialLoad bool
	Pages       int
	Customers   int
	LastPageAt  time.Time // zero until a page was handed on
}

// ErrorStatus is a failed scan's error and when it failed.
type ErrorStatus struct {
	Text string
	At   time.Time
}

// Status returns the status of every configured company, ordered by id.
func (h *Health) Status() Status {
	h.mu.Lock()
	restored, committed := h.restored, h.state
	live := make(map[int64]companyHealth, len(h.companies))
	for id, c := range h.companies {
		live[id] = *c
	}
	h.mu.Unlock()

	var byID map[int64]state.CompanyState
	if restored && committed != nil {
		companies := committed()
		byID = make(map[int64]state.CompanyState, len(companies))
		for _, cs := range companies {
			byID[cs.CompanyID] = cs
		}
	}
	out := Status{StateRestored: restored, Companies: make([]CompanyStatus, 0, len(live))}
	for id, c := range live {
		cs := CompanyStatus{CompanyID: id}
		if restored {
			st, ok := byID[id]
			if !ok {
				st = state.CompanyState{CompanyID: id}
			}
			cs.State = &st
		}
		if c.scanning {
			cs.Scan = &ScanStatus{ID: c.scanID, StartedAt: c.scanStart.UTC(), InitialLoad: c.initialLoad,
				Pages: c.pages, Customers: c.customers, LastPageAt: c.lastPage.UTC()}
		}
		if c.lastErr != "" {
			cs.LastError = &ErrorStatus{Text: c.lastErr, At: c.lastErrAt.UTC()}
		}
		out.Companies = append(out.Companies, cs)
	}
	sort.Slice(out.Companies, func(i, j int) bool { return out.Companies[i].CompanyID < out.Companies[j].CompanyID })
	return out
}

// metrics are the pipeline's own metrics.
type metrics struct {
	scanDuration      *companymetrics.HistogramVec
	ready             prometheus.Gauge
	effectiveInterval prometheus.Gauge
}

// newMetrics registers the pipeline's metrics on reg, with the series of
// each company at zero; a nil reg means no metrics.
func newMetrics(reg prometheus.Registerer, companies []int64) *metrics {
	m := &metrics{
		scanDuration: companymetrics.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "covacdc_scan_duration_seconds",
			Help:    "Time from the start of a company's scan to its commit (outcome ok) or failure (outcome error).",
			Buckets: []float64{0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600},
		}, []string{"company_id", "outcome"}),
		ready: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "covacdc_ready",
			Help: "1 when /readyz answers ok: state restored, Kafka reachable, every company's last scan recent.",
		}),
		effectiveInterval: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "covacdc_effective_poll_interval_seconds",
			Help: "How often each company can be polled: --poll-interval, or longer when the request budget (--requests-per-minute, or Cova's lower limit) cannot pay one request per company per interval.",
		}),
	}
	for _, id := range companies {
		m.scanDuration.Zero(companyLabel(id), "ok", "error")
	}
	if reg != nil {
		reg.MustRegister(m.scanDuration, m.ready, m.effectiveInterval)
	}
	return m
}

func (m *metrics) setReady(ok bool) {
	if ok {
		m.ready.Set(1)
	} else {
		m.ready.Set(0)
	}
}

func companyLabel(id int64) string { return strconv.FormatInt(id, 10) }
