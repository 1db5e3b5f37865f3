package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/covacdc/covacdc/internal/pipeline"
	"github.com/covacdc/covacdc/internal/testenv"
	"github.com/covacdc/covacdc/poller/covatest"
	"github.com/covacdc/covacdc/state"
)

// statusView is GET /status as a client reads it.
type statusView struct {
	StateRestored bool `json:"stateRestored"`
	Companies     []struct {
		CompanyID        int64            `json:"companyId"`
		InitialLoad      string           `json:"initialLoad"`
		TrackedCustomers int              `json:"trackedCustomers"`
		Scan             *scanStatusJSON  `json:"scan"`
		LastError        *errorStatusJSON `json:"lastError"`
		Resync           any              `json:"resync"`
	} `json:"companies"`
}

// statusOf reads GET /status.
func statusOf(t *testing.T, addr string) (statusView, map[string]any, string) {
	t.Helper()
	code, body := get(t, "http://"+addr+"/status")
	if code != 200 {
		t.Fatalf("GET /status: %d %s", code, body)
	}
	var st statusView
	var raw map[string]any
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatalf("GET /status: %v\n%s", err, body)
	}
	_ = json.Unmarshal([]byte(body), &raw)
	return st, raw, body
}

// TestStatusDuringAnInitialLoad runs covacdc on a slow Cova: while company
// 1's initial load is under way, GET /status shows its progress in pages and
// customers, the state covacdc state shows, and /readyz answers 200 (the
// load makes progress); once it committed, the cursor and no scan.
func TestStatusDuringAnInitialLoad(t *testing.T) {
	e := newTestEnv(t, covatest.Config{})
	e.sim.Generate(1, 2000)
	e.sim.Generate(2, 10)
	e.sim.SetHazards(covatest.Hazards{Slow: 300 * time.Millisecond})
	e.metrics = freeAddr(t)
	start(t, passwordEnv(), e.runArgs("1,2", "--poll-interval", "1s", "--page-size", "50", "--max-in-flight", "1")...)

	var during statusView
	var raw map[string]any
	var body string
	testenv.Eventually(t, 30*time.Second, "company 1's initial load under way with pages handed on", func() bool {
		if code, _ := get(t, "http://"+e.metrics+"/healthz"); code != 200 {
			return false
		}
		during, raw, body = statusOf(t, e.metrics)
		if len(during.Companies) != 2 {
			return false
		}
		s := during.Companies[0].Scan
		return during.StateRestored && s != nil && s.InitialLoad && s.Pages >= 2 && s.Customers >= 100
	})
	if code, body := get(t, "http://"+e.metrics+"/readyz"); code != 200 {
		t.Errorf("/readyz during an initial load that hands on pages: %d %s", code, body)
	}
	c1 := during.Companies[0]
	if c1.CompanyID != 1 || c1.InitialLoad == "" || c1.InitialLoad == "complete" || c1.Scan.ID == "" || c1.Resync != nil {
		t.Errorf("company 1 during its initial load: %+v", c1)
	}
	companies := raw["companies"].([]any)
	first := companies[0].(map[string]any)
	for _, key := range []string{"companyId", "initialLoad", "hasCursor", "trackedCustomers", "cursor", "scan", "lastError", "resync"} {
		if _, ok := first[key]; !ok {
			t.Errorf("/status company without the key %q: %v", key, first)
		}
	}
	for _, key := range []string{"id", "startedAt", "initialLoad", "pages", "customers", "lastPageAt"} {
		if _, ok := first["scan"].(map[string]any)[key]; !ok {
			t.Errorf("/status scan without the key %q: %v", key, first["scan"])
		}
	}
	t.Logf("GET /status during the initial load:\n%s", body)

	e.sim.SetHazards(covatest.Hazards{})
	testenv.Eventually(t, 60*time.Second, "company 1's initial load committed", func() bool {
		st, _, _ := statusOf(t, e.metrics)
		c := st.Companies[0]
		return c.InitialLoad == "complete" && c.TrackedCustomers == 2000
	})
}

// TestStatusRendersTheDocumentedKeys renders a company with a failed scan
// and none under way: README.md's keys, with null for what is absent.
func TestStatusRendersTheDocumentedKeys(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	b, err := json.Marshal(renderStatus(pipeline.Status{StateRestored: true, Companies: []pipeline.CompanyStatus{{
		CompanyID: 7,
		State:     &state.CompanyState{CompanyID: 7},
		LastError: &pipeline.ErrorStatus{Text: "page at row 0: CustomerFull answered HTTP 503", At: at},
	}}}))
	if err != nil {
		t.Fatal(err)
	}
	got := string(b)
	for _, want := range []string{`"lastError":{"text":"page at row 0: CustomerFull answered HTTP 503","at":"2026-01-02T03:04:05Z"}`,
		`"scan":null`, `"resync":null`, `"stateRestored":true`, `"initialLoad":"not_started"`, `"companyId":7`} {
		if !strings.Contains(got, want) {
			t.Errorf("/status %s\nwant %s in it", got, want)
		}
	}
}
