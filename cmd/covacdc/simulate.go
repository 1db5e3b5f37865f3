package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/covacdc/covacdc/poller/covatest"
)

// simFlags are the simulator's knobs, shared by simulate and demo.
type simFlags struct {
	Customers int
	Companies int
	Trickle   float64
	Seed      int64
	Order     string
}

// trickle changes customers of every company at a steady rate until ctx is
// done (the simulator's own mix of modifications and new customers). perSecond
// is the total rate over all companies. It blocks.
func trickle(ctx context.Context, sim *covatest.Simulator, companies []int64, perSecond float64) {
	var wg sync.WaitGroup
	for _, id := range companies {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sim.Trickle(ctx, id, perSecond/float64(len(companies)))
		}()
	}
	wg.Wait()
}

func parseOrder(s string) (covatest.Order, error) {
	switch strings.ToLower(s) {
	case "guid", "":
		return covatest.OrderGUID, nil
	case "modified":
		return covatest.OrderModified, nil
	case "random":
		return covatest.OrderRandom, nil
	}
	return 0, usagef("--order: must be guid, modified or random, got %q", s)
}

type simulateFlags struct {
	Sim              simFlags
	Addr             string
	Config           covatest.Config
	Hazards          covatest.Hazards
	TokenTTL         time.Duration
	LogLevel         string
	Trickle          string
	Script           string
	RateLimitHeaders string
}

func simulateCommand(f *simulateFlags) *command {
	c := newCommand("simulate", "Run the Cova CRM API simulator (OAuth2 token endpoint and CustomerFull) with generated customers, a trickle of changes and optional hazards.")
	c.String(&f.Addr, "addr", "127.0.0.1:8099", "Address to listen on.")
	c.Int(&f.Sim.Customers, "customers", 5000, "Customers generated per company at start.")
	c.Int(&f.Sim.Companies, "companies", 1, "Companies, with ids 1 to N.")
	c.Duration(&f.TokenTTL, "token-ttl", 12*time.Hour, "expires_in of issued tokens.")
	c.String(&f.Sim.Order, "order", "guid", "Row order of CustomerFull: guid (what Cova does), modified or random.")
	c.Int64(&f.Sim.Seed, "seed", 1, "Seed of the generated data and random choices.")
	c.String(&f.Config.ClientID, "client-id", covatest.DefaultClientID, "OAuth2 client id the simulator accepts.")
	c.String(&f.Config.ClientSecret, "client-secret", covatest.DefaultClientSecret, "OAuth2 client secret the simulator accepts.")
	c.String(&f.Config.Username, "username", covatest.DefaultUsername, "Username the simulator accepts.")
	c.String(&f.Config.Password, "password", covatest.DefaultPassword, "Password the simulator accepts.")
	c.Bool(&f.Config.Gzip, "gzip", false, "Compress responses when the client accepts gzip.")
	c.String(&f.Trickle, "trickle", "2", "Customer changes per second over all companies (about one in five a new customer); 0: none.")
	c.Bool(&f.Hazards.IgnorePaging, "ignore-paging", false, "Hazard: serve the whole result whatever $top and $skip say.")
	c.Int(&f.Hazards.ModifyPerPage, "modify-per-page", 0, "Hazard: modify this many customers between two pages of a scan.")
	c.Int(&f.Hazards.InsertPerPage, "insert-per-page", 0, "Hazard: insert this many customers between two pages of a scan.")
	c.Int(&f.Hazards.LateVisiblePerPage, "late-visible-per-page", 0, "Hazard: insert this many customers between pages whose LastModifiedDateUtc lies --late-by in the past.")
	c.Duration(&f.Hazards.LateBy, "late-by", 30*time.Second, "How far in the past late-visible customers are dated.")
	c.Int(&f.Hazards.Status429, "status-429", 0, "Hazard: answer the next N CustomerFull requests 429.")
	c.String(&f.Hazards.RetryAfter, "retry-after", "", "Retry-After header of those 429s (seconds or an HTTP date; empty: none).")
	c.String(&f.Hazards.RateLimitReset, "rate-limit-reset", "", "X-RateLimit-ResetSeconds header of those 429s (empty: none).")
	c.Int(&f.Hazards.Status5xx, "status-5xx", 0, "Hazard: answer the next N CustomerFull requests with --code-5xx.")
	c.Int(&f.Hazards.Code5xx, "code-5xx", 503, "Status of the 5xx hazard: 500, 502 or 503.")
	c.Duration(&f.Hazards.Slow, "slow", 0, "Hazard: delay every CustomerFull response by this much.")
	c.Int(&f.Hazards.TruncateNext, "truncate-next", 0, "Hazard: cut the body of the next N responses in the middle of the JSON array.")
	c.Int(&f.Hazards.HTMLNext, "html-next", 0, "Hazard: answer the next N requests 200 with an HTML error page.")
	c.Int(&f.Hazards.Reject401Next, "reject-401-next", 0, "Hazard: answer the next N CustomerFull requests 401 even with a valid token.")
	c.Int(&f.Hazards.ResetNext, "reset-next", 0, "Hazard: send the headers of the next N 200 responses, then reset the connection.")
	c.Duration(&f.Hazards.TokenLifetime, "token-lifetime", 0, "Hazard: tokens die this long after they are issued, whatever the expires_in of --token-ttl says (0: at expires_in).")
	c.String(&f.Script, "script", "", "Hazard: answer the next CustomerFull requests one step each, in order, comma-separated: ok, 429-retry-after[=N], 429-reset[=N], 429, 500-599, truncate, half-array, not-json, html, reset, slow[=duration], revoke, token-dies.")
	c.Duration(&f.Hazards.Latency, "latency", 0, "Delay every CustomerFull request by this much, like a real page's few hundred milliseconds.")
	c.Duration(&f.Hazards.LatencyJitter, "latency-jitter", 0, "Add a uniform random delay in [0, this) to --latency.")
	c.Int(&f.Hazards.RateLimitPerMinute, "rate-limit-per-minute", 0, "Server-side limit: beyond this many CustomerFull requests in 60 s, answer 429 with Retry-After (0: none).")
	c.String(&f.RateLimitHeaders, "rate-limit-headers", "x-ratelimit", "Headers that say where --rate-limit-per-minute stands on every answer: x-ratelimit (X-RateLimit-Limit, -Remaining, -Reset, -ResetSeconds), cova-apim (COVA-APIM-RateLimit-Limit, -Remaining, -Reset) or none.")
	c.String(&f.LogLevel, "log-level", "info", "Log level: debug, info, warn or error.")
	return c
}

