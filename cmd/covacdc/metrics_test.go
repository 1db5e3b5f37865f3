package main

import (
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/covacdc/covacdc/internal/testenv"

	"github.com/covacdc/covacdc/deploy"
	"github.com/covacdc/covacdc/poller/covatest"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	dto "github.com/prometheus/client_model/go"
)

// families parses a /metrics text exposition.
func families(t *testing.T, text string) map[string]*dto.MetricFamily {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(strings.NewReader(text))
	if err != nil {
		t.Fatalf("parsing /metrics: %v", err)
	}
	return mfs
}

// sum adds the values of a family's series whose labels include match.
func sum(mf *dto.MetricFamily, match map[string]string) float64 {
	if mf == nil {
		return 0
	}
	var total float64
	for _, m := range mf.GetMetric() {
		ok := true
		for k, v := range match {
			found := false
			for _, l := range m.GetLabel() {
				if l.GetName() == k && l.GetValue() == v {
					found = true
				}
			}
			ok = ok && found
		}
		if !ok {
			continue
		}
		switch {
		case m.Counter != nil:
			total += m.GetCounter().GetValue()
		case m.Gauge != nil:
			total += m.GetGauge().GetValue()
		case m.Histogram != nil:
			total += float64(m.GetHistogram().GetSampleCount())
		case m.Untyped != nil:
			total += m.GetUntyped().GetValue()
		}
	}
	return total
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestMetricsMatchTheTopic runs covacdc against the simulator with a few hazards
// (a 429, a malformed record), scrapes /metrics once every company's first scan
// has committed, and checks the counters against what a read_committed consumer
// finds on the events and dead-letter topics. It also checks that every metric
// the dashboards and alert rules under deploy/ query is exposed.
func TestMetricsMatchTheTopic(t *testing.T) {
	e := newTestEnv(t, covatest.Config{Seed: 11})
	e.sim.Generate(1, 300)
	e.sim.Generate(2, 150)
	e.sim.AddRaw(2, "ffffffff-0000-0000-0000-000000000001", time.Now().Add(-time.Hour),
		`{"Id":"ffffffff-0000-0000-0000-000000000001","PrimaryName":"no version","LastModifiedDateUtc":"2024-01-01T00:00:00"}`)
	// Customers changed just now are read again by the next scan (the lookback):
	// unchanged.
	e.sim.Burst(1, 5, time.Now().UTC())
	e.sim.SetHazards(covatest.Hazards{Status429: 1, RetryAfter: "0"})
	e.metrics = freeAddr(t)
	base := "http://" + e.metrics

	p := start(t, passwordEnv(), e.runArgs("1,2", "--poll-interval", "1s", "--page-size", "50")...)
	testenv.Eventually(t, 20*time.Second, "/healthz", func() bool { code, _ := get(t, base+"/healthz"); return code == 200 })
	var text string
	testenv.Eventually(t, 60*time.Second, "two committed scans of each company", func() bool {
		mfs := families(t, scrape(t, e.metrics))
		sd := mfs["covacdc_scan_duration_seconds"]
		return sum(sd, map[string]string{"company_id": "1", "outcome": "ok"}) >= 2 &&
			sum(sd, map[string]string{"company_id": "2", "outcome": "ok"}) >= 2
	})
	testenv.Eventually(t, 10*time.Second, "/readyz ok", func() bool { code, _ := get(t, base+"/readyz"); return code == 200 })
	text = scrape(t, e.metrics)
	mfs := families(t, text)

	events := e.readEvents(t, e.topic)
	byLabel := map[[2]string]int{}
	for _, ev := range events {
		byLabel[[2]string{fmt.Sprint(ev.CompanyID), ev.ChangeType}]++
	}
	published := mfs["covacdc_events_published_total"]
	if published == nil {
		t.Fatal("covacdc_events_published_total missing from /metrics")
	}
	for k, n := range byLabel {
		if got := sum(published, map[string]string{"company_id": k[0], "change_type": k[1]}); got != float64(n) {
			t.Errorf("covacdc_events_published_total{company_id=%q,change_type=%q} = %v, topic has %d", k[0], k[1], got, n)
		}
	}
	if got := sum(published, nil); got != float64(len(events)) || len(events) < 455 {
		t.Errorf("events published %v by the metric, %d on the topic, want at least 455", got, len(events))
	}
	checkExactlyOnce(t, events, map[int64]map[string]int64{1: e.sim.Truth(1), 2: e.sim.Truth(2)})
	dead := e.readRecords(t, e.dlq)
	if got := sum(mfs["covacdc_dead_letters_total"], map[string]string{"company_id": "2"}); got != float64(len(dead)) || len(dead) != 1 {
		t.Errorf("dead letters: metric %v, topic %d, want 1", got, len(dead))
	}
	checks := []struct {
		name  string
		match map[string]string
		want  func(float64) bool
		says  string
	}{
		{"covacdc_customers_fetched_total", map[string]string{"company_id": "1"}, func(v float64) bool { return v >= 300 }, ">= 300"},
		{"covacdc_tracked_customers", map[string]string{"company_id": "1"}, func(v float64) bool { return v == 305 }, "305"},
		{"covacdc_customers_unchanged_total", map[string]string{"company_id": "1"}, func(v float64) bool { return v >= 4 }, ">= 4"},
		{"covacdc_tracked_customers", map[string]string{"company_id": "2"}, func(v float64) bool { return v == 150 }, "150"},
		{"covacdc_cova_throttled_total", nil, func(v float64) bool { return v >= 1 }, ">= 1"},
		{"covacdc_cova_requests_total", map[string]string{"code": "429"}, func(v float64) bool { return v >= 1 }, ">= 1"},
		{"covacdc_cova_auth_total", map[string]string{"outcome": "ok"}, func(v float64) bool { return v >= 1 }, ">= 1"},
		{"covacdc_transactions_total", map[string]string{"outcome": "committed"}, func(v float64) bool { return v >= 2 }, ">= 2"},
		{"covacdc_up", nil, func(v float64) bool { return v == 1 }, "1"},
		{"covacdc_ready", nil, func(v float64) bool { return v == 1 }, "1"},
		{"covacdc_build_info", nil, func(v float64) bool { return v == 1 }, "1"},
		// Measured from the last committed scan's start: a healthy pipeline
		// polling every second is seconds behind, not the 2 minute lookback.
		{"covacdc_lag_seconds", map[string]string{"company_id": "1"}, func(v float64) bool { return v > 0 && v < 60 }, "> 0 and < 60 (below the 120 s lookback)"},
		{"covacdc_lag_seconds", map[string]string{"company_id": "2"}, func(v float64) bool { return v > 0 && v < 60 }, "> 0 and < 60 (below the 120 s lookback)"},
	}
	for _, c := range checks {
		if got := sum(mfs[c.name], c.match); !c.want(got) {
			t.Errorf("%s%v = %v, want %s", c.name, c.match, got, c.says)
		}
	}
	for _, name := range []string{"go_goroutines", "process_cpu_seconds_total", "covacdc_produce_bytes_total"} {
		if mfs[name] == nil {
			t.Errorf("%s missing: Go, process and kprom collectors must be registered", name)
		}
	}

	// Every metric a dashboard or alert rule queries must be one the binary exposes.
	used, err := deploy.MetricNames("../../deploy")
	if err != nil {
		t.Fatalf("deploy.MetricNames: %v", err)
	}
	if len(used) == 0 {
		t.Fatal("deploy.MetricNames found no metric: the dashboards and alert rules are missing")
	}
	var absent []string
	for name, files := range used {
		if onlyOnError[name] {
			continue
		}
		if !exposed(mfs, name) {
			absent = append(absent, fmt.Sprintf("%s (used in %s)", name, strings.Join(files, ", ")))
		}
	}
	sort.Strings(absent)
	for _, a := range absent {
		t.Errorf("not exposed by covacdc after a run: %s", a)
	}
	t.Logf("%d metrics used by deploy/ all exposed; %d families on /metrics", len(used)-len(absent), len(mfs))

	p.signal(t, syscall.SIGTERM)
	if code := p.wait(t, 10*time.Second); code != 0 {
		t.Fatalf("exit %d after SIGTERM\nstderr:\n%s", code, p.stderr)
	}
}

// onlyOnError are series that appear on /metrics only once what they count has
// happened: kprom's broker I/O error counters, labelled by broker node.
var onlyOnError = map[string]bool{
	"covacdc_connect_errors_total": true,
	"covacdc_read_errors_total":    true,
	"covacdc_write_errors_total":   true,
}

// exposed says whether a series name queried by deploy/ is on /metrics: a
// histogram's _bucket, _sum and _count series belong to its family.
func exposed(mfs map[string]*dto.MetricFamily, name string) bool {
	if mfs[name] != nil {
		return true
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		if fam, ok := strings.CutSuffix(name, suffix); ok {
			if mf := mfs[fam]; mf != nil && (mf.GetType() == dto.MetricType_HISTOGRAM || mf.GetType() == dto.MetricType_SUMMARY) {
				return true
			}
		}
	}
	return false
}

// TestKafkaUnreachableExits1 starts covacdc with no broker listening: it
// exits 1 with a message that says Kafka could not be reached, in the user's
// terms: which topic it was asking about, no package names.
func TestKafkaUnreachableExits1(t *testing.T) {
	p := start(t, passwordEnv(), "run", "--kafka-brokers", freeAddr(t), "--company-id", "1",
		"--cova-client-id", "c", "--cova-client-secret", "s", "--cova-username", "u", "--metrics-addr", "")
	if code := p.wait(t, 30*time.Second); code != 1 {
		t.Fatalf("exit %d, want 1\nstderr:\n%s", code, p.stderr)
	}
	got := lastLine(p.stderr.String())
	if !strings.HasPrefix(got, `covacdc: events topic "covacdc.customers": reading its metadata from Kafka: `) || !strings.Contains(got, "dial") {
		t.Errorf("last line %q does not say Kafka is unreachable", got)
	}
	for _, internal := range []string{"publisher:", "state:", "kafka:"} {
		if strings.Contains(got, internal) {
			t.Errorf("last line %q holds the internal prefix %q", got, internal)
		}
	}
}
