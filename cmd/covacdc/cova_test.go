package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/covacdc/covacdc/internal/testenv"

	"github.com/covacdc/covacdc/poller/covatest"
)

// TestOnceRetriesEveryCovaFaultWithinTheScan drives covacdc run --once through
// one scan whose pages meet, in order, every fault Cova and what stands in
// front of it commit: each page's request fails once and is read again within
// the scan. The run exits 0 and a read_committed consumer sees every customer's
// version exactly once.
func TestOnceRetriesEveryCovaFaultWithinTheScan(t *testing.T) {
	e := newTestEnv(t, covatest.Config{Seed: 11})
	const customers = 300
	e.sim.Generate(1, customers)
	ok := covatest.FaultNone
	script := []covatest.Fault{
		covatest.Fault429RetryAfter, ok, // Retry-After: 1
		covatest.Fault429Reset, ok, // only X-RateLimit-ResetSeconds: 1
		covatest.Fault429, ok, // nothing that says when
		covatest.Fault500, ok,
		covatest.Fault502, ok,
		covatest.Fault503, ok,
		covatest.FaultTruncate, ok,
		covatest.FaultNotJSON, ok,
		covatest.FaultReset, ok,
		covatest.FaultSlow, ok, // 2 s
		covatest.FaultRevoke, ok,
		covatest.FaultTokenDies, ok, // the token claimed 12 h
	}
	e.sim.SetHazards(covatest.Hazards{Script: script})

	// One page at a time, so that each fault meets a page of its own: 300
	// customers in pages of 25 overlapping by 10 are 20 pages.
	began := time.Now()
	p := start(t, passwordEnv(), e.runArgs("1", "--once", "--page-size", "25", "--fetch-ahead", "1", "--log-level", "debug")...)
	if code := p.wait(t, 50*time.Second); code != 0 {
		t.Fatalf("covacdc run --once exited %d\nstderr:\n%s", code, p.stderr)
	}
	t.Logf("the scan with every fault took %s", time.Since(began).Round(time.Millisecond))
	if left := e.sim.Hazards().Script; len(left) != 0 {
		t.Fatalf("the scan ended before meeting every fault: %q left", left)
	}
	st := e.sim.Stats()
	for code, n := range map[int]int{429: 3, 500: 1, 502: 1, 503: 1, 401: 2} {
		if st.ByStatus[code] != n {
			t.Errorf("the simulator answered %d %d times, want %d (all: %v)", code, st.ByStatus[code], n, st.ByStatus)
		}
	}
	if st.TokenRequests != 3 {
		t.Errorf("%d token requests, want 3: the first and one after each dead token", st.TokenRequests)
	}
	stderr := p.stderr.String()
	if !strings.Contains(stderr, "scan committed") || strings.Contains(stderr, "scan failed") {
		t.Errorf("want a committed scan and no failed one:\n%s", stderr)
	}
	events := e.readEvents(t, e.topic)
	checkExactlyOnce(t, events, map[int64]map[string]int64{1: e.sim.Truth(1)})
	if len(events) != customers {
		t.Errorf("%d events, want one per customer (%d)", len(events), customers)
	}
}

// TestPageThatKeepsFailingFailsTheScan runs the pipeline in process (with a
// backoff of milliseconds rather than the flags' seconds) against a Cova whose
// every answer is cut short: after the page's retries the scan fails, --once
// returns the error, and the line covacdc prints says where, how many
// attempts, of which kind, and the last cause. Nothing is published.
func TestPageThatKeepsFailingFailsTheScan(t *testing.T) {
	e := newTestEnv(t, covatest.Config{})
	e.sim.Generate(1, 50)
	e.sim.SetHazards(covatest.Hazards{TruncateNext: 1000})
	var f runFlags
	if err := parseFlags(runCommand(&f), e.runArgs("1", "--once")[1:], &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	f.Password = covatest.DefaultPassword
	cfg, err := f.validate()
	if err != nil {
		t.Fatal(err)
	}
	cfg.Poller.InitialBackoff, cfg.Poller.MaxBackoff = time.Millisecond, 10*time.Millisecond
	// One page at a time: a slow first page (the race detector, a busy
	// machine) would otherwise start the next pages, whose requests fail too.
	cfg.Poller.FetchAhead = 1
	var logs syncBuffer
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = runPipeline(ctx, cfg, newLogger(&logs, "text", "info"), newRegistry(), nil)
	if err == nil {
		t.Fatal("the scan succeeded")
	}
	want := "covacdc: 1 of 1 companies failed their scan: company 1: page at row 0: 9 attempts failed (truncated body x9); " +
		"last error: malformed CustomerFull response: body ends before the JSON array does (truncated)"
	if got := "covacdc: " + oneLine(err.Error()); got != want {
		t.Errorf("covacdc prints\n%s\nwant\n%s", got, want)
	}
	if exitCode(err) != 1 {
		t.Errorf("exit code %d, want 1", exitCode(err))
	}
	if n := e.sim.Stats().CustomerFullRequests; n != 9 {
		t.Errorf("%d requests, want 9", n)
	}
	if events := e.readEvents(t, e.topic); len(events) != 0 {
		t.Errorf("%d events published by a failed scan", len(events))
	}
}

// TestCovaErrorsNameTheFlag: what covacdc run --once prints when Cova answers
// 404 or refuses the user names the flag to look at, once per fact.
func TestCovaErrorsNameTheFlag(t *testing.T) {
	e := newTestEnv(t, covatest.Config{})
	e.sim.Generate(1, 10)
	const query = "$filter=LastModifiedDateUtc%20ge%20datetime%270001-01-01T00%3A00%3A00.0000000Z%27&$top=100&$skip=0"
	// In this order: the last one commits company 1, whose cursor would change the query.
	for _, tc := range []struct {
		name    string
		args    []string
		hazards covatest.Hazards
		want    string
	}{
		{"a base URL without /crm", append(e.runArgs("1", "--once"), "--cova-base-url", e.sim.URL), covatest.Hazards{},
			"covacdc: 1 of 1 companies failed their scan: company 1: page at row 0: CustomerFull answered HTTP 404 (No HTTP resource was found that matches the request URI '/v1/Companies(1)/CustomerFull?" + query + "'.): check --cova-base-url, whose path ends in /crm for Cova (https://api.covasoft.net/crm)"},
		{"a user without the role", e.runArgs("1", "--once"), covatest.Hazards{Reject401Next: 2},
			"covacdc: 1 of 1 companies failed their scan: company 1: page at row 0: CustomerFull answered HTTP 401 to a fresh token (Authorization has been denied for this request.): the user of --cova-username lacks the role to read company 1's customers; ask Cova to grant it"},
		{"a company Cova does not know", e.runArgs("1,2", "--once"), covatest.Hazards{},
			"covacdc: 1 of 2 companies failed their scan: company 2: page at row 0: CustomerFull answered HTTP 404 (Resource cannot be found): Cova does not know company 2 (check --company-id)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.sim.SetHazards(tc.hazards)
			p := start(t, passwordEnv(), tc.args...)
			if code := p.wait(t, 30*time.Second); code != 1 {
				t.Fatalf("exit code %d, want 1\nstderr:\n%s", code, p.stderr)
			}
			if got := lastLine(p.stderr.String()); got != tc.want {
				t.Errorf("last line\n got %s\nwant %s", got, tc.want)
			}
		})
	}
}

