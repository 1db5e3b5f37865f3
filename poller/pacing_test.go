package poller

import (
	"context"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/covacdc/covacdc/internal/testenv"

	"github.com/covacdc/covacdc/poller/covatest"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// inFlight counts the CustomerFull requests a handler is answering at once.
type inFlight struct {
	h         http.Handler
	now, peak atomic.Int64
}

func (f *inFlight) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/v1/oauth2/token" || r.URL.Path == "/token" {
		f.h.ServeHTTP(w, r)
		return
	}
	n := f.now.Add(1)
	for p := f.peak.Load(); n > p && !f.peak.CompareAndSwap(p, n); p = f.peak.Load() {
	}
	defer f.now.Add(-1)
	f.h.ServeHTTP(w, r)
}

// countedClient serves sim through a handler that counts the requests under
// way, and returns a client of it with the given budget.
func countedClient(t *testing.T, sim http.Handler, requestsPerMinute int) (*Client, *inFlight) {
	t.Helper()
	count := &inFlight{h: sim}
	srv := httptest.NewServer(count)
	t.Cleanup(srv.Close)
	cfg := DefaultConfig()
	cfg.BaseURL, cfg.TokenURL = srv.URL+"/crm", srv.URL+"/v1/oauth2/token"
	cfg.ClientID, cfg.ClientSecret = covatest.DefaultClientID, covatest.DefaultClientSecret
	cfg.Username, cfg.Password = covatest.DefaultUsername, covatest.DefaultPassword
	cfg.RequestsPerMinute = requestsPerMinute
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c, count
}

// TestLoneScanKeepsTheBudgetBusy: one company against a Cova that takes 300 ms
// a page, with a budget of 50 requests a second, needs about 15 requests in
// flight (Little's law) to use its budget; a fixed fetch-ahead of 4 cannot.
// The figure asserted is a count of concurrent requests, not a time.
func TestLoneScanKeepsTheBudgetBusy(t *testing.T) {
	sim := covatest.New(covatest.Config{Seed: 3})
	sim.Generate(company, 4000)
	sim.SetHazards(covatest.Hazards{Latency: 300 * time.Millisecond})
	c, count := countedClient(t, sim, 3000)
	p := newPoller(t, c)
	p.pollUntilOK(1)
	assertComplete(t, sim.Truth(company), p.delivered)
	if peak := count.peak.Load(); peak < 8 {
		t.Errorf("at most %d requests were in flight; 50 a second at 300 ms a page need about 15", peak)
	}
	if limit := int64(c.cfg.MaxInFlight); count.peak.Load() > limit {
		t.Errorf("%d requests in flight, above --max-in-flight %d", count.peak.Load(), limit)
	}
	t.Logf("%d requests, peak %d in flight", p.last.Requests, count.peak.Load())
}

// TestOverlapCostsOneRowPerPage: on a result that does not move, each page
// re-reads one row of the one before, so 10,000 customers take 102 requests of
// 100 (101 pages of 99 new rows and the one that proves the end), not 112.
func TestOverlapCostsOneRowPerPage(t *testing.T) {
	f := newFakeCova(t, 10000)
	c, _ := newTestClient(t, f, func(cfg *Config) { cfg.FetchAhead = 1 })
	got, res, err := collect(t, c, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	assertComplete(t, f.truth(), got)
	if res.Requests != 102 {
		t.Errorf("%d requests for 10,000 customers in pages of 100, want 102", res.Requests)
	}
}

// rateLimited wraps a handler in a fixed-window limit of limit requests per
// window, announced on every answer with the headers of one family, and
// answers 429 beyond it.
type rateLimited struct {
	h      http.Handler
	limit  int
	window time.Duration
	family string // "X-RateLimit" or "COVA-APIM-RateLimit"

	mu       sync.Mutex
	start    time.Time
	used     int
	rejected int
}

func (rl *rateLimited) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/token" {
		rl.h.ServeHTTP(w, r)
		return
	}
	rl.mu.Lock()
	now := time.Now()
	if now.Sub(rl.start) >= rl.window {
		rl.start, rl.used = now, 0
	}
	reset := rl.start.Add(rl.window).Sub(now)
	over := rl.used >= rl.limit
	if over {
		rl.rejected++
	} else {
		rl.used++
	}
	remaining := rl.limit - rl.used
	rl.mu.Unlock()
	h := w.Header()
	h.Set(rl.family+"-Limit", strconv.Itoa(rl.limit))
	h.Set(rl.family+"-Remaining", strconv.Itoa(remaining))
	h.Set(rl.family+"-Reset", strconv.FormatFloat(reset.Seconds(), 'f', 3, 64))
	if over {
		h.Set("Retry-After", "1")
		w.WriteHeader(http.StatusTooManyRequests)
		return
	}
	rl.h.ServeHTTP(w, r)
}

