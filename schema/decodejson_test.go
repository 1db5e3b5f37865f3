package schema_test

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/covacdc/covacdc/poller"
	"github.com/covacdc/covacdc/schema"
)

// covaJSON renders c as CustomerFull serves it: a Customer marshals in Cova's
// shape (Timestamps as their text, the Go-only fields left out).
func covaJSON(t testing.TB, c *schema.Customer) []byte {
	t.Helper()
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The benchmarks compare like with like: the JSON decoded is the customer encoded.
func TestTypicalJSONIsTheEncodedCustomer(t *testing.T) {
	raw := covaJSON(t, schema.TypicalCustomer())
	c, err := poller.DecodeCustomer(raw)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := schema.NewEncoder()
	if err != nil {
		t.Fatal(err)
	}
	got, err := enc.Append(nil, schema.EventOf(&c, schema.Updated, nil))
	if err != nil {
		t.Fatal(err)
	}
	want, err := enc.Append(nil, schema.EventOf(schema.TypicalCustomer(), schema.Updated, nil))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Error("poller.DecodeCustomer of the benchmark JSON is not the benchmark's customer")
	}
}

// BenchmarkDecodeJSON decodes the customer BenchmarkEncode encodes, from its
// CustomerFull JSON, with poller.DecodeCustomer: what the poller pays per customer.
func BenchmarkDecodeJSON(b *testing.B) {
	raw := covaJSON(b, schema.TypicalCustomer())
	b.ReportAllocs()
	for b.Loop() {
		if _, err := poller.DecodeCustomer(raw); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeJSONStdlib decodes the same JSON with encoding/json.Unmarshal
// into a schema.Customer: a reference that does not depend on the poller's
// decoder.
func BenchmarkDecodeJSONStdlib(b *testing.B) {
	raw := covaJSON(b, schema.TypicalCustomer())
	b.ReportAllocs()
	for b.Loop() {
		var c schema.Customer
		if err := json.Unmarshal(raw, &c); err != nil {
			b.Fatal(err)
		}
	}
}
