package deploy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/covacdc/covacdc/internal/testenv"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/plugin/kprom"
	"gopkg.in/yaml.v3"
)

const (
	dashboardFile  = "grafana/covacdc-dashboard.json"
	alertsFile     = "prometheus/covacdc-alerts.yml"
	alertTestsFile = "prometheus/covacdc-alerts_test.yml"
	composeFile    = "docker-compose.yml"
	kubeDir        = "kubernetes"
	metricsPort    = "8477"
)

// ---- helpers ----

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// readYAML decodes every document of a YAML file, failing on the first malformed one.
func readYAML(t *testing.T, path string) []map[string]any {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var docs []map[string]any
	dec := yaml.NewDecoder(f)
	for {
		var doc map[string]any
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return docs
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if doc != nil {
			docs = append(docs, doc)
		}
	}
}

// dig walks maps and lists: dig(v, "spec", "template", 0, "name").
func dig(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				return nil
			}
			v = m[k]
		case int:
			l, ok := v.([]any)
			if !ok || k >= len(l) {
				return nil
			}
			v = l[k]
		}
	}
	return v
}

func str(v any) string {
	if v == nil {
		return ""
	}
	return fmt.Sprint(v)
}

// ---- Grafana ----

type dashboard struct {
	UID           string  `json:"uid"`
	Title         string  `json:"title"`
	SchemaVersion int     `json:"schemaVersion"`
	Panels        []panel `json:"panels"`
	Templating    struct {
		List []struct {
			Name  string `json:"name"`
			Type  string `json:"type"`
			Query any    `json:"query"`
		} `json:"list"`
	} `json:"templating"`
}

type panel struct {
	ID         int                      `json:"id"`
	Type       string                   `json:"type"`
	Title      string                   `json:"title"`
	Datasource map[string]any           `json:"datasource"`
	GridPos    struct{ H, W, X, Y int } `json:"gridPos"`
	Targets    []struct {
		RefID      string         `json:"refId"`
		Expr       string         `json:"expr"`
		Datasource map[string]any `json:"datasource"`
	} `json:"targets"`
	Panels []panel `json:"panels"`
}

func loadDashboard(t *testing.T) dashboard {
	var d dashboard
	readJSON(t, dashboardFile, &d)
	return d
}

// flatPanels lists the panels, including those folded into rows.
func flatPanels(ps []panel) []panel {
	var out []panel
	for _, p := range ps {
		out = append(out, p)
		out = append(out, flatPanels(p.Panels)...)
	}
	return out
}