// TestRateLimitHeadersSlowDownBefore429: Cova announces its limit on every
// answer. A client whose own budget is far above it must slow down on what the
// headers say, before Cova answers 429, not after.
func TestRateLimitHeadersSlowDownBefore429(t *testing.T) {
	for _, family := range []string{"X-RateLimit", "COVA-APIM-RateLimit"} {
		t.Run(family, func(t *testing.T) {
			f := newFakeCova(t, 1000)
			rl := &rateLimited{h: f, limit: 4, window: 500 * time.Millisecond, family: family}
			reg := prometheus.NewRegistry()
			c, _ := newTestClient(t, rl, nil, WithRegisterer(reg))
			got, res, err := collect(t, c, time.Time{})
			if err != nil {
				t.Fatal(err)
			}
			assertComplete(t, f.truth(), got)
			rl.mu.Lock()
			rejected := rl.rejected
			rl.mu.Unlock()
			if rejected != 0 {
				t.Errorf("Cova answered 429 %d times: the client did not slow down on its rate-limit headers", rejected)
			}
			if v := testutil.ToFloat64(c.metrics.throttled.WithLabelValues("42")); v != 0 {
				t.Errorf("covacdc_cova_throttled_total = %v, want 0", v)
			}
			t.Logf("%d requests", res.Requests)
		})
	}
}

// TestWaitingScansHoldNoPageMemory: a scan that waits for its next page holds
// none of the pages it handed on. Fifty scans each hand on a page of 100 and
// then wait (the server holds every later page): what they keep must be a
// small fraction of fifty read buffers (256 KB each) and decoded pages. The
// budget (100 requests a second) keeps the client's own spare page memory,
// which follows the requests it keeps under way, to a few pages.
func TestWaitingScansHoldNoPageMemory(t *testing.T) {
	const scans = 50
	f := newFakeCova(t, 1000)
	hold := make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("$skip") != "" && r.URL.Query().Get("$skip") != "0" {
			select {
			case <-hold:
			case <-r.Context().Done():
				return
			}
		}
		f.ServeHTTP(w, r)
	})
	c, srv := newTestClient(t, h, func(cfg *Config) { cfg.RequestsPerMinute = 6000 })
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() {
		cancel()
		close(hold)
		wg.Wait()
		srv.CloseClientConnections()
	})
	var before runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&before)

	var handed atomic.Int64
	for id := range int64(scans) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _ = c.Scan(ctx, id+1, time.Time{}, func(context.Context, Batch) error {
				handed.Add(1)
				return nil
			})
		}()
	}
	testenv.Eventually(t, time.Minute, "every scan to hand on its first page", func() bool { return handed.Load() >= scans })
	time.Sleep(100 * time.Millisecond) // the last fn returns and its scan moves on
	var after runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&after)
	grown := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	if limit := int64(scans * 64 << 10); grown > limit {
		t.Errorf("%d waiting scans hold %d KB of heap (%d KB each), want at most %d KB: pages handed on are kept",
			scans, grown>>10, grown/scans>>10, limit>>10)
	}
	t.Logf("%d waiting scans: heap grew by %d KB", scans, grown>>10)
}

