package main

import (
	"encoding/json"
	"net/http"
	"sort"
	"time"

	"github.com/covacdc/covacdc/state"
)

// statusJSON is GET /status on the metrics server. Its keys are documented in
// README.md (Operations): scripts depend on them.
type statusJSON struct {
	// StateRestored is false while covacdc restores its state: the companies
	// then carry only what the live process knows.
	StateRestored bool                `json:"stateRestored"`
	Companies     []companyStatusJSON `json:"companies"`
}

// companyStatusJSON is what covacdc state --json shows of a company (once the
// state is restored) and what only the live process knows.
type companyStatusJSON struct {
	CompanyID int64 `json:"companyId"`
	// The keys of covacdc state --json, from initialLoad on; absent while the
	// state is being restored.
	*companyJSON
	Scan      *scanStatusJSON  `json:"scan"`      // the scan under way; null between scans
	LastError *errorStatusJSON `json:"lastError"` // the last failed scan; null if none failed
	Resync    *struct{}        `json:"resync"`    // a resync under way; always null in this version
}

// scanStatusJSON is the scan under way of a company. For an initial load,
// pages and customers are its progress.
type scanStatusJSON struct {
	ID          string     `json:"id,omitempty"` // empty until Cova answered its first page
	StartedAt   time.Time  `json:"startedAt"`
	InitialLoad bool       `json:"initialLoad"`
	Pages       int        `json:"pages"`
	Customers   int        `json:"customers"`
	LastPageAt  *time.Time `json:"lastPageAt"`
}

type errorStatusJSON struct {
	Text string    `json:"text"`
	At   time.Time `json:"at"`
}

// status gathers /status: every configured company, ordered by id.
func (h *health) status() statusJSON {
	h.mu.Lock()
	restored, committed := h.restored, h.state
	live := make(map[int64]companyHealth, len(h.companies))
	for id, c := range h.companies {
		live[id] = *c
	}
	h.mu.Unlock()

	var byID map[int64]state.CompanyState
	if restored && committed != nil {
		companies := committed()
		byID = make(map[int64]state.CompanyState, len(companies))
		for _, cs := range companies {
			byID[cs.CompanyID] = cs
		}
	}
	out := statusJSON{StateRestored: restored, Companies: []companyStatusJSON{}}
	for id, c := range live {
		cs := companyStatusJSON{CompanyID: id}
		if restored {
			st, ok := byID[id]
			if !ok {
				st = state.CompanyState{CompanyID: id}
			}
			j := toJSON(st)
			cs.companyJSON = &j
		}
		if c.scanning {
			s := &scanStatusJSON{ID: c.scanID, StartedAt: c.scanStart.UTC(), InitialLoad: c.initialLoad, Pages: c.pages, Customers: c.customers}
			if !c.lastPage.IsZero() {
				t := c.lastPage.UTC()
				s.LastPageAt = &t
			}
			cs.Scan = s
		}
		if c.lastErr != "" {
			cs.LastError = &errorStatusJSON{Text: c.lastErr, At: c.lastErrAt.UTC()}
		}
		out.Companies = append(out.Companies, cs)
	}
	sort.Slice(out.Companies, func(i, j int) bool { return out.Companies[i].CompanyID < out.Companies[j].CompanyID })
	return out
}

// serveStatus answers GET /status with the status as indented JSON.
func (h *health) serveStatus(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(h.status()) // the client went away
}
