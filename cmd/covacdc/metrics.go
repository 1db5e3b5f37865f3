package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/covacdc/covacdc/internal/companymetrics"
	"github.com/covacdc/covacdc/state"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/plugin/kprom"
)

// version is set at build time with -ldflags "-X main.version=v1.2.3"; otherwise
// the module version of the build, or "devel".
var version = ""

func buildVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "devel"
}

// newRegistry returns the process registry with the Go and process collectors.
// Every component registers on it; nothing uses the global registry.
func newRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return reg
}

// cmdMetrics are the metrics the command itself owns.
type cmdMetrics struct {
	scanDuration      *companymetrics.HistogramVec
	up                prometheus.Gauge
	ready             prometheus.Gauge
	effectiveInterval prometheus.Gauge
}

// newCmdMetrics registers the command's metrics on reg, with the series of
// each company at zero; a nil reg means no metrics.
func newCmdMetrics(reg prometheus.Registerer, companies []int64) *cmdMetrics {
	m := &cmdMetrics{
		scanDuration: companymetrics.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "covacdc_scan_duration_seconds",
			Help:    "Time from the start of a company's scan to its commit (outcome ok) or failure (outcome error).",
			Buckets: []float64{0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600},
		}, []string{"company_id", "outcome"}),
		up: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "covacdc_up",
			Help: "1 while covacdc runs.",
		}),
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
		for _, outcome := range []string{"ok", "error"} {
			m.scanDuration.WithLabelValues(companyLabel(id), outcome)
		}
	}
	if reg != nil {
		info := prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "covacdc_build_info",
			Help: "Always 1; the labels say which build runs.",
		}, []string{"version", "goversion"})
		info.WithLabelValues(buildVersion(), runtime.Version()).Set(1)
		reg.MustRegister(m.scanDuration, m.up, m.ready, m.effectiveInterval, info)
	}
	return m
}

