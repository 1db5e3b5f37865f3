package main

import (
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/covacdc/covacdc/internal/companymetrics"
	"github.com/covacdc/covacdc/internal/pipeline"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/common/expfmt"
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
func newRegistry() *companymetrics.Registry {
	reg := companymetrics.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return reg
}

// registerUp registers covacdc_up and covacdc_build_info on reg (nil: no
// metrics) and returns covacdc_up, which the caller sets while it runs.
func registerUp(reg prometheus.Registerer) prometheus.Gauge {
	up := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "covacdc_up",
		Help: "1 while covacdc runs.",
	})
	if reg != nil {
		info := prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "covacdc_build_info",
			Help: "Always 1; the labels say which build runs.",
		}, []string{"version", "goversion"})
		info.WithLabelValues(buildVersion(), runtime.Version()).Set(1)
		reg.MustRegister(up, info)
	}
	return up
}

// metricsServer serves /metrics, /healthz, /readyz and /status.
type metricsServer struct {
	srv  *http.Server
	addr string // the address actually listened on
	done chan struct{}
}

// startMetricsServer serves /metrics, /healthz, /readyz and /status on addr.
// Scrapes wait until registered is closed (or their client gives up), so the
// first one sees every family.
func startMetricsServer(addr string, reg *companymetrics.Registry, registered <-chan struct{}, h *pipeline.Health, log *slog.Logger) (*metricsServer, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--metrics-addr: %w", err)
	}
	mux := http.NewServeMux()
	metrics := metricsHandler(reg, log)
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
	mux.HandleFunc("/status", func(w http.ResponseWriter, _ *http.Request) { serveStatus(w, h.Status()) })
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, r *http.Request) {
		ok, why := h.Check(r.Context())
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

// metricsHandler serves the registry in the text exposition format, which
// every Prometheus reads, gzipped when the client accepts it. The families
// covacdc keeps for every company are written from their series as the
// response goes out (companymetrics.Registry.WriteText): through
// client_golang's Gather a scrape of 5,000 companies held an image of each of
// their 285,000 series until the last line was written.
func metricsHandler(reg *companymetrics.Registry, log *slog.Logger) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", string(expfmt.NewFormat(expfmt.TypeTextPlain)))
		w.Header().Set("Vary", "Accept-Encoding")
		var out io.Writer = w
		var gz *gzip.Writer
		if acceptsGzip(r.Header.Get("Accept-Encoding")) {
			gz = gzipWriters.Get().(*gzip.Writer)
			defer gzipWriters.Put(gz)
			gz.Reset(w)
			out = gz
			w.Header().Set("Content-Encoding", "gzip")
		}
		var started countingWriter
		started.w = out
		err := reg.WriteText(&started)
		if err == nil && gz != nil {
			err = gz.Close()
		}
		if err == nil {
			return
		}
		log.Warn("metrics scrape failed", "err", err)
		if started.n == 0 {
			w.Header().Del("Content-Encoding")
			http.Error(w, "covacdc: gathering metrics: "+err.Error(), http.StatusInternalServerError)
		}
	}
}

var gzipWriters = sync.Pool{New: func() any { return gzip.NewWriter(nil) }}

// acceptsGzip says whether an Accept-Encoding header admits gzip.
func acceptsGzip(header string) bool {
	for part := range strings.SplitSeq(header, ",") {
		coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(coding), "gzip") {
			return strings.ReplaceAll(strings.TrimSpace(params), " ", "") != "q=0"
		}
	}
	return false
}

// countingWriter counts the bytes written through it.
type countingWriter struct {
	w io.Writer
	n int
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += n
	return n, err
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