// simulateMain is covacdc simulate: the Cova API simulator on an address, for
// trying covacdc run, scripts and fault tests without Cova credentials.
func simulateMain(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var sf simulateFlags
	if err := parseFlags(simulateCommand(&sf), args, stdout); err != nil {
		return err
	}
	f, addr, cfg, hz, tokenTTL, logLevel, trickleText := sf.Sim, sf.Addr, sf.Config, sf.Hazards, sf.TokenTTL, sf.LogLevel, sf.Trickle
	if f.Customers < 0 {
		return usagef("--customers: must not be negative, got %d", f.Customers)
	}
	if f.Companies < 1 || f.Companies > 10000 {
		return usagef("--companies: must be between 1 and 10000, got %d", f.Companies)
	}
	rate, err := parseRate(trickleText)
	if err != nil {
		return err
	}
	f.Trickle = rate
	if hz.Code5xx != 500 && hz.Code5xx != 502 && hz.Code5xx != 503 {
		return usagef("--code-5xx: must be 500, 502 or 503, got %d", hz.Code5xx)
	}
	if hz.Script, err = covatest.ParseScript(sf.Script); err != nil {
		return usagef("--script: %v", err)
	}
	order, err := parseOrder(f.Order)
	if err != nil {
		return err
	}
	if hz.RateLimitHeaders, err = parseRateLimitHeaders(sf.RateLimitHeaders); err != nil {
		return err
	}
	if _, err := parseLevel(logLevel); err != nil {
		return err
	}
	log := newLogger(stderr, "text", logLevel)
	cfg.Seed, cfg.Order, cfg.TokenTTL = f.Seed, order, tokenTTL

	sim := covatest.New(cfg)
	sim.SetHazards(hz)
	ids := companyRange(f.Companies)
	for _, id := range ids {
		sim.Generate(id, f.Customers)
	}

	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return usagef("--addr: %v", err)
	}
	srv := &http.Server{Handler: sim, ReadHeaderTimeout: 10 * time.Second}
	base := "http://" + ln.Addr().String()
	each := " each"
	if len(ids) == 1 {
		each = ""
	}
	fmt.Fprintf(stdout, "Cova simulator: %s with %d customers%s, %.3g changes/s\n", companiesText(ids), f.Customers, each, f.Trickle)
	fmt.Fprintf(stdout, "  --cova-base-url %s/crm --cova-token-url %s/v1/oauth2/token\n", base, base)
	fmt.Fprintf(stdout, "  --cova-client-id %s --cova-client-secret %s --cova-username %s --cova-password %s\n", cfg.ClientID, cfg.ClientSecret, cfg.Username, cfg.Password)

	var wg sync.WaitGroup
	tctx, stop := context.WithCancel(ctx)
	wg.Add(1)
	go func() {
		defer wg.Done()
		trickle(tctx, sim, ids, f.Trickle)
	}()
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	select {
	case <-ctx.Done():
	case err = <-serveErr:
	}
	stop()
	wg.Wait()
	sctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	_ = srv.Shutdown(sctx)
	st := sim.Stats()
	log.Info("simulator stopped", "token_requests", st.TokenRequests, "customerfull_requests", st.CustomerFullRequests, "rows_served", st.RowsServed,
		"status_429", st.ByStatus[http.StatusTooManyRequests], "max_in_flight", st.MaxInFlight, "abandoned", st.Abandoned)
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func parseRateLimitHeaders(s string) (covatest.RateLimitHeaders, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "x-ratelimit", "":
		return covatest.RateLimitXRateLimit, nil
	case "cova-apim":
		return covatest.RateLimitCovaAPIM, nil
	case "none":
		return covatest.RateLimitNoHeaders, nil
	}
	return 0, usagef("--rate-limit-headers: must be x-ratelimit, cova-apim or none, got %q", s)
}

func parseRate(s string) (float64, error) {
	var r float64
	if _, err := fmt.Sscanf(strings.TrimSpace(s), "%g", &r); err != nil || r < 0 || r > 100000 {
		return 0, usagef("--trickle: must be a number of changes per second between 0 and 100000, got %q", s)
	}
	return r, nil
}

func companyRange(n int) []int64 {
	ids := make([]int64, n)
	for i := range ids {
		ids[i] = int64(i + 1)
	}
	return ids
}

// companiesText counts the companies of companyRange for a banner:
// "1 company (id 1)", "3 companies (ids 1-3)".
func companiesText(ids []int64) string {
	if len(ids) == 1 {
		return fmt.Sprintf("1 company (id %d)", ids[0])
	}
	return fmt.Sprintf("%d companies (ids %d-%d)", len(ids), ids[0], ids[len(ids)-1])
}
