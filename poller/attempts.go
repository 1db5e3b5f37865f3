package poller

import (
	"compress/flate"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"syscall"
)

// attempts is the retry budget of one page (a response that ignores paging is
// one page): every failed request of the page draws on it, whatever went wrong
// (a status, the connection, the body, the token endpoint), so that a page
// fails after MaxRetries retries in all.
type attempts struct {
	failed  int
	last    error
	kinds   []kindCount // in the order first seen
	renewed bool        // the token was renewed after a 401 or 403 of this page
}

type kindCount struct {
	kind string
	n    int
}

// fail records a failed attempt of the given kind. It returns the error to
// fail the page with once more than maxRetries attempts failed, else nil.
func (a *attempts) fail(kind string, err error, maxRetries int) error {
	a.failed++
	a.last = err
	found := false
	for i := range a.kinds {
		if a.kinds[i].kind == kind {
			a.kinds[i].n++
			found = true
			break
		}
	}
	if !found {
		a.kinds = append(a.kinds, kindCount{kind, 1})
	}
	if a.failed <= maxRetries {
		return nil
	}
	return &attemptsError{attempts: a.failed, kinds: a.kinds, last: err}
}

// attemptsError is the failure of a page whose retries are spent: how many
// attempts failed, of which kinds, and the last cause, which it wraps.
type attemptsError struct {
	attempts int
	kinds    []kindCount
	last     error
}

func (e *attemptsError) Error() string {
	var b strings.Builder
	b.WriteString(strconv.Itoa(e.attempts))
	if e.attempts == 1 {
		b.WriteString(" attempt failed (")
	} else {
		b.WriteString(" attempts failed (")
	}
	for i, k := range e.kinds {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(k.kind + " x" + strconv.Itoa(k.n))
	}
	b.WriteString("); last error: ")
	b.WriteString(e.last.Error())
	return b.String()
}

func (e *attemptsError) Unwrap() error { return e.last }

// The kinds of failed attempts, as an attemptsError lists them.
const (
	kindToken     = "token endpoint"
	kindTruncated = "truncated body"
	kindGzip      = "broken gzip"
	kindReset     = "connection reset"
	kindTimeout   = "timeout"
	kindMalformed = "malformed body"
	kindTransport = "connection error"
)

func statusKind(code int) string { return "HTTP " + strconv.Itoa(code) }

// transportKind names a failure to get a response at all.
func transportKind(err error) string {
	switch {
	case errors.Is(err, syscall.ECONNRESET):
		return kindReset
	case isTimeout(err):
		return kindTimeout
	}
	return kindTransport
}

// bodyKind names what went wrong with a response body, or "" for what no retry
// mends (a record larger than the decoder takes).
func bodyKind(err error) string {
	var corrupt flate.CorruptInputError
	switch {
	case errors.Is(err, errElementTooLarge):
		return ""
	case errors.Is(err, errTruncated), errors.Is(err, io.ErrUnexpectedEOF):
		return kindTruncated
	case errors.Is(err, gzip.ErrChecksum), errors.Is(err, gzip.ErrHeader), errors.As(err, &corrupt):
		return kindGzip
	case errors.Is(err, syscall.ECONNRESET):
		return kindReset
	case isTimeout(err):
		return kindTimeout
	case errors.Is(err, ErrMalformedResponse):
		return kindMalformed
	}
	return kindTransport
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()
}
