package covatest

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/covacdc/covacdc/internal/testenv"
)

func TestIgnorePaging(t *testing.T) {
	s := newTestServer(t, Config{})
	s.Generate(1, 250)
	s.SetHazards(Hazards{IgnorePaging: true})
	tok := token(t, s)
	if got := fetchPage(t, s, tok, 1, query(epoch, 0, 10)); len(got) != 250 {
		t.Fatalf("%d rows with $top=10, want all 250", len(got))
	}
	if got := fetchPage(t, s, tok, 1, query(epoch, 100, 10)); len(got) != 250 {
		t.Fatalf("%d rows with $skip=100, want all 250", len(got))
	}
}

func sumVersions(m map[string]int64) (n int64) {
	for _, v := range m {
		n += v
	}
	return n
}

func TestChangesBetweenPages(t *testing.T) {
	clock := newFakeClock(time.Date(2024, 6, 1, 10, 0, 0, 0, time.UTC))
	s := newTestServer(t, Config{Now: clock.Now})
	s.Generate(1, 100)
	s.SetHazards(Hazards{ModifyPerPage: 2, InsertPerPage: 3, LateVisiblePerPage: 1, LateBy: 45 * time.Second})
	tok := token(t, s)
	truth := s.Truth(1)
	fetchPage(t, s, tok, 1, query(epoch, 0, 10))
	if after := s.Truth(1); len(after) != 100 || sumVersions(after) != sumVersions(truth) {
		t.Fatal("the first page of a scan ($skip=0) changed the data")
	}
	fetchPage(t, s, tok, 1, query(epoch, 10, 10))
	after := s.Truth(1)
	if len(after) != 100+3+1 {
		t.Fatalf("%d customers after one later page, want 104", len(after))
	}
	if d := sumVersions(after) - sumVersions(truth) - 4; d != 2 {
		t.Fatalf("%d modifications, want 2", d)
	}
	var late, now int
	for id := range after {
		if _, old := truth[id]; old {
			continue
		}
		raw, _ := s.Record(1, id)
		var r rec
		if err := json.Unmarshal([]byte(raw), &r); err != nil {
			t.Fatal(err)
		}
		switch parseNetTime(t, r.LastModifiedDateUtc) {
		case clock.Now():
			now++
		case clock.Now().Add(-45 * time.Second):
			late++
		default:
			t.Fatalf("new customer last modified at %s", r.LastModifiedDateUtc)
		}
	}
	if now != 3 || late != 1 {
		t.Fatalf("%d inserted now and %d late, want 3 and 1", now, late)
	}
}

func TestStatus429(t *testing.T) {
	s := newTestServer(t, Config{})
	s.Generate(1, 5)
	tok := token(t, s)
	s.SetHazards(Hazards{Status429: 2, RetryAfter: "2", RateLimitReset: "7"})
	for i := 2; i > 0; i-- {
		resp, body := get(t, s, tok, 1, query(epoch, -1, -1))
		if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "2" ||
			resp.Header.Get("X-RateLimit-ResetSeconds") != "7" {
			t.Fatalf("HTTP %d Retry-After %q reset %q", resp.StatusCode, resp.Header.Get("Retry-After"), resp.Header.Get("X-RateLimit-ResetSeconds"))
		}
		if !strings.Contains(string(body), "Try again in 2 seconds") {
			t.Fatalf("body %s", body)
		}
		if left := s.Hazards().Status429; left != i-1 {
			t.Fatalf("Status429 = %d, want %d", left, i-1)
		}
	}
	fetchPage(t, s, tok, 1, query(epoch, -1, -1))

	s.SetHazards(Hazards{Status429: 1})
	resp, _ := get(t, s, tok, 1, query(epoch, -1, -1))
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "" || resp.Header.Get("X-RateLimit-ResetSeconds") != "" {
		t.Fatalf("without Retry-After: HTTP %d headers %v", resp.StatusCode, resp.Header)
	}
	if got := s.Stats().ByStatus[http.StatusTooManyRequests]; got != 3 {
		t.Fatalf("Stats counted %d 429s, want 3", got)
	}
}

