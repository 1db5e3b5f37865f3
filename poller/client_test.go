package poller

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/covacdc/covacdc/internal/config"

	"github.com/covacdc/covacdc/internal/testenv"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

const (
	testSecret   = "s3cr3t-client-value"
	testPassword = "p4ssw0rd-value"
)

// fakeCova is a minimal Cova for unit tests of the client's own mechanics; the
// hazard tests use poller/covatest.
type fakeCova struct {
	t        *testing.T
	mu       sync.Mutex
	rows     []fakeRow
	seq      int
	byTime   bool // order by LastModified then Id (else by Id)
	tokenTTL int
	tokenN   int
	valid    map[string]bool
	// between runs before serving a request with $skip > 0.
	between func(f *fakeCova)
	// status, when set, answers instead of the data.
	status       func(n int, w http.ResponseWriter) bool
	requests     int
	uris         []string
	ignorePaging bool
	gzip         bool
	date         time.Time
	tokenStatus  func(w http.ResponseWriter) bool
	tokenForms   []string
}

type fakeRow struct {
	id      string
	version int64
	mod     int // logical modification time
}

func newFakeCova(t *testing.T, n int) *fakeCova {
	f := &fakeCova{t: t, tokenTTL: 3600, valid: map[string]bool{}}
	for range n {
		f.insert()
	}
	return f
}

func (f *fakeCova) insert() {
	f.seq++
	id := fmt.Sprintf("%08x-0000-4000-8000-%012x", (f.seq*2654435761)&0xffffffff, f.seq)
	f.rows = append(f.rows, fakeRow{id: id, version: 1, mod: f.seq})
}

// modify bumps k rows chosen deterministically from the start of the order.
func (f *fakeCova) modify(k int) {
	f.sort()
	for i := 0; i < k && i < len(f.rows); i++ {
		f.seq++
		j := (i * 7) % len(f.rows)
		f.rows[j].version++
		f.rows[j].mod = f.seq
	}
}

func (f *fakeCova) sort() {
	sort.Slice(f.rows, func(i, j int) bool {
		if f.byTime && f.rows[i].mod != f.rows[j].mod {
			return f.rows[i].mod < f.rows[j].mod
		}
		return f.rows[i].id < f.rows[j].id
	})
}

func (f *fakeCova) truth() map[string]int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	m := map[string]int64{}
	for _, r := range f.rows {
		m[r.id] = r.version
	}
	return m
}

func record(id string, version int64) string {
	return fmt.Sprintf(`{"Addresses":[],"PrimaryName":"n","Id":%q,"Version":%d,"LastModifiedDateUtc":"2024-01-02T03:04:05.123"}`, id, version)
}

func (f *fakeCova) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.date.IsZero() {
		w.Header().Set("Date", f.date.Format(http.TimeFormat))
	}
	if r.URL.Path == "/token" {
		r.ParseForm()
		f.tokenForms = append(f.tokenForms, r.PostForm.Encode())
		if f.tokenStatus != nil && f.tokenStatus(w) {
			return
		}
		f.tokenN++
		tok := "tok-" + strconv.Itoa(f.tokenN)
		f.valid = map[string]bool{tok: true} // a new token revokes the old
		fmt.Fprintf(w, `{"access_token":%q,"expires_in":%d,"refresh_token":"r"}`, tok, f.tokenTTL)
		return
	}
	f.requests++
	f.uris = append(f.uris, r.RequestURI)
	if !f.valid[strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")] {
		w.WriteHeader(http.StatusUnauthorized)
		io.WriteString(w, `{"Message":"Authorization has been denied for this request."}`)
		return
	}
	if f.status != nil && f.status(f.requests, w) {
		return
	}
	top, _ := strconv.Atoi(r.URL.Query().Get("$top"))
	skip, _ := strconv.Atoi(r.URL.Query().Get("$skip"))
	if skip > 0 && f.between != nil {
		f.between(f)
	}
	f.sort()
	rows := f.rows
	if !f.ignorePaging {
		rows = rows[min(skip, len(rows)):min(skip+top, len(rows))]
	}
	var buf bytes.Buffer
	buf.WriteString("[")
	for i, row := range rows {
		if i > 0 {
			buf.WriteString(",")
		}
		buf.WriteString(record(row.id, row.version))
	}
	buf.WriteString("]")
	w.Header().Set("Content-Type", "application/json")
	if f.gzip && strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
		w.Header().Set("Content-Encoding", "gzip")
		zw := gzip.NewWriter(w)
		zw.Write(buf.Bytes())
		zw.Close()
		return
	}
	w.Write(buf.Bytes())
}

