package covatest

import (
	"maps"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Simulator is the Cova CRM API in memory. It is an http.Handler serving
//
//	POST /v1/oauth2/token                                 (token endpoint)
//	GET  /crm/v1/Companies({id})/CustomerFull?$filter=... (CustomerFull)
//
// so with a listener at URL, the client's base URL is URL+"/crm" and its token URL
// URL+"/v1/oauth2/token". All methods are safe for concurrent use.
//
// A truncated response (Hazards.TruncateNext) aborts the connection by panicking
// with http.ErrAbortHandler, which net/http's server handles silently; a handler
// test that calls ServeHTTP directly with a recorder must recover it. A reset
// (Hazards.ResetNext) hijacks the connection, and panics the same way when the
// ResponseWriter cannot be hijacked.
type Simulator struct {
	cfg Config

	mu        sync.Mutex
	hz        Hazards
	rng       *rand.Rand // data: Ids, seeds, random picks
	jitter    *rand.Rand // latency jitter, apart so timing cannot shift the data
	companies map[int64]*company
	stats     Stats
	tokens    map[string]*accessToken
	refreshes map[string]*refreshToken
	received  window // every CustomerFull request, for MaxRequestsInAnyMinute
	accepted  window // CustomerFull requests the server-side limit let through
	maxMinute int
	inFlight  int // CustomerFull requests being answered
}

var _ http.Handler = (*Simulator)(nil)

// New returns a simulator with no customers.
func New(cfg Config) *Simulator {
	if cfg.Seed == 0 {
		cfg.Seed = 1
	}
	if cfg.ClientID == "" {
		cfg.ClientID = DefaultClientID
	}
	if cfg.ClientSecret == "" {
		cfg.ClientSecret = DefaultClientSecret
	}
	if cfg.Username == "" {
		cfg.Username = DefaultUsername
	}
	if cfg.Password == "" {
		cfg.Password = DefaultPassword
	}
	if cfg.TokenTTL <= 0 {
		cfg.TokenTTL = 12 * time.Hour
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Simulator{
		cfg:       cfg,
		rng:       rand.New(rand.NewPCG(uint64(cfg.Seed), 1)),
		jitter:    rand.New(rand.NewPCG(uint64(cfg.Seed), 2)),
		companies: make(map[int64]*company),
		stats:     Stats{ByStatus: make(map[int]int)},
		tokens:    make(map[string]*accessToken),
		refreshes: make(map[string]*refreshToken),
	}
}

func (s *Simulator) now() time.Time { return s.cfg.Now() }

// SetHazards replaces the hazard settings.
func (s *Simulator) SetHazards(h Hazards) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hz = h
}

// Hazards returns the current hazard settings, counters as far as they have
// counted down.
func (s *Simulator) Hazards() Hazards {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hz
}

// Stats returns the counters so far.
func (s *Simulator) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.ByStatus = maps.Clone(s.stats.ByStatus)
	return st
}

// MaxRequestsInAnyMinute returns the most CustomerFull requests the simulator
// received within any 60-second window of its clock (Config.Now), rejected ones
// included: the figure a client's request budget must stay under.
func (s *Simulator) MaxRequestsInAnyMinute() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.maxMinute
}

// ServeHTTP implements http.Handler.
func (s *Simulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Path
	switch {
	case path == "/v1/oauth2/token":
		s.serveToken(w, r)
	case strings.HasPrefix(path, "/crm/v1/"):
		id, ok := parseCustomerFullPath(path[len("/crm/v1/"):])
		if !ok {
			s.writeMessage(w, http.StatusNotFound, "No HTTP resource was found that matches the request URI '"+r.URL.String()+"'.")
			return
		}
		s.serveCustomerFull(w, r, id)
	default:
		s.writeMessage(w, http.StatusNotFound, "No HTTP resource was found that matches the request URI '"+r.URL.String()+"'.")
	}
}

// parseCustomerFullPath reads "Companies({id})/CustomerFull". ASP.NET routes match
// case-insensitively, so the simulator does too.
func parseCustomerFullPath(p string) (int64, bool) {
	const companies, customerFull = "companies(", ")/customerfull"
	lower := strings.ToLower(p)
	if !strings.HasPrefix(lower, companies) || !strings.HasSuffix(lower, customerFull) {
		return 0, false
	}
	id, err := strconv.ParseInt(p[len(companies):len(p)-len(customerFull)], 10, 64)
	return id, err == nil
}

// setDate sets the Date header from the simulator's clock; net/http keeps an
// explicit Date, so a fake clock shows on the wire.
func (s *Simulator) setDate(w http.ResponseWriter, now time.Time) {
	w.Header().Set("Date", now.UTC().Format(http.TimeFormat))
}

// writeMessage answers with an ASP.NET Web API error body {"Message": ...}.
func (s *Simulator) writeMessage(w http.ResponseWriter, code int, msg string) {
	s.writeJSON(w, s.now(), code, string(appendString([]byte(`{"Message":`), msg))+"}")
}

func (s *Simulator) writeJSON(w http.ResponseWriter, now time.Time, code int, body string) {
	s.setDate(w, now)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(code)
	_, _ = w.Write([]byte(body))
}