// health tracks what /readyz and /status report. It is safe for concurrent use.
type health struct {
	interval time.Duration
	now      func() time.Time

	mu        sync.Mutex
	restored  bool
	ping      func(context.Context) error // Kafka reachability; nil until connected
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

func newHealth(interval time.Duration, ids []int64) *health {
	h := &health{interval: interval, now: time.Now, companies: map[int64]*companyHealth{}}
	for _, id := range ids {
		h.companies[id] = &companyHealth{}
	}
	return h
}

// setInterval sets how often each company is polled, which readiness allows
// three of between successful scans: the poll interval, or longer when the
// request budget cannot keep it.
func (h *health) setInterval(d time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.interval = d
}

// setRestored marks the state as restored and Kafka connected; companies
// returns the committed state, for /status.
func (h *health) setRestored(ping func(context.Context) error, companies func() []state.CompanyState, lastSuccess map[int64]time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.restored = true
	h.ping = ping
	h.state = companies
	for id, t := range lastSuccess {
		if c := h.companies[id]; c != nil {
			c.lastSuccess = t
		}
	}
}

// scanStarted notes a company's scan beginning; initialLoad says whether it
// is (or continues) the company's initial load.
func (h *health) scanStarted(id int64, initialLoad bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	c := h.companies[id]
	c.scanning = true
	c.scanID, c.scanStart, c.initialLoad = "", h.now(), initialLoad
	c.pages, c.customers, c.lastPage = 0, 0, time.Time{}
}

// scanPage notes a page of the scan under way handed on to the publisher.
func (h *health) scanPage(id int64, scanID string, customers int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	c := h.companies[id]
	c.scanID = scanID
	c.pages++
	c.customers += customers
	c.lastPage = h.now()
}

// scanEnded notes the end of a company's scan: committed (err nil), failed,
// or interrupted (interrupted, which is no failure).
func (h *health) scanEnded(id int64, err error, interrupted bool) {
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

// check says whether covacdc is ready, and if not, why. A company is fine
// when its last scan committed within 3 poll intervals, or when a scan of it
// handed on a page within 3 poll intervals: an initial load of hours keeps
// the instance ready (and in a rollout) for as long as it makes progress, and
// a scan that hangs or fails before its first page makes it unready.
func (h *health) check(ctx context.Context) (bool, string) {
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
	pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := ping(pctx); err != nil {
		return false, "kafka unreachable: " + err.Error()
	}
	if len(problems) > 0 {
		return false, strings.Join(problems, "; ")
	}
	return true, "ok"
}

// metricsServer serves /metrics, /healthz, /readyz and /status.
type metricsServer struct {
	srv  *http.Server
	addr string // the address actually listened on
	done chan struct{}
}

// startMetricsServer listens on addr and serves in the background until shutdown.
// startMetricsServer serves /metrics, /healthz, /readyz and /status on addr.
// Scrapes wait until registered is closed (or their client gives up), so the
// first one sees every family.
func startMetricsServer(addr string, gatherer prometheus.Gatherer, registered <-chan struct{}, h *health, m *cmdMetrics, log *slog.Logger) (*metricsServer, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--metrics-addr: %w", err)
	}
	mux := http.NewServeMux()
	metrics := promhttp.HandlerFor(gatherer, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)})
	mux.HandleFunc("/metrics", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-registered:
			metrics.ServeHTTP(w, r)
		case <-r.Context().Done():
		}
	})
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("/status", h.serveStatus)
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, r *http.Request) {
		ok, why := h.check(r.Context())
		setReady(m, ok)
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if !ok {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		fmt.Fprintln(w, why)
	})
	s := &metricsServer{
		// A scrape or probe is one small request: these limits only stop a slow or
		// idle client from holding a connection. The write limit leaves /readyz its
		// 2 s wait for Kafka and a large /metrics its time to render.
		srv: &http.Server{
			Handler:           mux,
			ReadHeaderTimeout: 5 * time.Second,
			ReadTimeout:       10 * time.Second,
			WriteTimeout:      30 * time.Second,
			IdleTimeout:       2 * time.Minute,
		},
		addr: ln.Addr().String(),
		done: make(chan struct{}),
	}
	go func() {
		defer close(s.done)
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics server stopped", "err", err)
		}
	}()
	return s, nil
}

// shutdown stops the server within the context's deadline. Safe on nil.
func (s *metricsServer) shutdown(ctx context.Context) {
	if s == nil {
		return
	}
	if err := s.srv.Shutdown(ctx); err != nil {
		_ = s.srv.Close()
	}
	<-s.done
}

func setReady(m *cmdMetrics, ok bool) {
	if ok {
		m.ready.Set(1)
	} else {
		m.ready.Set(0)
	}
}

func companyLabel(id int64) string { return strconv.FormatInt(id, 10) }

// kafkaMetrics is franz-go's kprom plugin under the covacdc namespace, made safe
// for a publisher that opens more than one client with the same options: kprom
// registers its collectors on each new client (a second registration panics) and
// unregisters them when any client closes. The first client registers; closing
// clients unregisters nothing, so the series stay for the life of the process.
type kafkaMetrics struct {
	*kprom.Metrics
	once sync.Once
}

func newKafkaMetrics(reg prometheus.Registerer) *kafkaMetrics {
	// The end-to-end request histogram is the produce latency of the dashboard.
	return &kafkaMetrics{Metrics: kprom.NewMetrics("covacdc", kprom.Registerer(reg), kprom.Histograms(kprom.RequestDurationE2E))}
}

// OnNewClient implements kgo.HookNewClient.
func (k *kafkaMetrics) OnNewClient(cl *kgo.Client) {
	k.once.Do(func() { k.Metrics.OnNewClient(cl) })
}

// OnClientClosed implements kgo.HookClientClosed.
func (k *kafkaMetrics) OnClientClosed(*kgo.Client) {}
