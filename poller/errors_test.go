package poller

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestErrorsNameTheFix: what a failed scan says is in the user's words, one
// prefix per fact, and names the flag to look at.
func TestErrorsNameTheFix(t *testing.T) {
	tests := []struct {
		name   string
		base   string // path of the base URL; default /crm
		status func(w http.ResponseWriter)
		want   string
		tokens int // token requests: 2 when the client renewed its token
	}{
		{"unknown company", "", func(w http.ResponseWriter) {
			w.WriteHeader(404)
			io.WriteString(w, `{"Message":"Resource cannot be found"}`)
		}, "page at row 0: CustomerFull answered HTTP 404 (Resource cannot be found): Cova does not know company 42 (check --company-id)", 1},
		{"base URL without /crm", "/", func(w http.ResponseWriter) {
			w.WriteHeader(404)
			io.WriteString(w, `{"Message":"No HTTP resource was found that matches the request URI 'http://x/v1/Companies(42)/CustomerFull'."}`)
		}, "page at row 0: CustomerFull answered HTTP 404 (No HTTP resource was found that matches the request URI 'http://x/v1/Companies(42)/CustomerFull'.): check --cova-base-url, whose path ends in /crm for Cova (https://api.covasoft.net/crm)", 1},
		{"some other 404", "", func(w http.ResponseWriter) {
			w.WriteHeader(404)
			io.WriteString(w, "<html><body><h1>404 Not Found</h1></body></html>")
		}, "page at row 0: CustomerFull answered HTTP 404 (<html><body><h1>404 Not Found</h1></body></html>): check --cova-base-url (Cova's is https://api.covasoft.net/crm) and --company-id 42", 1},
		{"401 to a fresh token", "", func(w http.ResponseWriter) {
			w.WriteHeader(401)
			io.WriteString(w, `{"Message":"Authorization has been denied for this request."}`)
		}, "page at row 0: CustomerFull answered HTTP 401 to a fresh token (Authorization has been denied for this request.): the user of --cova-username lacks the role to read company 42's customers; ask Cova to grant it", 2},
		{"403 to a fresh token", "", func(w http.ResponseWriter) {
			w.WriteHeader(403)
		}, "page at row 0: CustomerFull answered HTTP 403 to a fresh token: the user of --cova-username lacks the role to read company 42's customers; ask Cova to grant it", 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeCova(t, 3)
			f.status = func(_ int, w http.ResponseWriter) bool { tc.status(w); return true }
			c, _ := newTestClient(t, f, func(cfg *Config) {
				if tc.base != "" {
					cfg.BaseURL = strings.TrimSuffix(cfg.BaseURL, "/crm") + tc.base
				}
			})
			_, _, err := collect(t, c, time.Time{})
			if err == nil || err.Error() != tc.want {
				t.Fatalf("error\n got %v\nwant %s", err, tc.want)
			}
			var se *StatusError
			if !errors.As(err, &se) {
				t.Errorf("no StatusError in %v", err)
			}
			if f.tokenN != tc.tokens || f.requests != tc.tokens {
				t.Errorf("%d tokens and %d requests, want %d of each", f.tokenN, f.requests, tc.tokens)
			}
		})
	}
}
