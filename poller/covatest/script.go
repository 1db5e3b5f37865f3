package covatest

import (
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Fault is one step of Hazards.Script: how one CustomerFull request is answered.
// A step that takes a value has it after "=" ("429-retry-after=3", "slow=500ms").
type Fault string

// The faults a script can hold. Any status from 500 to 599 may be written as
// its number ("504").
const (
	// FaultNone answers as usual; the other hazards still apply.
	FaultNone Fault = "ok"
	// Fault429RetryAfter answers 429 with Retry-After (=N seconds, default 1) and
	// Azure API Management's JSON body.
	Fault429RetryAfter Fault = "429-retry-after"
	// Fault429Reset answers 429 with only X-RateLimit-ResetSeconds (=N, default 1)
	// and the plain-text body of the older iQmetrix docs.
	Fault429Reset Fault = "429-reset"
	// Fault429 answers 429 with a plain-text body and nothing that says when to retry.
	Fault429 Fault = "429"
	// Fault500, Fault502 and Fault503 answer with that status, as Hazards.Status5xx does.
	Fault500 Fault = "500"
	Fault502 Fault = "502"
	Fault503 Fault = "503"
	// FaultTruncate serves the page and drops the connection in the middle of
	// its JSON array, as Hazards.TruncateNext does.
	FaultTruncate Fault = "truncate"
	// FaultHalfArray answers 200 with a complete HTTP response (Content-Length
	// right, gzip stream closed) whose JSON array stops in the middle of a record.
	FaultHalfArray Fault = "half-array"
	// FaultNotJSON answers 200 with a text/plain body that is not JSON, as a
	// proxy does when its upstream fails.
	FaultNotJSON Fault = "not-json"
	// FaultHTML answers 200 with an HTML error page, as Hazards.HTMLNext does.
	FaultHTML Fault = "html"
	// FaultReset sends the headers of a 200 and then resets the connection (TCP RST).
	FaultReset Fault = "reset"
	// FaultSlow serves the page after a delay (=duration, default 2s).
	FaultSlow Fault = "slow"
	// FaultRevoke revokes every token issued so far and answers 401.
	FaultRevoke Fault = "revoke"
	// FaultTokenDies ends the life of the request's token at once, long before
	// the expires_in it was issued with, and answers 401.
	FaultTokenDies Fault = "token-dies"
)

// ParseScript reads a comma-separated list of faults ("429-retry-after,ok,503,
// slow=2s"), as covacdc simulate's --script takes it.
func ParseScript(s string) ([]Fault, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var out []Fault
	for _, part := range strings.Split(s, ",") {
		f := Fault(strings.TrimSpace(part))
		if _, err := f.parse(); err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, nil
}

// step is a parsed Fault.
type step struct {
	kind  Fault // the Fault without its value; for a 5xx, its number
	code  int   // the status of a 5xx step
	value string
	delay time.Duration
}

func (f Fault) parse() (step, error) {
	name, value, hasValue := strings.Cut(string(f), "=")
	st := step{kind: Fault(name), value: value}
	bad := func(why string) (step, error) {
		return step{}, fmt.Errorf("covatest: script step %q: %s", string(f), why)
	}
	switch st.kind {
	case Fault429RetryAfter, Fault429Reset:
		if !hasValue {
			st.value = "1"
		} else if n, err := strconv.Atoi(value); err != nil || n < 0 {
			return bad("the value must be whole seconds")
		}
		return st, nil
	case FaultSlow:
		st.delay = 2 * time.Second
		if hasValue {
			d, err := time.ParseDuration(value)
			if err != nil || d < 0 {
				return bad("the value must be a duration such as 2s")
			}
			st.delay = d
		}
		return st, nil
	case FaultNone, Fault429, FaultTruncate, FaultHalfArray, FaultNotJSON, FaultHTML, FaultReset, FaultRevoke, FaultTokenDies:
	default:
		code, err := strconv.Atoi(name)
		if err != nil || code < 500 || code > 599 {
			return bad("unknown fault (ok, 429-retry-after, 429-reset, 429, 500-599, truncate, half-array, not-json, html, reset, slow, revoke, token-dies)")
		}
		st.code = code
	}
	if hasValue {
		return bad("takes no value")
	}
	return st, nil
}

// notJSONBody is what a proxy in front of a failed upstream sends (Envoy's words).
const notJSONBody = "upstream connect error or disconnect/reset before headers. reset reason: connection termination"

// scriptLocked takes the next step of the script, if any. It returns the reply
// to send instead of the page, or how to spoil the page (see page).
func (s *Simulator) scriptLocked(r *http.Request, now time.Time) (*reply, step) {
	if len(s.hz.Script) == 0 {
		return nil, step{}
	}
	f := s.hz.Script[0]
	s.hz.Script = s.hz.Script[1:]
	st, err := f.parse()
	if err != nil {
		return messageReply(http.StatusInternalServerError, err.Error()), step{}
	}
	switch st.kind {
	case Fault429RetryAfter:
		rep := jsonReply(http.StatusTooManyRequests,
			`{"statusCode":429,"message":"Rate limit is exceeded. Try again in `+st.value+` seconds."}`)
		rep.header = http.Header{"Retry-After": {st.value}}
		return rep, st
	case Fault429Reset:
		return &reply{code: http.StatusTooManyRequests, ctype: "text/plain; charset=utf-8", body: "rate limit exceeded",
			header: http.Header{"X-Ratelimit-Resetseconds": {st.value}}}, st
	case Fault429:
		return &reply{code: http.StatusTooManyRequests, ctype: "text/plain; charset=utf-8", body: "rate limit exceeded"}, st
	case FaultNotJSON:
		return &reply{code: http.StatusOK, ctype: "text/plain", body: notJSONBody}, st
	case FaultHTML:
		return &reply{code: http.StatusOK, ctype: "text/html; charset=utf-8", body: htmlErrorPage}, st
	case FaultRevoke:
		s.revokeLocked()
		return unauthorized(), st
	case FaultTokenDies:
		if t := s.tokens[bearer(r)]; t != nil {
			t.expires = now
		}
		return unauthorized(), st
	}
	if st.code != 0 {
		return statusReply(st.code), st
	}
	return nil, st
}

// resetAfterHeaders sends the headers already set with status 200, then resets
// the connection: a client sees a response whose body fails on the first read.
// Without a hijackable connection (a recorder) it aborts the handler instead.
func resetAfterHeaders(w http.ResponseWriter) {
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	_ = rc.Flush()
	conn, _, err := rc.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0) // close with RST, not FIN
	}
	_ = conn.Close()
}
