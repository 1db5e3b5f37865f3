package main

import "errors"

// demoLockFile is the file in the demo's data directory that a running demo
// holds locked.
const demoLockFile = "covacdc-demo.lock"

// errDirLocked means another process holds the data directory's lock.
var errDirLocked = errors.New("locked by another process")