func TestDashboardIsWellFormed(t *testing.T) {
	d := loadDashboard(t)
	if d.UID == "" || d.Title == "" {
		t.Errorf("uid %q, title %q: Grafana needs both to provision the dashboard", d.UID, d.Title)
	}
	if d.SchemaVersion < 36 || d.SchemaVersion > 41 {
		t.Errorf("schemaVersion %d, want about 39", d.SchemaVersion)
	}
	vars := make(map[string]string)
	for _, v := range d.Templating.List {
		vars[v.Name] = v.Type
		if v.Type == "datasource" && v.Query != "prometheus" {
			t.Errorf("variable %s: datasource query %v, want prometheus", v.Name, v.Query)
		}
	}
	if vars["datasource"] != "datasource" || vars["company_id"] != "query" {
		t.Errorf("template variables %v: want a datasource variable \"datasource\" and a query variable \"company_id\"", vars)
	}

	ids := make(map[int]string)
	var placed []panel
	for _, p := range flatPanels(d.Panels) {
		if prev, dup := ids[p.ID]; dup {
			t.Errorf("panel %q reuses id %d of %q", p.Title, p.ID, prev)
		}
		ids[p.ID] = p.Title
		g := p.GridPos
		if g.W <= 0 || g.H <= 0 || g.X < 0 || g.X+g.W > 24 {
			t.Errorf("panel %q: gridPos %+v outside the 24-column grid", p.Title, g)
		}
		for _, q := range placed {
			o := q.GridPos
			if g.X < o.X+o.W && o.X < g.X+g.W && g.Y < o.Y+o.H && o.Y < g.Y+g.H {
				t.Errorf("panel %q overlaps panel %q", p.Title, q.Title)
			}
		}
		placed = append(placed, p)
		if p.Type == "row" {
			continue
		}
		if p.Title == "" {
			t.Errorf("panel %d has no title", p.ID)
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		if str(p.Datasource["uid"]) != "${datasource}" {
			t.Errorf("panel %q: datasource %v, want the ${datasource} variable", p.Title, p.Datasource)
		}
		for _, tg := range p.Targets {
			if strings.TrimSpace(tg.Expr) == "" {
				t.Errorf("panel %q query %s has no expr", p.Title, tg.RefID)
			}
			if len(exprMetrics(tg.Expr)) == 0 {
				t.Errorf("panel %q query %s selects no metric: %s", p.Title, tg.RefID, tg.Expr)
			}
			if str(tg.Datasource["uid"]) != "${datasource}" {
				t.Errorf("panel %q query %s: datasource %v, want the ${datasource} variable", p.Title, tg.RefID, tg.Datasource)
			}
		}
	}
}

// TestDashboardShowsWhatOperatorsAsk checks that each question the dashboard exists to
// answer has a panel that queries the metric answering it.
func TestDashboardShowsWhatOperatorsAsk(t *testing.T) {
	d := loadDashboard(t)
	byMetric := make(map[string][]string)
	for _, p := range flatPanels(d.Panels) {
		for _, tg := range p.Targets {
			for _, m := range exprMetrics(tg.Expr) {
				byMetric[m] = append(byMetric[m], p.Title)
			}
		}
	}
	for question, metric := range map[string]string{
		"lag per company":                 "covacdc_lag_seconds",
		"events/s by change type":         "covacdc_events_published_total",
		"scan duration":                   "covacdc_scan_duration_seconds_bucket",
		"Cova response codes":             "covacdc_cova_requests_total",
		"Cova throttling":                 "covacdc_cova_throttled_total",
		"Cova request latency":            "covacdc_cova_request_duration_seconds_bucket",
		"Cova credentials":                "covacdc_cova_auth_total",
		"transactions by outcome":         "covacdc_transactions_total",
		"transaction duration":            "covacdc_transaction_duration_seconds_bucket",
		"dead letters by reason":          "covacdc_dead_letters_total",
		"tracked customers":               "covacdc_tracked_customers",
		"cursor age":                      "covacdc_cursor_timestamp_seconds",
		"time since last scan":            "covacdc_last_success_timestamp_seconds",
		"poll interval the budget allows": "covacdc_effective_poll_interval_seconds",
		"ready":                           "covacdc_ready",
		"process up":                      "covacdc_up",
		"scrape target up":                "up",
		"Kafka request latency (kprom)":   "covacdc_request_duration_e2e_seconds_bucket",
		"Kafka write errors (kprom)":      "covacdc_write_errors_total",
		"Kafka produced bytes (kprom)":    "covacdc_produce_bytes_total",
		"Kafka connect errors (kprom)":    "covacdc_connect_errors_total",
		"customers fetched from Cova":     "covacdc_customers_fetched_total",
		"customers unchanged (no event)":  "covacdc_customers_unchanged_total",
	} {
		if len(byMetric[metric]) == 0 {
			t.Errorf("no panel answers %q: nothing queries %s", question, metric)
		}
	}
}

// ---- MetricNames on the real artifacts ----

func TestMetricNamesOfTheArtifacts(t *testing.T) {
	names, err := MetricNames(".")
	if err != nil {
		t.Fatal(err)
	}
	for name, files := range names {
		if !strings.HasPrefix(name, "covacdc_") && !strings.HasPrefix(name, "process_") && !strings.HasPrefix(name, "go_") {
			t.Errorf("%s (used by %v) is not a covacdc, Go or process metric", name, files)
		}
	}
	// The alert rules and the dashboard are both read; up is Prometheus' own.
	for name, want := range map[string]string{
		"covacdc_lag_seconds":                    dashboardFile,
		"covacdc_last_success_timestamp_seconds": alertsFile,
		"covacdc_cova_auth_total":                alertsFile,
	} {
		if !contains(names[name], want) {
			t.Errorf("MetricNames: %s used by %v, want %s among them", name, names[name], want)
		}
	}
	if _, ok := names["up"]; ok {
		t.Error("MetricNames lists up, which Prometheus makes and no binary exposes")
	}
	// The promtool test file holds input series, not queries.
	for name, files := range names {
		if contains(files, alertTestsFile) {
			t.Errorf("%s attributed to the promtool test file", name)
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestKafkaPanelsUseRealKpromMetrics builds franz-go's kprom plugin the way the binary
// must (namespace covacdc, kprom.Histograms(kprom.RequestDurationE2E)), produces to an
// in-process kfake broker and checks that every kprom series the dashboard and alerts
// query is a real kprom metric, and that the latency histogram gets observations only
// with that option: without it the Kafka latency panel stays empty.
func TestKafkaPanelsUseRealKpromMetrics(t *testing.T) {
	names, err := MetricNames(".")
	if err != nil {
		t.Fatal(err)
	}
	withOpt := kpromFamilies(t, kprom.Histograms(kprom.RequestDurationE2E))
	without := kpromFamilies(t)

	described := withOpt.described
	used := 0
	for name := range names {
		family, ok := kpromFamily(name, described)
		if !ok {
			continue
		}
		used++
		if strings.HasSuffix(name, "_bucket") && withOpt.observed[family] == 0 {
			t.Errorf("%s: no observations even with kprom.Histograms(kprom.RequestDurationE2E)", name)
		}
	}
	if used < 3 {
		t.Errorf("the dashboard uses %d kprom metrics, want at least latency, errors and throughput", used)
	}
	// Names that look like kprom's but are not: a covacdc_ name outside the contract that
	// kprom does not define either would be an empty panel.
	for name := range names {
		if _, ok := kpromFamily(name, described); ok {
			continue
		}
		if isKpromLooking(name) {
			t.Errorf("%s looks like a franz-go client metric but kprom does not define it", name)
		}
	}
	if without.observed["covacdc_request_duration_e2e_seconds"] != 0 {
		t.Errorf("request_duration_e2e_seconds observed without kprom.Histograms: the note about the option is wrong")
	}
	if withOpt.observed["covacdc_produce_bytes_total"] == 0 {
		t.Errorf("produce_bytes_total not counted by default: %v", withOpt.observed)
	}
}

// isKpromLooking reports names in kprom's vocabulary (bytes, batches, records, connects,
// reads, writes, requests of the Kafka client).
func isKpromLooking(name string) bool {
	for _, p := range []string{"covacdc_produce_", "covacdc_fetch_", "covacdc_buffered_", "covacdc_write_", "covacdc_read_", "covacdc_connect", "covacdc_disconnect", "covacdc_request_"} {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

func kpromFamily(series string, described map[string]bool) (string, bool) {
	if described[series] {
		return series, true
	}
	for _, suf := range []string{"_bucket", "_sum", "_count"} {
		if f := strings.TrimSuffix(series, suf); f != series && described[f] {
			return f, true
		}
	}
	return "", false
}

type kpromView struct {
	described map[string]bool    // every family kprom defines
	observed  map[string]float64 // family -> sample count or counter sum after one produce
}

var descName = regexp.MustCompile(`fqName: "([^"]+)"`)

func kpromFamilies(t *testing.T, opts ...kprom.Opt) kpromView {
	t.Helper()
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "covacdc.customers"))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	reg := prometheus.NewRegistry()
	m := kprom.NewMetrics("covacdc", append([]kprom.Opt{kprom.Registry(reg)}, opts...)...)
	cl, err := kgo.NewClient(kgo.SeedBrokers(cluster.ListenAddrs()...), kgo.WithHooks(m))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "covacdc.customers", Value: []byte("x")}).FirstErr(); err != nil {
		t.Fatal(err)
	}

	view := kpromView{described: make(map[string]bool), observed: make(map[string]float64)}
	ch := make(chan *prometheus.Desc, 256)
	go func() { m.Describe(ch); close(ch) }()
	for d := range ch {
		if sm := descName.FindStringSubmatch(d.String()); sm != nil {
			view.described[sm[1]] = true
		}
	}
	if len(view.described) == 0 {
		t.Fatal("kprom described no metrics")
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		for _, mt := range mf.GetMetric() {
			switch {
			case mt.GetHistogram() != nil:
				view.observed[mf.GetName()] += float64(mt.GetHistogram().GetSampleCount())
			case mt.GetCounter() != nil:
				view.observed[mf.GetName()] += mt.GetCounter().GetValue()
			case mt.GetGauge() != nil:
				view.observed[mf.GetName()] += 1
			}
		}
	}
	return view
}

// ---- Prometheus rules ----

type ruleFileYAML struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Alert       string            `yaml:"alert"`
			Expr        string            `yaml:"expr"`
			For         string            `yaml:"for"`
			Labels      map[string]string `yaml:"labels"`
			Annotations map[string]string `yaml:"annotations"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

type ruleTestsYAML struct {
	RuleFiles []string `yaml:"rule_files"`
	Tests     []struct {
		Name          string `yaml:"name"`
		AlertRuleTest []struct {
			EvalTime  string `yaml:"eval_time"`
			AlertName string `yaml:"alertname"`
			ExpAlerts []any  `yaml:"exp_alerts"`
		} `yaml:"alert_rule_test"`
	} `yaml:"tests"`
}

func loadYAMLStrict(t *testing.T, path string, v any) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(false)
	if err := dec.Decode(v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func TestAlertRulesAreComplete(t *testing.T) {
	var rf ruleFileYAML
	loadYAMLStrict(t, alertsFile, &rf)
	alerts := make(map[string]bool)
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" {
				continue
			}
			alerts[r.Alert] = true
			if sev := r.Labels["severity"]; sev != "warning" && sev != "critical" {
				t.Errorf("%s: severity %q, want warning or critical", r.Alert, sev)
			}
			for _, a := range []string{"summary", "description", "runbook"} {
				if strings.TrimSpace(r.Annotations[a]) == "" {
					t.Errorf("%s: no %s annotation", r.Alert, a)
				}
			}
			if len(exprMetrics(r.Expr)) == 0 {
				t.Errorf("%s: expression selects no metric: %s", r.Alert, r.Expr)
			}
		}
	}
	// What an operator must be woken or warned for.
	for _, want := range []string{
		"CovacdcLagHigh", "CovacdcNoSuccessfulScan", "CovacdcDeadLettersGrowing",
		"CovacdcCredentialsRejected", "CovacdcFenced", "CovacdcNotReady", "CovacdcTargetDown",
		"CovacdcCovaThrottled", "CovacdcTransactionsAborting",
	} {
		if !alerts[want] {
			t.Errorf("alert %s missing", want)
		}
	}

	// Every alert has a promtool case where it fires and one where it stays silent.
	var rt ruleTestsYAML
	loadYAMLStrict(t, alertTestsFile, &rt)
	if len(rt.RuleFiles) != 1 || filepath.Join(filepath.Dir(alertTestsFile), rt.RuleFiles[0]) != filepath.Clean(alertsFile) {
		t.Errorf("%s tests %v, want %s", alertTestsFile, rt.RuleFiles, filepath.Base(alertsFile))
	}
	fires, silent := make(map[string]bool), make(map[string]bool)
	for _, tc := range rt.Tests {
		for _, a := range tc.AlertRuleTest {
			if !alerts[a.AlertName] {
				t.Errorf("test %q checks unknown alert %s", tc.Name, a.AlertName)
			}
			if len(a.ExpAlerts) > 0 {
				fires[a.AlertName] = true
			} else {
				silent[a.AlertName] = true
			}
		}
	}
	for a := range alerts {
		if !fires[a] || !silent[a] {
			t.Errorf("alert %s: promtool tests firing=%v silent=%v, want both", a, fires[a], silent[a])
		}
	}
}

// TestPromtool runs promtool on the rules, their unit tests and every dashboard query.
// CI installs promtool (Debian's prometheus package); without it the test says so and skips.
func TestPromtool(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool not installed (apt-get install prometheus): rules not checked by Prometheus itself")
	}
	run := func(args ...string) {
		t.Helper()
		out, err := exec.Command(promtool, args...).CombinedOutput()
		if err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	run("check", "rules", alertsFile)
	run("test", "rules", alertTestsFile)
	run("check", "config", "compose/prometheus.yml")

	// Dashboard queries, with Grafana's variables replaced, must be valid PromQL: written
	// as recording rules, promtool parses them for us.
	d := loadDashboard(t)
	var b strings.Builder
	b.WriteString("groups:\n  - name: dashboard\n    rules:\n")
	for _, p := range flatPanels(d.Panels) {
		for _, tg := range p.Targets {
			q := strings.NewReplacer("$__rate_interval", "5m", "$__interval", "1m", "$__range", "1h").Replace(tg.Expr)
			q = grafanaVariable.ReplaceAllString(q, "x")
			fmt.Fprintf(&b, "      - record: dashboard:panel%d:%s\n        expr: %s\n", p.ID, tg.RefID, strconvQuote(q))
		}
	}
	path := filepath.Join(t.TempDir(), "dashboard-queries.yml")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	run("check", "rules", path)
}

func strconvQuote(s string) string {
	j, _ := json.Marshal(s) // JSON strings are YAML strings
	return string(j)
}

// ---- docker compose ----

func TestComposeFile(t *testing.T) {
	docs := readYAML(t, composeFile)
	if len(docs) != 1 {
		t.Fatalf("%s: %d documents, want 1", composeFile, len(docs))
	}
	c := docs[0]
	services, _ := c["services"].(map[string]any)
	for _, s := range []string{"kafka", "simulator", "covacdc", "prometheus", "grafana"} {
		if services[s] == nil {
			t.Errorf("service %s missing", s)
		}
	}

	// Every file the stack mounts or builds from exists.
	for name, s := range services {
		if ctx := str(dig(s, "build", "context")); ctx != "" {
			if _, err := os.Stat(filepath.Join(ctx, str(dig(s, "build", "dockerfile")))); err != nil {
				t.Errorf("service %s: build: %v", name, err)
			}
		}
		vols, _ := dig(s, "volumes").([]any)
		for _, v := range vols {
			src := strings.SplitN(str(v), ":", 2)[0]
			if !strings.HasPrefix(src, ".") && !strings.HasPrefix(src, "/") {
				continue // a named volume
			}
			if _, err := os.Stat(src); err != nil {
				t.Errorf("service %s mounts %s: %v", name, src, err)
			}
		}
	}

	// Kafka: one KRaft node whose transaction log fits on it.
	kenv := envMap(dig(services, "kafka", "environment"))
	if !strings.Contains(kenv["KAFKA_PROCESS_ROLES"], "controller") {
		t.Errorf("kafka: process roles %q, want KRaft broker,controller", kenv["KAFKA_PROCESS_ROLES"])
	}
	for _, k := range []string{"KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR", "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR", "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"} {
		if kenv[k] != "1" {
			t.Errorf("kafka: %s=%q, want 1 on a single node (transactions never start otherwise)", k, kenv[k])
		}
	}

	// covacdc reaches the broker and the simulator where they listen.
	env := envMap(dig(services, "covacdc", "environment"))
	if h := strings.Split(env["COVACDC_KAFKA_BROKERS"], ":")[0]; services[h] == nil {
		t.Errorf("COVACDC_KAFKA_BROKERS=%q names no service", env["COVACDC_KAFKA_BROKERS"])
	}
	simCmd := strings.Join(toStrings(dig(services, "simulator", "command")), " ")
	simPort := regexp.MustCompile(`--addr[ =]\S*:(\d+)`).FindStringSubmatch(simCmd)
	if simPort == nil || !strings.HasPrefix(simCmd, "simulate") {
		t.Fatalf("simulator command %q, want simulate --addr :PORT", simCmd)
	}
	// The simulator serves companies 1 to --companies; covacdc must poll only those.
	companies := 1
	if m := regexp.MustCompile(`--companies[ =](\d+)`).FindStringSubmatch(simCmd); m != nil {
		companies, _ = strconv.Atoi(m[1])
	}
	for _, id := range strings.Split(env["COVACDC_COMPANY_ID"], ",") {
		if n, err := strconv.Atoi(strings.TrimSpace(id)); err != nil || n < 1 || n > companies {
			t.Errorf("COVACDC_COMPANY_ID has %q; the simulator serves companies 1 to %d", id, companies)
		}
	}
	for k, suffix := range map[string]string{"COVACDC_COVA_BASE_URL": "/crm", "COVACDC_COVA_TOKEN_URL": "/v1/oauth2/token"} {
		if want := "http://simulator:" + simPort[1] + suffix; env[k] != want {
			t.Errorf("%s=%q, want %q", k, env[k], want)
		}
	}
	for _, k := range []string{"COVACDC_COMPANY_ID", "COVACDC_COVA_CLIENT_ID", "COVACDC_COVA_CLIENT_SECRET", "COVACDC_COVA_USERNAME", "COVACDC_COVA_PASSWORD"} {
		if env[k] == "" {
			t.Errorf("covacdc: %s not set", k)
		}
	}

	// Prometheus scrapes covacdc where it serves metrics, under the job the alerts expect,
	// and loads the rule file from where it is mounted.
	prom := readYAML(t, "compose/prometheus.yml")[0]
	_, port, _ := net.SplitHostPort(env["COVACDC_METRICS_ADDR"])
	found := false
	for _, sc := range toAny(prom["scrape_configs"]) {
		if str(dig(sc, "job_name")) != "covacdc" {
			continue
		}
		for _, target := range toStrings(dig(sc, "static_configs", 0, "targets")) {
			found = found || target == "covacdc:"+port
		}
	}
	if !found {
		t.Errorf("compose/prometheus.yml: no job covacdc scraping covacdc:%s", port)
	}
	ruleMount := mountTarget(t, services["prometheus"], "./prometheus/covacdc-alerts.yml")
	matched := false
	for _, pattern := range toStrings(prom["rule_files"]) {
		ok, _ := filepath.Match(pattern, ruleMount)
		matched = matched || ok
	}
	if !matched {
		t.Errorf("rule file mounted at %s is not in rule_files %v", ruleMount, prom["rule_files"])
	}

	// Grafana loads the dashboard from where it is mounted and queries the stack's Prometheus.
	dashMount := mountTarget(t, services["grafana"], "./"+dashboardFile)
	providers := readYAML(t, "compose/grafana/dashboards.yml")[0]
	if dir := str(dig(providers, "providers", 0, "options", "path")); filepath.Dir(dashMount) != dir {
		t.Errorf("dashboard mounted at %s, provider reads %s", dashMount, dir)
	}
	ds := readYAML(t, "compose/grafana/datasources.yml")[0]
	if typ, url := str(dig(ds, "datasources", 0, "type")), str(dig(ds, "datasources", 0, "url")); typ != "prometheus" || !strings.Contains(url, "//prometheus:9090") {
		t.Errorf("grafana datasource %s %s, want prometheus at http://prometheus:9090", typ, url)
	}
}

func envMap(v any) map[string]string {
	out := make(map[string]string)
	switch e := v.(type) {
	case map[string]any:
		for k, x := range e {
			out[k] = str(x)
		}
	case []any:
		for _, x := range e {
			k, val, _ := strings.Cut(str(x), "=")
			out[k] = val
		}
	}
	return out
}

func toAny(v any) []any { l, _ := v.([]any); return l }

func toStrings(v any) []string {
	var out []string
	for _, x := range toAny(v) {
		out = append(out, str(x))
	}
	return out
}

func mountTarget(t *testing.T, service any, src string) string {
	t.Helper()
	for _, v := range toStrings(dig(service, "volumes")) {
		parts := strings.Split(v, ":")
		if len(parts) >= 2 && filepath.Clean(parts[0]) == filepath.Clean(src) {
			return parts[1]
		}
	}
	t.Fatalf("%s is not mounted", src)
	return ""
}

// ---- Dockerfile ----

func TestDockerfile(t *testing.T) {
	raw, err := os.ReadFile("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	df := string(raw)
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^FROM golang:1\.26\S* AS build$`),
		regexp.MustCompile(`CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main\.version=\$\{VERSION\}"`),
		regexp.MustCompile(`(?m)^COPY --from=build \S+ /usr/local/bin/covacdc$`),
		regexp.MustCompile(`(?m)^EXPOSE ` + metricsPort + `$`),
		regexp.MustCompile(`(?m)^ENV COVACDC_METRICS_ADDR=:` + metricsPort + `$`),
		regexp.MustCompile(`(?m)^ENTRYPOINT \["/usr/local/bin/covacdc"\]$`),
		regexp.MustCompile(`(?m)^CMD \["run"\]$`),
	} {
		if !want.MatchString(df) {
			t.Errorf("Dockerfile does not match %s", want)
		}
	}
	user := regexp.MustCompile(`(?m)^USER (\d+)(?::(\d+))?$`).FindStringSubmatch(df)
	if user == nil || user[1] == "0" {
		t.Errorf("Dockerfile: want a numeric non-root USER, got %v", user)
	}
	build := regexp.MustCompile(`-o \S+ (\./cmd/\S+)`).FindStringSubmatch(df)
	if build == nil {
		t.Fatal("Dockerfile: no go build of a ./cmd package")
	}
	if _, err := os.Stat(filepath.Join("..", build[1])); err != nil {
		t.Errorf("Dockerfile builds %s: %v", build[1], err)
	}

	// The build context must keep what go build needs.
	ignore, err := os.ReadFile("../.dockerignore")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(ignore), "\n") {
		p := strings.Trim(strings.TrimSpace(line), "/")
		if p == "" || strings.HasPrefix(p, "#") {
			continue
		}
		for _, needed := range []string{"go.mod", "go.sum", "cmd", "cmd/covacdc", "poller", "publisher", "schema", "state"} {
			if ok, _ := filepath.Match(p, needed); ok {
				t.Errorf(".dockerignore pattern %q excludes %s, which the build needs", line, needed)
			}
		}
	}
}

