package poller

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/covacdc/covacdc/poller/covatest"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// The hazard tests poll the simulator over HTTP, as covacdc does: scan, and on
// success move the cursor to ScanResult.Next; on a retryable error keep it.
// Each then checks that every customer's current version was delivered and (in
// collect) that no (Id, Version) was handed on twice within a scan.

const company = 42

func newSim(t *testing.T, cfg covatest.Config) *covatest.Server {
	t.Helper()
	if cfg.Seed == 0 {
		cfg.Seed = 7
	}
	sim := covatest.NewServer(cfg)
	t.Cleanup(sim.Close)
	return sim
}

func simClient(t *testing.T, sim *covatest.Server, mod func(*Config), opts ...Option) *Client {
	t.Helper()
	cfg := testConfig(sim.URL)
	cfg.BaseURL, cfg.TokenURL = sim.BaseURL(), sim.TokenURL()
	cfg.ClientID, cfg.ClientSecret = covatest.DefaultClientID, covatest.DefaultClientSecret
	cfg.Username, cfg.Password = covatest.DefaultUsername, covatest.DefaultPassword
	if mod != nil {
		mod(&cfg)
	}
	c, err := New(cfg, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// poller polls one company the way the command does.
type poller struct {
	t         *testing.T
	c         *Client
	cursor    time.Time
	delivered map[string]int64
	failures  []error
	last      ScanResult
	opts      []ScanOption // of every scan
}

func newPoller(t *testing.T, c *Client) *poller {
	return &poller{t: t, c: c, delivered: map[string]int64{}}
}

// poll runs one scan; it fails the test on a non-retryable error.
func (p *poller) poll() error {
	p.t.Helper()
	got, res, err := collect(p.t, p.c, p.cursor, p.opts...)
	if err != nil {
		if !IsRetryable(err) {
			p.t.Fatalf("scan: %v", err)
		}
		p.failures = append(p.failures, err)
		return err
	}
	for id, v := range got {
		p.delivered[id] = max(p.delivered[id], v)
	}
	if res.Next.Before(p.cursor) {
		p.t.Fatalf("cursor moved backwards: %v -> %v", p.cursor, res.Next)
	}
	p.cursor, p.last = res.Next, res
	return nil
}

// pollUntilOK polls until a scan succeeds (at most n tries).
func (p *poller) pollUntilOK(n int) {
	p.t.Helper()
	for range n {
		if p.poll() == nil {
			return
		}
	}
	p.t.Fatalf("no successful scan in %d polls: %v", n, p.failures)
}

func TestHazardRowOrders(t *testing.T) {
	orders := map[string]covatest.Order{"guid": covatest.OrderGUID, "modified": covatest.OrderModified, "random": covatest.OrderRandom}
	for name, order := range orders {
		for _, tc := range []struct {
			ahead int
			many  bool // as the command scans an initial load
		}{{1, false}, {4, false}, {0, false}, {0, true}} {
			t.Run(fmt.Sprintf("%s/fetch-ahead=%d/expect-many=%t", name, tc.ahead, tc.many), func(t *testing.T) {
				sim := newSim(t, covatest.Config{Order: order})
				sim.Generate(company, 2000)
				c := simClient(t, sim, func(cfg *Config) { cfg.FetchAhead = tc.ahead })
				p := newPoller(t, c)
				if tc.many {
					p.opts = []ScanOption{ExpectManyPages()}
				}
				// Rows are modified and added between the pages of the scan, more
				// than the overlap, moving rows before and after the scan's position.
				sim.SetHazards(covatest.Hazards{ModifyPerPage: 12, InsertPerPage: 5})
				p.pollUntilOK(3)
				first := p.last
				sim.SetHazards(covatest.Hazards{})
				p.pollUntilOK(1)
				assertComplete(t, sim.Truth(company), p.delivered)
				t.Logf("first scan: %d requests, %d rereads, %d customers", first.Requests, first.Rereads, first.Customers)
			})
		}
	}
}

func TestHazardPagingIgnored(t *testing.T) {
	sim := newSim(t, covatest.Config{})
	sim.Generate(company, 1500)
	sim.SetHazards(covatest.Hazards{IgnorePaging: true})
	p := newPoller(t, simClient(t, sim, nil))
	p.pollUntilOK(1)
	assertComplete(t, sim.Truth(company), p.delivered)
	if p.last.Requests != 1 {
		t.Errorf("a response longer than $top is the whole result: %d requests", p.last.Requests)
	}
}

func TestHazardSameTimestampBurst(t *testing.T) {
	sim := newSim(t, covatest.Config{Order: covatest.OrderModified})
	sim.Generate(company, 300)
	at := time.Now().Add(-10 * time.Minute).Truncate(time.Second)
	sim.Burst(company, 5000, at)
	p := newPoller(t, simClient(t, sim, nil))
	p.cursor = at // the cursor sits exactly on the burst
	sim.SetHazards(covatest.Hazards{ModifyPerPage: 3})
	p.pollUntilOK(2)
	sim.SetHazards(covatest.Hazards{})
	p.pollUntilOK(1)
	truth := sim.Truth(company)
	inBurst := map[string]int64{}
	for id, v := range truth {
		if got, ok := p.delivered[id]; ok || v > 1 {
			inBurst[id] = v
			_ = got
		}
	}
	// Every burst customer (modified or not) and every customer modified since.
	if len(p.delivered) < 5000 {
		t.Errorf("delivered %d customers, the burst alone has 5000", len(p.delivered))
	}
	for id, v := range truth {
		if v > 1 && p.delivered[id] < v {
			t.Errorf("modified customer %s: delivered %d, current %d", id, p.delivered[id], v)
		}
	}
	if !p.cursor.After(at) {
		t.Errorf("cursor stalled at the burst: %v", p.cursor)
	}
}

func TestHazardLateVisibleRows(t *testing.T) {
	for _, tc := range []struct {
		name     string
		lookback time.Duration
		complete bool
	}{{"default lookback catches them", DefaultConfig().Lookback, true}, {"a lookback shorter than the delay misses some", time.Millisecond, false}} {
		t.Run(tc.name, func(t *testing.T) {
			sim := newSim(t, covatest.Config{Order: covatest.OrderGUID})
			sim.Generate(company, 1500)
			p := newPoller(t, simClient(t, sim, func(cfg *Config) { cfg.Lookback = tc.lookback }))
			sim.SetHazards(covatest.Hazards{LateVisiblePerPage: 5, LateBy: 30 * time.Second})
			p.pollUntilOK(2)
			sim.SetHazards(covatest.Hazards{})
			p.pollUntilOK(1)
			missing := 0
			for id, v := range sim.Truth(company) {
				if p.delivered[id] < v {
					missing++
				}
			}
			if tc.complete && missing > 0 {
				t.Errorf("%d late-visible customers never delivered", missing)
			}
			if !tc.complete && missing == 0 {
				t.Error("the hazard did not bite: the test would not notice a missing lookback")
			}
		})
	}
}

func TestHazard429(t *testing.T) {
	for _, tc := range []struct {
		name string
		h    covatest.Hazards
	}{
		{"retry-after seconds", covatest.Hazards{Status429: 2, RetryAfter: "1"}},
		{"retry-after http date", covatest.Hazards{Status429: 1, RetryAfter: time.Now().Add(1500 * time.Millisecond).UTC().Format(http.TimeFormat)}},
		{"x-ratelimit-resetseconds", covatest.Hazards{Status429: 1, RateLimitReset: "1"}},
		{"no header", covatest.Hazards{Status429: 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sim := newSim(t, covatest.Config{})
			sim.Generate(company, 250)
			reg := prometheus.NewRegistry()
			c := simClient(t, sim, nil, WithRegisterer(reg))
			sim.SetHazards(tc.h)
			p := newPoller(t, c)
			start := time.Now()
			p.pollUntilOK(1)
			assertComplete(t, sim.Truth(company), p.delivered)
			if got := testutil.ToFloat64(c.metrics.throttled.WithLabelValues("42")); got != float64(tc.h.Status429) {
				t.Errorf("throttled_total = %v, want %d", got, tc.h.Status429)
			}
			if tc.h.RetryAfter == "1" || tc.h.RateLimitReset == "1" {
				if d := time.Since(start); d < 900*time.Millisecond {
					t.Errorf("retried after %v, before the server's 1 s", d)
				}
			}
		})
	}
}

func TestHazardServerErrors(t *testing.T) {
	for _, code := range []int{500, 502, 503} {
		t.Run(fmt.Sprint(code), func(t *testing.T) {
			sim := newSim(t, covatest.Config{})
			sim.Generate(company, 250)
			sim.SetHazards(covatest.Hazards{Status5xx: 3, Code5xx: code})
			p := newPoller(t, simClient(t, sim, nil))
			p.pollUntilOK(1)
			assertComplete(t, sim.Truth(company), p.delivered)
			if n := sim.Stats().ByStatus[code]; n != 3 {
				t.Errorf("%d answers %d, want 3", n, code)
			}
		})
	}
}

func TestHazardSlowResponses(t *testing.T) {
	sim := newSim(t, covatest.Config{})
	sim.Generate(company, 250)
	sim.SetHazards(covatest.Hazards{Slow: 400 * time.Millisecond})
	p := newPoller(t, simClient(t, sim, func(cfg *Config) { cfg.RequestTimeout = 100 * time.Millisecond; cfg.MaxRetries = 1 }))
	if err := p.poll(); err == nil {
		t.Fatal("a response slower than the request timeout must fail the scan")
	}
	// Slow, but well within the timeout even on a busy machine under -race.
	sim.SetHazards(covatest.Hazards{Slow: 20 * time.Millisecond})
	p.pollUntilOK(1)
	assertComplete(t, sim.Truth(company), p.delivered)
}

// TestHazardMalformedResponses: a response whose body breaks is read again
// within the scan, so the first poll already succeeds.
func TestHazardMalformedResponses(t *testing.T) {
	for name, h := range map[string]covatest.Hazards{
		"truncated":           {TruncateNext: 1},
		"html 200":            {HTMLNext: 1},
		"reset after headers": {ResetNext: 1},
		"not JSON":            {Script: []covatest.Fault{covatest.FaultNone, covatest.FaultNotJSON}},
		"half array":          {Script: []covatest.Fault{covatest.FaultNone, covatest.FaultHalfArray}},
	} {
		t.Run(name, func(t *testing.T) {
			sim := newSim(t, covatest.Config{})
			sim.Generate(company, 250)
			sim.SetHazards(h)
			p := newPoller(t, simClient(t, sim, nil))
			p.pollUntilOK(1)
			assertComplete(t, sim.Truth(company), p.delivered)
			if left := sim.Hazards(); left.TruncateNext+left.HTMLNext+left.ResetNext+len(left.Script) != 0 {
				t.Errorf("the hazard was not met: %+v", left)
			}
		})
	}
}

func TestHazardTokenExpiry(t *testing.T) {
	var now atomic.Int64
	now.Store(time.Now().UnixNano())
	clock := func() time.Time { return time.Unix(0, now.Load()) }
	sim := newSim(t, covatest.Config{TokenTTL: time.Hour, Now: clock})
	sim.Generate(company, 250)
	reg := prometheus.NewRegistry()
	c := simClient(t, sim, nil, WithClock(clock), WithRegisterer(reg))
	p := newPoller(t, c)
	p.pollUntilOK(1)
	now.Add(int64(55 * time.Minute)) // past 90% of the hour: renew before Cova expires it
	p.pollUntilOK(1)
	if n := sim.Stats().ByStatus[401]; n != 0 {
		t.Errorf("%d requests answered 401: the token was not renewed before expiry", n)
	}
	now.Add(int64(2 * time.Hour)) // a sleeping laptop: the token expired anyway
	sim.SetHazards(covatest.Hazards{Reject401Next: 1})
	p.pollUntilOK(1)
	assertComplete(t, sim.Truth(company), p.delivered)
	if got := testutil.ToFloat64(c.metrics.auth.WithLabelValues("ok")); got < 3 {
		t.Errorf("auth ok = %v, want renewals", got)
	}
}

func TestHazardMalformedRecords(t *testing.T) {
	sim := newSim(t, covatest.Config{})
	sim.Generate(company, 150)
	raws := []string{
		`{"Id":null,"Version":1,"LastModifiedDateUtc":"2024-01-01T00:00:00"}`,
		`{"Id":"0f0f0f0f-0000-4000-8000-000000000001","Version":"two","LastModifiedDateUtc":"2024-01-01T00:00:00"}`,
		`{"Id":"0f0f0f0f-0000-4000-8000-000000000002","Version":1,"LastModifiedDateUtc":"last tuesday"}`,
		`"just a string"`,
	}
	for i, raw := range raws {
		sim.AddRaw(company, fmt.Sprintf("0f0f0f0f-0000-4000-8000-%012d", i), time.Now().Add(-time.Hour), raw)
	}
	c := simClient(t, sim, func(cfg *Config) { cfg.PageSize = 40 })
	var invalid []RecordError
	var mu sync.Mutex
	delivered := map[string]int64{}
	_, err := c.Scan(context.Background(), company, time.Time{}, func(_ context.Context, b Batch) error {
		mu.Lock()
		defer mu.Unlock()
		invalid = append(invalid, b.Invalid...)
		for _, cu := range b.Customers {
			delivered[cu.Id] = cu.Version
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	assertComplete(t, sim.Truth(company), delivered)
	if len(invalid) != len(raws) {
		t.Fatalf("%d record errors, want %d (each once, though pages overlap)", len(invalid), len(raws))
	}
	got := map[string]bool{}
	for _, re := range invalid {
		got[string(re.Raw)] = true
		if re.Reason == "" || re.CompanyID != company {
			t.Errorf("record error %+v", re)
		}
	}
	for _, raw := range raws {
		if !got[raw] {
			t.Errorf("record %s not handed on verbatim", raw)
		}
	}
}

// TestBudgetNeverExceeded runs four companies with fetch-ahead against a
// simulator that answers 429 beyond its limit: the client's budget keeps it under.
func TestBudgetNeverExceeded(t *testing.T) {
	sim := newSim(t, covatest.Config{})
	for id := int64(1); id <= 4; id++ {
		sim.Generate(id, 3000)
	}
	// 1200/min is 20/s: in about 2 s at most ~42 requests; the server allows 45
	// per minute, so any burst beyond the budget would meet a 429.
	sim.SetHazards(covatest.Hazards{RateLimitPerMinute: 45})
	c := simClient(t, sim, func(cfg *Config) { cfg.RequestsPerMinute = 1200; cfg.PageSize = 100; cfg.FetchAhead = 4 })
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for id := int64(1); id <= 4; id++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// The 2 s deadline ends the scans; any other error is a failure.
			if _, err := c.Scan(ctx, id, time.Time{}, func(context.Context, Batch) error { return nil }); err != nil && !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("company %d: %v", id, err)
			}
		}()
	}
	wg.Wait()
	st := sim.Stats()
	if st.ByStatus[429] != 0 {
		t.Errorf("the simulator answered 429 %d times", st.ByStatus[429])
	}
	if st.CustomerFullRequests > 43 || st.CustomerFullRequests < 10 {
		t.Errorf("%d requests in 2 s under a budget of 20/s", st.CustomerFullRequests)
	}
}

// TestOutageSlowsTheWholeClient: Cova answers 503 to everything while four
// companies load, each with pages fetched ahead. Failures in a row pause every
// request, as a 429 does, so the client sends about one request per backoff
// step, not one per page under way.
func TestOutageSlowsTheWholeClient(t *testing.T) {
	sim := newSim(t, covatest.Config{})
	for id := int64(1); id <= 4; id++ {
		sim.Generate(id, 3000)
	}
	sim.SetHazards(covatest.Hazards{Status5xx: 1 << 30, Code5xx: 503})
	c := simClient(t, sim, func(cfg *Config) {
		cfg.InitialBackoff, cfg.MaxBackoff, cfg.MaxRetries = 20*time.Millisecond, 200*time.Millisecond, 1000
		cfg.FetchAhead = 8
	})
	const window = 3 * time.Second
	ctx, cancel := context.WithTimeout(context.Background(), window)
	defer cancel()
	var wg sync.WaitGroup
	for id := int64(1); id <= 4; id++ {
		wg.Go(func() {
			if _, err := c.Scan(ctx, id, time.Time{}, func(context.Context, Batch) error { return nil }); err == nil {
				t.Errorf("company %d: a scan against a Cova that answers 503 succeeded", id)
			}
		})
	}
	wg.Wait()
	// One request at a time once one failed, each after a pause of up to
	// 200 ms (full jitter): about 10 to 15 a second, 45 in the window. Each
	// page retrying at its own pace sent 130.
	got := sim.Stats().ByStatus[503]
	t.Logf("%d requests answered 503 in %v", got, window)
	if got > 60 {
		t.Errorf("%d requests in %v against a Cova that answers 503: the client did not slow down as a whole", got, window)
	}
}
