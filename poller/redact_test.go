package poller

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
	"unicode/utf16"
)

// Secrets with every character that encodings treat specially.
const (
	hardPassword = `p@ss w+rd&x=1/"\é漢`
	hardSecret   = `c/s+"&@\ü-Zq9sekr1t`
)

// secretForms are the ways a server may echo a secret: as is, URL-encoded
// (query and path escaping, either hex case, every byte), JSON-escaped (Go's
// and .NET's), HTML-escaped.
var secretForms = map[string]func(string) string{
	"literal":      func(s string) string { return s },
	"query escape": url.QueryEscape,
	"path escape":  url.PathEscape,
	"query escape, lower-case hex": func(s string) string {
		e := url.QueryEscape(s)
		var b strings.Builder
		for i := 0; i < len(e); i++ {
			if e[i] == '%' {
				b.WriteString("%" + strings.ToLower(e[i+1:i+3]))
				i += 2
				continue
			}
			b.WriteByte(e[i])
		}
		return b.String()
	},
	"every byte escaped": func(s string) string {
		var b strings.Builder
		for i := 0; i < len(s); i++ {
			fmt.Fprintf(&b, "%%%02X", s[i])
		}
		return b.String()
	},
	"JSON (Go)": func(s string) string {
		j, _ := json.Marshal(s)
		return string(j[1 : len(j)-1])
	},
	"JSON (.NET, ASCII only)": func(s string) string {
		var b strings.Builder
		for _, r := range s {
			switch {
			case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == ' ', r == '-':
				b.WriteRune(r)
			default:
				for _, u := range utf16.Encode([]rune{r}) {
					fmt.Fprintf(&b, `\u%04X`, u)
				}
			}
		}
		return b.String()
	},
	"JSON, solidus escaped": func(s string) string {
		j, _ := json.Marshal(s)
		return strings.ReplaceAll(string(j[1:len(j)-1]), "/", `\/`)
	},
	"HTML": html.EscapeString,
}

// echo is a body that repeats the secrets in every form, and the form as sent.
func echo(form string, secrets ...string) string {
	var b strings.Builder
	b.WriteString("you sent " + form + ";")
	for name, enc := range secretForms {
		for _, s := range secrets {
			b.WriteString(" " + name + ": " + enc(s) + ";")
		}
	}
	return b.String()
}

// assertNoSecret fails if any form of a secret, or a telling piece of one, is in text.
func assertNoSecret(t *testing.T, what, text string, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		for name, enc := range secretForms {
			if e := enc(s); strings.Contains(strings.ToLower(text), strings.ToLower(e)) {
				t.Errorf("%s holds the secret %s (%s): %s", what, name, e, text)
			}
		}
	}
	for _, piece := range []string{"p@ss", "p%40ss", "%40ss", "w+rd", "w%2Brd", "漢", "%E6%BC%A2", `\u6f22`, "ü-Zq9", "Zq9sekr1t"} {
		if strings.Contains(strings.ToLower(text), strings.ToLower(piece)) {
			t.Errorf("%s holds %q, a piece of a secret: %s", what, piece, text)
		}
	}
}

