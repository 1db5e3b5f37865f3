package publisher

import (
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
)

// ErrFenced means another instance started with the same transactional id and took
// over; this one must stop.
var ErrFenced = errors.New("fenced: another instance with the same transactional id took over")

// ErrScanAborted means a transaction holding some of a scan's events aborted: the
// scan cannot complete and its cursor did not move. Scan the company again from
// its cursor; what was committed is not published twice.
var ErrScanAborted = errors.New("a transaction holding this scan's events aborted")

// ErrClosed means the publisher was closed.
var ErrClosed = errors.New("publisher: closed")

// isFenced reports whether err says a newer producer with our transactional id
// exists: these errors are fatal for the client, retrying cannot help.
func isFenced(err error) bool {
	return errors.Is(err, kerr.ProducerFenced) ||
		errors.Is(err, kerr.InvalidProducerEpoch) ||
		errors.Is(err, kerr.TransactionalIDNotFound)
}

// fencedError matches both ErrFenced and the broker's error that fenced us.
func fencedError(txnID string, cause error) error {
	return fmt.Errorf("%w (transactional id %q): stop this instance: %w", ErrFenced, txnID, cause)
}

// ErrStateMissing means the state topic is gone while the events topic holds
// events: starting with an empty state would publish every customer again.
var ErrStateMissing = errors.New("state topic missing")

// ErrTooManyDeadLetters means a scan met more dead letters than
// Config.MaxDeadLettersPerScan: it fails and the company's cursor stays.
var ErrTooManyDeadLetters = errors.New("too many dead letters in one scan")

// ErrSignalConsumed means a signal of the signal topic is at or before the
// committed position of its partition: it was accepted (or skipped) already.
var ErrSignalConsumed = errors.New("signal already consumed")