// TestSimulatorLimitNeverHit: three companies scanned at once with a budget
// (20 a second) above what the simulator allows (6 in any second); it
// announces its limit as Cova does, and the client keeps under it: no 429,
// nothing missed.
func TestSimulatorLimitNeverHit(t *testing.T) {
	for name, family := range map[string]covatest.RateLimitHeaders{
		"x-ratelimit": covatest.RateLimitXRateLimit, "cova-apim": covatest.RateLimitCovaAPIM,
	} {
		t.Run(name, func(t *testing.T) {
			sim := newSim(t, covatest.Config{})
			for id := int64(1); id <= 3; id++ {
				sim.Generate(id, 300)
			}
			sim.SetHazards(covatest.Hazards{RateLimitPerMinute: 6, RateLimitWindow: time.Second, RateLimitHeaders: family})
			c := simClient(t, sim, func(cfg *Config) { cfg.RequestsPerMinute = 1200 })
			var wg sync.WaitGroup
			errs := make([]error, 4)
			got := make([]map[string]int64, 4)
			for id := int64(1); id <= 3; id++ {
				got[id] = map[string]int64{}
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, errs[id] = c.Scan(context.Background(), id, time.Time{}, func(_ context.Context, b Batch) error {
						for _, cu := range b.Customers {
							got[id][cu.Id] = cu.Version
						}
						return nil
					}, ExpectManyPages())
				}()
			}
			wg.Wait()
			for id := int64(1); id <= 3; id++ {
				if errs[id] != nil {
					t.Fatalf("company %d: %v", id, errs[id])
				}
				assertComplete(t, sim.Truth(id), got[id])
			}
			st := sim.Stats()
			if st.ByStatus[http.StatusTooManyRequests] != 0 {
				t.Errorf("the simulator answered 429 %d times in %d requests", st.ByStatus[http.StatusTooManyRequests], st.CustomerFullRequests)
			}
			t.Logf("%d requests", st.CustomerFullRequests)
		})
	}
}

// TestLoadEndCostsFewRequestsPastIt: a load at a budget that needs dozens of
// requests in flight (200 a second at 100-150 ms a page) must not pay that
// many requests past the short page that ends each result: they reach Cova and
// count against its limit even when cancelled. 50,000 customers, in one
// company or four, fill 506 pages of 99 new rows, the last of each company
// short; at most 5 requests a company (and 5) may go past the ends, where
// requesting a window ahead sends about 30 (one company) to 45 (four). The
// figure asserted is a count of requests the simulator received, once none is
// under way, not a time.
func TestLoadEndCostsFewRequestsPastIt(t *testing.T) {
	for _, companies := range []int{1, 4} {
		t.Run(strconv.Itoa(companies)+" companies", func(t *testing.T) {
			sim := covatest.New(covatest.Config{Seed: 7})
			customers := 50000 / companies
			for i := range companies {
				sim.Generate(int64(company+i), customers)
			}
			sim.SetHazards(covatest.Hazards{Latency: 100 * time.Millisecond, LatencyJitter: 50 * time.Millisecond})
			c, count := countedClient(t, sim, 12000)
			var wg sync.WaitGroup
			got := make([]map[string]int64, companies)
			for i := range companies {
				got[i] = map[string]int64{}
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, err := c.Scan(context.Background(), int64(company+i), time.Time{}, func(_ context.Context, b Batch) error {
						for _, cu := range b.Customers {
							if _, dup := got[i][cu.Id]; dup {
								t.Errorf("customer %s handed on twice", cu.Id)
							}
							got[i][cu.Id] = cu.Version
						}
						return nil
					}, ExpectManyPages())
					if err != nil {
						t.Error(err)
					}
				}()
			}
			wg.Wait()
			for i := range companies {
				assertComplete(t, sim.Truth(int64(company+i)), got[i])
			}
			// A request cancelled during its latency is counted when the
			// server sees its client gone.
			testenv.Eventually(t, 10*time.Second, "no request under way", func() bool { return count.now.Load() == 0 })
			st := sim.Stats()
			sent := st.CustomerFullRequests + st.Abandoned
			needed := (customers/(100-1) + 1) * companies // a page of 100 rows every 99
			if extra, most := sent-needed, 5*companies+5; extra > most {
				t.Errorf("%d requests reached Cova for %d pages: %d past the ends of the results, want at most %d (peak %d in flight)",
					sent, needed, extra, most, st.MaxInFlight)
			}
			t.Logf("%d requests for %d pages, peak %d in flight", sent, needed, st.MaxInFlight)
		})
	}
}
