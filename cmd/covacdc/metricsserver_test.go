package main

import (
	"compress/gzip"
	"context"
	"errors"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/covacdc/covacdc/internal/companymetrics"
	"github.com/covacdc/covacdc/internal/pipeline"
	"github.com/prometheus/client_golang/prometheus"
)

// TestMetricsDefaultPortAvoidsPrometheus keeps the default metrics port off the
// ports of Prometheus itself (9090), the Pushgateway (9091), the Alertmanager
// (9093, 9094) and the range 9100-9999 that Prometheus allocates to exporters,
// so that covacdc and a Prometheus (or an exporter) can share a host.
func TestMetricsDefaultPortAvoidsPrometheus(t *testing.T) {
	ports := map[string]string{}
	for _, name := range []string{"run", "demo"} {
		addr := commandByName(name).fs.Lookup("metrics-addr").DefValue
		host, portText, err := net.SplitHostPort(addr)
		if err != nil {
			t.Fatalf("%s: default --metrics-addr %q: %v", name, addr, err)
		}
		port, _ := strconv.Atoi(portText)
		if port >= 9090 && port <= 9999 {
			t.Errorf("%s: default --metrics-addr %q is in 9090-9999, where Prometheus, its Pushgateway, Alertmanager and exporters listen", name, addr)
		}
		ports[name] = portText
		switch name {
		case "run":
			// A pod is scraped from outside: the service listens on every interface.
			if host != "" {
				t.Errorf("run: default --metrics-addr %q, want every interface (:port)", addr)
			}
		case "demo":
			if host != "127.0.0.1" {
				t.Errorf("demo: default --metrics-addr %q, want loopback only", addr)
			}
		}
	}
	if ports["run"] != ports["demo"] {
		t.Errorf("run serves metrics on port %s, the demo on %s: want one port to remember", ports["run"], ports["demo"])
	}
	if usage := commandByName("run").fs.Lookup("metrics-addr").Usage; !strings.Contains(usage, "every interface") {
		t.Errorf("run --metrics-addr help does not say the default listens on every interface: %q", usage)
	}
}

// TestMetricsServerTimeouts: a client that sends slowly, reads slowly or idles
// cannot hold a connection of the metrics server for ever.
func TestMetricsServerTimeouts(t *testing.T) {
	srv := startTestMetricsServer(t, companymetrics.NewRegistry()).srv
	for name, d := range map[string]time.Duration{
		"ReadHeaderTimeout": srv.ReadHeaderTimeout, "ReadTimeout": srv.ReadTimeout,
		"WriteTimeout": srv.WriteTimeout, "IdleTimeout": srv.IdleTimeout,
	} {
		if d <= 0 {
			t.Errorf("metrics server %s is %s: want a limit", name, d)
		}
	}
	// /readyz waits up to 2 s for Kafka's answer: the write limit must leave it time.
	if srv.WriteTimeout <= 2*time.Second {
		t.Errorf("WriteTimeout %s would cut /readyz's answer short", srv.WriteTimeout)
	}
}

// startTestMetricsServer serves reg on a port of its own until the test ends.
func startTestMetricsServer(t *testing.T, reg *companymetrics.Registry) *metricsServer {
	t.Helper()
	s, err := startMetricsServer("127.0.0.1:0", reg, closed(), pipeline.NewHealth(time.Second, nil, nil), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		s.shutdown(ctx)
	})
	return s
}

// closed is a channel that is already closed.
func closed() <-chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}

// failingCollector reports one metric that cannot be written.
type failingCollector struct{ desc *prometheus.Desc }

func (f failingCollector) Describe(ch chan<- *prometheus.Desc) { ch <- f.desc }
func (f failingCollector) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.NewInvalidMetric(f.desc, errors.New("broken on purpose"))
}

// TestMetricsEndpointServesEveryFamily: /metrics serves, plain or gzipped,
// every family the registry gathers, with every series, in the text format a
// Prometheus parses; a collector that fails gives a 500 naming the failure,
// never a partial page with status 200.
func TestMetricsEndpointServesEveryFamily(t *testing.T) {
	reg := newRegistry()
	registerUp(reg).Set(1)
	events := companymetrics.NewCounterVec(prometheus.CounterOpts{Name: "covacdc_events_published_total", Help: "Events."}, []string{"company_id", "change_type"})
	reg.MustRegister(events)
	for id := range 30 {
		events.WithLabelValues(strconv.Itoa(id), "CREATED").Add(float64(id))
	}
	want := map[string]int{}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		want[mf.GetName()] = len(mf.GetMetric())
	}
	s := startTestMetricsServer(t, reg)
	scrape := func(encoding string) (*http.Response, []byte) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, "http://"+s.addr+"/metrics", nil)
		req.Header.Set("Accept-Encoding", encoding)
		resp, err := http.DefaultTransport.RoundTrip(req) // the transport alone does not gunzip
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body io.Reader = resp.Body
		if resp.Header.Get("Content-Encoding") == "gzip" {
			if body, err = gzip.NewReader(resp.Body); err != nil {
				t.Fatal(err)
			}
		}
		b, err := io.ReadAll(body)
		if err != nil {
			t.Fatal(err)
		}
		return resp, b
	}
	for _, encoding := range []string{"identity", "gzip"} {
		resp, body := scrape(encoding)
		if got := resp.Header.Get("Content-Encoding"); (got == "gzip") != (encoding == "gzip") {
			t.Errorf("Accept-Encoding %s: Content-Encoding %q", encoding, got)
		}
		if ct := resp.Header.Get("Content-Type"); resp.StatusCode != http.StatusOK || !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
			t.Fatalf("Accept-Encoding %s: status %d, Content-Type %q", encoding, resp.StatusCode, ct)
		}
		got := map[string]int{}
		for name, mf := range families(t, string(body)) {
			got[name] = len(mf.GetMetric())
		}
		if !maps.Equal(got, want) {
			t.Errorf("Accept-Encoding %s: /metrics has series by family %v, the registry gathers %v", encoding, got, want)
		}
	}

	reg.MustRegister(failingCollector{prometheus.NewDesc("covacdc_broken", "Broken.", nil, nil)})
	resp, body := scrape("gzip")
	if resp.StatusCode != http.StatusInternalServerError || !strings.Contains(string(body), "broken on purpose") {
		t.Errorf("with a failing collector: status %d, body %q; want 500 naming the failure", resp.StatusCode, body)
	}
}
