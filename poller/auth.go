package poller

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// tokenSource caches the access token of the password grant and renews it at 90%
// of its lifetime. Renewals are serialized: one token request at a time.
type tokenSource struct {
	c *Client

	mu      sync.Mutex
	token   string
	renewAt time.Time
}

type tokenResponse struct {
	AccessToken string          `json:"access_token"`
	ExpiresIn   json.Number     `json:"expires_in"`
	Error       string          `json:"error"`
	ErrorDesc   string          `json:"error_description"`
	Message     string          `json:"Message"`
	Description json.RawMessage `json:"Description"`
}

// current returns the cached token, or "" (used to redact it).
func (t *tokenSource) current() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.token
}

// get returns a valid access token, requesting a new one when none is cached or
// the cached one is due for renewal.
func (t *tokenSource) get(ctx context.Context) (string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.token != "" && t.c.now().Before(t.renewAt) {
		return t.token, nil
	}
	return t.fetch(ctx)
}

// invalidate drops the cached token if it is still old (the one Cova answered
// 401 to), so that the next get renews it once however many requests saw the 401.
func (t *tokenSource) invalidate(old string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.token == old {
		t.token = ""
	}
}

func (t *tokenSource) fetch(ctx context.Context) (string, error) {
	cfg := t.c.cfg
	form := url.Values{
		"grant_type":    {"password"},
		"username":      {cfg.Username},
		"password":      {cfg.Password},
		"client_id":     {cfg.ClientID},
		"client_secret": {cfg.ClientSecret},
	}
	rctx, cancel := context.WithTimeout(ctx, cfg.RequestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodPost, cfg.TokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return "", fmt.Errorf("cova token: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	start := t.c.now()
	resp, err := t.c.http.Do(req)
	if err != nil {
		t.c.metrics.auth.WithLabelValues("error").Inc()
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		// *url.Error repeats the URL only, never the form body.
		return "", fmt.Errorf("cova token: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		t.c.metrics.auth.WithLabelValues("error").Inc()
		return "", fmt.Errorf("cova token: reading response: %w", err)
	}
	var tr tokenResponse
	jsonErr := json.Unmarshal(body, &tr)
	secrets := []string{cfg.ClientSecret, cfg.Password, tr.AccessToken}

	if resp.StatusCode == http.StatusOK {
		if jsonErr != nil || tr.AccessToken == "" {
			t.c.metrics.auth.WithLabelValues("error").Inc()
			return "", fmt.Errorf("cova token: HTTP 200 without an access_token: %s", excerpt(body, secrets...))
		}
		ttl := 10 * time.Minute // when Cova does not say, renew often rather than late
		if s, err := tr.ExpiresIn.Float64(); err == nil && s > 0 {
			ttl = time.Duration(s * float64(time.Second))
		}
		t.token = tr.AccessToken
		t.renewAt = start.Add(ttl * 9 / 10)
		t.c.metrics.auth.WithLabelValues("ok").Inc()
		return t.token, nil
	}
	if resp.StatusCode == http.StatusBadRequest || resp.StatusCode == http.StatusUnauthorized {
		t.c.metrics.auth.WithLabelValues("rejected").Inc()
		return "", credentialsError(resp.StatusCode, tr, jsonErr == nil, body, secrets)
	}
	t.c.metrics.auth.WithLabelValues("error").Inc()
	return "", fmt.Errorf("cova token: %w", &StatusError{Code: resp.StatusCode, Body: excerpt(body, secrets...)})
}

// credentialsError explains a rejection in words an operator can act on, naming
// the flags to check but never their values.
func credentialsError(code int, tr tokenResponse, isJSON bool, body []byte, secrets []string) error {
	var hint string
	switch tr.Error {
	case "invalid_grant":
		hint = "invalid_grant: username or password wrong or not allowed (check --cova-username and --cova-password)"
	case "invalid_client":
		hint = "invalid_client: client id or client secret wrong (check --cova-client-id and --cova-client-secret)"
	case "unsupported_grant_type":
		hint = "unsupported_grant_type: the token endpoint does not accept the password grant (check --cova-token-url)"
	default:
		var parts []string
		for _, s := range []string{tr.Error, tr.ErrorDesc, tr.Message, descriptionText(tr.Description)} {
			if s != "" {
				parts = append(parts, s)
			}
		}
		if !isJSON || len(parts) == 0 {
			parts = []string{excerpt(body, secrets...)}
		}
		hint = strings.Join(parts, ": ") + " (check --cova-client-id, --cova-client-secret, --cova-username, --cova-password and --cova-token-url)"
	}
	return fmt.Errorf("%w: token endpoint answered HTTP %d %s", ErrCredentials, code, excerpt([]byte(hint), secrets...))
}

// descriptionText reads the "Description" of the {"Message","Description"} error
// body, a string or any JSON value.
func descriptionText(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	return string(raw)
}
