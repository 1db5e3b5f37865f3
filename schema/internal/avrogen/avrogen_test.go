package main

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// dirs are the package directories the generated files go to, from here.
var dirs = map[string]string{"schema": "../..", "poller": "../../../poller"}

// The generated files are what the generator makes of the .avsc now: a schema
// edited without go generate fails here.
func TestGeneratedCodeIsCurrent(t *testing.T) {
	avsc, err := os.ReadFile(filepath.Join(dirs["schema"], "customer_changed.avsc"))
	if err != nil {
		t.Fatal(err)
	}
	files, err := generate(avsc)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 5 {
		t.Errorf("%d files generated, want 5", len(files))
	}
	for _, f := range files {
		path := filepath.Join(dirs[f.dir], f.name)
		have, err := os.ReadFile(path)
		if err != nil {
			t.Errorf("%v: run go generate ./schema", err)
			continue
		}
		if !bytes.Equal(have, f.data) {
			t.Errorf("%s/%s is stale: run go generate ./schema (first difference at line %d)", f.dir, f.name, firstDiffLine(have, f.data))
		}
	}
}

func firstDiffLine(a, b []byte) int {
	la, lb := strings.Split(string(a), "\n"), strings.Split(string(b), "\n")
	for i := range min(len(la), len(lb)) {
		if la[i] != lb[i] {
			return i + 1
		}
	}
	return min(len(la), len(lb)) + 1
}

// edit returns the schema with one replacement made, failing if old is not in it.
func edit(t *testing.T, old, new string) []byte {
	t.Helper()
	avsc, err := os.ReadFile(filepath.Join(dirs["schema"], "customer_changed.avsc"))
	if err != nil {
		t.Fatal(err)
	}
	s := strings.Replace(string(avsc), old, new, 1)
	if s == string(avsc) {
		t.Fatalf("%q is not in the schema", old)
	}
	return []byte(s)
}

// A plain nullable field needs nothing but the .avsc: it reaches the Go type,
// the encoder, the reading of events and the poller's mapping of Cova's JSON.
func TestPlainFieldNeedsNoRule(t *testing.T) {
	for _, typ := range []string{"string", "long", "boolean"} {
		t.Run(typ, func(t *testing.T) {
			files, err := generate(edit(t, `{"name": "Title",`,
				`{"name": "LoyaltyTier", "type": ["null", "`+typ+`"], "default": null, "doc": "x"}, {"name": "Title",`))
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]string{
				"model_gen.go":       "\tLoyaltyTier *",
				"encode_gen.go":      "\tb = appendOpt",
				"resolve_gen.go":     "v.LoyaltyTier, err = readOpt(x, read",
				"native_gen_test.go": "\t\t\"LoyaltyTier\": ",
				"decode_gen.go":      "\t\t\treturn d.opt",
			}
			for _, f := range files {
				// The field's first use in code, or the line after it (the case
				// of a switch), says how it is handled.
				lines := strings.Split(string(f.data), "\n")
				i := slices.IndexFunc(lines, func(l string) bool { return strings.Contains(l, "LoyaltyTier") && !strings.Contains(l, "//") })
				if i < 0 || !strings.Contains(lines[i]+"\n"+lines[min(i+1, len(lines)-1)], want[f.name]) {
					t.Errorf("%s: LoyaltyTier is not handled as a plain nullable field (want %q at its first use)", f.name, want[f.name])
				}
			}
		})
	}
}

// What the generator cannot do right, it refuses, naming the field.
func TestRefusals(t *testing.T) {
	for name, c := range map[string]struct{ old, new, want string }{
		"rule for a field gone": {`{"name": "Zip", "type": ["null", "string"], "default": null, `,
			`{"name": "PostCode", "type": ["null", "string"], "default": null, `, "rule for Address.Zip: the schema has no such field"},
		"rule on the wrong type": {`{"name": "DateOfBirth", "type": ["null", "string"]`,
			`{"name": "DateOfBirth", "type": ["null", "long"]`, "Customer.DateOfBirth: a timestamp must be a string"},
		"union not null first": {`{"name": "Title", "type": ["null", "string"]`,
			`{"name": "Title", "type": ["string", "null"]`, `Customer.Title: only ["null", T] unions`},
		"Cova field the poller cannot read": {`{"name": "Title", "type": ["null", "string"], "default": null,`,
			`{"name": "Title", "type": "string",`, "Customer.Title: the poller has no reader for a required string"},
		"type without an encoder": {`{"name": "Title", "type": ["null", "string"]`,
			`{"name": "Title", "type": ["null", "int"]`, "Customer.Title: a nullable *int32 is not supported"},
		"array of strings without a rule": {`{"name": "Title", "type": ["null", "string"]`,
			`{"name": "Title", "type": ["null", {"type": "array", "items": "string"}]`, "Customer.Title: arrays of string need a rule"},
		"default other than zero": {`{"name": "unknownFieldCount", "type": "int", "default": 0,`,
			`{"name": "unknownFieldCount", "type": "int", "default": 7,`, "CustomerChanged.unknownFieldCount: default 7"},
		"required field in a nested Cova record": {`{"name": "City", "type": ["null", "string"], "default": null,`,
			`{"name": "City", "type": "string",`, "Address.City: a required field is supported only in Customer"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := generate(edit(t, c.old, c.new))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want one containing %q", err, c.want)
			}
		})
	}
}
