package covatest

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestParseScript(t *testing.T) {
	got, err := ParseScript(" 429-retry-after, ok,429-reset=3,429,500,504,truncate,half-array,not-json,html,reset,slow=150ms,revoke,token-dies ")
	if err != nil {
		t.Fatal(err)
	}
	want := []Fault{Fault429RetryAfter, FaultNone, "429-reset=3", Fault429, Fault500, "504", FaultTruncate, FaultHalfArray,
		FaultNotJSON, FaultHTML, FaultReset, "slow=150ms", FaultRevoke, FaultTokenDies}
	if len(got) != len(want) {
		t.Fatalf("got %q, want %q", got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("step %d: got %q, want %q", i, got[i], want[i])
		}
	}
	if got, err := ParseScript(""); err != nil || len(got) != 0 {
		t.Fatalf("empty script: %q, %v", got, err)
	}
	for _, bad := range []string{"teapot", "418", "slow=soon", "429-retry-after=-1", "truncate=3", "ok,,500"} {
		if _, err := ParseScript(bad); err == nil {
			t.Errorf("ParseScript(%q) accepted", bad)
		}
	}
}

// rawGet sends a CustomerFull request without reading the body.
func rawGet(t *testing.T, s *Server, tok string, gzipped bool) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, s.BaseURL()+"/v1/Companies(1)/CustomerFull?"+query(epoch, 0, 10), nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	if gzipped {
		req.Header.Set("Accept-Encoding", "gzip")
	}
	tr := &http.Transport{DisableKeepAlives: true}
	t.Cleanup(tr.CloseIdleConnections)
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// TestScriptAnswersOneStepPerRequest sends one request per step and checks each
// answer as a client sees it, then that the script is used up and answers are
// normal again.
func TestScriptAnswersOneStepPerRequest(t *testing.T) {
	s := newTestServer(t, Config{})
	s.Generate(1, 10)
	tok := token(t, s)
	s.SetHazards(Hazards{Script: []Fault{Fault429RetryAfter, Fault429Reset, Fault429, FaultNone, Fault500, Fault502, Fault503, "504",
		FaultNotJSON, FaultHTML, FaultHalfArray, FaultTruncate, FaultReset, "slow=300ms", "429-retry-after=7", "429-reset=9"}})

	type want struct {
		code       int
		retryAfter string
		reset      string
		ctype      string
	}
	for i, w := range []want{
		{429, "1", "", "application/json"},
		{429, "", "1", "text/plain"},
		{429, "", "", "text/plain"},
		{200, "", "", "application/json"},
		{500, "", "", ""},
		{502, "", "", ""},
		{503, "", "", ""},
		{504, "", "", ""},
	} {
		resp, body := get(t, s, tok, 1, query(epoch, 0, 10))
		if resp.StatusCode != w.code || resp.Header.Get("Retry-After") != w.retryAfter ||
			resp.Header.Get("X-RateLimit-ResetSeconds") != w.reset || !strings.HasPrefix(resp.Header.Get("Content-Type"), w.ctype) {
			t.Fatalf("step %d: HTTP %d Retry-After %q reset %q %s: %s", i, resp.StatusCode, resp.Header.Get("Retry-After"),
				resp.Header.Get("X-RateLimit-ResetSeconds"), resp.Header.Get("Content-Type"), body)
		}
		if w.code == 429 && w.retryAfter == "" && (strings.Contains(strings.ToLower(string(body)), "try again") || strings.Contains(string(body), "{")) {
			t.Fatalf("step %d: a 429 without a wait says when to retry in its body: %s", i, body)
		}
	}

	// not-json and html: status 200, bodies that are no JSON at all.
	for _, ctype := range []string{"text/plain", "text/html"} {
		resp, body := get(t, s, tok, 1, query(epoch, 0, 10))
		var v any
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), ctype) || json.Unmarshal(body, &v) == nil {
			t.Fatalf("want a 200 %s body that is not JSON, got HTTP %d %s: %s", ctype, resp.StatusCode, resp.Header.Get("Content-Type"), body)
		}
	}

	// half-array: a complete HTTP response whose JSON array stops half-way.
	resp, body := get(t, s, tok, 1, query(epoch, 0, 10))
	var rows []rec
	if resp.StatusCode != 200 || !bytes.HasPrefix(body, []byte(`[{"Addresses"`)) || json.Unmarshal(body, &rows) == nil ||
		resp.ContentLength != int64(len(body)) {
		t.Fatalf("half-array: HTTP %d, %d of %d bytes: %.80s", resp.StatusCode, len(body), resp.ContentLength, body)
	}

	// truncate: the connection drops in the middle of the array.
	resp = rawGet(t, s, tok, false)
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !errors.Is(err, io.ErrUnexpectedEOF) || !bytes.HasPrefix(body, []byte("[{")) {
		t.Fatalf("truncate: HTTP %d, %d bytes, %v", resp.StatusCode, len(body), err)
	}

	// reset: the headers of a 200, then a TCP reset.
	resp = rawGet(t, s, tok, false)
	body, err = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || err == nil || len(body) != 0 {
		t.Fatalf("reset: HTTP %d, %d bytes, %v", resp.StatusCode, len(body), err)
	}
	if !errors.Is(err, syscall.ECONNRESET) && !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("reset: reading the body: %v, want a connection reset", err)
	}

	// slow=300ms: the page, late.
	start := time.Now()
	if got := fetchPage(t, s, tok, 1, query(epoch, 0, 10)); len(got) != 10 {
		t.Fatalf("slow: %d rows", len(got))
	}
	if d := time.Since(start); d < 300*time.Millisecond {
		t.Fatalf("slow=300ms answered after %v", d)
	}

	// Values after "=".
	resp, _ = get(t, s, tok, 1, query(epoch, 0, 10))
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "7" {
		t.Fatalf("429-retry-after=7: HTTP %d Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	resp, _ = get(t, s, tok, 1, query(epoch, 0, 10))
	if resp.StatusCode != 429 || resp.Header.Get("X-RateLimit-ResetSeconds") != "9" || resp.Header.Get("Retry-After") != "" {
		t.Fatalf("429-reset=9: HTTP %d headers %v", resp.StatusCode, resp.Header)
	}

	if left := s.Hazards().Script; len(left) != 0 {
		t.Fatalf("script not used up: %q", left)
	}
	if got := fetchPage(t, s, tok, 1, query(epoch, 0, 10)); len(got) != 10 {
		t.Fatalf("after the script: %d rows", len(got))
	}
}

// TestScriptGzip: a scripted fault breaks a compressed body as it breaks a plain one.
func TestScriptGzip(t *testing.T) {
	s := newTestServer(t, Config{Gzip: true})
	s.Generate(1, 10)
	tok := token(t, s)
	s.SetHazards(Hazards{Script: []Fault{FaultHalfArray, FaultTruncate}})
	for _, name := range []string{"half-array", "truncate"} {
		resp := rawGet(t, s, tok, true)
		zipped, rerr := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.Header.Get("Content-Encoding") != "gzip" {
			t.Fatalf("%s: not compressed", name)
		}
		zr, err := gzip.NewReader(bytes.NewReader(zipped))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		plain, err := io.ReadAll(zr)
		if name == "half-array" && (rerr != nil || err != nil || json.Unmarshal(plain, new(any)) == nil || !bytes.HasPrefix(plain, []byte("[{"))) {
			t.Fatalf("half-array: a clean gzip stream of half an array, got %v %v %.60s", rerr, err, plain)
		}
		if name == "truncate" && rerr == nil && err == nil {
			t.Fatalf("truncate: the gzip stream ended cleanly")
		}
	}
}

// TestScriptTokens: revoke kills every token, token-dies only the request's,
// long before the expires_in it was issued with; both answer 401.
func TestScriptTokens(t *testing.T) {
	s := newTestServer(t, Config{TokenTTL: 12 * time.Hour})
	s.Generate(1, 3)
	a, b := token(t, s), token(t, s)
	s.SetHazards(Hazards{Script: []Fault{FaultTokenDies}})
	if resp, _ := get(t, s, a, 1, query(epoch, -1, -1)); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("token-dies: HTTP %d, want 401", resp.StatusCode)
	}
	if resp, _ := get(t, s, a, 1, query(epoch, -1, -1)); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("a dead token: HTTP %d, want 401", resp.StatusCode)
	}
	fetchPage(t, s, b, 1, query(epoch, -1, -1)) // the other token lives

	s.SetHazards(Hazards{Script: []Fault{FaultRevoke}})
	if resp, _ := get(t, s, b, 1, query(epoch, -1, -1)); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("revoke: HTTP %d, want 401", resp.StatusCode)
	}
	c := token(t, s)
	if resp, _ := get(t, s, b, 1, query(epoch, -1, -1)); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("a revoked token: HTTP %d, want 401", resp.StatusCode)
	}
	fetchPage(t, s, c, 1, query(epoch, -1, -1)) // a token issued after the revocation works

	// An unauthorized request does not use up a step.
	s.SetHazards(Hazards{Script: []Fault{Fault503}})
	if resp, _ := get(t, s, "forged", 1, query(epoch, -1, -1)); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("forged token: HTTP %d", resp.StatusCode)
	}
	if resp, _ := get(t, s, c, 1, query(epoch, -1, -1)); resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("the step after a 401: HTTP %d, want 503", resp.StatusCode)
	}
}