// testConfig is DefaultConfig for a fake Cova at url, with a budget no test
// waits for and millisecond backoffs.
func testConfig(url string) Config {
	c := DefaultConfig()
	c.BaseURL, c.TokenURL = url+"/crm", url+"/token"
	c.ClientID, c.ClientSecret, c.Username, c.Password = "cid", testSecret, "user", testPassword
	c.RequestsPerMinute, c.InitialBackoff, c.MaxBackoff = 600000, time.Millisecond, 20*time.Millisecond
	return c
}

func newTestClient(t *testing.T, h http.Handler, mod func(*Config), opts ...Option) (*Client, *httptest.Server) {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	cfg := testConfig(srv.URL)
	if mod != nil {
		mod(&cfg)
	}
	c, err := New(cfg, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return c, srv
}

// collect scans and returns what was handed on, failing on a repeat within the scan.
func collect(t *testing.T, c *Client, since time.Time, opts ...ScanOption) (map[string]int64, ScanResult, error) {
	t.Helper()
	got := map[string]int64{}
	seen := map[string]bool{}
	res, err := c.Scan(context.Background(), 42, since, func(_ context.Context, b Batch) error {
		if len(b.Customers)+len(b.Invalid) > c.cfg.PageSize {
			t.Errorf("batch of %d exceeds the page size", len(b.Customers)+len(b.Invalid))
		}
		for _, cu := range b.Customers {
			if cu.LastModifiedDateUtc.Raw == "" || cu.LastModifiedDateUtc.Time.IsZero() {
				t.Errorf("customer %s handed on without its LastModifiedDateUtc: not decoded in full", cu.Id)
			}
			k := cu.Id + "/" + strconv.FormatInt(cu.Version, 10)
			if seen[k] {
				t.Errorf("%s handed on twice in one scan", k)
			}
			seen[k] = true
			if cu.Version > got[cu.Id] {
				got[cu.Id] = cu.Version
			}
		}
		return nil
	}, opts...)
	return got, res, err
}

func TestQueryURLExact(t *testing.T) {
	f := newFakeCova(t, 3)
	var hdr http.Header
	c, _ := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/token" {
			hdr = r.Header.Clone()
		}
		f.ServeHTTP(w, r)
	}), nil)
	if _, _, err := collect(t, c, time.Date(2019, 1, 1, 0, 0, 0, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	want := "/crm/v1/Companies(42)/CustomerFull?$filter=LastModifiedDateUtc%20ge%20datetime%272019-01-01T00%3A00%3A00.0000000Z%27&$top=100&$skip=0"
	if len(f.uris) != 1 || f.uris[0] != want {
		t.Errorf("request URIs %q\nwant [%s]", f.uris, want)
	}
	if hdr.Get("Accept") != "application/json" || hdr.Get("Accept-Encoding") != "gzip" || hdr.Get("Authorization") != "Bearer tok-1" {
		t.Errorf("headers %v", hdr)
	}
	// A local time with a fraction is sent as UTC with 7 digits.
	u := customerFullURL("http://h/crm/", 7, time.Date(2020, 5, 6, 7, 8, 9, 123456789, time.FixedZone("x", 3600)), 50, 150)
	if want := "http://h/crm/v1/Companies(7)/CustomerFull?$filter=LastModifiedDateUtc%20ge%20datetime%272020-05-06T06%3A08%3A09.1234567Z%27&$top=50&$skip=150"; u != want {
		t.Errorf("got  %s\nwant %s", u, want)
	}
}

func TestGzipBothWays(t *testing.T) {
	for _, transparent := range []bool{false, true} {
		t.Run(fmt.Sprintf("transport_decompresses=%v", transparent), func(t *testing.T) {
			f := newFakeCova(t, 250)
			f.gzip = true
			h := http.Handler(f)
			if transparent {
				// A proxy-like client that strips our Accept-Encoding: the Transport
				// then adds its own and decompresses transparently.
				h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { f.ServeHTTP(w, r) })
			}
			var opts []Option
			if transparent {
				opts = append(opts, WithHTTPClient(&http.Client{Transport: stripAE{http.DefaultTransport}}))
			}
			c, _ := newTestClient(t, h, nil, opts...)
			got, _, err := collect(t, c, time.Time{})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 250 {
				t.Errorf("got %d customers, want 250", len(got))
			}
		})
	}
}