func TestStatus5xx(t *testing.T) {
	s := newTestServer(t, Config{})
	s.Generate(1, 5)
	tok := token(t, s)
	for _, tc := range []struct{ code, want int }{{500, 500}, {502, 502}, {503, 503}, {0, 503}} {
		s.SetHazards(Hazards{Status5xx: 1, Code5xx: tc.code})
		if resp, _ := get(t, s, tok, 1, query(epoch, -1, -1)); resp.StatusCode != tc.want {
			t.Fatalf("Code5xx %d: HTTP %d, want %d", tc.code, resp.StatusCode, tc.want)
		}
		if s.Hazards().Status5xx != 0 {
			t.Fatal("Status5xx did not count down")
		}
		fetchPage(t, s, tok, 1, query(epoch, -1, -1))
	}
}

func TestReject401Next(t *testing.T) {
	s := newTestServer(t, Config{})
	s.Generate(1, 5)
	tok := token(t, s)
	s.SetHazards(Hazards{Reject401Next: 1})
	if resp, _ := get(t, s, tok, 1, query(epoch, -1, -1)); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("HTTP %d, want 401", resp.StatusCode)
	}
	fetchPage(t, s, tok, 1, query(epoch, -1, -1))
}

func TestHTMLNext(t *testing.T) {
	s := newTestServer(t, Config{})
	s.Generate(1, 5)
	tok := token(t, s)
	s.SetHazards(Hazards{HTMLNext: 1})
	resp, body := get(t, s, tok, 1, query(epoch, -1, -1))
	var v []rec
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") || json.Unmarshal(body, &v) == nil {
		t.Fatalf("HTTP %d %s: want a 200 HTML page that is not JSON", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	fetchPage(t, s, tok, 1, query(epoch, -1, -1))
}

func TestTruncateNext(t *testing.T) {
	for _, gz := range []bool{false, true} {
		t.Run("gzip="+strconv.FormatBool(gz), func(t *testing.T) {
			s := newTestServer(t, Config{Gzip: gz})
			s.Generate(1, 40)
			tok := token(t, s)
			s.SetHazards(Hazards{TruncateNext: 1})
			req, _ := http.NewRequest(http.MethodGet, s.BaseURL()+"/v1/Companies(1)/CustomerFull?"+query(epoch, -1, 100), nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			resp, err := http.DefaultClient.Do(req) // decompresses gzip transparently
			if err != nil {
				t.Fatal(err)
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("reading a truncated body: %v, want unexpected EOF", err)
			}
			if !bytes.HasPrefix(body, []byte(`[{"Addresses"`)) || len(body) < 1000 {
				t.Fatalf("truncated body should start the array and stop mid-way; got %d bytes", len(body))
			}
			if got := len(s.Served(1)); got != 20 {
				t.Fatalf("Served has %d rows, want the 20 complete before the cut", got)
			}
			if got := fetchPage(t, s, tok, 1, query(epoch, -1, 100)); len(got) != 40 {
				t.Fatalf("the next response has %d rows, want 40", len(got))
			}
		})
	}
}

func TestLatencyAndSlow(t *testing.T) {
	s := newTestServer(t, Config{})
	s.Generate(1, 1)
	tok := token(t, s)
	s.SetHazards(Hazards{Latency: 30 * time.Millisecond, LatencyJitter: 20 * time.Millisecond, Slow: 20 * time.Millisecond})
	start := time.Now()
	fetchPage(t, s, tok, 1, query(epoch, -1, -1))
	if d := time.Since(start); d < 50*time.Millisecond {
		t.Fatalf("answered after %v, want at least Latency+Slow = 50ms", d)
	}
}

func TestRateLimitPerMinute(t *testing.T) {
	clock := newFakeClock(time.Date(2024, 6, 1, 10, 0, 0, 0, time.UTC))
	s := newTestServer(t, Config{Now: clock.Now})
	s.Generate(1, 3)
	tok := token(t, s)
	s.SetHazards(Hazards{RateLimitPerMinute: 5})
	status := func() (int, http.Header, string) {
		resp, body := get(t, s, tok, 1, query(epoch, -1, -1))
		return resp.StatusCode, resp.Header, string(body)
	}
	for i := range 5 {
		if code, h, _ := status(); code != http.StatusOK || h.Get("X-RateLimit-Remaining") != strconv.Itoa(4-i) {
			t.Fatalf("request %d: HTTP %d remaining %q", i+1, code, h.Get("X-RateLimit-Remaining"))
		}
		clock.Advance(10 * time.Second) // at t = 0, 10, 20, 30, 40 s
	}
	// t = 50 s: the slot of t = 0 frees at 60 s.
	code, h, body := status()
	if code != http.StatusTooManyRequests || h.Get("Retry-After") != "10" ||
		body != `{"statusCode":429,"message":"Rate limit is exceeded. Try again in 10 seconds."}` {
		t.Fatalf("over the limit: HTTP %d Retry-After %q %s", code, h.Get("Retry-After"), body)
	}
	clock.Advance(9 * time.Second) // 59 s: still full; rejected requests take no slot
	if code, h, _ := status(); code != http.StatusTooManyRequests || h.Get("Retry-After") != "1" {
		t.Fatalf("at 59 s: HTTP %d Retry-After %q", code, h.Get("Retry-After"))
	}
	clock.Advance(time.Second) // 60 s: the first slot is free
	if code, _, _ := status(); code != http.StatusOK {
		t.Fatalf("at 60 s: HTTP %d, want 200", code)
	}
	// Received in (0 s, 60 s]: the requests at 10..40, 50, 59 and 60 s = 7; the
	// window [0 s, 59 s] also holds 7 (0..40, 50, 59).
	if got := s.MaxRequestsInAnyMinute(); got != 7 {
		t.Fatalf("MaxRequestsInAnyMinute = %d, want 7", got)
	}
	if st := s.Stats(); st.ByStatus[http.StatusTooManyRequests] != 2 || st.CustomerFullRequests != 8 {
		t.Fatalf("stats %+v", st)
	}
}

// TestRateLimitHeaders: every answer says where the window stands, in the
// family asked for: the limit, what is left after this request, and when the
// oldest request in the window leaves it, in whole seconds rounded up.
func TestRateLimitHeaders(t *testing.T) {
	start := time.Date(2024, 6, 1, 10, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name    string
		family  RateLimitHeaders
		limit   string
		left    string
		resets  []string // headers that hold the reset
		reset   func(wait, window int) []string
		absent  []string
		window  time.Duration
		advance time.Duration
	}{
		{name: "x-ratelimit", family: RateLimitXRateLimit,
			limit: "X-RateLimit-Limit", left: "X-RateLimit-Remaining",
			resets: []string{"X-RateLimit-ResetSeconds", "X-RateLimit-Reset"},
			// The Unix time of the reset: start + window, whatever the request's time.
			reset: func(wait, window int) []string {
				return []string{strconv.Itoa(wait), strconv.FormatInt(start.Unix()+int64(window), 10)}
			},
			absent: []string{"COVA-APIM-RateLimit-Limit"}, advance: 2 * time.Second},
		{name: "cova-apim", family: RateLimitCovaAPIM,
			limit: "COVA-APIM-RateLimit-Limit", left: "COVA-APIM-RateLimit-Remaining",
			resets: []string{"COVA-APIM-RateLimit-Reset"},
			reset:  func(wait, _ int) []string { return []string{strconv.Itoa(wait)} },
			absent: []string{"X-RateLimit-Limit", "X-RateLimit-Remaining"}, advance: 2 * time.Second},
		{name: "a 10 s window", family: RateLimitCovaAPIM, window: 10 * time.Second,
			limit: "COVA-APIM-RateLimit-Limit", left: "COVA-APIM-RateLimit-Remaining",
			resets:  []string{"COVA-APIM-RateLimit-Reset"},
			reset:   func(wait, _ int) []string { return []string{strconv.Itoa(wait)} },
			advance: 2 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := newFakeClock(start)
			s := newTestServer(t, Config{Now: clock.Now})
			s.Generate(1, 3)
			tok := token(t, s)
			s.SetHazards(Hazards{RateLimitPerMinute: 3, RateLimitHeaders: tc.family, RateLimitWindow: tc.window})
			window := 60
			if tc.window > 0 {
				window = int(tc.window / time.Second)
			}
			for i := range 4 {
				resp, _ := get(t, s, tok, 1, query(epoch, -1, -1))
				h := resp.Header
				wantCode, left := http.StatusOK, strconv.Itoa(2-i)
				if i == 3 {
					wantCode, left = http.StatusTooManyRequests, "0"
				}
				// The oldest request in the window came at t = 0 and leaves at
				// t = window; this one comes at t = 2i.
				wait := window - 2*i
				if resp.StatusCode != wantCode || h.Get(tc.limit) != "3" || h.Get(tc.left) != left {
					t.Fatalf("request %d: HTTP %d, %s %q, %s %q", i+1, resp.StatusCode, tc.limit, h.Get(tc.limit), tc.left, h.Get(tc.left))
				}
				want := tc.reset(wait, window)
				for j, name := range tc.resets {
					if got := h.Get(name); got != want[j] {
						t.Errorf("request %d: %s %q, want %q", i+1, name, got, want[j])
					}
				}
				for _, name := range tc.absent {
					if h.Get(name) != "" {
						t.Errorf("request %d: %s sent with the other family", i+1, name)
					}
				}
				clock.Advance(tc.advance)
			}
		})
	}
	// No headers, and none without a limit.
	for _, hz := range []Hazards{{RateLimitPerMinute: 3, RateLimitHeaders: RateLimitNoHeaders}, {}} {
		s := newTestServer(t, Config{})
		s.Generate(1, 3)
		s.SetHazards(hz)
		resp, _ := get(t, s, token(t, s), 1, query(epoch, -1, -1))
		for name := range resp.Header {
			if strings.Contains(strings.ToLower(name), "ratelimit") {
				t.Errorf("%+v: header %s sent", hz, name)
			}
		}
	}
}

// TestMaxInFlight: the simulator counts the requests it answers at once, from
// their arrival, their latency included.
func TestMaxInFlight(t *testing.T) {
	s := newTestServer(t, Config{})
	s.Generate(1, 3)
	tok := token(t, s)
	s.SetHazards(Hazards{Latency: 200 * time.Millisecond})
	var wg sync.WaitGroup
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			get(t, s, tok, 1, query(epoch, -1, -1))
		}()
	}
	wg.Wait()
	get(t, s, tok, 1, query(epoch, -1, -1))
	if got := s.Stats().MaxInFlight; got != 3 {
		t.Fatalf("MaxInFlight = %d after three requests at once and one alone, want 3", got)
	}
	// A client that gives up during the latency: counted as abandoned only.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.BaseURL()+"/v1/Companies(1)/CustomerFull?"+query(epoch, -1, -1), nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		t.Fatal("answered before the latency was over")
	}
	testenv.Eventually(t, 10*time.Second, "the abandoned request to be counted", func() bool { return s.Stats().Abandoned == 1 })
	if st := s.Stats(); st.Abandoned != 1 || st.CustomerFullRequests != 4 {
		t.Fatalf("abandoned %d, answered %d: want 1 and 4", st.Abandoned, st.CustomerFullRequests)
	}
}