// TestSecretsNeverInErrorsOrLogs: whatever the token endpoint or CustomerFull
// echoes, in whatever encoding, neither the error nor the log holds a secret.
func TestSecretsNeverInErrorsOrLogs(t *testing.T) {
	type answer struct {
		status int
		ctype  string
		body   string
	}
	tests := []struct {
		name     string
		token    func(form string) answer // the token endpoint's answer; nil: a token
		cf       func(tok string) answer  // CustomerFull's; nil: the data
		want     string                   // the error, exactly
		wantPart string                   // or a part of it
	}{
		{name: "token 400 plain text", token: func(form string) answer {
			return answer{400, "text/plain", echo(form, hardPassword, hardSecret)}
		}, want: "Cova rejected the credentials: token endpoint answered HTTP 400 with a body that is not an OAuth error (text/plain, not shown) (check --cova-client-id, --cova-client-secret, --cova-username, --cova-password and --cova-token-url)"},
		{name: "token 400 OAuth error with a description", token: func(form string) answer {
			d, _ := json.Marshal(echo(form, hardPassword, hardSecret))
			return answer{400, "application/json", `{"error":"invalid_request","error_description":` + string(d) + `}`}
		}, wantPart: "Cova rejected the credentials: token endpoint answered HTTP 400 invalid_request: you sent "},
		{name: "token 400 Message and Description", token: func(form string) answer {
			d, _ := json.Marshal(echo(form, hardPassword, hardSecret))
			return answer{400, "application/json", `{"Message":"The request is invalid.","Description":` + string(d) + `}`}
		}, wantPart: "Cova rejected the credentials: token endpoint answered HTTP 400 The request is invalid.: you sent "},
		{name: "token 400 unknown OAuth error", token: func(form string) answer {
			d, _ := json.Marshal(echo(form, hardPassword, hardSecret))
			return answer{400, "application/json", `{"error":` + string(d) + `}`}
		}, want: "Cova rejected the credentials: token endpoint answered HTTP 400 with a body that is not an OAuth error (application/json, not shown) (check --cova-client-id, --cova-client-secret, --cova-username, --cova-password and --cova-token-url)"},
		{name: "token 403 WAF page", token: func(form string) answer {
			return answer{403, "text/html", "<html><body>Request blocked: " + html.EscapeString(echo(form, hardPassword, hardSecret)) + "</body></html>"}
		}, want: "page at row 0: 2 attempts failed (token endpoint x2); last error: token endpoint answered HTTP 403"},
		{name: "token 200 without a token", token: func(form string) answer {
			return answer{200, "application/json", `{"echo":` + fmt.Sprintf("%q", echo(form, hardPassword, hardSecret)) + `}`}
		}, want: "page at row 0: 2 attempts failed (token endpoint x2); last error: token endpoint answered HTTP 200 without an access_token"},
		{name: "CustomerFull 500 echoing", cf: func(tok string) answer {
			return answer{500, "text/plain", echo("Authorization: Bearer "+tok, tok, hardPassword, hardSecret)}
		}, wantPart: "page at row 0: 2 attempts failed (HTTP 500 x2); last error: CustomerFull answered HTTP 500: you sent Authorization: Bearer [redacted];"},
		{name: "CustomerFull 404 echoing", cf: func(tok string) answer {
			return answer{404, "text/plain", echo("Authorization: Bearer "+tok, tok, hardPassword, hardSecret)}
		}, wantPart: "page at row 0: CustomerFull answered HTTP 404 (you sent Authorization: Bearer [redacted];"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeCova(t, 3)
			var tok string
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/token" && tc.token != nil {
					body, _ := io.ReadAll(r.Body)
					a := tc.token(string(body))
					w.Header().Set("Content-Type", a.ctype)
					w.WriteHeader(a.status)
					io.WriteString(w, a.body)
					return
				}
				if r.URL.Path != "/token" && tc.cf != nil {
					tok = strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
					a := tc.cf(tok)
					w.Header().Set("Content-Type", a.ctype)
					w.WriteHeader(a.status)
					io.WriteString(w, a.body)
					return
				}
				f.ServeHTTP(w, r)
			})
			var logs bytes.Buffer
			c, _ := newTestClient(t, h, func(cfg *Config) {
				cfg.Password, cfg.ClientSecret, cfg.MaxRetries = hardPassword, hardSecret, 1
			}, WithLogger(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))))
			_, err := c.Scan(context.Background(), 42, time.Time{}, func(context.Context, Batch) error { return nil })
			if err == nil {
				t.Fatal("the scan succeeded")
			}
			if tc.want != "" && err.Error() != tc.want {
				t.Errorf("error\n got %s\nwant %s", err, tc.want)
			}
			if tc.wantPart != "" && !strings.HasPrefix(err.Error(), tc.wantPart) {
				t.Errorf("error\n got %s\nwant %s...", err, tc.wantPart)
			}
			secrets := []string{hardPassword, hardSecret}
			if tok != "" {
				secrets = append(secrets, tok)
			}
			assertNoSecret(t, "the error", err.Error(), secrets...)
			assertNoSecret(t, "the log", logs.String(), secrets...)
		})
	}
}

// TestRedactEncodedForms checks redaction on its own, form by form.
func TestRedactEncodedForms(t *testing.T) {
	for name, enc := range secretForms {
		for _, s := range []string{hardPassword, hardSecret} {
			text := "before " + enc(s) + " after"
			got := redact(text, []string{hardSecret, hardPassword})
			if got != "before [redacted] after" {
				t.Errorf("%s of %q: %q", name, s, got)
			}
		}
	}
	if got := redact("nothing secret here", []string{hardPassword, ""}); got != "nothing secret here" {
		t.Errorf("%q", got)
	}
}
