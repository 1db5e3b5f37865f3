package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/covacdc/covacdc/schema"
)

func schemaCommand() *command {
	return newCommand("schema", "Print the CustomerChanged Avro writer schema (.avsc) this build writes.")
}

// schemaMain is covacdc schema: the writer schema, for consumers' code generators.
func schemaMain(_ context.Context, args []string, stdout, _ io.Writer) error {
	if err := parseFlags(schemaCommand(), args, stdout); err != nil {
		return err
	}
	s := schema.WriterSchema()
	fmt.Fprint(stdout, s)
	if !strings.HasSuffix(s, "\n") {
		fmt.Fprintln(stdout)
	}
	return nil
}
