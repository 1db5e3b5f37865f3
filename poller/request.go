package poller

import (
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// response is an open 200 answer of CustomerFull. Close releases its in-flight
// slot and its per-request timeout; it must be called exactly once.
type response struct {
	body io.Reader
	size int64     // the body's length as the server declared it; -1 when unknown
	date time.Time // the server's Date header; zero when absent

	closeOnce sync.Once
	closeFn   func()
}

func (r *response) Close() { r.closeOnce.Do(r.closeFn) }

// get requests one CustomerFull page and returns its open 200 response. It
// retries what may pass (5xx, 408, timeouts, transport errors, a token endpoint
// that fails, a gzip stream that does not start, and 429s, which pause the whole
// client) and renews the token once on a 401 or 403, all under the page's
// budget a. Redirects, refused certificates, rejected credentials and other
// statuses fail at once. onAttempt is called for every request sent, with its
// Date header (zero if none).
func (c *Client) get(ctx context.Context, companyID int64, u string, a *attempts, onAttempt func(date time.Time)) (*response, error) {
	label := companyLabel(companyID)
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		tok, err := c.auth.get(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			if errors.Is(err, ErrCredentials) || isFinal(err) {
				return nil, err
			}
			if ferr := a.fail(kindToken, err, c.cfg.MaxRetries); ferr != nil {
				return nil, ferr
			}
			d := c.backoff(a.failed)
			c.log.Warn("Cova token endpoint failed; retrying", "company_id", companyID, "attempt", a.failed, "retry_in", d, "err", err)
			if err := sleep(ctx, d); err != nil {
				return nil, err
			}
			continue
		}
		slot, err := c.pacer.acquire(ctx)
		if err != nil {
			return nil, err
		}
		resp, cancel, err := c.send(ctx, u, tok)
		if err != nil {
			cancel()
			c.pacer.release(slot, false)
			onAttempt(time.Time{})
			if ctx.Err() != nil {
				// Cancelled by the caller (a scan that no longer needs a page it
				// fetched ahead, or shutdown): not a Cova error.
				return nil, ctx.Err()
			}
			c.metrics.requests.WithLabelValues(label, "error").Inc()
			if cerr := certificateRefused(err, endpointCustomerFull, hostOf(u), "--cova-base-url"); cerr != nil {
				return nil, cerr
			}
			if err := c.retryLater(ctx, a, transportKind(err), err, companyID); err != nil {
				return nil, err
			}
			continue
		}
		c.metrics.requests.WithLabelValues(label, strconv.Itoa(resp.StatusCode)).Inc()
		date, _ := http.ParseTime(resp.Header.Get("Date"))
		onAttempt(date)
		// Every answer may say how much of Cova's quota is left: slow down
		// before it runs out, not after a 429.
		c.pacer.heard(resp.Header, time.Now())

		if resp.StatusCode == http.StatusOK {
			body, err := decompressed(resp)
			if err == nil {
				c.pacer.answered()
				size := resp.ContentLength
				if body != io.Reader(resp.Body) {
					size = -1 // decompressed here
				}
				r := &response{body: body, size: size, date: date}
				r.closeFn = func() {
					resp.Body.Close()
					cancel()
					// A page read to its end tells how long Cova takes.
					c.pacer.release(slot, ctx.Err() == nil)
				}
				return r, nil
			}
			resp.Body.Close()
			cancel()
			c.pacer.release(slot, false)
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			err = fmt.Errorf("%w: %w", ErrMalformedResponse, err)
			if err := c.retryLater(ctx, a, bodyKind(err), err, companyID); err != nil {
				return nil, err
			}
			continue
		}
		if resp.StatusCode >= 300 && resp.StatusCode < 400 {
			resp.Body.Close()
			cancel()
			c.pacer.release(slot, false)
			return nil, redirected(endpointCustomerFull, resp)
		}

		// Error statuses: keep a bounded excerpt, free the slot, decide.
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
		resp.Body.Close()
		cancel()
		c.pacer.release(slot, false)
		secrets := c.secrets(tok)
		serr := &StatusError{Code: resp.StatusCode, Endpoint: endpointCustomerFull, Body: excerpt(raw, secrets...)}
		switch code := resp.StatusCode; {
		case code == http.StatusUnauthorized || code == http.StatusForbidden:
			if a.renewed {
				return nil, lacksRole(serr, message(raw, secrets...), companyID)
			}
			// Renew once and retry once: a 401 or 403 to a fresh token is an
			// error, never a loop.
			a.renewed = true
			c.auth.invalidate(tok)
			if ferr := a.fail(statusKind(code), serr, c.cfg.MaxRetries); ferr != nil {
				return nil, ferr
			}
		case code == http.StatusTooManyRequests:
			c.metrics.throttled.WithLabelValues(label).Inc()
			d, ok := retryAfter(resp.Header, raw, time.Now())
			if !ok {
				d = c.backoff(a.failed + 1)
			}
			// Pause first: Cova's limit is the whole client's, even when this
			// page gives up.
			c.pacer.pause(time.Now().Add(d))
			c.log.Warn("cova throttled the client, pausing every company", "company_id", companyID, "pause", d)
			if ferr := a.fail(statusKind(code), serr, c.cfg.MaxRetries); ferr != nil {
				return nil, ferr
			}
		case code >= 500 || code == http.StatusRequestTimeout:
			if err := c.retryLater(ctx, a, statusKind(code), serr, companyID); err != nil {
				return nil, err
			}
		case code == http.StatusNotFound:
			return nil, c.notFound(serr, message(raw, secrets...), companyID)
		default:
			return nil, serr
		}
	}
}

