// Package poller reads customers from Cova's CustomerFull endpoint: OAuth2
// authentication, paged and streamed scans that never miss a row, tolerant
// decoding, retries under a request budget shared by every company of the process.
// It decodes into schema.Customer, the customer type of the event schema, with a
// field mapping generated from that schema; it knows nothing of Kafka or of the
// events' encoding.
package poller

import (
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"
)

// Option sets an optional collaborator.
type Option func(*options)

type options struct {
	httpClient *http.Client
	logger     *slog.Logger
	registerer prometheus.Registerer
	now        func() time.Time
}

// WithHTTPClient sets the HTTP client. Default: a client with sane transport timeouts.
// Its own Timeout, if any, applies on top of Config.RequestTimeout.
func WithHTTPClient(c *http.Client) Option { return func(o *options) { o.httpClient = c } }

// WithLogger sets the logger. Default: discard.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithRegisterer registers the client's metrics. Default: no metrics.
func WithRegisterer(r prometheus.Registerer) Option { return func(o *options) { o.registerer = r } }

// WithClock sets the local clock (used only where the server's Date header is missing). Default time.Now.
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// Client polls Cova for one set of credentials. It is safe for concurrent use;
// scans of different companies may run at once and share one request budget:
// RequestsPerMinute, MaxInFlight, and the pause a 429 imposes.
type Client struct {
	cfg     Config
	http    *http.Client
	log     *slog.Logger
	now     func() time.Time
	metrics *metrics
	auth    *tokenSource

	limiter  *rate.Limiter // RequestsPerMinute, shared by all companies
	inflight chan struct{} // MaxInFlight slots

	pauseMu     sync.Mutex
	pausedUntil time.Time // set by a 429: no request starts before it
}

// New returns a client; it makes no request. Zero fields of cfg take their
// defaults (DefaultConfig) before cfg is validated.
func New(cfg Config, opts ...Option) (*Client, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
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
	m, err := newMetrics(o.registerer)
	if err != nil {
		return nil, err
	}
	c := &Client{
		cfg:     cfg,
		http:    o.httpClient,
		log:     o.logger,
		now:     o.now,
		metrics: m,
		// Burst 1: requests are spread evenly, so no 60 s window of Cova's ever
		// sees more than the budget.
		limiter:  rate.NewLimiter(rate.Limit(float64(cfg.RequestsPerMinute)/60), 1),
		inflight: make(chan struct{}, cfg.MaxInFlight),
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

// secrets lists what must never appear in an error or a log line.
func (c *Client) secrets() []string {
	return []string{c.cfg.ClientSecret, c.cfg.Password, c.auth.current()}
}
