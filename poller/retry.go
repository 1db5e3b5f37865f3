package poller

import (
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
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
	date time.Time // the server's Date header; zero when absent

	closeOnce sync.Once
	closeFn   func()
}

func (r *response) Close() { r.closeOnce.Do(r.closeFn) }

// get requests one CustomerFull page, retrying 5xx, timeouts, transport errors
// and 429s (which pause the whole client), and renewing the token once on a 401.
// onAttempt is called for every request sent, with its Date header (zero if none).
func (c *Client) get(ctx context.Context, companyID int64, u string, onAttempt func(date time.Time)) (*response, error) {
	label := companyLabel(companyID)
	renewed := false
	retries := 0
	// retry decides whether another attempt is allowed after err.
	retry := func(err error) error {
		retries++
		if retries > c.cfg.MaxRetries {
			return fmt.Errorf("after %d retries: %w", c.cfg.MaxRetries, err)
		}
		return nil
	}
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		tok, err := c.auth.get(ctx)
		if err != nil {
			if errors.Is(err, ErrCredentials) || ctx.Err() != nil {
				return nil, err
			}
			if rerr := retry(err); rerr != nil {
				return nil, rerr
			}
			if err := sleep(ctx, c.backoff(retries)); err != nil {
				return nil, err
			}
			continue
		}
		if err := c.acquire(ctx); err != nil {
			return nil, err
		}
		resp, cancel, err := c.send(ctx, u, tok)
		if err != nil {
			cancel()
			c.release()
			onAttempt(time.Time{})
			if ctx.Err() != nil {
				// Cancelled by the caller (a scan that no longer needs a page it
				// fetched ahead, or shutdown): not a Cova error.
				return nil, ctx.Err()
			}
			c.metrics.requests.WithLabelValues(label, "error").Inc()
			if rerr := retry(err); rerr != nil {
				return nil, rerr
			}
			c.log.Debug("cova request failed, backing off", "company_id", companyID, "err", err, "retry", retries)
			if err := sleep(ctx, c.backoff(retries)); err != nil {
				return nil, err
			}
			continue
		}
		c.metrics.requests.WithLabelValues(label, strconv.Itoa(resp.StatusCode)).Inc()
		date, _ := http.ParseTime(resp.Header.Get("Date"))
		onAttempt(date)

		if resp.StatusCode == http.StatusOK {
			body, err := decompressed(resp)
			if err != nil {
				resp.Body.Close()
				cancel()
				c.release()
				return nil, fmt.Errorf("%w: %v", ErrMalformedResponse, err)
			}
			r := &response{body: body, date: date}
			r.closeFn = func() {
				resp.Body.Close()
				cancel()
				c.release()
			}
			return r, nil
		}

		// Error statuses: keep a bounded excerpt, free the slot, decide.
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
		resp.Body.Close()
		cancel()
		c.release()
		serr := &StatusError{Code: resp.StatusCode, Body: excerpt(raw, c.cfg.ClientSecret, c.cfg.Password, tok)}
		switch {
		case resp.StatusCode == http.StatusUnauthorized:
			if renewed {
				return nil, fmt.Errorf("still unauthorized after renewing the token: %w", serr)
			}
			// Renew once and retry once: a second 401 is an error, never a loop.
			renewed = true
			c.auth.invalidate(tok)
		case resp.StatusCode == http.StatusTooManyRequests:
			c.metrics.throttled.WithLabelValues(label).Inc()
			d := retryAfter(resp.Header, raw, time.Now(), c.cfg.DefaultRetryAfter)
			c.pause(time.Now().Add(d))
			c.log.Warn("cova throttled the client, pausing every company", "company_id", companyID, "pause", d)
			if rerr := retry(serr); rerr != nil {
				return nil, rerr
			}
		case resp.StatusCode >= 500 || resp.StatusCode == http.StatusRequestTimeout:
			if rerr := retry(serr); rerr != nil {
				return nil, rerr
			}
			c.log.Debug("cova server error, backing off", "company_id", companyID, "code", resp.StatusCode, "retry", retries)
			if err := sleep(ctx, c.backoff(retries)); err != nil {
				return nil, err
			}
		default:
			return nil, serr
		}
	}
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
// else the "Try again in N seconds" of Azure API Management's body, else def.
func retryAfter(h http.Header, body []byte, now time.Time, def time.Duration) time.Duration {
	clamp := func(d time.Duration) time.Duration { return max(0, min(d, maxRetryAfter)) }
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
	return def
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
