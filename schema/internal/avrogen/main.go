// Command avrogen generates covacdc's Go code from the CustomerChanged schema
// (schema/customer_changed.avsc), the one place the event's fields are listed:
//
//   - schema/model_gen.go: the Go types of every record and enum;
//   - schema/encode_gen.go: the Avro binary encoder of those types;
//   - schema/resolve_gen.go: the reading of a decoded event, written with any
//     writer schema, into those types;
//   - schema/native_gen_test.go: goavro's native form of those types, the input
//     of the reference encoder the tests compare the generated one with;
//   - poller/decode_gen.go: which JSON key of Cova's record fills which field,
//     and how the poller's decoder reads it.
//
// What Go needs beyond the Avro types (Cova's date-times, GUIDs, raw JSON
// elements, quirks of Cova's JSON) is in rules.go. It handles the Avro types
// the schema uses and refuses the others with an error naming the field.
//
// It runs from the schema package's directory through go generate:
//
//	go generate ./schema
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
)

func main() {
	avsc := flag.String("avsc", "customer_changed.avsc", "the schema to generate from")
	schemaDir := flag.String("schema", ".", "directory of the schema package")
	pollerDir := flag.String("poller", "../poller", "directory of the poller package")
	flag.Parse()
	if err := run(*avsc, map[string]string{"schema": *schemaDir, "poller": *pollerDir}); err != nil {
		fmt.Fprintln(os.Stderr, "avrogen:", err)
		os.Exit(1)
	}
}

func run(avsc string, dirs map[string]string) error {
	text, err := os.ReadFile(avsc)
	if err != nil {
		return err
	}
	files, err := generate(text)
	if err != nil {
		return fmt.Errorf("%s: %w", avsc, err)
	}
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(dirs[f.dir], f.name), f.data, 0o644); err != nil {
			return err
		}
	}
	return nil
}
