package poller

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// ErrCredentials means Cova's token endpoint rejected the credentials
// (invalid_grant, invalid_client, unsupported_grant_type): a configuration error
// that retrying will not fix.
var ErrCredentials = errors.New("poller: Cova rejected the credentials")

// ErrMalformedResponse means a CustomerFull response was not a JSON array of
// records (an HTML error page with status 200, truncated JSON, ...). The scan
// fails and the next poll retries it.
var ErrMalformedResponse = errors.New("poller: malformed CustomerFull response")

// ErrUnstable means the result shifted so much while the scan paged through it
// that the scan could not prove it skipped no row within its re-read budget. The
// next poll retries it.
var ErrUnstable = errors.New("poller: result kept shifting under the scan")

// StatusError is an unexpected HTTP status from Cova, with an excerpt of the body.
type StatusError struct {
	Code int
	Body string // at most a few hundred bytes, never containing a secret
}

func (e *StatusError) Error() string { return fmt.Sprintf("cova: HTTP %d: %s", e.Code, e.Body) }

// IsRetryable reports whether a failed scan may succeed when polled again without
// a configuration change: false for ErrCredentials, a cancelled context and a 4xx
// other than 401, 408 and 429.
func IsRetryable(err error) bool {
	if err == nil || errors.Is(err, ErrCredentials) || errors.Is(err, context.Canceled) {
		return false
	}
	var se *StatusError
	if errors.As(err, &se) && se.Code >= 400 && se.Code < 500 {
		return se.Code == 401 || se.Code == 408 || se.Code == 429
	}
	return true
}

const maxExcerpt = 300

// excerpt returns at most maxExcerpt bytes of an error body, single-lined, with
// every secret replaced.
func excerpt(body []byte, secrets ...string) string {
	s := string(body)
	for _, sec := range secrets {
		if sec != "" {
			s = strings.ReplaceAll(s, sec, "[redacted]")
		}
	}
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > maxExcerpt {
		s = s[:maxExcerpt] + "..."
	}
	return s
}