// ---- Kubernetes ----

func loadKube(t *testing.T) map[string]map[string]any {
	t.Helper()
	kust := readYAML(t, filepath.Join(kubeDir, "kustomization.yaml"))[0]
	objs := make(map[string]map[string]any) // kind -> object
	for _, res := range toStrings(kust["resources"]) {
		for _, doc := range readYAML(t, filepath.Join(kubeDir, res)) {
			kind := str(doc["kind"])
			if str(doc["apiVersion"]) == "" || kind == "" || str(dig(doc, "metadata", "name")) == "" {
				t.Errorf("%s: a document without apiVersion, kind or metadata.name", res)
				continue
			}
			if objs[kind] != nil {
				t.Errorf("two %s objects", kind)
			}
			objs[kind] = doc
		}
	}
	// Every manifest in the directory is part of the kustomization.
	files, _ := filepath.Glob(filepath.Join(kubeDir, "*.yaml"))
	listed := toStrings(kust["resources"])
	for _, f := range files {
		if b := filepath.Base(f); b != "kustomization.yaml" && !contains(listed, b) {
			t.Errorf("%s is not listed in kustomization.yaml", b)
		}
	}
	return objs
}

func TestKubernetesManifests(t *testing.T) {
	objs := loadKube(t)
	for _, kind := range []string{"Deployment", "Secret", "ConfigMap", "Service", "ServiceMonitor", "PodDisruptionBudget"} {
		if objs[kind] == nil {
			t.Fatalf("no %s", kind)
		}
	}
	dep, cm, sec, svc, sm, pdb := objs["Deployment"], objs["ConfigMap"], objs["Secret"], objs["Service"], objs["ServiceMonitor"], objs["PodDisruptionBudget"]

	if r := str(dig(dep, "spec", "replicas")); r != "1" {
		t.Errorf("replicas %s, want 1: a second replica is fenced", r)
	}
	if s := str(dig(dep, "spec", "strategy", "type")); s != "Recreate" {
		t.Errorf("strategy %s, want Recreate", s)
	}
	podLabels, _ := dig(dep, "spec", "template", "metadata", "labels").(map[string]any)
	selects := func(what string, sel any) {
		m, _ := sel.(map[string]any)
		if len(m) == 0 {
			t.Errorf("%s: empty selector", what)
		}
		for k, v := range m {
			if str(podLabels[k]) != str(v) {
				t.Errorf("%s selects %s=%v, pod has %v", what, k, v, podLabels[k])
			}
		}
	}
	selects("Deployment", dig(dep, "spec", "selector", "matchLabels"))
	selects("Service", dig(svc, "spec", "selector"))
	selects("PodDisruptionBudget", dig(pdb, "spec", "selector", "matchLabels"))
	svcLabels, _ := dig(svc, "metadata", "labels").(map[string]any)
	for k, v := range dig(sm, "spec", "selector", "matchLabels").(map[string]any) {
		if str(svcLabels[k]) != str(v) {
			t.Errorf("ServiceMonitor selects %s=%v, Service has %v", k, v, svcLabels[k])
		}
	}
	if jl := str(dig(sm, "spec", "jobLabel")); str(svcLabels[jl]) != "covacdc" {
		t.Errorf("ServiceMonitor jobLabel %q gives job %q, the alerts expect covacdc", jl, svcLabels[jl])
	}

	ctr := dig(dep, "spec", "template", "spec", "containers", 0)
	// The metrics port: ConfigMap, container, probes, Service and ServiceMonitor agree.
	_, port, _ := net.SplitHostPort(str(dig(cm, "data", "COVACDC_METRICS_ADDR")))
	if port != metricsPort || str(dig(ctr, "ports", 0, "containerPort")) != port {
		t.Errorf("metrics port: ConfigMap %q, container %v, want %s", port, dig(ctr, "ports", 0, "containerPort"), metricsPort)
	}
	portName := str(dig(ctr, "ports", 0, "name"))
	for probe, path := range map[string]string{"readinessProbe": "/readyz", "livenessProbe": "/healthz"} {
		if p, pt := str(dig(ctr, probe, "httpGet", "path")), str(dig(ctr, probe, "httpGet", "port")); p != path || (pt != portName && pt != port) {
			t.Errorf("%s: %s on port %s, want %s on the metrics port", probe, p, pt, path)
		}
	}
	if tp := str(dig(svc, "spec", "ports", 0, "targetPort")); tp != portName && tp != port {
		t.Errorf("Service targetPort %s, want the metrics port", tp)
	}
	if str(dig(sm, "spec", "endpoints", 0, "port")) != str(dig(svc, "spec", "ports", 0, "name")) {
		t.Errorf("ServiceMonitor scrapes port %v, the Service names it %v", dig(sm, "spec", "endpoints", 0, "port"), dig(svc, "spec", "ports", 0, "name"))
	}
	if str(dig(svc, "spec", "publishNotReadyAddresses")) != "true" {
		t.Error("Service must publish not-ready addresses, or an unready covacdc is not scraped")
	}

	// Resources and security.
	for path, want := range map[string]string{"requests/cpu": "250m", "requests/memory": "256Mi", "limits/memory": "512Mi"} {
		a, b, _ := strings.Cut(path, "/")
		if got := str(dig(ctr, "resources", a, b)); got != want {
			t.Errorf("resources.%s.%s = %q, want %q", a, b, got, want)
		}
	}
	if str(dig(ctr, "securityContext", "readOnlyRootFilesystem")) != "true" ||
		str(dig(ctr, "securityContext", "runAsNonRoot")) != "true" ||
		str(dig(ctr, "securityContext", "allowPrivilegeEscalation")) != "false" {
		t.Errorf("container securityContext %v: want non-root, read-only root, no privilege escalation", dig(ctr, "securityContext"))
	}
	if u := str(dig(dep, "spec", "template", "spec", "securityContext", "runAsUser")); u == "" || u == "0" {
		t.Errorf("pod runAsUser %q, want the image's non-root uid", u)
	}

	// Credentials: the -file flags point at files the Secret volume provides, and the
	// env references name keys the Secret has.
	secretKeys, _ := dig(sec, "stringData").(map[string]any)
	mounts := make(map[string]string) // mount path -> volume name
	for _, m := range toAny(dig(ctr, "volumeMounts")) {
		mounts[str(dig(m, "mountPath"))] = str(dig(m, "name"))
	}
	secretFiles := make(map[string]bool)
	for _, v := range toAny(dig(dep, "spec", "template", "spec", "volumes")) {
		if str(dig(v, "secret", "secretName")) != str(dig(sec, "metadata", "name")) {
			continue
		}
		for mp, name := range mounts {
			if name != str(dig(v, "name")) {
				continue
			}
			for _, it := range toAny(dig(v, "secret", "items")) {
				if secretKeys[str(dig(it, "key"))] == nil {
					t.Errorf("secret volume item key %v not in the Secret", dig(it, "key"))
				}
				secretFiles[mp+"/"+str(dig(it, "path"))] = true
			}
		}
	}
	args := toStrings(dig(ctr, "args"))
	if len(args) == 0 || args[0] != "run" {
		t.Errorf("args %v, want run first", args)
	}
	for _, flag := range []string{"--cova-password-file", "--cova-client-secret-file"} {
		found := false
		for _, a := range args {
			if f, v, ok := strings.Cut(a, "="); ok && f == flag {
				found = true
				if !secretFiles[v] {
					t.Errorf("%s=%s: no such file in the mounted Secret %v", flag, v, secretFiles)
				}
			}
		}
		if !found {
			t.Errorf("args %v lack %s", args, flag)
		}
	}
	for _, e := range toAny(dig(ctr, "env")) {
		if ref := dig(e, "valueFrom", "secretKeyRef"); ref != nil {
			if str(dig(ref, "name")) != str(dig(sec, "metadata", "name")) || secretKeys[str(dig(ref, "key"))] == nil {
				t.Errorf("env %v: secretKeyRef %v names no key of the Secret", dig(e, "name"), ref)
			}
		}
	}
	if str(dig(ctr, "envFrom", 0, "configMapRef", "name")) != str(dig(cm, "metadata", "name")) {
		t.Errorf("envFrom %v does not load the ConfigMap", dig(ctr, "envFrom"))
	}
	for k := range dig(cm, "data").(map[string]any) {
		if !strings.HasPrefix(k, "COVACDC_") {
			t.Errorf("ConfigMap key %s is not a COVACDC_ variable", k)
		}
	}
}

