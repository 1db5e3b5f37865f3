package poller

import (
	"fmt"
	"net/url"
	"time"
)

// Config says how to reach Cova. Every field but the credentials has a default;
// a zero field takes its default in New.
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

// withDefaults fills every zero field with its default.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.BaseURL == "" {
		c.BaseURL = d.BaseURL
	}
	if c.TokenURL == "" {
		c.TokenURL = d.TokenURL
	}
	if c.PageSize == 0 {
		c.PageSize = d.PageSize
	}
	if c.Lookback == 0 {
		c.Lookback = d.Lookback
	}
	if c.RequestTimeout == 0 {
		c.RequestTimeout = d.RequestTimeout
	}
	if c.RequestsPerMinute == 0 {
		c.RequestsPerMinute = d.RequestsPerMinute
	}
	if c.MaxInFlight == 0 {
		c.MaxInFlight = d.MaxInFlight
	}
	if c.MaxBackoff == 0 {
		c.MaxBackoff = d.MaxBackoff
	}
	if c.PageOverlap == 0 {
		c.PageOverlap = min(d.PageOverlap, c.PageSize-1)
	}
	if c.InitialBackoff == 0 {
		c.InitialBackoff = d.InitialBackoff
	}
	if c.MaxRetries == 0 {
		c.MaxRetries = d.MaxRetries
	}
	return c
}

// Validate returns one clear error for the first bad field, naming the covacdc flag
// a user would set (for example "--page-size: must be between 2 and 100, got 0").
// It checks c as given: New fills zero fields with defaults before validating.
func (c Config) Validate() error {
	for _, u := range []struct{ flag, v string }{{"--cova-base-url", c.BaseURL}, {"--cova-token-url", c.TokenURL}} {
		p, err := url.Parse(u.v)
		if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
			return fmt.Errorf("%s: must be an http(s) URL, got %q", u.flag, u.v)
		}
	}
	switch {
	case c.ClientID == "":
		return fmt.Errorf("--cova-client-id: required")
	case c.ClientSecret == "":
		return fmt.Errorf("--cova-client-secret: required")
	case c.Username == "":
		return fmt.Errorf("--cova-username: required")
	case c.Password == "":
		return fmt.Errorf("--cova-password: required")
	case c.PageSize < 2 || c.PageSize > 100:
		// 1 would leave no room for the overlap that proves no row was skipped.
		return fmt.Errorf("--page-size: must be between 2 and 100, got %d", c.PageSize)
	case c.PageOverlap < 1 || c.PageOverlap >= c.PageSize:
		return fmt.Errorf("--page-overlap: must be between 1 and page size - 1 (%d), got %d", c.PageSize-1, c.PageOverlap)
	case c.Lookback < 0:
		return fmt.Errorf("--lookback: must not be negative, got %s", c.Lookback)
	case c.RequestTimeout <= 0:
		return fmt.Errorf("--request-timeout: must be positive, got %s", c.RequestTimeout)
	case c.RequestsPerMinute < 1:
		return fmt.Errorf("--requests-per-minute: must be at least 1, got %d", c.RequestsPerMinute)
	case c.MaxInFlight < 1:
		return fmt.Errorf("--max-in-flight: must be at least 1, got %d", c.MaxInFlight)
	case c.FetchAhead < 0:
		return fmt.Errorf("--fetch-ahead: must not be negative (0: no cap), got %d", c.FetchAhead)
	case c.MaxBackoff <= 0:
		return fmt.Errorf("--max-backoff: must be positive, got %s", c.MaxBackoff)
	case c.InitialBackoff <= 0:
		return fmt.Errorf("--initial-backoff: must be positive, got %s", c.InitialBackoff)
	case c.MaxRetries < 0:
		return fmt.Errorf("--max-retries: must not be negative, got %d", c.MaxRetries)
	}
	return nil
}
