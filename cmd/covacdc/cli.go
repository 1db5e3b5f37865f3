package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

// subcommand is one of covacdc's commands.
type subcommand struct {
	name    string
	summary string
	main    func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

func subcommands() []subcommand {
	return []subcommand{
		{"run", "Poll Cova and publish changed customers to Kafka, exactly once (the service).", runMain},
		{"demo", "Zero setup: embedded Kafka, the Cova simulator and the pipeline, printing each committed event.", demoMain},
		{"resync", "Publish a company's customers again as SNAPSHOT events, exactly once (asks the running covacdc).", resyncMain},
		{"tail", "Print the events of the topic as JSON lines, read with read_committed.", tailMain},
		{"state", "Print each company's cursor, initial-load status and tracked customers.", stateMain},
		{"schema", "Print the CustomerChanged Avro writer schema (.avsc).", schemaMain},
		{"simulate", "Run the Cova API simulator on an address, with its hazards as flags.", simulateMain},
	}
}

// run dispatches to a subcommand and prints a failure as one line on stderr.
// It returns what main turns into the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	err := dispatch(ctx, args, stdout, stderr)
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		msg := oneLine(err.Error())
		if isUsage(err) {
			msg = explainEnvSource(args, msg, os.Getenv)
		}
		fmt.Fprintf(stderr, "covacdc: %s\n", msg)
	}
	return err
}

// explainEnvSource names the environment variable in a configuration mistake
// about a flag whose value came from that variable, wherever the mistake was
// found (parsing, validation or start-up). It parses the subcommand's flags
// again, from the same arguments and environment, to learn which flags the
// environment set; the values are not used.
func explainEnvSource(args []string, msg string, getenv func(string) string) string {
	if len(args) == 0 {
		return msg
	}
	c := commandByName(args[0])
	if c == nil {
		return msg
	}
	_ = c.parse(args[1:], getenv) // its error, if any, is the one being reported
	return c.nameEnvSource(msg)
}

func dispatch(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		usage(stderr)
		return usagef("missing subcommand (run, demo, resync, tail, state, schema or simulate)")
	}
	name := args[0]
	switch name {
	case "-h", "-help", "--help", "help":
		if len(args) > 1 && name == "help" {
			return dispatch(ctx, []string{args[1], "--help"}, stdout, stderr)
		}
		usage(stdout)
		return flag.ErrHelp
	case "version", "--version":
		fmt.Fprintln(stdout, "covacdc", buildVersion())
		return nil
	}
	for _, s := range subcommands() {
		if s.name == name {
			return s.main(ctx, args[1:], stdout, stderr)
		}
	}
	return usagef("unknown subcommand %q (run, demo, resync, tail, state, schema or simulate; see covacdc --help)", name)
}

func usage(w io.Writer) {
	fmt.Fprintf(w, "covacdc publishes every change of Cova CRM customers to Kafka, exactly once.\n\nUsage: covacdc <command> [flags]\n\nCommands:\n")
	for _, s := range subcommands() {
		fmt.Fprintf(w, "  %-9s %s\n", s.name, s.summary)
	}
	fmt.Fprintf(w, "\nEvery flag also reads the environment variable COVACDC_<FLAG_IN_UPPER_SNAKE> (a flag wins).\nRun covacdc <command> --help for its flags. Exit codes: 0 done, 1 runtime failure, 2 configuration mistake.\n")
}

// parseFlags parses a subcommand's flags from args and the environment; on
// --help it prints the subcommand's help to stdout.
func parseFlags(c *command, args []string, stdout io.Writer) error {
	err := c.parse(args, os.Getenv)
	if errors.Is(err, flag.ErrHelp) {
		c.usage(stdout)
	}
	return err
}

// oneLine keeps an error on one line, as scripts and log collectors expect.
func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", " ")), " ")
}

// commandByName returns a fresh flag set of a subcommand, for help and the
// README's configuration reference.
func commandByName(name string) *command {
	switch name {
	case "run":
		return runCommand(&runFlags{})
	case "demo":
		return demoCommand(&demoFlags{})
	case "resync":
		return resyncCommand(&resyncFlags{})
	case "tail":
		return tailCommand(&tailFlags{})
	case "state":
		return stateCommand(&stateFlags{})
	case "schema":
		return schemaCommand()
	case "simulate":
		return simulateCommand(&simulateFlags{})
	}
	return nil
}