// TestDeploymentsUseRealFlags builds the covacdc binary and checks that every COVACDC_*
// variable and flag the compose file and the manifests set is one `covacdc run --help`
// documents, so a renamed flag cannot silently drop a setting.
func TestDeploymentsUseRealFlags(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the covacdc binary; skipped with -short")
	}
	bin := testenv.Covacdc(t)
	defer testenv.Cleanup()
	help := func(sub string) string {
		out, _ := exec.Command(bin, sub, "--help").CombinedOutput() // --help may exit 0 or 2
		return string(out)
	}
	runHelp, simHelp := help("run"), help("simulate")
	if !strings.Contains(runHelp, "--kafka-brokers") && !strings.Contains(runHelp, "-kafka-brokers") {
		t.Fatalf("covacdc run --help does not document --kafka-brokers:\n%s", runHelp)
	}

	vars := make(map[string][]string) // variable or flag -> where it is set
	services := readYAML(t, composeFile)[0]["services"].(map[string]any)
	for k := range envMap(dig(services, "covacdc", "environment")) {
		vars[k] = append(vars[k], composeFile)
	}
	objs := loadKube(t)
	for k := range dig(objs["ConfigMap"], "data").(map[string]any) {
		vars[k] = append(vars[k], "kubernetes/configmap.yaml")
	}
	ctr := dig(objs["Deployment"], "spec", "template", "spec", "containers", 0)
	for _, e := range toAny(dig(ctr, "env")) {
		if n := str(dig(e, "name")); strings.HasPrefix(n, "COVACDC_") {
			vars[n] = append(vars[n], "kubernetes/deployment.yaml")
		}
	}
	var missing []string
	for k, where := range vars {
		if !strings.Contains(runHelp, k) {
			missing = append(missing, fmt.Sprintf("%s (%s)", k, strings.Join(where, ", ")))
		}
	}
	for _, a := range toStrings(dig(ctr, "args"))[1:] {
		flag, _, _ := strings.Cut(a, "=")
		if !strings.Contains(runHelp, strings.TrimLeft(flag, "-")) {
			missing = append(missing, flag+" (kubernetes/deployment.yaml)")
		}
	}
	if !strings.Contains(simHelp, "addr") {
		missing = append(missing, "simulate --addr (docker-compose.yml)")
	}
	sort.Strings(missing)
	for _, m := range missing {
		t.Errorf("covacdc does not document %s", m)
	}
}
