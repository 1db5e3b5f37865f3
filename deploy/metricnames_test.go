package deploy

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestExprMetrics(t *testing.T) {
	for _, tc := range []struct {
		expr string
		want []string
	}{
		{`up`, []string{"up"}},
		{`covacdc_lag_seconds{company_id=~"$company_id", job="a"} > 900`, []string{"covacdc_lag_seconds"}},
		{`sum by (change_type) (rate(covacdc_events_published_total{instance=~"$instance"}[$__rate_interval]))`,
			[]string{"covacdc_events_published_total"}},
		{`histogram_quantile(0.95, sum by (le, company_id) (rate(covacdc_scan_duration_seconds_bucket{outcome="ok"}[5m])))`,
			[]string{"covacdc_scan_duration_seconds_bucket"}},
		{`sum(rate(a_total[5m])) without (instance) / on (job) group_left (x) sum(b_total) by (job)`,
			[]string{"a_total", "b_total"}},
		{`time() - max by (job) (covacdc_last_success_timestamp_seconds) > 600 and max by (job) (covacdc_last_success_timestamp_seconds) > 0`,
			[]string{"covacdc_last_success_timestamp_seconds"}},
		{`x_total > 0 unless x_total offset 15m or y_total @ 1609746000`, []string{"x_total", "y_total"}},
		{`label_replace(m1, "dst", "$1", "src", "(.*)") or vector(1) or {__name__="m2"}`, []string{"m1", "m2"}},
		{`absent(up{job="covacdc"})`, []string{"up"}},
		{`rate(m:recorded:5m[1h:5m]) * 1e3 + Inf - NaN # comment metric_in_comment`, []string{"m:recorded:5m"}},
		{`count_values("version", build_info) and bool_thing == bool 1`, []string{"build_info", "bool_thing"}},
		{`sum without(x)(m3{a="}"})`, []string{"m3"}},
	} {
		if got := exprMetrics(tc.expr); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("exprMetrics(%s) = %v, want %v", tc.expr, got, tc.want)
		}
	}
}

func TestVariableExpr(t *testing.T) {
	for q, want := range map[string]string{
		`label_values(covacdc_up, job)`:                              `covacdc_up`,
		`label_values(covacdc_lag_seconds{job=~"$job"}, company_id)`: `covacdc_lag_seconds{job=~"$job"}`,
		`label_values(job)`:                                          ``,
		`metrics(covacdc_.*)`:                                        ``,
		`query_result(topk(5, covacdc_tracked_customers))`:           `topk(5, covacdc_tracked_customers)`,
		`covacdc_up`: `covacdc_up`,
	} {
		if got := variableExpr(q); got != want {
			t.Errorf("variableExpr(%s) = %q, want %q", q, got, want)
		}
	}
}

func write(t *testing.T, dir, name, content string) {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestMetricNames(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "grafana/d.json", `{"panels": [
		{"type": "row", "panels": [{"targets": [{"expr": "rate(in_row_total[$__rate_interval])"}]}]},
		{"targets": [{"expr": "shared_metric"}, {"expr": "sum(job:recorded:sum)"}]}],
	  "annotations": {"list": [{"expr": "changes(annotated_total[5m]) > 0"}]},
	  "templating": {"list": [
		{"type": "query", "query": {"query": "label_values(var_metric{a=\"b\"}, company_id)"}},
		{"type": "query", "query": "label_values(job)"},
		{"type": "datasource", "query": "prometheus"}]}}`)
	write(t, dir, "prometheus/rules.yml", `
groups:
  - name: g
    rules:
      - record: job:recorded:sum
        expr: sum by (job) (rule_metric_total)
      - alert: A
        expr: shared_metric > 1 and up == 0 and scrape_duration_seconds > 1 and ALERTS
`)
	write(t, dir, "kubernetes/rule.yaml", "apiVersion: v1\nkind: ConfigMap\n---\nkind: PrometheusRule\nspec:\n  groups:\n    - rules:\n        - alert: B\n          expr: crd_metric > 0\n")
	write(t, dir, "prometheus/rules_test.yml", "rule_files: [rules.yml]\ntests:\n  - input_series:\n      - series: input_only\n")
	write(t, dir, "other.json", `{"name": "not a dashboard", "expr": "not_a_query"}`)
	write(t, dir, "testdata/ignored.json", `{"panels": [{"targets": [{"expr": "ignored_metric"}]}]}`)

	got, err := MetricNames(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{
		"in_row_total":      {"grafana/d.json"},
		"shared_metric":     {"grafana/d.json", "prometheus/rules.yml"},
		"annotated_total":   {"grafana/d.json"},
		"var_metric":        {"grafana/d.json"},
		"rule_metric_total": {"prometheus/rules.yml"},
		"crd_metric":        {"kubernetes/rule.yaml"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("MetricNames =\n%v\nwant\n%v", got, want)
	}
}

func TestMetricNamesReportsBrokenFiles(t *testing.T) {
	for name, content := range map[string]string{
		"broken.json": `{"panels": [`,
		"broken.yml":  "groups:\n  - rules: [\n",
	} {
		dir := t.TempDir()
		write(t, dir, name, content)
		_, err := MetricNames(dir)
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("MetricNames with a malformed %s: err %v, want one naming the file", name, err)
		}
	}
}
