package main

import (
	"bufio"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/covacdc/covacdc/poller/covatest"
)

// logLines parses covacdc's JSON log lines.
func logLines(t *testing.T, stderr string) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(stderr))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var l map[string]any
		if json.Unmarshal(sc.Bytes(), &l) == nil {
			out = append(out, l)
		}
	}
	return out
}

// TestOneScanCommittedLinePerScan runs two scans of a company and a scan that
// fails before its first page: each committed scan has exactly one "scan
// committed" line, whose since is the cursor the scan started from, and no
// line carries an empty scan field.
func TestOneScanCommittedLinePerScan(t *testing.T) {
	e := newTestEnv(t, covatest.Config{})
	e.sim.Generate(1, 30)
	args := e.runArgs("1", "--once")
	for i := range args {
		if args[i] == "--log-format" {
			args[i+1] = "json"
		}
	}
	var lines []map[string]any
	for range 2 {
		p := start(t, passwordEnv(), args...)
		if code := p.wait(t, 60*time.Second); code != 0 {
			t.Fatalf("exit %d\nstderr:\n%s", code, p.stderr)
		}
		lines = append(lines, logLines(t, p.stderr.String())...)
	}
	// A scan that fails before its first page (Cova answers 404 to a base
	// URL without /crm) has no scan id yet.
	for i := range args {
		if args[i] == "--cova-base-url" {
			args[i+1] = e.sim.URL
		}
	}
	p := start(t, passwordEnv(), args...)
	if code := p.wait(t, 60*time.Second); code != 1 {
		t.Fatalf("exit %d with every page answered 404, want 1\nstderr:\n%s", code, p.stderr)
	}
	lines = append(lines, logLines(t, p.stderr.String())...)

	perScan := map[string]int{}
	var committed []map[string]any
	for _, l := range lines {
		if v, ok := l["scan"]; ok && v == "" {
			t.Errorf("log line with an empty scan field: %v", l)
		}
		if l["msg"] == "scan committed" {
			committed = append(committed, l)
			perScan[l["scan"].(string)]++
		}
	}
	if len(committed) != 2 {
		t.Fatalf("%d scan committed lines in 2 scans, want 2: %v", len(committed), committed)
	}
	for scan, n := range perScan {
		if n != 1 {
			t.Errorf("scan %s: %d scan committed lines, want 1", scan, n)
		}
	}
	// The second scan starts where the first one's next cursor points.
	if committed[1]["since"] != committed[0]["next"] {
		t.Errorf("second scan since %v, want the first one's next %v", committed[1]["since"], committed[0]["next"])
	}
}
