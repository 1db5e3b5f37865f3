package poller

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
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
		return "", fmt.Errorf("%s: %w", endpointToken, err)
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
		if cerr := certificateRefused(err, endpointToken, req.URL.Host, "--cova-token-url"); cerr != nil {
			return "", cerr
		}
		// *url.Error repeats the method and URL only (without a password),
		// never the form body.
		return "", fmt.Errorf("%s: %w", endpointToken, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		t.c.metrics.auth.WithLabelValues("error").Inc()
		return "", redirected(endpointToken, resp)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		t.c.metrics.auth.WithLabelValues("error").Inc()
		return "", fmt.Errorf("%s: reading the answer: %w", endpointToken, err)
	}
	var tr tokenResponse
	jsonErr := json.Unmarshal(body, &tr)
	secrets := t.c.secrets(tr.AccessToken)

	switch resp.StatusCode {
	case http.StatusOK:
		if jsonErr != nil || tr.AccessToken == "" {
			t.c.metrics.auth.WithLabelValues("error").Inc()
			// The body is not shown: it is no token, and it may echo the form.
			return "", errors.New(endpointToken + " answered HTTP 200 without an access_token")
		}
		ttl := 10 * time.Minute // when Cova does not say, renew often rather than late
		if s, err := tr.ExpiresIn.Float64(); err == nil && s > 0 {
			ttl = time.Duration(s * float64(time.Second))
		}
		t.token = tr.AccessToken
		t.renewAt = start.Add(ttl * 9 / 10)
		t.c.metrics.auth.WithLabelValues("ok").Inc()
		return t.token, nil
	case http.StatusBadRequest, http.StatusUnauthorized:
		t.c.metrics.auth.WithLabelValues("rejected").Inc()
		return "", credentialsError(resp.StatusCode, resp.Header.Get("Content-Type"), tr, jsonErr == nil, secrets)
	}
	t.c.metrics.auth.WithLabelValues("error").Inc()
	said, _ := tr.said(jsonErr == nil, secrets)
	return "", &StatusError{Code: resp.StatusCode, Endpoint: endpointToken, Body: said}
}

// oauthErrors are the error codes of RFC 6749 (section 5.2) with what to check
// for each.
var oauthErrors = map[string]string{
	"invalid_grant":          "username or password wrong or not allowed (check --cova-username and --cova-password)",
	"invalid_client":         "client id or client secret wrong (check --cova-client-id and --cova-client-secret)",
	"unsupported_grant_type": "the token endpoint does not accept the password grant (check --cova-token-url)",
	"unauthorized_client":    "this client may not use the password grant (check --cova-client-id)",
	"invalid_request":        "",
	"invalid_scope":          "",
}

// said is what a token endpoint's answer says, when it is a recognised error:
// an RFC 6749 error (with its description) or Cova's {"Message","Description"}.
// Only these are shown, with every secret redacted in any form: anything else
// may be a page that echoes the form, which holds the password.
func (tr tokenResponse) said(isJSON bool, secrets []string) (string, bool) {
	if !isJSON {
		return "", false
	}
	var parts []string
	if _, ok := oauthErrors[tr.Error]; ok {
		parts = append(parts, tr.Error, tr.ErrorDesc)
	} else if tr.Message != "" {
		parts = append(parts, tr.Message, descriptionText(tr.Description))
	} else {
		return "", false
	}
	var kept []string
	for _, p := range parts {
		if p = strings.TrimSpace(p); p != "" {
			kept = append(kept, p)
		}
	}
	return excerpt([]byte(strings.Join(kept, ": ")), secrets...), true
}

// credentialsError explains a rejection in words an operator can act on, naming
// the flags to check but never their values.
func credentialsError(code int, contentType string, tr tokenResponse, isJSON bool, secrets []string) error {
	const checkAll = "(check --cova-client-id, --cova-client-secret, --cova-username, --cova-password and --cova-token-url)"
	said, ok := tr.said(isJSON, secrets)
	var text string
	switch {
	case !ok:
		text = "with a body that is not an OAuth error (" + mediaType(contentType) + "not shown) " + checkAll
	case oauthErrors[tr.Error] != "":
		text = said + ": " + oauthErrors[tr.Error]
	default:
		text = said + " " + checkAll
	}
	return fmt.Errorf("%w: %s answered HTTP %d %s", ErrCredentials, endpointToken, code, text)
}

// mediaType is the media type of a Content-Type header followed by ", ", or ""
// when there is none that looks like one.
func mediaType(contentType string) string {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil || mt == "" || len(mt) > 80 {
		return ""
	}
	return mt + ", "
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
