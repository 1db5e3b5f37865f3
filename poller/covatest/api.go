// Package covatest is a simulator of the Cova CRM API for tests, benchmarks and the
// demo: the OAuth2 token endpoint and CustomerFull, with realistic generated
// customers and a knob for every hazard the client must survive. It keeps the ground
// truth: every customer's current record and every (Id, Version) it ever served.
//
// It shares no code or types with package poller on purpose: a simulator that
// reads the API the way the client does would let a shared mistake pass every test.
package covatest

// THIS FILE IS THE PINNED API CONTRACT. Implement it; do not rename anything here.

import (
	"net/http"
	"time"
)

// Order is the row order CustomerFull serves in. Cova documents none.
type Order int

const (
	// OrderGUID serves in SQL Server uniqueidentifier order of Id (what recorded traffic showed).
	OrderGUID Order = iota
	// OrderModified serves by LastModifiedDateUtc, then Id: a modified row moves to the end.
	OrderModified
	// OrderRandom serves in a stable pseudo-random order keyed by Id (and the seed).
	OrderRandom
)

// Default credentials the simulator accepts unless Config says otherwise.
const (
	DefaultClientID     = "covatest-client"
	DefaultClientSecret = "covatest-secret"
	DefaultUsername     = "covatest-user"
	DefaultPassword     = "covatest-password"
)

// Config sets up a Simulator. The zero value is usable: every field has a default.
type Config struct {
	Seed         int64         // Seed for generated data and random choices. Default 1.
	ClientID     string        // Default DefaultClientID.
	ClientSecret string        // Default DefaultClientSecret.
	Username     string        // Default DefaultUsername.
	Password     string        // Default DefaultPassword.
	TokenTTL     time.Duration // expires_in of issued tokens. Default 12h.
	Order        Order         // Default OrderGUID.
	// Now is the simulator's clock (Date header, LastModifiedDateUtc of changes).
	// Default time.Now.
	Now func() time.Time
	// Gzip compresses responses when the request accepts gzip. Default false.
	Gzip bool
}

// Hazards are the hostile behaviours, all off in the zero value. They can be
// changed at any time with SetHazards; counters ("the next N requests") count down
// as they are used.
type Hazards struct {
	IgnorePaging bool // serve the whole result whatever $top/$skip say

	// Between two pages of one scan (a request with $skip > 0), before serving it:
	ModifyPerPage      int           // modify this many random existing customers (Version+1, LastModifiedDateUtc=now)
	InsertPerPage      int           // insert this many new customers (LastModifiedDateUtc=now)
	LateVisiblePerPage int           // insert this many customers whose LastModifiedDateUtc lies LateBy before now (rows that become visible late)
	LateBy             time.Duration // default 30s

	Status429      int           // answer the next N CustomerFull requests 429
	RetryAfter     string        // Retry-After header on those 429s ("" = header absent); e.g. "2" or an HTTP date
	RateLimitReset string        // X-RateLimit-ResetSeconds header on those 429s ("" = absent)
	Status5xx      int           // answer the next N CustomerFull requests with Code5xx
	Code5xx        int           // 500, 502 or 503; default 503
	Slow           time.Duration // delay every CustomerFull response by this much
	TruncateNext   int           // cut the body of the next N responses in the middle of the JSON array
	HTMLNext       int           // answer the next N requests 200 with an HTML error page
	Reject401Next  int           // answer the next N CustomerFull requests 401 even with a valid token (forces a renewal)
}

// Customer identifies one version of one customer.
type Served struct {
	CompanyID int64
	ID        string // the customer's Id as served
	Version   int64
}

// Stats counts what the simulator answered.
type Stats struct {
	TokenRequests        int
	CustomerFullRequests int
	ByStatus             map[int]int // CustomerFull responses by HTTP status
	RowsServed           int
}

// Simulator is the Cova CRM API in memory. It is an http.Handler serving
//
//	POST /v1/oauth2/token                                 (token endpoint)
//	GET  /crm/v1/Companies({id})/CustomerFull?$filter=... (CustomerFull)
//
// so with a listener at URL, the client's base URL is URL+"/crm" and its token URL
// URL+"/v1/oauth2/token". All methods are safe for concurrent use.
type Simulator struct { /* implementation */
}

var _ http.Handler = (*Simulator)(nil)

// New returns a simulator with no customers.
func New(cfg Config) *Simulator { panic("unimplemented") }

// ServeHTTP implements http.Handler.
func (s *Simulator) ServeHTTP(w http.ResponseWriter, r *http.Request) { panic("unimplemented") }

// SetHazards replaces the hazard settings.
func (s *Simulator) SetHazards(h Hazards) { panic("unimplemented") }

// Generate adds n realistic customers to the company (created on first use), with
// LastModifiedDateUtc spread over the year before now, and returns their Ids.
func (s *Simulator) Generate(companyID int64, n int) []string { panic("unimplemented") }

// Burst adds n customers that all share one LastModifiedDateUtc (at) and returns their Ids.
func (s *Simulator) Burst(companyID int64, n int, at time.Time) []string { panic("unimplemented") }

// Modify changes n random existing customers of the company (Version+1,
// LastModifiedDateUtc = now, some field changed) and returns their Ids.
func (s *Simulator) Modify(companyID int64, n int) []string { panic("unimplemented") }

// ModifyID changes one customer as Modify does; false when it is unknown.
func (s *Simulator) ModifyID(companyID int64, id string) bool { panic("unimplemented") }

// AddRaw adds a record served verbatim (malformed records: no Id, wrong types, ...),
// placed in the order as if it had the given Id and LastModifiedDateUtc. It is not
// part of Truth.
func (s *Simulator) AddRaw(companyID int64, id string, lastModified time.Time, raw string) {
	panic("unimplemented")
}

// Truth returns each customer's current Version, keyed by Id.
func (s *Simulator) Truth(companyID int64) map[string]int64 { panic("unimplemented") }

// Record returns the JSON the simulator currently serves for one customer.
func (s *Simulator) Record(companyID int64, id string) (string, bool) { panic("unimplemented") }

// Served returns every (Id, Version) of the company ever served, in serving order
// (with repeats).
func (s *Simulator) Served(companyID int64) []Served { panic("unimplemented") }

// Stats returns the counters so far.
func (s *Simulator) Stats() Stats { panic("unimplemented") }

// Server is a Simulator listening on a loopback port, like httptest.Server.
type Server struct {
	*Simulator
	URL string // e.g. http://127.0.0.1:41234
}

// NewServer starts a Simulator on 127.0.0.1 with a random port.
func NewServer(cfg Config) *Server { panic("unimplemented") }

// BaseURL is the client's Cova base URL: URL + "/crm".
func (s *Server) BaseURL() string { panic("unimplemented") }

// TokenURL is the client's token URL: URL + "/v1/oauth2/token".
func (s *Server) TokenURL() string { panic("unimplemented") }

// Close shuts the server down; safe to call twice.
func (s *Server) Close() { panic("unimplemented") }