// retryLater records a failed attempt of the page and waits out its backoff,
// or returns the error to fail the page with: its budget spent, a fault no
// retry mends (kind ""), or ctx done.
func (c *Client) retryLater(ctx context.Context, a *attempts, kind string, err error, companyID int64) error {
	if kind == "" {
		return err
	}
	// Every company slows down, as for a 429: failures in a row say Cova is
	// struggling, and each page retrying at its own pace would not let up.
	c.pacer.failed(c.backoff)
	if ferr := a.fail(kind, err, c.cfg.MaxRetries); ferr != nil {
		return ferr
	}
	d := c.backoff(a.failed)
	c.log.Debug("cova request failed, backing off", "company_id", companyID, "kind", kind, "err", err, "attempt", a.failed, "retry_in", d)
	return sleep(ctx, d)
}

// hostOf is the host (and port) of a URL, for an error message.
func hostOf(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return ""
	}
	return p.Host
}

// send sends one GET under the per-request timeout. The returned cancel ends
// that timeout and must be called once the body is done with.
func (c *Client) send(ctx context.Context, u, tok string) (*http.Response, context.CancelFunc, error) {
	rctx, cancel := context.WithTimeout(ctx, c.cfg.RequestTimeout)
	req, err := http.NewRequestWithContext(rctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, cancel, err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Accept", "application/json")
	// Asking for gzip ourselves turns off the Transport's transparent
	// decompression; decompressed handles both cases.
	req.Header.Set("Accept-Encoding", "gzip")
	start := time.Now()
	resp, err := c.http.Do(req)
	c.metrics.duration.Observe(time.Since(start).Seconds())
	return resp, cancel, err
}

// decompressed returns the body, gunzipped when the server compressed it and no
// transport has already done so.
func decompressed(resp *http.Response) (io.Reader, error) {
	if resp.Uncompressed || !strings.EqualFold(resp.Header.Get("Content-Encoding"), "gzip") {
		return resp.Body, nil
	}
	return gzip.NewReader(resp.Body)
}

// backoff is exponential with full jitter: uniform in [0, min(MaxBackoff, Initial*2^(n-1))].
func (c *Client) backoff(n int) time.Duration {
	ceil := c.cfg.InitialBackoff
	for i := 1; i < n && ceil < c.cfg.MaxBackoff; i++ {
		ceil *= 2
	}
	ceil = min(ceil, c.cfg.MaxBackoff)
	return time.Duration(rand.Int64N(int64(ceil) + 1))
}

// maxRetryAfter bounds what a 429 may impose, so that a bogus date does not
// stop the process for days; the pause is retried after it anyway.
const maxRetryAfter = 15 * time.Minute

var tryAgainIn = regexp.MustCompile(`(?i)try again in (\d+) seconds?`)

// retryAfter is how long to pause after a 429: Retry-After (seconds or an HTTP
// date), else X-RateLimit-ResetSeconds, else a COVA-APIM-RateLimit-Reset* header,
// else the "Try again in N seconds" of Azure API Management's body; false when
// the answer says none of these.
func retryAfter(h http.Header, body []byte, now time.Time) (time.Duration, bool) {
	clamp := func(d time.Duration) (time.Duration, bool) { return max(0, min(d, maxRetryAfter)), true }
	if v := strings.TrimSpace(h.Get("Retry-After")); v != "" {
		if s, err := strconv.ParseFloat(v, 64); err == nil && s >= 0 {
			return clamp(time.Duration(s * float64(time.Second)))
		}
		if t, err := http.ParseTime(v); err == nil {
			return clamp(t.Sub(now))
		}
	}
	if d, ok := resetSeconds(h.Get("X-RateLimit-ResetSeconds"), now); ok {
		return clamp(d)
	}
	for name, vs := range h {
		if strings.HasPrefix(strings.ToLower(name), "cova-apim-ratelimit-reset") && len(vs) > 0 {
			if d, ok := resetSeconds(vs[0], now); ok {
				return clamp(d)
			}
		}
	}
	if m := tryAgainIn.FindSubmatch(body); m != nil {
		if s, err := strconv.Atoi(string(m[1])); err == nil {
			return clamp(time.Duration(s) * time.Second)
		}
	}
	return 0, false
}

// resetSeconds reads a rate-limit reset header: seconds to wait, or (when the
// number is too large to be a wait) a Unix time.
func resetSeconds(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	s, err := strconv.ParseFloat(v, 64)
	if err != nil || s < 0 {
		return 0, false
	}
	if s > 1e9 {
		return time.Unix(int64(s), 0).Sub(now), true
	}
	return time.Duration(s * float64(time.Second)), true
}
