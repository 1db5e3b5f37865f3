package main

import (
	"context"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

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
	s, err := startMetricsServer("127.0.0.1:0", prometheus.NewRegistry(), closed(), pipeline.NewHealth(time.Second, nil, nil), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		s.shutdown(ctx)
	}()
	srv := s.srv
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

// closed is a channel that is already closed.
func closed() <-chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}
