package poller

import (
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// rateLimitFamilies are the prefixes of the rate-limit headers Cova has been
// documented or seen to send: X-RateLimit-* (older docs), COVA-APIM-RateLimit-*
// (current docs) and IQ-APIM-RateLimit-* (seen on the CRM).
var rateLimitFamilies = []string{"x-ratelimit-", "cova-apim-ratelimit-", "iq-apim-ratelimit-"}

// rateLimit is what one answer's rate-limit headers say.
type rateLimit struct {
	limit     int       // requests per window; 0 when not said
	remaining int       // requests left in the window; math.MaxInt when not said
	resetAt   time.Time // when the window frees requests; zero when not said
}

// parseRateLimit reads the rate-limit headers of an answer: Limit, Remaining
// and Reset (seconds to wait, or a Unix time) of each family. When several
// families are sent, the one with the least remaining counts. false when the
// answer carries none.
func parseRateLimit(h http.Header, now time.Time) (rateLimit, bool) {
	best := rateLimit{remaining: math.MaxInt}
	found := false
	for _, family := range rateLimitFamilies {
		rl := rateLimit{remaining: math.MaxInt}
		said := false
		for name, vs := range h {
			lower := strings.ToLower(name)
			rest, ok := strings.CutPrefix(lower, family)
			if !ok || len(vs) == 0 {
				continue
			}
			switch {
			case rest == "limit":
				if n, ok := headerInt(vs[0]); ok {
					rl.limit, said = n, true
				}
			case rest == "remaining":
				if n, ok := headerInt(vs[0]); ok {
					rl.remaining, said = n, true
				}
			case strings.HasPrefix(rest, "reset"):
				if d, ok := resetSeconds(vs[0], now); ok {
					at := now.Add(max(0, min(d, maxRetryAfter)))
					if at.After(rl.resetAt) {
						rl.resetAt = at
					}
					said = true
				}
			}
		}
		if !said {
			continue
		}
		if !found || rl.remaining < best.remaining || (rl.remaining == best.remaining && rl.limit > 0 && (best.limit == 0 || rl.limit < best.limit)) {
			best = rl
		}
		found = true
	}
	return best, found
}

// headerInt reads the first whole number of a header value ("1000" or
// "1000, 1000;w=60").
func headerInt(v string) (int, bool) {
	v = strings.TrimSpace(v)
	end := 0
	for end < len(v) && v[end] >= '0' && v[end] <= '9' {
		end++
	}
	n, err := strconv.Atoi(v[:end])
	return n, err == nil
}