// TestSimulateFaultFlags: covacdc simulate's --script, --reset-next and
// --token-lifetime reach the simulator, and a bad script is a usage error.
func TestSimulateFaultFlags(t *testing.T) {
	bad := start(t, nil, "simulate", "--addr", freeAddr(t), "--script", "503,teapot")
	if code := bad.wait(t, 10*time.Second); code != 2 || !strings.HasPrefix(lastLine(bad.stderr.String()), "covacdc: --script: ") {
		t.Fatalf("exit %d, stderr %q: want 2 and a line naming --script", code, bad.stderr)
	}

	simulate := func(extra ...string) (base string, token func() string) {
		addr := freeAddr(t)
		p := start(t, nil, append([]string{"simulate", "--addr", addr, "--customers", "5", "--trickle", "0"}, extra...)...)
		base = "http://" + addr
		testenv.Eventually(t, 10*time.Second, "the simulator listening", func() bool {
			resp, err := http.Get(base + "/")
			if err == nil {
				resp.Body.Close()
			}
			return err == nil
		})
		t.Cleanup(func() { p.signal(t, syscall.SIGTERM); p.wait(t, 10*time.Second) })
		return base, func() string {
			resp, err := http.PostForm(base+"/v1/oauth2/token", url.Values{"grant_type": {"password"},
				"username": {covatest.DefaultUsername}, "password": {covatest.DefaultPassword},
				"client_id": {covatest.DefaultClientID}, "client_secret": {covatest.DefaultClientSecret}})
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var tr struct {
				AccessToken string `json:"access_token"`
			}
			if err := json.NewDecoder(resp.Body).Decode(&tr); err != nil || tr.AccessToken == "" {
				t.Fatalf("token: %v", err)
			}
			return tr.AccessToken
		}
	}
	get := func(base, tok string) (int, string, error) {
		req, _ := http.NewRequest(http.MethodGet, base+"/crm/v1/Companies(1)/CustomerFull?$filter="+url.QueryEscape("LastModifiedDateUtc ge datetime'2000-01-01T00:00:00'"), nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		tr := &http.Transport{DisableKeepAlives: true}
		defer tr.CloseIdleConnections()
		resp, err := (&http.Client{Transport: tr}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body), err
	}

	base, token := simulate("--script", "503,not-json", "--reset-next", "1")
	tok := token()
	if code, _, _ := get(base, tok); code != 503 {
		t.Errorf("first request: HTTP %d, want the script's 503", code)
	}
	if code, body, _ := get(base, tok); code != 200 || strings.HasPrefix(body, "[") {
		t.Errorf("second request: HTTP %d %q, want the script's 200 that is not JSON", code, body)
	}
	if code, body, err := get(base, tok); code != 200 || err == nil || body != "" {
		t.Errorf("third request: HTTP %d, %d bytes, %v: want --reset-next's reset after the headers", code, len(body), err)
	}
	if code, body, err := get(base, tok); code != 200 || err != nil || !strings.HasPrefix(body, "[{") {
		t.Errorf("fourth request: HTTP %d %v, want the data", code, err)
	}

	base, token = simulate("--token-lifetime", "1ns")
	if code, _, _ := get(base, token()); code != 401 {
		t.Errorf("with --token-lifetime 1ns: HTTP %d, want 401", code)
	}
}
