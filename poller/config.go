package poller

import (
	"net/url"
	"time"

	"github.com/covacdc/covacdc/internal/config"
)

// Config says how to reach Cova. Start from DefaultConfig, which holds every
// default, and set the credentials: New takes the values as given.
type Config struct {
	BaseURL      string // Cova CRM base URL. Default "https://api.covasoft.net/crm".
	TokenURL     string // OAuth2 token URL. Default "https://accounts.iqmetrix.net/v1/oauth2/token".
	ClientID     string // Required.
	ClientSecret string // Required. Never logged.
	Username     string // Required.
	Password     string // Required. Never logged.

	PageSize int           // $top. Default 100 (the documented maximum).
	Lookback time.Duration // next cursor = server clock at scan start minus this. Default 2m.
	// RequestTimeout bounds one HTTP request, body included. Default 60s.
	RequestTimeout time.Duration
	// RequestsPerMinute is the budget of Cova requests of the whole process, all
	// companies together. Default 600 (Cova allows about 1000).
	RequestsPerMinute int
	// MaxInFlight caps Cova requests in flight in the whole process: a safety
	// cap, not the tuning knob. How many are in flight follows the budget and
	// the latency Cova shows (see Client.Concurrency). Default 64, enough for
	// 1000 requests a minute at over 3 s a page.
	MaxInFlight int
	// MaxBackoff caps the exponential backoff between retries of a page. Default 30s.
	MaxBackoff time.Duration

	// PageOverlap is how many rows each page re-reads from the tail of the
	// previous one at the start of a scan, to prove that no row was skipped
	// while the result shifted; a scan that sees a shift widens it for the rest
	// of the scan. Must be at least 1 and less than PageSize. Default 1.
	PageOverlap int
	// FetchAhead caps how many pages of one scan are requested at once while
	// earlier ones are handed on; 1 fetches one page at a time. Default 0: no
	// cap but the scan's share of the requests the client keeps under way.
	FetchAhead int
	// InitialBackoff is the first backoff step of a retried page; each retry
	// doubles it up to MaxBackoff, with full jitter. A 429 that says how long to
	// wait (Retry-After, a rate-limit reset header) waits that long instead; one
	// that does not waits the backoff step, and either pauses every company.
	// Default 500ms.
	InitialBackoff time.Duration
	// MaxRetries is how many times one page is retried before the scan fails:
	// one budget per page, shared by every fault (429, 5xx, 408, a 401 that
	// renews the token, timeouts, transport errors, a token endpoint that fails,
	// a body cut short, reset, not JSON or badly gzipped). Default 8.
	MaxRetries int
}

// Defaults of Config.
const (
	DefaultBaseURL  = "https://api.covasoft.net/crm"
	DefaultTokenURL = "https://accounts.iqmetrix.net/v1/oauth2/token"
)

// DefaultConfig returns the defaults, without credentials.
func DefaultConfig() Config {
	return Config{
		BaseURL:           DefaultBaseURL,
		TokenURL:          DefaultTokenURL,
		PageSize:          100,
		Lookback:          2 * time.Minute,
		RequestTimeout:    60 * time.Second,
		RequestsPerMinute: 600,
		MaxInFlight:       64,
		MaxBackoff:        30 * time.Second,
		PageOverlap:       1,
		FetchAhead:        0,
		InitialBackoff:    500 * time.Millisecond,
		MaxRetries:        8,
	}
}

// Validate returns a *config.FieldError naming the first field whose value is
// bad, with what is accepted (for example "PageSize: must be between 2 and
// 100, got 0"). It checks c as given: a zero is a value (MaxRetries 0 retries
// nothing), so start from DefaultConfig.
func (c Config) Validate() error {
	for _, u := range []struct{ field, v string }{{"BaseURL", c.BaseURL}, {"TokenURL", c.TokenURL}} {
		p, err := url.Parse(u.v)
		if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
			return config.Errorf(u.field, "must be an http(s) URL, got %q", redactedURL(u.v))
		}
	}
	switch {
	case c.ClientID == "":
		return config.Errorf("ClientID", "required")
	case c.ClientSecret == "":
		return config.Errorf("ClientSecret", "required")
	case c.Username == "":
		return config.Errorf("Username", "required")
	case c.Password == "":
		return config.Errorf("Password", "required")
	case c.PageSize < 2 || c.PageSize > 100:
		// 1 would leave no room for the overlap that proves no row was skipped.
		return config.Errorf("PageSize", "must be between 2 and 100, got %d", c.PageSize)
	case c.PageOverlap < 1 || c.PageOverlap >= c.PageSize:
		return config.Errorf("PageOverlap", "must be between 1 and the page size - 1 (%d), got %d", c.PageSize-1, c.PageOverlap)
	case c.Lookback <= 0:
		// Zero would let a row that Cova makes visible late slip between two scans.
		return config.Errorf("Lookback", "must be positive, got %s", c.Lookback)
	case c.RequestTimeout <= 0:
		return config.Errorf("RequestTimeout", "must be positive, got %s", c.RequestTimeout)
	case c.RequestsPerMinute < 1:
		return config.Errorf("RequestsPerMinute", "must be at least 1, got %d", c.RequestsPerMinute)
	case c.MaxInFlight < 1 || c.MaxInFlight > 1000:
		return config.Errorf("MaxInFlight", "must be between 1 and 1000, got %d", c.MaxInFlight)
	case c.FetchAhead < 0 || c.FetchAhead > 100:
		return config.Errorf("FetchAhead", "must be between 0 (no cap) and 100, got %d", c.FetchAhead)
	case c.InitialBackoff <= 0:
		return config.Errorf("InitialBackoff", "must be positive, got %s", c.InitialBackoff)
	case c.MaxBackoff < c.InitialBackoff:
		return config.Errorf("MaxBackoff", "must be at least the initial backoff (%s), got %s", c.InitialBackoff, c.MaxBackoff)
	case c.MaxRetries < 0 || c.MaxRetries > 1000:
		return config.Errorf("MaxRetries", "must be between 0 (no retry) and 1000, got %d", c.MaxRetries)
	}
	return nil
}

// redactedURL hides a password embedded in a URL.
func redactedURL(s string) string {
	if u, err := url.Parse(s); err == nil && u.User != nil {
		return u.Redacted()
	}
	return s
}
