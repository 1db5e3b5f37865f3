package schema

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Reading an event written with any writer schema into the Go types is Avro
// schema resolution done on goavro's native form of the writer's record: the
// generated resolve methods (resolve_gen.go) match fields by name, and the
// helpers below read one value of the writer's type as the reader's type. They
// follow the specification's rules for what this schema uses: a writer's int
// reads as a long; a writer's union reads through the branch it holds, and
// null only into a nullable field; an enum symbol the reader does not know reads
// as the enum's default; a long without a logical type reads as a timestamp in
// the reader's unit.

// fieldError says which field of a record could not be read.
func fieldError(name string, err error) error { return fmt.Errorf("%s: %w", name, err) }

// errNoField is the error of a field without a default that the writer lacks.
func errNoField(name string) error {
	return fmt.Errorf("%s: the writer schema has no such field, and it has no default", name)
}

var errNull = errors.New("null where the reader's schema allows none")

// unwrap returns the value of goavro's one-key union wrapper, or x itself.
// Only records are maps as well, and they are never read through unwrap.
func unwrap(x any) any {
	if m, ok := x.(map[string]any); ok && len(m) == 1 {
		for _, v := range m {
			return v
		}
	}
	return x
}

func wrongType(want string, x any) error { return fmt.Errorf("want %s, the writer wrote %T", want, x) }

func readString(x any) (string, error) {
	switch v := unwrap(x).(type) {
	case string:
		return v, nil
	case []byte: // bytes promotes to string
		return string(v), nil
	case nil:
		return "", errNull
	}
	return "", wrongType("a string", x)
}

func readLong(x any) (int64, error) {
	switch v := unwrap(x).(type) {
	case int64:
		return v, nil
	case int32: // int promotes to long
		return int64(v), nil
	case nil:
		return 0, errNull
	}
	return 0, wrongType("a long", x)
}

func readInt(x any) (int32, error) {
	switch v := unwrap(x).(type) {
	case int32:
		return v, nil
	case nil:
		return 0, errNull
	}
	return 0, wrongType("an int", x)
}

func readBool(x any) (bool, error) {
	switch v := unwrap(x).(type) {
	case bool:
		return v, nil
	case nil:
		return false, errNull
	}
	return false, wrongType("a boolean", x)
}

// readOpt reads the value of a ["null", T] field with the reader of T: nil for
// null.
func readOpt[T any](x any, read func(any) (T, error)) (*T, error) {
	if x == nil {
		return nil, nil
	}
	v, err := read(x)
	if err != nil {
		return nil, err
	}
	return &v, nil
}

// readTime reads a timestamp-micros or timestamp-millis (unit) as a UTC time.
func readTime(x any, unit time.Duration) (time.Time, error) {
	switch v := unwrap(x).(type) {
	case time.Time:
		return v.UTC(), nil
	case int64:
		if unit == time.Millisecond {
			return time.UnixMilli(v).UTC(), nil
		}
		return time.UnixMicro(v).UTC(), nil
	case int32:
		return readTime(int64(v), unit)
	case nil:
		return time.Time{}, errNull
	}
	return time.Time{}, wrongType("a timestamp", x)
}

// readEnum reads a symbol as its index in symbols; an unknown one reads as def,
// or is an error when def is negative (the enum has no default).
func readEnum[E ~int](x any, symbols []string, def E) (E, error) {
	s, ok := unwrap(x).(string)
	if !ok {
		return 0, wrongType("an enum symbol", x)
	}
	for i, sym := range symbols {
		if sym == s {
			return E(i), nil
		}
	}
	if def < 0 {
		return 0, fmt.Errorf("symbol %q is not one this build knows, and the enum has no default", s)
	}
	return def, nil
}

// resolveRecord fills *p from the native form of a record.
func resolveRecord[P interface{ resolve(map[string]any) error }](x any, p P) error {
	m, ok := x.(map[string]any)
	if !ok {
		return wrongType("a record", x)
	}
	return p.resolve(m)
}

// readOptRecords reads a nullable array of records: nil for null, a non-nil
// slice (empty for []) otherwise.
func readOptRecords[T any, P interface {
	*T
	resolve(map[string]any) error
}](x any) ([]T, error) {
	a, err := readOptArray(x)
	if a == nil || err != nil {
		return nil, err
	}
	out := make([]T, len(a))
	for i, e := range a {
		if err := resolveRecord(e, P(&out[i])); err != nil {
			return nil, fmt.Errorf("element %d: %w", i, err)
		}
	}
	return out, nil
}

// readOptArray returns nil for null and a non-nil slice for an array.
func readOptArray(x any) ([]any, error) {
	switch v := unwrap(x).(type) {
	case nil:
		return nil, nil
	case []any:
		if v == nil {
			v = []any{}
		}
		return v, nil
	}
	return nil, wrongType("an array", x)
}

// readTimestamp reads Cova's date-time text; Time is zero when the text is not
// one the poller would have accepted.
func readTimestamp(x any) (Timestamp, error) {
	s, err := readString(x)
	if err != nil {
		return Timestamp{}, err
	}
	t, _ := parseTime(s)
	return Timestamp{Raw: s, Time: t}, nil
}

func readUUID(x any) (UUID, error) {
	s, err := readString(x)
	if err != nil {
		return UUID{}, err
	}
	return ParseUUID(s)
}

// readOptRawJSON reads a nullable array of element texts as JSON (see rawJSONOf).
func readOptRawJSON(x any) ([]json.RawMessage, error) {
	a, err := readOptArray(x)
	if a == nil || err != nil {
		return nil, err
	}
	out := make([]json.RawMessage, len(a))
	for i, e := range a {
		s, err := readString(e)
		if err != nil {
			return nil, fmt.Errorf("element %d: %w", i, err)
		}
		out[i] = rawJSONOf(s)
	}
	return out, nil
}
