package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestMain(m *testing.M) {
	// The decode-only ceiling runs in a process of its own: os.Executable, which
	// under go test is this test binary.
	if path := os.Getenv(decodeChildEnv); path != "" {
		os.Exit(decodeChildMain(path, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// TestQuickReport runs every scenario at the -quick size against the real
// covacdc binary and checks the report a user reads: every section, its
// figures and its targets. It asserts no time: the figures of a tiny run mean
// nothing, only that they were measured.
func TestQuickReport(t *testing.T) {
	if testing.Short() {
		t.Skip("builds covacdc and runs every scenario (about 30 s)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	jsonPath := filepath.Join(t.TempDir(), "report.json")
	var out, progress bytes.Buffer
	if err := run(ctx, []string{"-quick", "-json", jsonPath}, &out, &progress); err != nil {
		t.Fatalf("run: %v\nprogress:\n%s", err, progress.String())
	}
	text := out.String()
	for _, want := range []string{
		"machine: ", "Kafka: ",
		"== load: initial load", "customers/s (process start to last commit)", "covacdc CPU / decode-only CPU",
		"== memory: one unpaged response", "covacdc peak RSS",
		"== restore: startup on a full state topic", "process start to state restored",
		"== steady: 3 companies, nothing changing", "requests per company per poll interval (max over companies)",
		"== ratelimit: 1 company(ies) of 1200, latency 20ms", "== ratelimit: 4 company(ies) of 300, latency 20ms", "429s received",
		"peak requests in flight (simulator)", "requests / pages",
		"== shifting: 1 company(ies) of 1200, latency 20ms", "pages read again (the scans' rereads)",
		"== companies: 5 companies of 20", "target covacdc peak RSS <= 100: ",
		"== freshness: trickle of changes", "p99 LastModifiedDateUtc to read (committed)",
		"target customers/s (process start to last commit) >= 15000: ",
		"verified: 2000 events, 2000 customers, every version as the simulator served it, no duplicates",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("report lacks %q:\n%s", want, text)
		}
	}

	var rep report
	b, err := os.ReadFile(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	figure := func(section, name string) float64 {
		t.Helper()
		for _, s := range rep.Sections {
			if strings.HasPrefix(s.Name, section) {
				if len(s.Runs) != 1 {
					t.Fatalf("%s: %d runs, want 1", section, len(s.Runs))
				}
				v, ok := s.Runs[0][name]
				if !ok {
					t.Fatalf("%s: no figure %q", section, name)
				}
				return v
			}
		}
		t.Fatalf("no section %q", section)
		return 0
	}
	// Measured, not made up: each of these is a count or a quantity the
	// processes really produced.
	for _, c := range []struct{ section, name string }{
		{"load", "customers/s (process start to last commit)"},
		{"load", "covacdc CPU (rusage, whole life)"},
		{"load", "decode-only CPU per 1,000 customers"},
		{"load", "covacdc peak RSS"},
		{"memory", "covacdc peak RSS"},
		{"restore", "process start to state restored"},
		{"steady", "idle scans measured (all companies)"},
		{"ratelimit: 1", "Cova requests (covacdc)"},
		{"ratelimit: 1", "peak requests in flight (simulator)"},
		{"shifting: 1", "Cova requests (covacdc)"},
		{"companies", "covacdc peak RSS"},
		{"freshness", "events measured"},
	} {
		if v := figure(c.section, c.name); !(v > 0) {
			t.Errorf("%s %q = %v, want a positive measurement", c.section, c.name, v)
		}
	}
	// One unpaged response: covacdc made one request for the whole load.
	if v := figure("memory", "Cova requests"); v != 1 {
		t.Errorf("memory: %v Cova requests for one unpaged response, want 1", v)
	}
	// The restore read every version record the memory scenario committed
	// (5,000 customers) plus its cursor and startup marker.
	if v := figure("restore", "state records read"); v < 5000 {
		t.Errorf("restore read %v state records, want at least 5000", v)
	}
	// The simulator and covacdc count the same requests, but for one fetched
	// ahead past the last page, which the simulator may answer after
	// covacdc's last scrape (the load ends at the last commit).
	if sim, cv := figure("ratelimit: 1", "CustomerFull requests (simulator)"), figure("ratelimit: 1", "Cova requests (covacdc)"); sim < cv || sim > cv+1 {
		t.Errorf("ratelimit: simulator answered %v CustomerFull requests, covacdc counted %v", sim, cv)
	}
	// Five companies of 20 customers: one short page each, the least a scan
	// can do.
	if v := figure("companies", "requests / requests needed"); v < 1 {
		t.Errorf("companies: %v requests per request needed, want at least 1", v)
	}
}

func TestParseConfig(t *testing.T) {
	for _, tc := range []struct {
		args []string
		err  string
	}{
		{[]string{"-scenarios", "load,bogus"}, `unknown "bogus"`},
		{[]string{"-runs", "0"}, "-runs"},
		{[]string{"-rate-companies", "1,x"}, "-rate-companies"},
		{[]string{"-rate-latency", "1s,x"}, "-rate-latency"},
		{[]string{"-companies", "0"}, "-companies"},
		{[]string{"extra"}, "unexpected arguments"},
	} {
		_, err := parseConfig(tc.args, &bytes.Buffer{})
		if err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%v: err %v, want one containing %q", tc.args, err, tc.err)
		}
	}
	c, err := parseConfig([]string{"-quick", "-customers", "700", "-scenarios", "all"}, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if c.LoadCustomers != 700 || c.MemoryCustomers != 5000 || len(c.Scenarios) != len(allScenarios) {
		t.Errorf("-quick with -customers 700: got load %d, memory %d, %d scenarios; an explicit flag must win over -quick",
			c.LoadCustomers, c.MemoryCustomers, len(c.Scenarios))
	}
}

func TestMaxPerMinute(t *testing.T) {
	t0 := time.Unix(0, 0)
	var pts []scrapePoint
	// 10 requests a second for 2 minutes, then a burst of 100 in one second.
	for s := 0; s <= 120; s++ {
		pts = append(pts, scrapePoint{At: t0.Add(time.Duration(s) * time.Second), Requests: float64(10 * s)})
	}
	pts = append(pts, scrapePoint{At: t0.Add(121 * time.Second), Requests: 1300})
	if got := maxPerMinute(pts); got != 690 {
		t.Errorf("maxPerMinute = %v, want 690 (590 in the 59 s before the burst, plus 100)", got)
	}
}

func TestQuantile(t *testing.T) {
	v := []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	if q := quantile(v, 0.5); q != 5 {
		t.Errorf("p50 = %v, want 5", q)
	}
	if q := quantile(v, 0.99); q != 10 {
		t.Errorf("p99 = %v, want 10", q)
	}
}
