package covatest

import (
	"net/http"
	"strconv"
	"time"
)

// window is a sliding log of request times on the simulator's clock: the
// window ending at now is (now-length, now], length a minute when zero.
type window struct {
	ts     []time.Time
	head   int
	length time.Duration
}

func (w *window) count(now time.Time) int {
	length := w.length
	if length <= 0 {
		length = time.Minute
	}
	cutoff := now.Add(-length)
	for w.head < len(w.ts) && !w.ts[w.head].After(cutoff) {
		w.head++
	}
	if w.head > 1024 && w.head > len(w.ts)/2 {
		w.ts = append(w.ts[:0], w.ts[w.head:]...)
		w.head = 0
	}
	return len(w.ts) - w.head
}

func (w *window) add(t time.Time) { w.ts = append(w.ts, t) }

// oldest is the earliest time in the window; call count first.
func (w *window) oldest() time.Time { return w.ts[w.head] }

// reply is a whole non-page answer, decided under the lock and written after it.
type reply struct {
	code   int
	ctype  string
	body   string
	header http.Header
}

func jsonReply(code int, body string) *reply {
	return &reply{code: code, ctype: "application/json; charset=utf-8", body: body}
}

func messageReply(code int, msg string) *reply {
	return jsonReply(code, string(appendString([]byte(`{"Message":`), msg))+"}")
}

func (s *Simulator) writeReply(w http.ResponseWriter, now time.Time, rep *reply) {
	for k, v := range rep.header {
		w.Header()[k] = v
	}
	s.setDate(w, now)
	w.Header().Set("Content-Type", rep.ctype)
	w.Header().Set("Content-Length", strconv.Itoa(len(rep.body)))
	w.WriteHeader(rep.code)
	_, _ = w.Write([]byte(rep.body))
}

// delay is how long the next CustomerFull request waits before it is answered.
func (s *Simulator) delay() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.hz.Latency + s.hz.Slow
	if s.hz.LatencyJitter > 0 {
		d += time.Duration(s.jitter.Int64N(int64(s.hz.LatencyJitter)))
	}
	return d
}

// rateLimitLocked applies the server-side limit (Hazards.RateLimitPerMinute).
func (s *Simulator) rateLimitLocked(now time.Time) *reply {
	limit := s.hz.RateLimitPerMinute
	s.accepted.length = s.hz.RateLimitWindow
	inWindow := s.accepted.count(now) // also trims the log when there is no limit
	if limit > 0 && inWindow >= limit {
		wait := s.accepted.oldest().Add(s.windowLocked()).Sub(now)
		secs := max(1, int((wait+time.Second-1)/time.Second))
		rep := jsonReply(http.StatusTooManyRequests,
			`{"statusCode":429,"message":"Rate limit is exceeded. Try again in `+strconv.Itoa(secs)+` seconds."}`)
		rep.header = s.rateLimitHeadersLocked(now)
		if rep.header == nil {
			rep.header = http.Header{}
		}
		rep.header.Set("Retry-After", strconv.Itoa(secs))
		return rep
	}
	s.accepted.add(now)
	return nil
}

func (s *Simulator) windowLocked() time.Duration {
	if s.hz.RateLimitWindow > 0 {
		return s.hz.RateLimitWindow
	}
	return time.Minute
}