type stripAE struct{ rt http.RoundTripper }

func (s stripAE) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Del("Accept-Encoding")
	return s.rt.RoundTrip(r)
}

func TestAuthRenewsBeforeExpiry(t *testing.T) {
	f := newFakeCova(t, 5)
	f.tokenTTL = 100
	now := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	var clock atomic.Pointer[time.Time]
	clock.Store(&now)
	c, _ := newTestClient(t, f, nil, WithClock(func() time.Time { return *clock.Load() }))
	for _, after := range []time.Duration{0, 50 * time.Second, 89 * time.Second, 91 * time.Second} {
		tm := now.Add(after)
		clock.Store(&tm)
		if _, _, err := collect(t, c, time.Time{}); err != nil {
			t.Fatal(err)
		}
	}
	// One token at start, one renewal after 90% of 100 s; never a 401.
	if f.tokenN != 2 {
		t.Errorf("token requests = %d, want 2", f.tokenN)
	}
	for _, form := range f.tokenForms {
		for _, k := range []string{"grant_type=password", "username=user", "client_id=cid", "client_secret=", "password="} {
			if !strings.Contains(form, k) {
				t.Errorf("token form %q lacks %q", form, k)
			}
		}
	}
}

func TestAuth401RenewsOnceRetriesOnce(t *testing.T) {
	t.Run("renewal fixes it", func(t *testing.T) {
		f := newFakeCova(t, 5)
		reg := prometheus.NewRegistry()
		c, _ := newTestClient(t, f, nil, WithRegisterer(reg))
		if _, _, err := collect(t, c, time.Time{}); err != nil {
			t.Fatal(err)
		}
		f.mu.Lock()
		f.valid = map[string]bool{} // the server forgot the token
		f.mu.Unlock()
		got, res, err := collect(t, c, time.Time{})
		if err != nil || len(got) != 5 {
			t.Fatalf("got %d, err %v", len(got), err)
		}
		if f.tokenN != 2 || res.Requests != 2 {
			t.Errorf("tokens %d, requests %d; want 2 and 2", f.tokenN, res.Requests)
		}
		if v := testutil.ToFloat64(c.metrics.auth.WithLabelValues("ok")); v != 2 {
			t.Errorf("auth ok = %v", v)
		}
	})
	t.Run("never a loop", func(t *testing.T) {
		f := newFakeCova(t, 5)
		f.status = func(_ int, w http.ResponseWriter) bool {
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, `{"Message":"denied"}`)
			return true
		}
		c, _ := newTestClient(t, f, nil)
		_, _, err := collect(t, c, time.Time{})
		var se *StatusError
		if !errors.As(err, &se) || se.Code != 401 {
			t.Fatalf("want a 401 StatusError, got %v", err)
		}
		if f.requests != 2 || f.tokenN != 2 {
			t.Errorf("requests %d, tokens %d; want 2 and 2", f.requests, f.tokenN)
		}
	})
}

