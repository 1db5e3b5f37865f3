package schema

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"
)

func newRegistry(t *testing.T) (*srfake.Registry, *sr.Client) {
	t.Helper()
	reg := srfake.New()
	t.Cleanup(reg.Close)
	cl, err := sr.NewClient(sr.URLs(reg.URL()))
	if err != nil {
		t.Fatal(err)
	}
	return reg, cl
}

func TestRegistryEncoder(t *testing.T) {
	reg, cl := newRegistry(t)
	// Another subject takes id 1, so the id in the header is not a lucky default.
	if _, _, err := reg.RegisterSchema("other-value", sr.Schema{Schema: `"string"`, Type: sr.TypeAvro}); err != nil {
		t.Fatal(err)
	}
	enc, err := NewRegistryEncoder(t.Context(), cl, "covacdc.customers-value")
	if err != nil {
		t.Fatal(err)
	}
	got, ok := reg.GetSchema("covacdc.customers-value", 1)
	if !ok {
		t.Fatal("schema not registered under covacdc.customers-value")
	}
	if got.Schema.Schema != WriterSchema() || got.Schema.Type != sr.TypeAvro {
		t.Errorf("registered %s schema %.60q..., want the writer schema", got.Schema.Type, got.Schema.Schema)
	}
	if enc.SchemaRef() != "sr:2" || got.ID != 2 {
		t.Errorf("SchemaRef %q, registered id %d", enc.SchemaRef(), got.ID)
	}

	ev := eventOf(fullCustomer(), Created, nil)
	b, err := enc.Append(nil, ev)
	if err != nil {
		t.Fatal(err)
	}
	if b[0] != 0 || binary.BigEndian.Uint32(b[1:5]) != 2 {
		t.Fatalf("header % x, want 00 00 00 00 02", b[:5])
	}
	if !bytes.Equal(b[5:], goavroBody(t, ev)) {
		t.Error("registry-framed body differs from the Avro binary body")
	}

	// A second start registers nothing new and keeps the id.
	again, err := NewRegistryEncoder(t.Context(), cl, "covacdc.customers-value")
	if err != nil || again.SchemaRef() != "sr:2" {
		t.Errorf("second registration: %v, %v", again, err)
	}

	// The decoder fetches the schema by id; without a registry it says what is missing.
	d, err := NewDecoder(cl)
	if err != nil {
		t.Fatal(err)
	}
	js, err := d.JSON(t.Context(), b)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(js, &m); err != nil || m["changeType"] != "CREATED" || m["customerId"] != ev.Customer.Id {
		t.Errorf("decoded %s (%v)", js, err)
	}
	noReg, _ := NewDecoder(nil)
	if _, err := noReg.JSON(t.Context(), b); !errors.Is(err, ErrUnknownSchema) || !strings.Contains(err.Error(), "no Schema Registry") {
		t.Errorf("decoding a registry event without a registry: %v", err)
	}
}

// A registry that refuses the schema as incompatible fails the start with an error
// that says so and names the subject.
func TestRegistryIncompatible(t *testing.T) {
	reg, cl := newRegistry(t)
	reg.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, "/versions") {
			return false
		}
		w.Header().Set("Content-Type", "application/vnd.schemaregistry.v1+json")
		w.WriteHeader(http.StatusConflict)
		json.NewEncoder(w).Encode(sr.ResponseError{ErrorCode: 409,
			Message: "Schema being registered is incompatible with an earlier schema for subject \"covacdc.customers-value\""})
		return true
	})
	_, err := NewRegistryEncoder(t.Context(), cl, "covacdc.customers-value")
	if !errors.Is(err, ErrIncompatibleSchema) {
		t.Fatalf("error %v does not wrap ErrIncompatibleSchema", err)
	}
	for _, want := range []string{"incompatible", `"covacdc.customers-value"`, "earlier schema"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}

func TestRegistryUnreachable(t *testing.T) {
	reg, cl := newRegistry(t)
	reg.Close()
	_, err := NewRegistryEncoder(t.Context(), cl, "covacdc.customers-value")
	if err == nil || errors.Is(err, ErrIncompatibleSchema) || !strings.Contains(err.Error(), "covacdc.customers-value") {
		t.Errorf("unreachable registry: %v", err)
	}
}