func TestMaxRequestsInAnyMinute(t *testing.T) {
	clock := newFakeClock(time.Date(2024, 6, 1, 10, 0, 0, 0, time.UTC))
	s := newTestServer(t, Config{Now: clock.Now})
	s.Generate(1, 1)
	tok := token(t, s)
	burst := func(n int) {
		for range n {
			get(t, s, tok, 1, query(epoch, -1, -1))
		}
	}
	burst(3) // t = 0
	clock.Advance(30 * time.Second)
	burst(2) // t = 30 s
	clock.Advance(30 * time.Second)
	burst(4) // t = 60 s: the requests at 0 s have left the window
	if got := s.MaxRequestsInAnyMinute(); got != 6 {
		t.Fatalf("MaxRequestsInAnyMinute = %d, want 6 (2 at 30 s + 4 at 60 s)", got)
	}
	clock.Advance(time.Hour)
	burst(1)
	if got := s.MaxRequestsInAnyMinute(); got != 6 {
		t.Fatalf("MaxRequestsInAnyMinute = %d after a quiet hour, want still 6", got)
	}
	s.SetHazards(Hazards{Status5xx: 10})
	burst(7) // rejected requests count too
	if got := s.MaxRequestsInAnyMinute(); got != 8 {
		t.Fatalf("MaxRequestsInAnyMinute = %d, want 8", got)
	}
}