func TestCredentialErrors(t *testing.T) {
	tests := []struct {
		name, body string
		status     int
		want       string
	}{
		{"invalid_grant", `{"error":"invalid_grant","error_description":"bad password p4ssw0rd-value"}`, 400, "--cova-password"},
		{"invalid_client", `{"error":"invalid_client"}`, 400, "--cova-client-secret"},
		{"unsupported_grant_type", `{"error":"unsupported_grant_type"}`, 400, "--cova-token-url"},
		{"message body", `{"Message":"The user name or password is incorrect.","Description":"client s3cr3t-client-value"}`, 400, "The user name or password is incorrect."},
		{"plain text", `nope s3cr3t-client-value`, 401, "HTTP 401 with a body that is not an OAuth error (text/plain, not shown)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeCova(t, 1)
			f.tokenStatus = func(w http.ResponseWriter) bool {
				w.WriteHeader(tc.status)
				io.WriteString(w, tc.body)
				return true
			}
			var logs bytes.Buffer
			reg := prometheus.NewRegistry()
			c, _ := newTestClient(t, f, nil, WithRegisterer(reg), WithLogger(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))))
			_, _, err := collect(t, c, time.Time{})
			if !errors.Is(err, ErrCredentials) {
				t.Fatalf("want ErrCredentials, got %v", err)
			}
			if IsRetryable(err) {
				t.Error("credential errors must not be retryable")
			}
			msg := err.Error()
			if !strings.Contains(msg, tc.want) {
				t.Errorf("error %q does not say %q", msg, tc.want)
			}
			for _, secret := range []string{testSecret, testPassword} {
				if strings.Contains(msg, secret) || strings.Contains(logs.String(), secret) {
					t.Errorf("secret leaked: %q / %q", msg, logs.String())
				}
			}
			if f.requests != 0 || f.tokenN != 0 || len(f.tokenForms) != 1 {
				t.Errorf("a rejected grant must not be retried: %d token requests", len(f.tokenForms))
			}
			if v := testutil.ToFloat64(c.metrics.auth.WithLabelValues("rejected")); v != 1 {
				t.Errorf("auth rejected = %v", v)
			}
		})
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2024, 1, 1, 12, 0, 0, 0, time.UTC)
	h := func(kv ...string) http.Header {
		hd := http.Header{}
		for i := 0; i < len(kv); i += 2 {
			hd.Set(kv[i], kv[i+1])
		}
		return hd
	}
	tests := []struct {
		name string
		hdr  http.Header
		body string
		want time.Duration
	}{
		{"seconds", h("Retry-After", "7"), "", 7 * time.Second},
		{"http date", h("Retry-After", now.Add(90*time.Second).Format(http.TimeFormat)), "", 90 * time.Second},
		{"date in the past", h("Retry-After", now.Add(-time.Hour).Format(http.TimeFormat)), "", 0},
		{"reset seconds", h("X-RateLimit-ResetSeconds", "12"), "", 12 * time.Second},
		{"apim reset", h("COVA-APIM-RateLimit-Reset", "5"), "", 5 * time.Second},
		{"apim reset as unix time", h("Cova-Apim-Ratelimit-Reset", strconv.FormatInt(now.Add(30*time.Second).Unix(), 10)), "", 30 * time.Second},
		{"retry-after wins", h("Retry-After", "3", "X-RateLimit-ResetSeconds", "12"), "", 3 * time.Second},
		{"azure body", h(), `{"statusCode":429,"message":"Rate limit is exceeded. Try again in 17 seconds."}`, 17 * time.Second},
		{"nothing", h(), "rate limit exceeded", -1},
		{"garbage", h("Retry-After", "soon"), "", -1},
		{"absurd", h("Retry-After", "999999"), "", maxRetryAfter},
	}
	for _, tc := range tests {
		got, ok := retryAfter(tc.hdr, []byte(tc.body), now)
		if !ok {
			got = -1 // the answer says nothing: the page's backoff applies
		}
		if got != tc.want {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
}

func Test429PausesWholeClient(t *testing.T) {
	f := newFakeCova(t, 5)
	var first429 time.Time
	var afterPause []time.Time
	var mu sync.Mutex
	f.status = func(n int, w http.ResponseWriter) bool {
		mu.Lock()
		defer mu.Unlock()
		if n == 1 {
			first429 = time.Now()
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
			return true
		}
		afterPause = append(afterPause, time.Now())
		return false
	}
	reg := prometheus.NewRegistry()
	c, _ := newTestClient(t, f, nil, WithRegisterer(reg))
	// Company 42 gets the 429; company 42's second scan starts once the 429 has
	// arrived and must wait out the pause too, as would any other company.
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	wg.Add(1)
	go func() {
		defer wg.Done()
		_, _, err := collect(t, c, time.Time{})
		errs <- err
	}()
	testenv.Eventually(t, 30*time.Second, "company 42's 429", func() bool {
		return testutil.ToFloat64(c.metrics.throttled.WithLabelValues("42")) > 0
	})
	_, err := c.Scan(context.Background(), 7, time.Time{}, func(context.Context, Batch) error { return nil })
	errs <- err
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(afterPause) != 2 {
		t.Fatalf("%d requests after the 429, want 2", len(afterPause))
	}
	for _, at := range afterPause {
		// Tolerance for the whole-second Retry-After; the other company must wait too.
		if d := at.Sub(first429); d < 900*time.Millisecond {
			t.Errorf("a request went out %v after the 429, before Retry-After elapsed", d)
		}
	}
	if v := testutil.ToFloat64(c.metrics.throttled.WithLabelValues("42")); v != 1 {
		t.Errorf("throttled_total = %v", v)
	}
	if v := testutil.ToFloat64(c.metrics.requests.WithLabelValues("42", "429")); v != 1 {
		t.Errorf("requests_total{code=429} = %v", v)
	}
}

func TestServerErrorsRetriedThenFail(t *testing.T) {
	f := newFakeCova(t, 5)
	f.status = func(n int, w http.ResponseWriter) bool {
		if n <= 3 {
			w.WriteHeader([]int{500, 502, 503}[n-1])
			return true
		}
		return false
	}
	c, _ := newTestClient(t, f, nil)
	got, res, err := collect(t, c, time.Time{})
	if err != nil || len(got) != 5 || res.Requests != 4 {
		t.Fatalf("got %d customers in %d requests, err %v", len(got), res.Requests, err)
	}

	f2 := newFakeCova(t, 5)
	f2.status = func(int, http.ResponseWriter) bool { panic(http.ErrAbortHandler) } // connection reset
	c2, _ := newTestClient(t, f2, func(cfg *Config) { cfg.MaxRetries = 3 })
	_, res, err = collect(t, c2, time.Time{})
	if err == nil || !IsRetryable(err) || res.Requests != 4 {
		t.Fatalf("want a retryable error after 4 requests, got %v after %d", err, res.Requests)
	}
}

func TestBackoffCancelsWithContext(t *testing.T) {
	f := newFakeCova(t, 5)
	f.status = func(int, http.ResponseWriter) bool { panic(http.ErrAbortHandler) }
	c, _ := newTestClient(t, f, func(cfg *Config) {
		cfg.InitialBackoff, cfg.MaxBackoff, cfg.MaxRetries = time.Hour, time.Hour, 100
	})
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.Scan(ctx, 1, time.Time{}, func(context.Context, Batch) error { return nil })
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("want the context's error, got %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("cancel took %v", d)
	}
	// Full jitter: never above the cap.
	for n := 1; n < 20; n++ {
		if d := c.backoff(n); d < 0 || d > time.Hour {
			t.Fatalf("backoff(%d) = %v", n, d)
		}
	}
}

func TestRequestTimeout(t *testing.T) {
	f := newFakeCova(t, 5)
	f.status = func(n int, w http.ResponseWriter) bool {
		if n == 1 {
			f.mu.Unlock()
			time.Sleep(500 * time.Millisecond)
			f.mu.Lock()
			return true
		}
		return false
	}
	c, _ := newTestClient(t, f, func(cfg *Config) { cfg.RequestTimeout = 100 * time.Millisecond })
	got, res, err := collect(t, c, time.Time{})
	if err != nil || len(got) != 5 || res.Requests != 2 {
		t.Fatalf("want success on the second request, got %d customers, %d requests, %v", len(got), res.Requests, err)
	}
}

func TestOther4xxIsStatusError(t *testing.T) {
	f := newFakeCova(t, 1)
	f.status = func(_ int, w http.ResponseWriter) bool {
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, `{"Message":"Resource cannot be found"}`+strings.Repeat(" x", 1000))
		return true
	}
	c, _ := newTestClient(t, f, nil)
	_, res, err := collect(t, c, time.Time{})
	var se *StatusError
	if !errors.As(err, &se) || se.Code != 404 || !strings.Contains(se.Body, "Resource cannot be found") || len(se.Body) > maxExcerpt+3 {
		t.Fatalf("got %v", err)
	}
	if res.Requests != 1 || IsRetryable(err) {
		t.Errorf("a 404 must not be retried: %d requests, retryable %v", res.Requests, IsRetryable(err))
	}
	if !strings.Contains(err.Error(), "HTTP 404") {
		t.Errorf("error %q does not name the status", err)
	}
}

