// Command covacdc publishes every change of Cova CRM customers to Kafka, exactly
// once: it polls Cova's CustomerFull endpoint for customers added or modified
// since a cursor and writes one Avro CustomerChanged event per new Version, with
// the cursor, in one Kafka transaction.
//
// Subcommands: run (the service), demo (everything embedded, zero setup), tail
// (read the events), state (show cursors), schema (print the Avro schema) and
// simulate (a Cova simulator). See covacdc --help and README.md.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		// After the first signal, a second one kills at once.
		<-ctx.Done()
		stop()
	}()
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr) // everything testable lives in run
	stop()
	os.Exit(exitCode(err))
}