func TestTokenLifetime(t *testing.T) {
	clock := newFakeClock(time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC))
	s := newTestServer(t, Config{Now: clock.Now, TokenTTL: 12 * time.Hour})
	s.Generate(1, 2)
	s.SetHazards(Hazards{TokenLifetime: time.Minute})
	code, body := postToken(t, s, passwordForm())
	if code != http.StatusOK || string(body["expires_in"]) != "43200" {
		t.Fatalf("HTTP %d expires_in %s: the token must still claim 12 h", code, body["expires_in"])
	}
	var tok string
	_ = json.Unmarshal(body["access_token"], &tok)
	clock.Advance(59 * time.Second)
	fetchPage(t, s, tok, 1, query(epoch, -1, -1))
	clock.Advance(time.Second)
	if resp, _ := get(t, s, tok, 1, query(epoch, -1, -1)); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("a minute after issue: HTTP %d, want 401", resp.StatusCode)
	}
	fetchPage(t, s, token(t, s), 1, query(epoch, -1, -1))
}

func TestResetNext(t *testing.T) {
	s := newTestServer(t, Config{})
	s.Generate(1, 10)
	tok := token(t, s)
	s.SetHazards(Hazards{ResetNext: 1})
	resp := rawGet(t, s, tok, false)
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || err == nil || len(body) != 0 || resp.ContentLength <= 0 {
		t.Fatalf("HTTP %d, Content-Length %d, %d bytes, %v: want the headers of a 200 and a reset", resp.StatusCode, resp.ContentLength, len(body), err)
	}
	if s.Hazards().ResetNext != 0 {
		t.Fatal("ResetNext did not count down")
	}
	if got := fetchPage(t, s, tok, 1, query(epoch, 0, 10)); len(got) != 10 {
		t.Fatalf("the next response has %d rows", len(got))
	}
	if got := s.Stats().ByStatus[200]; got != 2 {
		t.Fatalf("ByStatus[200] = %d, want 2", got)
	}
}