// New refuses a bad field with a *config.FieldError that names it in the
// Config's own terms; the defaults are valid once the credentials are set.
func TestValidate(t *testing.T) {
	good := testConfig("http://127.0.0.1:1")
	for _, tc := range []struct {
		mod   func(*Config)
		field string
		want  string
	}{
		{func(c *Config) { c.PageSize = 101 }, "PageSize", "PageSize: must be between 2 and 100, got 101"},
		{func(c *Config) { c.Password = "" }, "Password", "Password: required"},
		{func(c *Config) { c.PageOverlap = 100 }, "PageOverlap", "PageOverlap: must be between 1 and the page size - 1 (99), got 100"},
		{func(c *Config) { c.BaseURL = "ftp://u:secret@x" }, "BaseURL", `BaseURL: must be an http(s) URL, got "ftp://u:xxxxx@x"`},
		{func(c *Config) { c.RequestsPerMinute = -1 }, "RequestsPerMinute", "must be at least 1"},
		{func(c *Config) { c.MaxRetries = -1 }, "MaxRetries", "between 0 (no retry) and 1000"},
		{func(c *Config) { c.MaxBackoff = c.InitialBackoff / 2 }, "MaxBackoff", "at least the initial backoff"},
		{func(c *Config) { c.Lookback = 0 }, "Lookback", "must be positive"},
	} {
		cfg := good
		tc.mod(&cfg)
		_, err := New(cfg)
		var fe *config.FieldError
		if !errors.As(err, &fe) || fe.Field != tc.field || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New: %v, want a FieldError of %s saying %q", err, tc.field, tc.want)
		}
	}
	d := DefaultConfig()
	if d.PageSize != 100 || d.Lookback != 2*time.Minute || d.RequestsPerMinute != 600 || d.BaseURL != "https://api.covasoft.net/crm" || d.MaxRetries != 8 {
		t.Errorf("defaults %+v", d)
	}
	d.ClientID, d.ClientSecret, d.Username, d.Password = "id", "secret", "user", "password"
	if err := d.Validate(); err != nil {
		t.Errorf("the defaults with credentials: %v", err)
	}
	zero := good
	zero.MaxRetries = 0
	if err := zero.Validate(); err != nil {
		t.Errorf("MaxRetries 0 (no retry): %v", err)
	}
}

