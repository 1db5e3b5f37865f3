package covatest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeClock is a settable simulator clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock(t time.Time) *fakeClock { return &fakeClock{t: t} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newTestServer(t *testing.T, cfg Config) *Server {
	t.Helper()
	s := NewServer(cfg)
	t.Cleanup(s.Close)
	return s
}

func postToken(t *testing.T, s *Server, form url.Values) (int, map[string]json.RawMessage) {
	t.Helper()
	resp, err := http.PostForm(s.TokenURL(), form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]json.RawMessage
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("token response: %v", err)
	}
	return resp.StatusCode, body
}

func passwordForm() url.Values {
	return url.Values{
		"grant_type": {"password"}, "username": {DefaultUsername}, "password": {DefaultPassword},
		"client_id": {DefaultClientID}, "client_secret": {DefaultClientSecret},
	}
}

func token(t *testing.T, s *Server) string {
	t.Helper()
	code, body := postToken(t, s, passwordForm())
	if code != http.StatusOK {
		t.Fatalf("token: HTTP %d %s", code, body)
	}
	var tok string
	if err := json.Unmarshal(body["access_token"], &tok); err != nil || tok == "" {
		t.Fatalf("access_token %s: %v", body["access_token"], err)
	}
	return tok
}

// query builds a CustomerFull query string; skip or top < 0 leaves it out.
func query(literal string, skip, top int) string {
	q := "$filter=" + url.QueryEscape("LastModifiedDateUtc ge datetime'"+literal+"'")
	if skip >= 0 {
		q += "&$skip=" + strconv.Itoa(skip)
	}
	if top >= 0 {
		q += "&$top=" + strconv.Itoa(top)
	}
	return q
}

// get sends a CustomerFull request and returns the response with its body read.
func get(t *testing.T, s *Server, tok string, company int64, rawQuery string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, s.BaseURL()+"/v1/Companies("+strconv.FormatInt(company, 10)+")/CustomerFull?"+rawQuery, nil)
	if err != nil {
		t.Fatal(err)
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading body: %v", err)
	}
	return resp, body
}

// rec is what the tests read of a customer.
type rec struct {
	ID                  string `json:"Id"`
	Version             int64
	LastModifiedDateUtc string
}

// fetchPage fetches one page and decodes it, failing the test on anything but 200.
func fetchPage(t *testing.T, s *Server, tok string, company int64, rawQuery string) []rec {
	t.Helper()
	resp, body := get(t, s, tok, company, rawQuery)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("HTTP %d: %s", resp.StatusCode, body)
	}
	var out []rec
	if err := json.Unmarshal(body, &out); err != nil {
		t.Fatalf("decoding page: %v", err)
	}
	return out
}

func ids(rs []rec) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.ID
	}
	return out
}

// parseNetTime reads the zone-less timestamps the simulator serves (UTC).
func parseNetTime(t *testing.T, s string) time.Time {
	t.Helper()
	if strings.ContainsAny(s, "Zz+") || strings.Count(s, "-") != 2 {
		t.Fatalf("timestamp %q has a zone", s)
	}
	v, err := time.Parse("2006-01-02T15:04:05.9999999", s)
	if err != nil {
		t.Fatalf("timestamp %q: %v", s, err)
	}
	return v
}

const epoch = "2000-01-01T00:00:00"
