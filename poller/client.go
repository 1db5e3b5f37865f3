// Package poller reads customers from Cova's CustomerFull endpoint: OAuth2
// authentication, paged and streamed scans that never miss a row, tolerant
// decoding, retries under a request budget shared by every company of the process.
// It decodes into schema.Customer, the customer type of the event schema, with a
// field mapping generated from that schema; it knows nothing of Kafka or of the
// events' encoding.
package poller

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Option sets an optional collaborator.
type Option func(*options)

type options struct {
	httpClient *http.Client
	logger     *slog.Logger
	registerer prometheus.Registerer
	now        func() time.Time
	companies  []int64
}

// WithHTTPClient sets the HTTP client. Default: a client with sane transport timeouts.
// Its own Timeout, if any, applies on top of Config.RequestTimeout. Whatever its
// CheckRedirect says, the Client follows no redirect (it uses a copy of c that
// does not): a 3xx is an error; c itself is left as it is.
func WithHTTPClient(c *http.Client) Option { return func(o *options) { o.httpClient = c } }

// WithLogger sets the logger. Default: discard.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithRegisterer registers the client's metrics. Default: no metrics.
func WithRegisterer(r prometheus.Registerer) Option { return func(o *options) { o.registerer = r } }

// WithCompanies names the companies the client will scan, so that their metric
// series are on /metrics at zero before their first request (a dashboard shows
// 0 rather than no data, and increase() sees the first rise). Default: none;
// a company's series appear with its first request.
func WithCompanies(ids ...int64) Option { return func(o *options) { o.companies = ids } }

// WithClock sets the local clock (used only where the server's Date header is missing). Default time.Now.
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// Client polls Cova for one set of credentials. It is safe for concurrent use;
// scans of different companies may run at once and share one request budget:
// RequestsPerMinute (or less, when Cova's rate-limit headers say so),
// MaxInFlight, and the pause a 429 imposes.
type Client struct {
	cfg     Config
	http    *http.Client
	log     *slog.Logger
	now     func() time.Time
	metrics *metrics
	auth    *tokenSource
	pacer   *pacer

	spareMu  sync.Mutex
	spareMem []pageMem // cleared page memory for the next pages to decode into; see pageMem
}

// New returns a client; it makes no request. cfg is taken as given (start
// from DefaultConfig); a bad field is a *config.FieldError naming it.
func New(cfg Config, opts ...Option) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("poller: %w", err)
	}
	o := options{now: time.Now}
	for _, opt := range opts {
		opt(&o)
	}
	if o.logger == nil {
		o.logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.httpClient == nil {
		o.httpClient = defaultHTTPClient(cfg.MaxInFlight)
	}
	// Requests carry credentials (the token form, the bearer token): a redirect
	// would hand them to wherever it points, so none is followed.
	hc := *o.httpClient
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	m, err := newMetrics(o.registerer, o.companies)
	if err != nil {
		return nil, err
	}
	c := &Client{
		cfg:     cfg,
		http:    &hc,
		log:     o.logger,
		now:     o.now,
		metrics: m,
		pacer:   newPacer(cfg.RequestsPerMinute, cfg.MaxInFlight),
	}
	c.auth = &tokenSource{c: c}
	return c, nil
}

func defaultHTTPClient(maxInFlight int) *http.Client {
	return &http.Client{Transport: &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: 60 * time.Second,
		IdleConnTimeout:       90 * time.Second,
		MaxIdleConnsPerHost:   maxInFlight + 2,
		ForceAttemptHTTP2:     true,
	}}
}

// RequestsPerMinute is the rate of Cova requests the client allows itself now:
// Config.RequestsPerMinute, or less while Cova's rate-limit headers announce a
// lower limit (taken to be per minute, as Cova documents).
func (c *Client) RequestsPerMinute() float64 { return c.pacer.requestsPerMinute() }

// Concurrency is how many requests the client aims to keep under way for the
// whole process: the rate it allows itself times the latency Cova has shown,
// with a margin, within MaxInFlight. Scans with pages to read share it; a
// caller that starts scans may use it to start enough of them.
func (c *Client) Concurrency() int { return c.pacer.target() }

// secrets lists what must never appear in an error or a log line, in any form:
// the client secret, the password and the given access tokens.
func (c *Client) secrets(tokens ...string) []string {
	return append([]string{c.cfg.ClientSecret, c.cfg.Password}, tokens...)
}