func TestMetricNames(t *testing.T) {
	f := newFakeCova(t, 3)
	reg := prometheus.NewRegistry()
	c, _ := newTestClient(t, f, nil, WithRegisterer(reg))
	if _, _, err := collect(t, c, time.Time{}); err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{
		"covacdc_customers_fetched_total": false, "covacdc_cova_requests_total": false,
		"covacdc_cova_request_duration_seconds": false, "covacdc_cova_auth_total": false,
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		want[mf.GetName()] = true
	}
	for name, ok := range want {
		if !ok {
			t.Errorf("metric %s not exported", name)
		}
	}
	if v := testutil.ToFloat64(c.metrics.fetched.WithLabelValues("42")); v != 3 {
		t.Errorf("customers_fetched_total = %v", v)
	}
	if v := testutil.ToFloat64(c.metrics.requests.WithLabelValues("42", "200")); v != 1 {
		t.Errorf("requests_total{code=200} = %v", v)
	}
}

// TestCancelledFetchAheadIsNotAnError ends a scan while pages fetched ahead past
// its end are still in flight: the scan cancels them itself, and an alert on
// covacdc_cova_requests_total{code="error"} must not see them.
func TestCancelledFetchAheadIsNotAnError(t *testing.T) {
	f := newFakeCova(t, 1000)
	f.status = func(_ int, _ http.ResponseWriter) bool {
		time.Sleep(50 * time.Millisecond) // keep the requests fetched ahead in flight
		return false
	}
	reg := prometheus.NewRegistry()
	c, _ := newTestClient(t, f, func(cfg *Config) { cfg.FetchAhead = 4 }, WithRegisterer(reg))
	_, res, err := collect(t, c, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if v := testutil.ToFloat64(c.metrics.requests.WithLabelValues("42", "error")); v != 0 {
		t.Errorf(`requests_total{code="error"} = %v after a clean scan, want 0`, v)
	}
	ok := testutil.ToFloat64(c.metrics.requests.WithLabelValues("42", "200"))
	if int(ok) > res.Requests || ok < 1 {
		t.Errorf(`requests_total{code="200"} = %v, scan made %d requests`, ok, res.Requests)
	}
	t.Logf("requests: %d by the scan, %v answered 200", res.Requests, ok)
}

// MaxRetries 0 is a value, not "the default": a page whose first request
// fails ends the scan at once, after one request.
func TestMaxRetriesZeroRetriesNothing(t *testing.T) {
	for _, tc := range []struct {
		retries, requests int
	}{{0, 1}, {2, 3}} {
		f := newFakeCova(t, 3)
		f.status = func(_ int, w http.ResponseWriter) bool {
			w.WriteHeader(http.StatusServiceUnavailable)
			return true
		}
		c, _ := newTestClient(t, f, func(c *Config) { c.MaxRetries = tc.retries })
		if _, _, err := collect(t, c, time.Time{}); err == nil {
			t.Fatalf("MaxRetries %d: a page that always fails did not fail the scan", tc.retries)
		}
		f.mu.Lock()
		got := f.requests
		f.mu.Unlock()
		if got != tc.requests {
			t.Errorf("MaxRetries %d: %d requests of the failing page, want %d", tc.retries, got, tc.requests)
		}
	}
}
