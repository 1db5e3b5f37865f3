package schema

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hamba/avro/v2"
)

// fullyCompatible reports whether each schema can read what the other writes.
func fullyCompatible(a, b avro.Schema) error {
	c := avro.NewSchemaCompatibility()
	if err := c.Compatible(a, b); err != nil {
		return err
	}
	return c.Compatible(b, a)
}

// Consumers replay years of events with whatever version of the schema they hold:
// the current schema must be FULL compatible with every released one.
func TestCompatibleWithReleasedVersions(t *testing.T) {
	cur, err := avro.Parse(WriterSchema())
	if err != nil {
		t.Fatal(err)
	}
	paths, err := filepath.Glob(filepath.Join("testdata", "customer_changed.v*.avsc"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no released schemas in testdata (%v)", err)
	}
	for _, p := range paths {
		t.Run(filepath.Base(p), func(t *testing.T) {
			text, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			old, err := avro.Parse(string(text))
			if err != nil {
				t.Fatal(err)
			}
			if err := fullyCompatible(cur, old); err != nil {
				t.Errorf("current schema is not FULL compatible with %s: %v", p, err)
			}
		})
	}
}

// The check catches what breaks consumers: a field without a default added, a
// field removed without a default, a type changed.
func TestCompatibilityCheckCatchesBreaks(t *testing.T) {
	v1, err := os.ReadFile(filepath.Join("testdata", "customer_changed.v1.avsc"))
	if err != nil {
		t.Fatal(err)
	}
	old, err := avro.Parse(string(v1))
	if err != nil {
		t.Fatal(err)
	}
	for name, edit := range map[string][2]string{
		"added without default": {`{"name": "unknownFieldCount", "type": "int", "default": 0,`,
			`{"name": "newField", "type": "string", "doc": "x"}, {"name": "unknownFieldCount", "type": "int", "default": 0,`},
		"required field removed": {`{"name": "companyId", "type": "long", "doc": "Cova company id (from the onboarding package) the customer belongs to."},`, ``},
		"type changed":           {`{"name": "Zip", "type": ["null", "string"]`, `{"name": "Zip", "type": ["null", "long"]`},
	} {
		t.Run(name, func(t *testing.T) {
			text := strings.Replace(string(v1), edit[0], edit[1], 1)
			if text == string(v1) {
				t.Fatalf("edit did not apply")
			}
			broken, err := avro.Parse(text)
			if err != nil {
				t.Fatal(err)
			}
			if fullyCompatible(broken, old) == nil {
				t.Error("the check accepted a breaking change")
			}
		})
	}
	added := strings.Replace(string(v1), `{"name": "unknownFieldCount",`,
		`{"name": "loyaltyTier", "type": ["null", "string"], "default": null, "doc": "x"}, {"name": "unknownFieldCount",`, 1)
	ok, err := avro.Parse(added)
	if err != nil {
		t.Fatal(err)
	}
	if err := fullyCompatible(ok, old); err != nil {
		t.Errorf("a nullable field with a default was refused: %v", err)
	}
}