// rateLimitHeadersLocked says where the server-side limit stands, in the
// family of Hazards.RateLimitHeaders: nil without a limit.
func (s *Simulator) rateLimitHeadersLocked(now time.Time) http.Header {
	limit := s.hz.RateLimitPerMinute
	if limit <= 0 || s.hz.RateLimitHeaders == RateLimitNoHeaders {
		return nil
	}
	n := s.accepted.count(now)
	reset := now // nothing in the window: nothing to free
	if n > 0 {
		reset = s.accepted.oldest().Add(s.windowLocked())
	}
	// Whole seconds, rounded up: a client that waits what they say never
	// comes back too early.
	secs := int64((reset.Sub(now) + time.Second - 1) / time.Second)
	remaining := strconv.Itoa(max(0, limit-n))
	unix := reset.Unix()
	if reset.Nanosecond() > 0 {
		unix++
	}
	switch s.hz.RateLimitHeaders {
	case RateLimitCovaAPIM:
		return http.Header{
			"Cova-Apim-Ratelimit-Limit":     {strconv.Itoa(limit)},
			"Cova-Apim-Ratelimit-Remaining": {remaining},
			"Cova-Apim-Ratelimit-Reset":     {strconv.FormatInt(secs, 10)},
		}
	}
	return http.Header{
		"X-Ratelimit-Limit":        {strconv.Itoa(limit)},
		"X-Ratelimit-Remaining":    {remaining},
		"X-Ratelimit-Reset":        {strconv.FormatInt(unix, 10)},
		"X-Ratelimit-Resetseconds": {strconv.FormatInt(secs, 10)},
	}
}

// hazardLocked answers with the next counted-down failure, if any is due.
func (s *Simulator) hazardLocked() *reply {
	h := &s.hz
	switch {
	case h.Reject401Next > 0:
		h.Reject401Next--
		return unauthorized()
	case h.Status429 > 0:
		h.Status429--
		var rep *reply
		if h.RetryAfter != "" {
			secs := 60
			if n, err := strconv.Atoi(h.RetryAfter); err == nil {
				secs = n
			}
			rep = jsonReply(http.StatusTooManyRequests,
				`{"statusCode":429,"message":"Rate limit is exceeded. Try again in `+strconv.Itoa(secs)+` seconds."}`)
			rep.header = http.Header{"Retry-After": {h.RetryAfter}}
		} else {
			// Older iQmetrix docs: a plain-text body and no Retry-After.
			rep = &reply{code: http.StatusTooManyRequests, ctype: "text/plain; charset=utf-8", body: "rate limit exceeded", header: http.Header{}}
		}
		if h.RateLimitReset != "" {
			rep.header.Set("X-RateLimit-ResetSeconds", h.RateLimitReset)
		}
		return rep
	case h.Status5xx > 0:
		h.Status5xx--
		code := h.Code5xx
		if code == 0 {
			code = http.StatusServiceUnavailable
		}
		return statusReply(code)
	case h.HTMLNext > 0:
		h.HTMLNext--
		return &reply{code: http.StatusOK, ctype: "text/html; charset=utf-8", body: htmlErrorPage}
	}
	return nil
}

// statusReply is a 5xx as ASP.NET (500) or the gateway in front of it (others) sends it.
func statusReply(code int) *reply {
	if code == http.StatusInternalServerError {
		return messageReply(code, "An error has occurred.")
	}
	return &reply{code: code, ctype: "text/html", body: "<html><head><title>" + strconv.Itoa(code) + " " +
		http.StatusText(code) + "</title></head><body><h1>" + http.StatusText(code) + "</h1></body></html>\r\n"}
}

func unauthorized() *reply {
	rep := messageReply(http.StatusUnauthorized, "Authorization has been denied for this request.")
	rep.header = http.Header{"Www-Authenticate": {"Bearer"}}
	return rep
}

// htmlErrorPage is what a proxy or a crashed ASP.NET application sends with
// status 200 in place of JSON.
const htmlErrorPage = `<!DOCTYPE html>
<html>
<head><title>Runtime Error</title></head>
<body>
<h1>Server Error in '/' Application.</h1>
<h2><i>Runtime Error</i></h2>
<p>An application error occurred on the server. The current custom error settings for this application prevent the details of the application error from being viewed remotely.</p>
</body>
</html>
`

// betweenPagesLocked applies the changes that happen while a scan pages through.
func (s *Simulator) betweenPagesLocked(c *company, now int64) {
	h := s.hz
	s.modifyRandomLocked(c, h.ModifyPerPage, now)
	s.insertLocked(c, h.InsertPerPage, now)
	lateBy := h.LateBy
	if lateBy <= 0 {
		lateBy = 30 * time.Second
	}
	s.insertLocked(c, h.LateVisiblePerPage, now-int64(lateBy/100))
}
