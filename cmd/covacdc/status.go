package main

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/covacdc/covacdc/internal/pipeline"
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

// renderStatus renders the pipeline's status as GET /status answers it.
func renderStatus(st pipeline.Status) statusJSON {
	out := statusJSON{StateRestored: st.StateRestored, Companies: make([]companyStatusJSON, 0, len(st.Companies))}
	for _, c := range st.Companies {
		cs := companyStatusJSON{CompanyID: c.CompanyID}
		if c.State != nil {
			j := toJSON(*c.State)
			cs.companyJSON = &j
		}
		if s := c.Scan; s != nil {
			cs.Scan = &scanStatusJSON{ID: s.ID, StartedAt: s.StartedAt, InitialLoad: s.InitialLoad, Pages: s.Pages, Customers: s.Customers}
			if !s.LastPageAt.IsZero() {
				t := s.LastPageAt
				cs.Scan.LastPageAt = &t
			}
		}
		if e := c.LastError; e != nil {
			cs.LastError = &errorStatusJSON{Text: e.Text, At: e.At}
		}
		out.Companies = append(out.Companies, cs)
	}
	return out
}

// serveStatus answers GET /status with st as indented JSON.
func serveStatus(w http.ResponseWriter, st pipeline.Status) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(renderStatus(st)) // the client went away
}
