package main

import (
	"bytes"
	"context"
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/covacdc/covacdc/poller/covatest"
)

// TestStateJSONKeys checks the documented keys of covacdc state --json, after
// one scan of a company.
func TestStateJSONKeys(t *testing.T) {
	e := newTestEnv(t, covatest.Config{})
	e.sim.Generate(1, 5)
	p := start(t, passwordEnv(), e.runArgs("1", "--once")...)
	if code := p.wait(t, 60*time.Second); code != 0 {
		t.Fatalf("covacdc run --once exited %d\nstderr:\n%s", code, p.stderr)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var stdout, stderr bytes.Buffer
	if err := run(ctx, []string{"state", "--json", "--kafka-brokers", strings.Join(e.kafka.Brokers, ","), "--state-topic", e.state}, &stdout, &stderr); err != nil {
		t.Fatalf("covacdc state --json: %v\n%s", err, stderr.String())
	}
	var companies []map[string]any
	if err := json.Unmarshal(stdout.Bytes(), &companies); err != nil {
		t.Fatalf("state --json is not a JSON array: %v\n%s", err, stdout.String())
	}
	if len(companies) != 1 {
		t.Fatalf("%d companies, want 1:\n%s", len(companies), stdout.String())
	}
	c := companies[0]
	if got, want := slices.Sorted(maps.Keys(c)), []string{"companyId", "cursor", "hasCursor", "initialLoad", "lastResync", "resync", "trackedCustomers"}; !slices.Equal(got, want) {
		t.Errorf("keys %q, want %q:\n%s", got, want, stdout.String())
	}
	cur, _ := c["cursor"].(map[string]any)
	if got, want := slices.Sorted(maps.Keys(cur)), []string{"initialLoadComplete", "scanFinished", "scanStarted", "scans", "since"}; !slices.Equal(got, want) {
		t.Errorf("cursor keys %q, want %q:\n%s", got, want, stdout.String())
	}
	if c["companyId"] != 1.0 || c["hasCursor"] != true || c["trackedCustomers"] != 5.0 || c["initialLoad"] != "complete" ||
		cur["initialLoadComplete"] != true || cur["scans"] != 1.0 {
		t.Errorf("values do not describe one committed scan of 5 customers:\n%s", stdout.String())
	}
	for _, k := range []string{"since", "scanStarted", "scanFinished"} {
		text, _ := cur[k].(string)
		if _, err := time.Parse(time.RFC3339Nano, text); err != nil {
			t.Errorf("cursor.%s: %v", k, err)
		}
	}
}
