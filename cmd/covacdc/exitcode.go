package main

import (
	"errors"
	"flag"
	"fmt"

	"github.com/covacdc/covacdc/poller"
	"github.com/covacdc/covacdc/publisher"
)

// Exit codes: 0 done (or stopped by a signal), 1 a runtime failure, 2 a
// configuration mistake. Deployments alert on 1 and fix their manifests on 2.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

// exitCode maps the error run returned to the process exit code.
func exitCode(err error) int {
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return exitOK
	case isUsage(err):
		return exitUsage
	default:
		return exitFailure
	}
}

// fatalError is a runtime error that retrying will not fix: the whole process
// stops with exit code 1 and this message.
type fatalError struct {
	msg string
	err error
}

func (e *fatalError) Error() string { return e.msg }
func (e *fatalError) Unwrap() error { return e.err }

// asFatal recognises the errors that must stop every company's loop, and
// explains them in the words of the flags a user would change.
func asFatal(err error, transactionalID string) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, poller.ErrCredentials):
		// The poller's error says what Cova answered and which flags to check.
		return &fatalError{err: err, msg: err.Error()}
	case errors.Is(err, publisher.ErrFenced):
		return &fatalError{err: err, msg: fmt.Sprintf("fenced: another covacdc instance started with --transactional-id %q and took over; this one stops (run one instance per transactional id)", transactionalID)}
	}
	return nil
}
