// Package poller reads customers from Cova's CustomerFull endpoint: OAuth2
// authentication, paged and streamed scans that never miss a row, tolerant
// decoding, retries under a request budget shared by every company of the process.
// It knows nothing of Kafka or Avro.
package poller

// THIS FILE IS THE PINNED API CONTRACT (what cmd/covacdc uses).
// Implement it (split into files as you like); add what you need, rename nothing.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Config says how to reach Cova. Every field but the credentials has a default.
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
	// MaxInFlight caps Cova requests in flight in the whole process. Default 4.
	MaxInFlight int
	// MaxBackoff caps the exponential backoff between retries of 5xx and transport errors. Default 30s.
	MaxBackoff time.Duration
}

// DefaultConfig returns the defaults, without credentials.
func DefaultConfig() Config { panic("unimplemented") }

// Validate returns one clear error for the first bad field, naming the covacdc flag
// a user would set (for example "--page-size: must be between 1 and 100, got 0").
func (c Config) Validate() error { panic("unimplemented") }

// ErrCredentials means Cova's token endpoint rejected the credentials
// (invalid_grant, invalid_client, unsupported_grant_type): a configuration error
// that retrying will not fix.
var ErrCredentials = errors.New("poller: Cova rejected the credentials")

// StatusError is an unexpected HTTP status from Cova, with an excerpt of the body.
type StatusError struct {
	Code int
	Body string // at most a few hundred bytes, never containing a secret
}

func (e *StatusError) Error() string { return fmt.Sprintf("cova: HTTP %d: %s", e.Code, e.Body) }

// Option sets an optional collaborator.
type Option func(*options)

type options struct {
	httpClient *http.Client
	logger     *slog.Logger
	registerer prometheus.Registerer
	now        func() time.Time
}

// WithHTTPClient sets the HTTP client. Default: a client with sane transport timeouts.
func WithHTTPClient(c *http.Client) Option { return func(o *options) { o.httpClient = c } }

// WithLogger sets the logger. Default: discard.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithRegisterer registers the client's metrics. Default: no metrics.
func WithRegisterer(r prometheus.Registerer) Option { return func(o *options) { o.registerer = r } }

// WithClock sets the local clock (used only where the server's Date header is missing). Default time.Now.
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// Client polls Cova for one set of credentials. It is safe for concurrent use;
// scans of different companies may run at once and share one request budget.
type Client struct { /* implementation */
}

// New returns a client; it makes no request.
func New(cfg Config, opts ...Option) (*Client, error) { panic("unimplemented") }

// ScanResult says what a completed scan saw.
type ScanResult struct {
	CompanyID int64
	ScanID    string
	Since     time.Time // the filter the scan used
	// ServerStart is the server's clock (Date header) when the scan began.
	ServerStart time.Time
	// Next is where the next scan must start: ServerStart minus Lookback, but
	// never earlier than Since (a cursor never moves backwards).
	Next      time.Time
	Customers int // customers handed on
	Invalid   int // undecodable records handed on
	Requests  int // CustomerFull requests made, retries included
	Rereads   int // pages read again because a shift was detected
}

// Scan reads every customer of the company modified at or after since and hands
// them to fn in batches, in order; fn returning an error stops the scan with it.
// Scan returns only when the whole result has been handed on, or with an error
// (the scan is then incomplete and its cursor must not move). ErrCredentials and
// a cancelled ctx are returned as they are.
func (c *Client) Scan(ctx context.Context, companyID int64, since time.Time, fn func(context.Context, Batch) error) (ScanResult, error) {
	panic("unimplemented")
}

// DecodeCustomer decodes one element of a CustomerFull response with the same
// tolerant rules Scan uses. A record that cannot be decoded returns a *RecordError
// (with Raw set to raw) explaining why.
func DecodeCustomer(raw []byte) (Customer, error) { panic("unimplemented") }
