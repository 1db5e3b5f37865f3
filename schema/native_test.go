package schema

import "encoding/json"

// goavro's native form of an event (maps, with every non-null union value
// wrapped in a one-key map) is built by native_gen_test.go, generated from the
// schema with these helpers. goavro's BinaryFromNative of that form is the
// reference encoding: the generated encoder must produce the same bytes, which
// the tests check on golden and randomized events.

// The opt helpers return nil for null or goavro's union wrapper around the value.
func optString(p *string) any {
	if p == nil {
		return nil
	}
	return map[string]any{"string": *p}
}

func optLong(p *int64) any {
	if p == nil {
		return nil
	}
	return map[string]any{"long": *p}
}

func optBool(p *bool) any {
	if p == nil {
		return nil
	}
	return map[string]any{"boolean": *p}
}

func optTimestamp(p *Timestamp) any {
	if p == nil {
		return nil
	}
	return map[string]any{"string": p.Raw}
}

func optRawArray(raw []json.RawMessage) any {
	if raw == nil {
		return nil
	}
	a := make([]any, len(raw))
	for i, r := range raw {
		a[i] = rawElement(r)
	}
	return map[string]any{"array": a}
}

func optRecords[T any](s []T, native func(*T) map[string]any) any {
	if s == nil {
		return nil
	}
	a := make([]any, len(s))
	for i := range s {
		a[i] = native(&s[i])
	}
	return map[string]any{"array": a}
}