func TestGzip(t *testing.T) {
	s := newTestServer(t, Config{Gzip: true})
	s.Generate(1, 30)
	tok := token(t, s)
	plain := func(acceptEncoding string) (*http.Response, []byte) {
		req, _ := http.NewRequest(http.MethodGet, s.BaseURL()+"/v1/Companies(1)/CustomerFull?"+query(epoch, -1, 100), nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		if acceptEncoding != "" {
			req.Header.Set("Accept-Encoding", acceptEncoding) // set by hand: the transport then leaves the body alone
		}
		tr := &http.Transport{DisableCompression: true}
		defer tr.CloseIdleConnections()
		resp, err := (&http.Client{Transport: tr}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp, b
	}
	resp, identity := plain("")
	if resp.Header.Get("Content-Encoding") != "" {
		t.Fatal("compressed a response to a request that did not accept gzip")
	}
	resp, zipped := plain("gzip, deflate")
	if resp.Header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("Content-Encoding %q, want gzip", resp.Header.Get("Content-Encoding"))
	}
	zr, err := gzip.NewReader(bytes.NewReader(zipped))
	if err != nil {
		t.Fatal(err)
	}
	unzipped, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(unzipped, identity) || len(zipped) >= len(identity) {
		t.Fatalf("gzip body (%d bytes) does not decompress to the plain one (%d bytes)", len(zipped), len(identity))
	}
	if resp, _ := plain("gzip;q=0"); resp.Header.Get("Content-Encoding") != "" {
		t.Fatal("compressed although gzip;q=0")
	}
	s2 := newTestServer(t, Config{Gzip: false})
	s2.Generate(1, 1)
	resp, body := get(t, s2, token(t, s2), 1, query(epoch, -1, -1))
	if resp.Header.Get("Content-Encoding") != "" || resp.Uncompressed || !bytes.HasPrefix(body, []byte("[")) {
		t.Fatal("compressed with Config.Gzip off")
	}
}

func TestDateHeaderFollowsClock(t *testing.T) {
	clock := newFakeClock(time.Date(2019, 5, 6, 7, 8, 9, 0, time.UTC))
	s := newTestServer(t, Config{Now: clock.Now})
	s.Generate(1, 1)
	tok := token(t, s)
	for _, tc := range []struct {
		name  string
		query string
	}{{"page", query(epoch, -1, -1)}, {"400", "$filter=nonsense"}} {
		resp, _ := get(t, s, tok, 1, tc.query)
		if got := resp.Header.Get("Date"); got != "Mon, 06 May 2019 07:08:09 GMT" {
			t.Fatalf("%s: Date %q, want the simulator's clock", tc.name, got)
		}
	}
	clock.Advance(time.Hour)
	resp, err := http.PostForm(s.TokenURL(), passwordForm())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Get("Date"); got != "Mon, 06 May 2019 08:08:09 GMT" {
		t.Fatalf("token endpoint: Date %q", got)
	}
}
