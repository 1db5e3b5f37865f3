package poller

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// elsewhere is another server a redirect points to; it records what reaches it.
type elsewhere struct {
	*httptest.Server
	mu       sync.Mutex
	requests []string // method, path and any Authorization header or form
}

func newElsewhere(t *testing.T) *elsewhere {
	e := &elsewhere{}
	e.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		e.mu.Lock()
		e.requests = append(e.requests, r.Method+" "+r.URL.Path+" auth="+r.Header.Get("Authorization")+" form="+r.PostForm.Encode())
		e.mu.Unlock()
		if r.URL.Path == "/token" {
			w.Write([]byte(`{"access_token":"foreign","expires_in":3600}`))
			return
		}
		w.Write([]byte("[]")) // an empty result: a scan that trusted it would be "complete"
	}))
	t.Cleanup(e.Close)
	return e
}

func (e *elsewhere) seen() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.requests...)
}

// TestNoRedirectFollowed: neither the token POST (which carries the password
// and client secret) nor a CustomerFull GET (which carries the token) follows
// a redirect, with the default client or one the caller injects: the other
// server receives nothing, the scan fails naming the host it was sent to,
// hands on nothing, and is not retried.
func TestNoRedirectFollowed(t *testing.T) {
	clients := map[string]func() []Option{
		"default client":  func() []Option { return nil },
		"injected client": func() []Option { return []Option{WithHTTPClient(&http.Client{Timeout: 10 * time.Second})} },
	}
	for cname, opts := range clients {
		for _, code := range []int{301, 302, 303, 307, 308} {
			for _, endpoint := range []string{"token", "CustomerFull"} {
				t.Run(cname+"/"+endpoint+"/"+http.StatusText(code), func(t *testing.T) {
					other := newElsewhere(t)
					otherHost := strings.TrimPrefix(other.URL, "http://")
					f := newFakeCova(t, 5)
					h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
						isToken := r.URL.Path == "/token"
						if isToken == (endpoint == "token") {
							f.mu.Lock()
							if isToken {
								f.tokenForms = append(f.tokenForms, "")
							} else {
								f.requests++
							}
							f.mu.Unlock()
							w.Header().Set("Location", other.URL+r.URL.Path+"?"+r.URL.RawQuery)
							w.WriteHeader(code)
							return
						}
						f.ServeHTTP(w, r)
					})
					c, _ := newTestClient(t, h, nil, opts()...)
					handed := 0
					res, err := c.Scan(context.Background(), 42, time.Time{}, func(_ context.Context, b Batch) error {
						handed += len(b.Customers)
						return nil
					})
					if err == nil {
						t.Fatalf("the scan succeeded after a redirect to %s", otherHost)
					}
					var want string
					if endpoint == "token" {
						want = "page at row 0: token endpoint answered HTTP " + strconv.Itoa(code) + ", a redirect to " + otherHost +
							", which is not followed: credentials go only to --cova-token-url"
					} else {
						want = "page at row 0: CustomerFull answered HTTP " + strconv.Itoa(code) + ", a redirect to " + otherHost +
							", which is not followed (check --cova-base-url)"
					}
					if err.Error() != want {
						t.Errorf("error\n got %v\nwant %s", err, want)
					}
					if IsRetryable(err) {
						t.Error("a redirect must not be retried by the next poll either")
					}
					if got := other.seen(); len(got) != 0 {
						t.Errorf("the other server received %q", got)
					}
					if handed != 0 {
						t.Errorf("%d customers handed on", handed)
					}
					f.mu.Lock()
					defer f.mu.Unlock()
					if endpoint == "token" && len(f.tokenForms) != 1 || endpoint != "token" && (f.requests != 1 || res.Requests != 1) {
						t.Errorf("retried: %d token requests, %d CustomerFull requests", len(f.tokenForms), f.requests)
					}
				})
			}
		}
	}
}

// TestInjectedClientKeepsItsRedirectPolicy: New does not change the caller's client.
func TestInjectedClientKeepsItsRedirectPolicy(t *testing.T) {
	hc := &http.Client{}
	if _, err := New(testConfig("http://127.0.0.1:1"), WithHTTPClient(hc)); err != nil {
		t.Fatal(err)
	}
	if hc.CheckRedirect != nil {
		t.Error("New changed the injected client's CheckRedirect")
	}
}
