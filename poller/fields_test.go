package poller

import (
	"reflect"
	"testing"
	"time"

	"github.com/covacdc/covacdc/poller/covatest"
)

// The simulator sends every field the customer has, and nothing the decoder does
// not know: a field added to the schema (whence the Go type and the decoder's
// mapping are generated) but not to covatest/record.go fails here, as does one
// the simulator sends that the schema lacks.
func TestSimulatorSendsEveryField(t *testing.T) {
	sim := covatest.New(covatest.Config{Seed: 5})
	set := map[string]bool{}
	for _, id := range sim.Generate(1, 3000) {
		raw, ok := sim.Record(1, id)
		if !ok {
			t.Fatalf("no record for %s", id)
		}
		c, err := DecodeCustomer([]byte(raw))
		if err != nil {
			t.Fatalf("%v: %s", err, raw)
		}
		if c.UnknownFields != 0 {
			t.Fatalf("%d fields the decoder does not know in %s", c.UnknownFields, raw)
		}
		seenSet(reflect.ValueOf(c), "Customer", set)
	}
	for path, ok := range set {
		if !ok {
			t.Errorf("%s: no simulated customer has it set", path)
		}
	}
	if len(set) < 50 {
		t.Errorf("only %d nullable fields seen", len(set))
	}
}

// seenSet records, for every nullable field under v (a pointer, or a slice that
// is null when nil), whether it is set (a pointer) or holds elements (a slice).
func seenSet(v reflect.Value, path string, set map[string]bool) {
	switch v.Kind() {
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[time.Time]() {
			return
		}
		for i := range v.NumField() {
			seenSet(v.Field(i), path+"."+v.Type().Field(i).Name, set)
		}
	case reflect.Pointer:
		set[path] = set[path] || !v.IsNil()
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 { // a json.RawMessage element
			return
		}
		set[path] = set[path] || v.Len() > 0
		for i := range v.Len() {
			seenSet(v.Index(i), path+"[]", set)
		}
	}
}
