// Command covacdc-bench measures covacdc from the outside: it builds the covacdc
// binary, starts `covacdc simulate` as a separate process on loopback, starts
// Kafka (franz-go's kfake in this process, or the brokers in KAFKA_BROKERS), runs
// the real `covacdc run` process against them and reports wall time, the
// process's CPU seconds and peak RSS, Cova requests, and end-to-end freshness.
// Completion is read from covacdc's /metrics (events counted at commit) and then
// checked with a read_committed consumer: every customer's version must be on
// the events topic exactly once.
//
// It is not a test: it never fails on a time. `-quick` runs every scenario at
// a tiny size in seconds, which is what CI runs to keep it working.
//
// Usage:
//
//	go run ./cmd/covacdc-bench [-scenarios load,memory,restore,steady,ratelimit,shifting,companies,freshness] [-runs 3] [-quick]
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	if path := os.Getenv(decodeChildEnv); path != "" {
		os.Exit(decodeChildMain(path, os.Stdout, os.Stderr))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "covacdc-bench:", err)
		os.Exit(1)
	}
}
