package main

import (
	"errors"
	"flag"
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
