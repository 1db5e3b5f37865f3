package poller

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"
)

// ErrCredentials means Cova's token endpoint rejected the credentials
// (invalid_grant, invalid_client, unsupported_grant_type): a configuration error
// that retrying will not fix.
var ErrCredentials = errors.New("Cova rejected the credentials")

// ErrMalformedResponse means a CustomerFull response was not a JSON array of
// records (an HTML error page with status 200, truncated JSON, ...). The page is
// read again, under its retry budget.
var ErrMalformedResponse = errors.New("malformed CustomerFull response")

// ErrUnstable means the result shifted so much while the scan paged through it
// that the scan could not prove it skipped no row within its re-read budget. The
// next poll retries it.
var ErrUnstable = errors.New("Cova's result kept shifting under the scan")

// The endpoints a StatusError names.
const (
	endpointCustomerFull = "CustomerFull"
	endpointToken        = "token endpoint"
)

// StatusError is an unexpected HTTP status from Cova, with an excerpt of the body.
type StatusError struct {
	Code int
	Body string // at most a few hundred bytes, never containing a secret; may be empty
	// Endpoint is what answered: "CustomerFull" or "token endpoint".
	Endpoint string
}

func (e *StatusError) Error() string {
	s := e.Endpoint + " answered HTTP " + strconv.Itoa(e.Code)
	if e.Body != "" {
		s += ": " + e.Body
	}
	return s
}

// hintError tells a failure in the user's words, naming what to check; err is
// the cause underneath.
type hintError struct {
	msg string
	err error
	// final marks what no retry mends (a redirect, a refused certificate): the
	// page fails at once and IsRetryable says false.
	final bool
}

func (e *hintError) Error() string { return e.msg }
func (e *hintError) Unwrap() error { return e.err }

// isFinal reports whether err is one no retry mends.
func isFinal(err error) bool {
	var he *hintError
	return errors.As(err, &he) && he.final
}

// IsRetryable reports whether a failed scan may succeed when polled again without
// a configuration change: false for ErrCredentials, a cancelled context, a
// redirect, a refused TLS certificate and a 3xx or 4xx other than 401, 408 and 429.
func IsRetryable(err error) bool {
	if err == nil || errors.Is(err, ErrCredentials) || errors.Is(err, context.Canceled) || isFinal(err) {
		return false
	}
	var se *StatusError
	if errors.As(err, &se) && se.Code >= 300 && se.Code < 500 {
		return se.Code == 401 || se.Code == 408 || se.Code == 429
	}
	return true
}

const maxExcerpt = 300

// excerpt returns at most maxExcerpt bytes of an error body, single-lined, with
// every secret replaced in any form (see redact).
func excerpt(body []byte, secrets ...string) string {
	s := redact(string(body), secrets)
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > maxExcerpt {
		cut := maxExcerpt
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "..."
	}
	return s
}

// message is what an error body says: the "Message" of ASP.NET's
// {"Message": ...} when it has one, else an excerpt; never a secret.
func message(body []byte, secrets ...string) string {
	var m struct{ Message string }
	if json.Unmarshal(body, &m) == nil && strings.TrimSpace(m.Message) != "" {
		return excerpt([]byte(m.Message), secrets...)
	}
	return excerpt(body, secrets...)
}

// lacksRole explains a 401 or 403 to a token just renewed: the credentials are
// good, the user may not read this company.
func lacksRole(serr *StatusError, said string, companyID int64) error {
	msg := serr.Endpoint + " answered HTTP " + strconv.Itoa(serr.Code) + " to a fresh token"
	if said != "" {
		msg += " (" + said + ")"
	}
	msg += ": the user of --cova-username lacks the role to read company " + strconv.FormatInt(companyID, 10) + "'s customers; ask Cova to grant it"
	return &hintError{msg: msg, err: serr}
}

// notFound explains a 404 of CustomerFull by the flag most likely wrong: Cova
// answers "Resource cannot be found" for a company it does not know, and
// ASP.NET "No HTTP resource was found ..." for a path it does not route.
func (c *Client) notFound(serr *StatusError, said string, companyID int64) error {
	msg := serr.Endpoint + " answered HTTP 404"
	if said != "" {
		msg += " (" + said + ")"
	}
	id := strconv.FormatInt(companyID, 10)
	base, _ := url.Parse(c.cfg.BaseURL)
	switch {
	case strings.HasPrefix(strings.ToLower(said), "resource cannot be found"):
		msg += ": Cova does not know company " + id + " (check --company-id)"
	case base == nil || !strings.HasSuffix(strings.ToLower(strings.TrimRight(base.Path, "/")), "/crm"):
		msg += ": check --cova-base-url, whose path ends in /crm for Cova (" + DefaultBaseURL + ")"
	default:
		msg += ": check --cova-base-url (Cova's is " + DefaultBaseURL + ") and --company-id " + id
	}
	return &hintError{msg: msg, err: serr}
}
