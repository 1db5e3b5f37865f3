package main

import (
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/covacdc/covacdc/deploy"
	"github.com/covacdc/covacdc/internal/testenv"
	"github.com/covacdc/covacdc/poller/covatest"
	"github.com/covacdc/covacdc/publisher"
	dto "github.com/prometheus/client_model/go"
)

// kafkaClientSeries are franz-go's client metrics, labelled by broker node
// and topic: they appear with the first request to a broker, not per company.
var kafkaClientSeries = map[string]bool{
	"covacdc_buffered_produce_records_total":      true,
	"covacdc_produce_bytes_total":                 true,
	"covacdc_request_duration_e2e_seconds_bucket": true,
	"covacdc_request_duration_e2e_seconds":        true,
}

// documentedMetrics are the covacdc_ families README names and those the
// dashboards and alert rules under deploy/ query.
func documentedMetrics(t *testing.T) map[string]string {
	t.Helper()
	used, err := deploy.MetricNames("../../deploy")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for name, files := range used {
		out[name] = strings.Join(files, ", ")
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range regexp.MustCompile(`covacdc_[a-z0-9_]*[a-z0-9]\b`).FindAllString(string(readme), -1) {
		if _, ok := out[name]; !ok {
			out[name] = "README.md"
		}
	}
	return out
}

// companySeries are the company_id label values of a family's series, each
// with the reasons found for it.
func companySeries(mf *dto.MetricFamily) map[string]map[string]bool {
	out := map[string]map[string]bool{}
	for _, m := range mf.GetMetric() {
		var company, reason string
		for _, l := range m.GetLabel() {
			switch l.GetName() {
			case "company_id":
				company = l.GetValue()
			case "reason":
				reason = l.GetValue()
			}
		}
		if company == "" {
			continue
		}
		if out[company] == nil {
			out[company] = map[string]bool{}
		}
		out[company][reason] = true
	}
	return out
}

// TestEveryMetricOnTheFirstScrape scrapes /metrics the moment it first
// answers, before the state is restored and before any scan: every family
// README, the dashboards and the alert rules name is there, each per-company
// family with a series for every configured company, and the dead letters
// with a series for every reason, so a dashboard shows 0 rather than no data.
func TestEveryMetricOnTheFirstScrape(t *testing.T) {
	e := newTestEnv(t, covatest.Config{})
	e.sim.Generate(1, 20)
	e.sim.Generate(2, 20)
	e.metrics = freeAddr(t)
	start(t, passwordEnv(), e.runArgs("1,2", "--poll-interval", "1h")...)
	var text string
	testenv.Eventually(t, 20*time.Second, "/metrics", func() bool {
		code, body := get(t, "http://"+e.metrics+"/metrics")
		text = body
		return code == 200
	})
	mfs := families(t, text)

	documented := documentedMetrics(t)
	var names []string
	for name := range documented {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if onlyOnError[name] || kafkaClientSeries[name] {
			continue
		}
		if !exposed(mfs, name) {
			t.Errorf("%s (in %s) not on the first scrape", name, documented[name])
			continue
		}
		fam := name
		if mfs[fam] == nil {
			fam = strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(name, "_bucket"), "_sum"), "_count")
		}
		series := companySeries(mfs[fam])
		if len(series) == 0 {
			continue // not a per-company family
		}
		for _, company := range []string{"1", "2"} {
			if series[company] == nil {
				t.Errorf("%s: no series of company %s on the first scrape", fam, company)
			}
		}
	}
	for _, name := range []string{"covacdc_cova_throttled_total", "covacdc_lag_seconds", "covacdc_tracked_customers",
		"covacdc_last_success_timestamp_seconds", "covacdc_events_published_total", "covacdc_scan_duration_seconds"} {
		for _, company := range []string{"1", "2"} {
			if companySeries(mfs[name])[company] == nil {
				t.Errorf("%s: no series of company %s on the first scrape", name, company)
			}
		}
	}
	dead := companySeries(mfs["covacdc_dead_letters_total"])
	for _, company := range []string{"1", "2"} {
		for _, reason := range publisher.DeadLetterReasons() {
			if !dead[company][reason] {
				t.Errorf("covacdc_dead_letters_total{company_id=%q,reason=%q} not on the first scrape", company, reason)
			}
		}
	}
	t.Logf("first scrape: %d families, %d documented", len(mfs), len(documented))
}
